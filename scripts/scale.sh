#!/usr/bin/env bash
# The longer scale-out runs of docs/scale-out.md: `ulvs lab scale` (a router
# running BIRD 2 spreading the VIP over N ulvsd directors by ECMP, each
# announcing it over BGP) with each way of losing a director, the
# comparisons that show what mh and sloppy_tcp buy, N-way connection sync,
# and the packet rate through 1, 2 and 3 directors. Each run builds and
# deletes its own lab. Needs root. Prints the date, the machine's load and
# every run's output; the figures in docs/scale-out.md come from it.
#
#   scripts/scale.sh [PHASE]    (PHASE: each phase's length, default 8s)
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:-8s}
./scripts/setup-host.sh
mkdir -p bin
go build -o bin/ ./cmd/ulvs
run() {
	echo
	echo "== ulvs lab scale $* (phase $phase)"
	./bin/ulvs lab scale --phase "$phase" "$@" | grep -v '^  flow ' || echo "(exit $?)"
}
date -u
echo "load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
# Losing a director: it dies (the kernel closes its BGP session), it
# freezes (only the hold timer notices), it stops gracefully (withdraw,
# then a delay).
run --flows 48 --kill kill
run --flows 48 --kill stop
run --flows 48 --kill term
# Adding a director the router never had (hash-threshold shifts the
# others' ranges too).
run --flows 48 --add-new
run --flows 192 --add-new
# The same with a resilient next-hop group on the router: only the new
# director's share moves.
run --flows 48 --add-new --resilient
run --flows 192 --add-new --resilient
# What breaks without consistent hashing or without sloppy_tcp, and what
# N-way sync recovers with a non-consistent scheduler.
run --flows 48 --scheduler rr
run --flows 48 --no-sloppy-tcp
run --flows 48 --scheduler rr --sync
# The same with a warm-up: the restarted director announces once the sync
# has brought the others' connections.
run --flows 48 --scheduler rr --sync --warmup 5s
# Dual-stack with BFD: a frozen director is taken out by BFD.
run --flows 48 --kill stop --hold-time 9s --ipv6 --bfd
# Packet rate through 1, 2, 3 directors (the others drained), twice.
run --flows 8 --pps 5s
run --flows 8 --pps 5s
echo
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
