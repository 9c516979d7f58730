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

MODE=tun
. examples/lab/lib.sh

echo "== the lab: client, director (DIP only), rs1 and rs2 (IPIP decapsulation, VIP on its device)"
ulvs lab up --name "$name" --mode tun

echo "== director: ulvsd on d-eth0, starting empty like a kernel with ip_vs"
start_ulvsd -i d-eth0

echo "== rs1 as the seed prepares it (tunl0 + rp_filter=0), here by ulvs realserver"
ulvs lab exec --name "$name" rs1 "$ULVS" realserver status --name "$name-rs1"

echo "== seed 002, TUN mode: the same lines, ipvsadm -> ulvsadm"
show ulvsadm -C
show ulvsadm -A -t 10.77.0.100:80 -s rr
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.11:80 -i
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.12:80 -i
show ulvsadm -ln

curl_loop
