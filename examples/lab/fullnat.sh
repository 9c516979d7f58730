#!/usr/bin/env bash
# FULLNAT (seed 001's fourth forwarding mode, not in the kernel's LVS) on
# the ulvs lab (mode fullnat), checked the way seed 002 checks the others.
#
# The director has d-eth0 10.77.0.2 outside and d-eth1 10.77.1.1 inside;
# rs1/rs2 sit at 10.77.1.11/12 on the inside network with no route beyond it:
# not even a default route. The director rewrites both addresses, so the
# real servers see requests from its local addresses 10.77.1.200 and
# 10.77.1.201 (on their own subnet; ulvsd answers ARP for them) and answer
# those. ulvsadm has no option for local addresses, so ulvsd reads
# examples/fullnat.toml; the client then runs seed 002's curl loop.
#
# Needs root. Uses $ULVS as the ulvs binary, or builds one. LAB names the
# lab (default: ulvsfullnat<pid>). Everything is removed on exit, Ctrl-C
# included.
set -euo pipefail
cd "$(dirname "$0")/../.."

name=${LAB:-ulvsfullnat$$}
tmp=$(mktemp -d /tmp/ulvs-fullnat.XXXXXX)
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

echo "== the lab: client and director outside, rs1 and rs2 inside with no route beyond their subnet"
ulvs lab up --name "$name" --mode fullnat

echo "== director: ulvsd with examples/fullnat.toml (local_addresses 10.77.1.200, 10.77.1.201)"
# "$ULVS" itself, not the ulvs function: $! must be its PID for kill.
"$ULVS" lab exec --name "$name" director "$ULVS" ulvsd -c examples/fullnat.toml --socket "$ULVS_SOCKET" >"$tmp/ulvsd.log" 2>&1 &
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

echo "== rs1's routes: its subnet only"
ulvs lab exec --name "$name" rs1 ip -4 route show

echo "== the director's rules"
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
