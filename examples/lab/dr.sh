#!/usr/bin/env bash
# Seed 002's LVS-DR workflow, replayed on the ulvs lab with ulvs commands.
#
# The seed's hosts become network namespaces: server2 (the director) is
# "director", server3/server4 (httpd) are rs1/rs2 at 10.77.0.11/12, the
# client is "client", and the VIP is 10.77.0.100. The real servers are set up
# as the seed sets them up (VIP on lo, arp_ignore=1, arp_announce=2); the
# director gets no VIP: ulvsd answers ARP for it. Then the seed's ipvsadm
# lines go to ulvsadm, and the client runs the seed's curl loop.
#
# Needs root. Uses $ULVS as the ulvs binary, or builds one. LAB names the
# lab (default: ulvsdr<pid>). Everything is removed on exit, Ctrl-C included.
set -euo pipefail
cd "$(dirname "$0")/../.."

MODE=dr
. examples/lab/lib.sh

echo "== the lab: client, director (DIP only), rs1 and rs2 (VIP on lo)"
ulvs lab up --name "$name"

echo "== director: ulvsd on d-eth0, starting empty like a kernel with ip_vs"
start_ulvsd -i d-eth0

echo "== seed 002, DR mode: the same lines, ipvsadm -> ulvsadm"
show ulvsadm -C
show ulvsadm -A -t 10.77.0.100:80 -s rr
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.11:80 -g
show ulvsadm -a -t 10.77.0.100:80 -r 10.77.0.12:80 -g
show ulvsadm -ln

curl_loop
