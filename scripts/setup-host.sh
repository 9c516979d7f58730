#!/usr/bin/env bash
# Installs the host tools the ulvs tests, lab and demo use, from Debian's
# packages: iproute2 (ip), nftables (nft), iptables (iptables-nft: the seeds type iptables mangle MARK rules; it starts no service), ethtool, curl, procps (sysctl)
# vsftpd (the lab's FTP real servers, which the lab runs itself inside
# its namespaces), keepalived (the VRRP peer of the vrrp package's
# interop tests, which run it themselves inside their namespaces), bird2
# (BIRD 2, the BGP router of the scale-out lab, `ulvs lab scale`, run only
# inside the lab's router namespace with its own config and socket);
# linux-perf (perf: the kernel-side profiles of docs/performance.md, not
# used by any test).
# Idempotent: when everything is installed it changes nothing and skips
# apt-get update. Needs root (or sudo) only when something is missing.
#
# The system vsftpd, keepalived and bird services are never started or enabled:
# Debian's packages start them on install (and enable them at boot), which
# would put an FTP server on the host's own port 21, and a VRRP daemon and a
# BGP daemon on the host's own interfaces. While they are being installed a policy-rc.d that
# forbids every service start is in place (an existing one is left as it
# is), and afterwards the boot links the packages made are removed again.
set -euo pipefail

packages=(iproute2 nftables iptables ethtool curl procps vsftpd keepalived chromium hping3 netsniff-ng linux-perf bird2)

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# step WHAT CMD...: runs CMD with its output (apt's and the packages'
# maintainer scripts' noise, systemd's "Created symlink") appended to the
# log, and prints one line for it. On failure it prints the log's path and
# its last lines, and exits.
log=
step() {
	local what=$1
	shift
	if [ -z "$log" ]; then
		log=${ULVS_SETUP_LOG:-$(mktemp /tmp/ulvs-setup-host.XXXXXX.log)}
	fi
	printf 'setup-host: %s ... ' "$what"
	local rc=0
	"$@" >>"$log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo ok
		return
	fi
	echo "failed (exit $rc)"
	echo "setup-host: the whole output is in $log; its end:" >&2
	tail -n 15 "$log" | sed 's/^/  /' >&2
	exit 1
}

missing=()
for p in "${packages[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "setup-host: ${packages[*]} already installed"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "setup-host: need root to install: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi

# The packages that ship a system service, which must not run, as
# package:service (the service's daemon has the service's name).
services=(vsftpd:vsftpd keepalived:keepalived bird2:bird)
new_services=()
for p in "${missing[@]}"; do
	for ps in "${services[@]}"; do
		[ "$p" = "${ps%%:*}" ] && new_services+=("${ps#*:}")
	done
done

# Processes of a service that run before the install (someone else's, left
# alone).
service_pids() { pgrep -x "$1" 2>/dev/null | sort || true; }
declare -A before=()
for svc in "${new_services[@]}"; do
	before[$svc]=$(service_pids "$svc")
done

policy=/usr/sbin/policy-rc.d
own_policy=false
cleanup() {
	if $own_policy; then
		"${sudo[@]}" rm -f "$policy"
	fi
}
trap cleanup EXIT
if [ ${#new_services[@]} -gt 0 ] && [ ! -e "$policy" ]; then
	# invoke-rc.d and deb-systemd-invoke ask this script before starting a
	# service; 101 means "action forbidden".
	printf '#!/bin/sh\n# setup-host.sh: no service starts while packages install.\nexit 101\n' |
		"${sudo[@]}" tee "$policy" >/dev/null
	"${sudo[@]}" chmod 755 "$policy"
	own_policy=true
fi

export DEBIAN_FRONTEND=noninteractive
step "apt-get update" "${sudo[@]}" apt-get update -qq
step "installing ${missing[*]}" "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

for svc in "${new_services[@]}"; do
	# Undo what the package's postinst enabled for the next boot.
	if command -v deb-systemd-helper >/dev/null; then
		"${sudo[@]}" deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
	fi
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		"${sudo[@]}" systemctl disable "$svc.service" >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null && [ -e "/etc/init.d/$svc" ]; then
		"${sudo[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
	# Should a start have slipped through anyway, stop exactly the service
	# the install started (never someone else's).
	if [ "$(service_pids "$svc")" != "${before[$svc]}" ]; then
		echo "setup-host: the $svc package started the system service; stopping it" >&2
		if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
			"${sudo[@]}" systemctl stop "$svc.service" || true
		elif [ -x "/etc/init.d/$svc" ]; then
			"${sudo[@]}" "/etc/init.d/$svc" stop || true
		fi
		if [ "$(service_pids "$svc")" != "${before[$svc]}" ]; then
			echo "setup-host: a $svc started by the install still runs: $(service_pids "$svc")" >&2
			exit 1
		fi
	fi
done
