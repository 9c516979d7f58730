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

MODE=fullnat
. examples/lab/lib.sh

echo "== the lab: client and director outside, rs1 and rs2 inside with no route beyond their subnet"
ulvs lab up --name "$name" --mode fullnat

echo "== director: ulvsd with examples/fullnat.toml (local_addresses 10.77.1.200, 10.77.1.201)"
start_ulvsd -c examples/fullnat.toml

echo "== rs1's routes: its subnet only"
ulvs lab exec --name "$name" rs1 ip -4 route show

echo "== the director's rules"
show ulvsadm -ln

curl_loop
