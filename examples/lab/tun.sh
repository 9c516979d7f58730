#!/usr/bin/env bash
# Seed 002's LVS-TUN workflow, replayed on the ulvs lab (mode tun) with ulvs
# commands.
#
# The seed's hosts become network namespaces: server2 (the director) is
# "director" (DIP 10.77.0.2, no VIP: ulvsd answers ARP for it),
# server3/server4 (httpd) are rs1/rs2 at 10.77.0.11/12, the client is
# "client", all on one network, and the VIP is 10.77.0.100. The seed's real
# servers put the VIP on the kernel's tunl0 with rp_filter=0; this kernel
# may have no ipip module, so `ulvs lab up --mode tun` runs
# `ulvs realserver up --mode tun --vip 10.77.0.100` in each instead: a
# userspace IPIP decapsulator feeding a TUN device that holds the VIP (or
# tunl0 where the kernel has ipip). The director encapsulates, the real
# servers answer the client directly. Then the seed's ipvsadm lines go to
# ulvsadm, and the client runs the seed's curl loop.
#
# Needs root. Uses $ULVS as the ulvs binary, or builds one. LAB names the
# lab (default: ulvstun<pid>). Everything is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/../.."

name=${LAB:-ulvstun$$}
tmp=$(mktemp -d /tmp/ulvs-tun.XXXXXX)
if [ -z "${ULVS:-}" ]; then
	go build -o "$tmp/ulvs" ./cmd/ulvs
	ULVS=$tmp/ulvs
fi
# ulvsadm takes its control socket from ULVS_SOCKET (ulvsd too; it is also
# given --socket).
export ULVS_SOCKET=$tmp/ulvsd.sock

ulvs() { "$ULVS" "$@"; }
ulvsadm() { "$ULVS" ulvsadm "$@"; }
show() { echo "# $*"; "$@"; }

ulvsd_pid=
cleanup() {
	if [ -n "$ulvsd_pid" ]; then
		kill "$ulvsd_pid" 2>/dev/null || true
		wait "$ulvsd_pid" 2>/dev/null || true
	fi
	ulvs lab down --name "$name" || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== the lab: client, director (DIP only), rs1 and rs2 (IPIP decapsulation, VIP on its device)"
ulvs lab up --name "$name" --mode tun

echo "== director: ulvsd on d-eth0, starting empty like a kernel with ip_vs"
# "$ULVS" itself, not the ulvs function: $! must be its PID for kill.
"$ULVS" lab exec --name "$name" director "$ULVS" ulvsd -i d-eth0 --socket "$ULVS_SOCKET" >"$tmp/ulvsd.log" 2>&1 &
ulvsd_pid=$!
for _ in $(seq 100); do
	[ -S "$ULVS_SOCKET" ] && break
	sleep 0.1
done
if [ ! -S "$ULVS_SOCKET" ]; then
	echo "ulvsd did not start:" >&2
	cat "$tmp/ulvsd.log" >&2
	exit 1
fi

echo "== rs1 as the seed prepares it (tunl0 + rp_filter=0), here by ulvs realserver"
ulvs lab exec --name "$name" rs1 "$ULVS" realserver status --name "$name-rs1"

echo "== seed 002, TUN mode: the same lines, ipvsadm -> ulvsadm"
show ulvsadm -C
show ulvsadm -A -t 10.77.0.100:80 -s rr
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.11:80 -i
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.12:80 -i
show ulvsadm -ln

echo "== client: for i in {1..6}; do curl 10.77.0.100; done"
answers=$(for i in {1..6}; do
	ulvs lab exec --name "$name" client curl -s --max-time 5 10.77.0.100 || echo "curl failed ($?)"
done)
echo "$answers"

echo "== the director's view"
show ulvsadm -ln

if ! grep -qx rs1 <<<"$answers" || ! grep -qx rs2 <<<"$answers" || grep -q failed <<<"$answers"; then
	echo "FAIL: the answers did not alternate between rs1 and rs2" >&2
	echo "ulvsd log:" >&2
	cat "$tmp/ulvsd.log" >&2
	exit 1
fi
echo "ok: the answers alternate between rs1 and rs2, as in the seed"
