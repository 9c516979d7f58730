#!/usr/bin/env bash
# FULLNAT (seed 001's fourth forwarding mode, not in the kernel's LVS) on
# the ulvs lab (mode fullnat), checked the way seed 002 checks the others.
#
# The director has d-eth0 10.77.0.2 outside and d-eth1 10.77.1.1 inside;
# rs1/rs2 sit at 10.77.1.11/12 on the inside network with no route beyond it:
# not even a default route. The director rewrites both addresses, so the
# real servers see requests from its local addresses 10.77.1.200 and
# 10.77.1.201 (on their own subnet; ulvsd answers ARP for them) and answer
# those. ulvsd starts empty; ulvsadm's FULLNAT extensions (--laddr on -A,
# --fullnat on -a) set the rules that examples/fullnat.toml holds, and the
# client runs seed 002's curl loop.
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

echo "== director: ulvsd on d-eth0 and d-eth1, starting empty"
start_ulvsd -i d-eth0,d-eth1

echo "== rs1's routes: its subnet only"
ulvs lab exec --name "$name" rs1 ip -4 route show

echo "== the rules: ipvsadm's lines plus ulvs's FULLNAT switches"
show ulvsadm -A -t 10.77.0.100:80 -s rr --laddr 10.77.1.200,10.77.1.201
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.1.11:80 --fullnat
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.1.12:80 --fullnat
show ulvsadm -ln
show ulvsadm -S -n

curl_loop
