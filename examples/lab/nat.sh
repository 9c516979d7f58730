#!/usr/bin/env bash
# Seed 002's LVS-NAT workflow, replayed on the ulvs lab (mode nat) with ulvs
# commands.
#
# The seed's hosts become network namespaces: server2 (the director) is
# "director" with d-eth0 10.77.0.2 outside and d-eth1 10.77.1.1 inside,
# server3/server4 (httpd) are rs1/rs2 at 10.77.1.11/12 on the inside network
# with their default gateway at the director (the seed's GATEWAY=...), the
# client is "client" on the outside network, and the VIP is 10.77.0.100.
# The client has no route to the real servers: only the director's NAT
# reaches them. Two seed steps are not needed: `echo 1 > ip_forward` (the
# director's kernel keeps ip_forward=0: ulvsd forwards, in user space) and
# `modprobe iptable_nat` (no netfilter NAT is involved); the director holds
# no VIP either, ulvsd answers ARP for it. Then the seed's ipvsadm lines go
# to ulvsadm, and the client runs the seed's curl loop.
#
# Needs root. Uses $ULVS as the ulvs binary, or builds one. LAB names the
# lab (default: ulvsnat<pid>). Everything is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/../.."

MODE=nat
. examples/lab/lib.sh

echo "== the lab: client and director outside, rs1 and rs2 behind the director (default via 10.77.1.1)"
ulvs lab up --name "$name" --mode nat

echo "== director: ulvsd on d-eth0 and d-eth1, starting empty like a kernel with ip_vs"
start_ulvsd -i d-eth0,d-eth1

echo "== the client cannot reach a real server by itself"
if ulvs lab exec --name "$name" client curl -s --max-time 2 10.77.1.11 >/dev/null 2>&1; then
	echo "FAIL: the client reached 10.77.1.11 without the director" >&2
	exit 1
fi
echo "curl 10.77.1.11 from the client: no route, as expected"

echo "== seed 002, NAT mode: the same lines, ipvsadm -> ulvsadm"
show ulvsadm -C
show ulvsadm -A -t 10.77.0.100:80 -s rr
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.1.11:80 -m
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.1.12:80 -m
show ulvsadm -ln

curl_loop
