# ulvs: build the three programs into bin/ and install them with
# `ulvs install` (see README "Installing").
#
#   make                       build bin/ulvsd, bin/ulvsadm, bin/ulvs
#   make install               copy them to $(DESTDIR)$(PREFIX)/sbin
#   make install NAMES=1       also ipvsadm, ipvsadm-save, ipvsadm-restore
#   make install SYSTEMD=1     also ulvsd.service and ipvsadm.service
#   make install SYSV=1        also /etc/init.d/ipvsadm
#   make install FORCE=1       replace files that differ
#   make install RULES=/etc/sysconfig/ipvsadm   RHEL's rules file
#
# DESTDIR stages the installation under another root (packaging).

GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
RULES   ?= /etc/ipvsadm.rules
BIN     := bin

INSTALL_FLAGS := --root "$(if $(DESTDIR),$(DESTDIR),/)" --prefix "$(PREFIX)" \
	--from $(BIN) --rules-file "$(RULES)" \
	$(if $(NAMES),--names) $(if $(SYSTEMD),--systemd) \
	$(if $(SYSV),--sysv) $(if $(FORCE),--force)

.PHONY: all build install clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/ulvsd ./cmd/ulvsadm ./cmd/ulvs

install: build
	$(BIN)/ulvs install $(INSTALL_FLAGS)

clean:
	rm -rf $(BIN)
