#!/usr/bin/env bash
# reliability.sh: ulvs on bad days, measured in a lab of its own (a lab
# script, not a CI test; docs/reliability.md quotes its figures).
#
# Builds ulvs, brings up a NAT lab (ulvs lab up: client, director, rs1,
# rs2 in network namespaces with a per-run name), runs ulvsd there with a
# small connection table and the defence ladder in automatic mode, then:
#
#   1. synflood  hping3 --flood --rand-source SYNs at the VIP for
#                --flood-secs (60) while a client loop opens one new HTTP
#                connection after another: resident memory, table fill and
#                defences each second, drops by reason, the loop's success
#                rate (target >= 90%).
#      synproxy  the same with the service's synproxy = true (--synproxy;
#                refused loudly by a ulvsd that has no SYN proxy).
#   2. udpflood  hping3 --udp --flood --rand-source at the UDP service for
#                --udp-secs (20), the same report.
#   3. reload    four keep-alive HTTP sessions (curl --rate) while ulvsd
#                gets SIGHUP and a ulvsadm -e weight edit every second for
#                --reload-secs (30): requests failed and connections that
#                had to be opened again (target 0).
#   4. restart   downloads in flight (curl --limit-rate) while ulvsd is
#                stopped with SIGTERM and started again (state_file hands
#                the connection table over): downloads complete intact?
#   5. linkflap  ip link set d-eth0 down, 2 s, up: how long until requests
#                succeed again.
#   6. arploss   rs1 stops answering ARP (ip link set arp off) for
#                --arp-secs (45), then answers again: no_neighbour drops,
#                requests failed, recovery.
#   7. rsdeath   for each method of --rs-modes (nat,dr,tun), a lab of that
#                mode with a TCP_CHECK on each real server: four downloads,
#                four keep-alive sessions and a loop of new connections
#                while rs1 dies, its server process killed (kill) or its
#                link down (gone), with expire_nodest_conn 1 (and 0 for
#                NAT, gone): what each client saw (reset or timeout, and
#                how fast), when the check took rs1 out, when new
#                connections stopped going to it.
#   8. mtu       for each method of --mtu-modes (nat,tun), two uploads
#                and two downloads while the MTU of the real servers' LAN
#                (NAT) and then of the client's LAN with the director's
#                d-eth0 drops to 1400 and goes back to 1500: does ulvsd
#                see each change (ulvs stats) and how soon, do the
#                transfers finish intact (ICMP fragmentation-needed with
#                the new MTU, TUN's 20 bytes of encapsulation included).
#
# Phases 7 and later replace the NAT lab with labs of their own.
#
# Usage: scripts/reliability.sh [--flood-secs N] [--udp-secs N]
#            [--reload-secs N] [--arp-secs N] [--synproxy]
#            [--only synflood,udpflood,reload,restart,linkflap,arploss,rsdeath,mtu]
#            [--rs-modes nat,dr,tun] [--mtu-modes nat,tun] [--table-size SLOTS] [--keep]
# Needs root, hping3 and curl (scripts/setup-host.sh installs them).
# Everything it creates (namespaces, processes, files under its work
# directory) is removed on exit unless --keep.
set -euo pipefail
cd "$(dirname "$0")/.."

flood_secs=60
udp_secs=20
reload_secs=30
arp_secs=45
table_size=16384
synproxy=0
only="synflood,udpflood,reload,restart,linkflap,arploss,rsdeath,mtu"
rs_modes="nat,dr,tun"
mtu_modes="nat,tun"
keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--flood-secs) flood_secs=$2; shift 2 ;;
	--udp-secs) udp_secs=$2; shift 2 ;;
	--reload-secs) reload_secs=$2; shift 2 ;;
	--arp-secs) arp_secs=$2; shift 2 ;;
	--table-size) table_size=$2; shift 2 ;;
	--synproxy) synproxy=1; shift ;;
	--only) only=$2; shift 2 ;;
	--rs-modes) rs_modes=$2; shift 2 ;;
	--mtu-modes) mtu_modes=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
	*) echo "reliability.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" != 0 ]; then
	echo "reliability.sh: needs root (network namespaces, raw sockets)" >&2
	exit 1
fi
for tool in hping3 curl ip; do
	command -v "$tool" >/dev/null || { echo "reliability.sh: $tool missing (scripts/setup-host.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/ulvs-rel.XXXXXX)
lab="rel$$"
sock="$work/ulvsd.sock"
state="$work/conns.state"
bin="$work/bin"
ulvsd_pid=""
bg_pids=()

cleanup() {
	set +e
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
	stop_ulvsd
	"$bin/ulvs" lab down --name "$lab" >/dev/null 2>&1
	if [ "$keep" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say() { printf '%s\n' "$*"; }
phase() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
wants() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }
in_ns() { local n=$1; shift; ip netns exec "$lab-$n" "$@"; }

mkdir -p "$bin"
go build -o "$bin/" ./cmd/...
say "ulvs reliability run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "work directory $work, lab $lab"
"$bin/ulvs" lab up --name "$lab" --mode nat --real-servers 2 >"$work/lab.log" 2>&1

vip=10.77.0.100
url="http://$vip/"

# service PROTO EXTRA: a NAT service on the VIP's port 80 with both real
# servers; EXTRA is one more line for it (or empty).
service() {
	printf '\n[[virtual_server]]\nprotocol = "%s"\naddress = "%s:80"\nscheduler = "rr"\nforward = "nat"\n%s\n' "$1" "$vip" "$2"
	for rs in 10.77.1.11 10.77.1.12; do
		printf '\n  [[virtual_server.real_server]]\n  address = "%s:80"\n  weight = 1\n' "$rs"
	done
}

# write_config SYNPROXY: the TCP and UDP services, the defences automatic.
write_config() {
	local sp=""
	[ "$1" = 1 ] && sp="synproxy = true"
	{
		cat <<EOF
[director]
interfaces = ["d-eth0", "d-eth1"]
socket = "$sock"
workers = 2
conn_table_size = $table_size
state_file = "$state"

[sysctl]
drop_entry = 1
drop_packet = 1
secure_tcp = 1
amemthresh = 1024
EOF
		service tcp "$sp"
		service udp ""
	} >"$work/ulvs.toml"
}

# start_ulvsd: ulvsd in the director's namespace; false if it exits or
# its socket does not appear within 20 s.
start_ulvsd() {
	ip netns exec "$lab-director" "$bin/ulvs" ulvsd -c "$work/ulvs.toml" >>"$work/ulvsd.log" 2>&1 &
	ulvsd_pid=$!
	for _ in $(seq 200); do
		if ! kill -0 "$ulvsd_pid" 2>/dev/null; then
			ulvsd_pid=""
			return 1
		fi
		if [ -S "$sock" ] && "$bin/ulvs" ulvsadm -L -n --socket "$sock" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

stop_ulvsd() {
	if [ -n "$ulvsd_pid" ]; then
		kill -TERM "$ulvsd_pid" 2>/dev/null
		wait "$ulvsd_pid" 2>/dev/null
		ulvsd_pid=""
	fi
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$ulvsd_pid/status" 2>/dev/null || echo 0; }
stats() { "$bin/ulvs" stats --socket "$sock" 2>/dev/null; }
counter() { stats | awk -v k="$1" '$1 == k {print $2}'; }

# sample FILE SECS: one line a second: seconds, RSS, table fill, defences.
sample() {
	local out=$1 secs=$2 t0 now
	t0=$(date +%s)
	printf '%-4s %-8s %s\n' "t" "rss_kB" "conn_table / defense" >"$out"
	for _ in $(seq "$secs"); do
		now=$(($(date +%s) - t0))
		printf '%-4s %-8s %s\n' "$now" "$(rss_kb)" "$(stats | awk '/^conn_table |^defense / {sub(/^[a-z_]+ /, ""); printf "%s  ", $0}')" >>"$out"
		sleep 1
	done
}

# client_loop SECS OUT: new connections from the client, one after
# another, each given 2 s; writes "ok total" to OUT. The whole loop runs in
# the client's namespace (one ip netns exec, not one per request).
client_loop() {
	# shellcheck disable=SC2016
	in_ns client bash -c '
		ok=0 total=0 end=$(($(date +%s) + $1))
		while [ "$(date +%s)" -lt "$end" ]; do
			total=$((total + 1))
			if curl -s -m 2 -o /dev/null "$2"; then ok=$((ok + 1)); fi
		done
		echo "$ok $total"' loop "$1" "$url" >"$2"
}

# fresh_ulvsd: a new ulvsd with an empty connection table (the state file
# removed), so one phase's leftovers do not fill the next one's table.
fresh_ulvsd() {
	stop_ulvsd
	rm -f "$state"
	start_ulvsd || { echo "ulvsd did not start again:"; tail -n 5 "$work/ulvsd.log"; exit 1; }
}

drops_snapshot() { stats | awk '/^drop_|^defense_|^persist_templates|^new_conns|^synproxy_|^expire_nodest|^rst_sent|^frag_needed|^split|^icmp_sent/ {print $1, $2}' | sort; }

# report_delta BEFORE AFTER: counters that moved.
report_delta() {
	join -a2 -e0 -o 0,1.2,2.2 "$1" "$2" | awk '$3 - $2 > 0 {printf "  %-28s %d\n", $1, $3 - $2}'
}

# flood NAME SECS CMD...: run the flood command in the client namespace for
# SECS while the client loop and the sampler run; report.
flood() {
	local name=$1 secs=$2
	shift 2
	drops_snapshot >"$work/$name.before"
	local rss0
	rss0=$(rss_kb)
	sample "$work/$name.samples" "$((secs + 2))" &
	local sp=$!
	client_loop "$secs" "$work/$name.client" &
	local cp=$!
	timeout "$secs" ip netns exec "$lab-client" "$@" >"$work/$name.flood.log" 2>&1 || true
	wait "$cp"
	wait "$sp" || true
	drops_snapshot >"$work/$name.after"
	read -r ok total <"$work/$name.client"
	say "resident memory before ${rss0} kB; each second (t, RSS kB, table, defences):"
	sed 's/^/  /' "$work/$name.samples"
	say "counters that moved:"
	report_delta "$work/$name.before" "$work/$name.after"
	say "flood: $(grep -Eo '[0-9]+ packets transmitted' "$work/$name.flood.log" || echo "hping3 gave no count")"
	say "legitimate client: $ok of $total new connections answered ($(awk -v o="$ok" -v t="$total" 'BEGIN {printf "%.1f", t ? 100*o/t : 0}')%)"
}

write_config 0
start_ulvsd || { echo "ulvsd did not start:"; cat "$work/ulvsd.log"; exit 1; }
say "ulvsd up: $(stats | grep ^conn_table)"

if wants synflood; then
	phase "1. SYN flood from random sources, ${flood_secs}s, hping3 --flood"
	flood synflood "$flood_secs" hping3 -S -p 80 --flood --rand-source "$vip"
fi

if [ "$synproxy" = 1 ]; then
	phase "1b. SYN flood with synproxy = true"
	stop_ulvsd
	rm -f "$state"
	write_config 1
	if start_ulvsd; then
		flood synproxy "$flood_secs" hping3 -S -p 80 --flood --rand-source "$vip"
	else
		say "SYN proxy: ulvsd refused synproxy = true (this build has no SYN proxy):"
		grep '^ulvsd:' "$work/ulvsd.log" | tail -n 1 | sed 's/^/  /'
	fi
	write_config 0
	fresh_ulvsd
fi

if wants udpflood; then
	phase "2. UDP flood from random sources, ${udp_secs}s"
	fresh_ulvsd
	flood udpflood "$udp_secs" hping3 --udp -p 80 --flood --rand-source -d 32 "$vip"
fi

# keepalive SECS OUT: one HTTP connection carrying 10 requests a second
# for SECS; OUT gets one line per request: status and connections opened.
keepalive() {
	local args=() i
	for ((i = 0; i < $1 * 10; i++)); do args+=(-o /dev/null "$url"); done
	in_ns client curl -s --rate 10/s -w '%{http_code} %{num_connects}\n' "${args[@]}" >"$2" 2>/dev/null || true
}

if wants reload; then
	phase "3. SIGHUP and ulvsadm -e every second under keep-alive load, ${reload_secs}s"
	fresh_ulvsd
	for i in 1 2 3 4; do
		keepalive "$reload_secs" "$work/ka.$i" &
		bg_pids+=($!)
	done
	sleep 1
	for s in $(seq "$reload_secs"); do
		kill -HUP "$ulvsd_pid"
		"$bin/ulvs" ulvsadm -e -t "$vip:80" -r 10.77.1.11:80 -m -w $((s % 3 + 1)) --socket "$sock" || say "ulvsadm -e failed"
		sleep 1
	done
	wait "${bg_pids[@]}" 2>/dev/null || true
	bg_pids=()
	reqs=$(cat "$work"/ka.* | wc -l)
	failed=$(cat "$work"/ka.* | awk '$1 != 200' | wc -l)
	# The first request of each session opens the connection.
	reopened=$(for f in "$work"/ka.*; do awk 'NR > 1 && $2 > 0' "$f"; done | wc -l)
	say "requests $reqs (4 sessions), failed $failed, connections opened again $reopened (target 0 and 0)"
	"$bin/ulvs" ulvsadm -e -t "$vip:80" -r 10.77.1.11:80 -m -w 1 --socket "$sock"
fi

# downloads SIZE: three downloads of SIZE bytes at 2 MB/s each, in the
# background (bg_pids); count_intact SIZE: how many arrived whole.
downloads() {
	for i in 1 2 3; do
		in_ns client curl -s -m 45 --limit-rate 2m -o /dev/null -w '%{http_code} %{size_download}\n' "http://$vip/data?size=$1" >"$work/dl.$i" 2>&1 &
		bg_pids+=($!)
	done
}
# wait_established N: until N connections are ESTABLISHED (the downloads
# started: on a loaded machine starting curl can take seconds), at most 20 s.
wait_established() {
	for _ in $(seq 200); do
		if [ "$("$bin/ulvs" ulvsadm -L -n -c --socket "$sock" 2>/dev/null | grep -c ESTABLISHED)" -ge "$1" ]; then return 0; fi
		sleep 0.1
	done
	say "only $("$bin/ulvs" ulvsadm -L -n -c --socket "$sock" | grep -c ESTABLISHED) of $1 downloads started"
}
count_intact() {
	local intact=0 code got
	for i in 1 2 3; do
		read -r code got <"$work/dl.$i" || true
		echo "  download $i: HTTP ${code:-?}, ${got:-0} of $1 bytes" >&2
		if [ "${code:-}" = 200 ] && [ "${got:-0}" = "$1" ]; then intact=$((intact + 1)); fi
	done
	echo "$intact"
}

if wants restart; then
	phase "4. restart with downloads in flight (state_file handover)"
	fresh_ulvsd
	# Socket buffers small enough that the downloads are on the wire
	# while curl reads them at its rate (with Linux's default 32 MB
	# receive buffer a 40 MB download sits mostly in the client's kernel
	# within a second, and outlives even a dead director): 40 MB at 2 MB/s.
	in_ns client sysctl -qw net.ipv4.tcp_rmem="4096 131072 262144"
	for rs in rs1 rs2; do in_ns "$rs" sysctl -qw net.ipv4.tcp_wmem="4096 16384 262144"; done
	size=40000000
	downloads "$size"
	wait_established 3
	sleep 2
	t0=$(date +%s.%N)
	stop_ulvsd
	start_ulvsd || { echo "ulvsd did not start again"; cat "$work/ulvsd.log"; exit 1; }
	t1=$(date +%s.%N)
	say "ulvsd stopped and running again in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s"
	grep -E 'state file' "$work/ulvsd.log" | tail -n 2 | sed 's/^/  /'
	wait "${bg_pids[@]}" 2>/dev/null || true
	bg_pids=()
	say "downloads intact across the restart: $(count_intact "$size") of 3"

	phase "4b. the same with kill -9 (nothing saved)"
	fresh_ulvsd
	downloads "$size"
	wait_established 3
	sleep 2
	kill -KILL "$ulvsd_pid"
	wait "$ulvsd_pid" 2>/dev/null || true
	ulvsd_pid=""
	start_ulvsd || { echo "ulvsd did not start again"; exit 1; }
	wait "${bg_pids[@]}" 2>/dev/null || true
	bg_pids=()
	say "downloads intact across kill -9 and a start: $(count_intact "$size") of 3"
fi

if wants linkflap; then
	phase "5. link flap: d-eth0 down 2 s, up"
	fresh_ulvsd
	in_ns director ip link set d-eth0 down
	sleep 2
	in_ns director ip link set d-eth0 up
	t0=$(date +%s.%N)
	back=""
	for _ in $(seq 300); do
		if in_ns client curl -s -m 1 -o /dev/null "$url"; then back=$(date +%s.%N); break; fi
		sleep 0.1
	done
	if [ -n "$back" ]; then
		say "forwarding again $(awk -v a="$t0" -v b="$back" 'BEGIN {printf "%.2f", b - a}') s after the link came up"
	else
		say "forwarding did NOT resume within 30 s"
	fi
	stats | grep '^interface' | sed 's/^/  /'
fi

if wants arploss; then
	phase "6. ARP loss: rs1 answers no ARP for ${arp_secs}s"
	fresh_ulvsd
	drops_snapshot >"$work/arp.before"
	in_ns rs1 ip link set r1-eth0 arp off
	client_loop "$arp_secs" "$work/arp.client"
	drops_snapshot >"$work/arp.mid"
	in_ns rs1 ip link set r1-eth0 arp on
	t0=$(date +%s)
	client_loop 15 "$work/arp.after"
	read -r ok total <"$work/arp.client"
	say "while rs1 was silent: $ok of $total requests answered; counters that moved:"
	report_delta "$work/arp.before" "$work/arp.mid"
	read -r ok total <"$work/arp.after"
	say "in the 15 s after: $ok of $total answered"
fi

# ---- Phases on labs of their own (they replace the NAT lab above) ----

# rips: the lab's real-server addresses, from its state file.
rips() {
	sed -n '/"rips"/,/]/p' "/run/ulvs/lab/$lab.json" | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+'
}

# new_lab MODE: the lab rebuilt in MODE (nat, dr, tun), the same name.
new_lab() {
	stop_ulvsd
	rm -f "$state"
	"$bin/ulvs" lab down --name "$lab" >/dev/null 2>&1 || true
	"$bin/ulvs" lab up --name "$lab" --mode "$1" --real-servers 2 >>"$work/lab.log" 2>&1
}

# write_checked_config MODE EXPIRE [nocheck]: one TCP service in MODE with a
# TCP_CHECK on each real server (delay_loop 1, connect_timeout 1, retry 1,
# delay_before_retry 1: a dead server is out of the table within about
# 3 s) and expire_nodest_conn = EXPIRE.
write_checked_config() {
	local mode=$1 expire=$2 checks=${3:-} ifaces='"d-eth0"'
	[ "$mode" = nat ] && ifaces='"d-eth0", "d-eth1"'
	{
		cat <<EOF
[director]
interfaces = [$ifaces]
socket = "$sock"
workers = 2
state_file = "$state"

[sysctl]
expire_nodest_conn = $expire

[[virtual_server]]
protocol = "tcp"
address = "$vip:80"
scheduler = "rr"
forward = "$mode"
EOF
		for rs in $(rips); do
			printf '\n  [[virtual_server.real_server]]\n  address = "%s:80"\n  weight = 1\n' "$rs"
			[ "$checks" = nocheck ] && continue
			printf '\n    [[virtual_server.real_server.check]]\n    type = "tcp"\n    delay_loop = 1\n    connect_timeout = 1\n    retry = 1\n    delay_before_retry = 1\n'
		done
	} >"$work/ulvs.toml"
}

# small_buffers: socket buffers small enough that downloads are on the
# wire, not in the client's kernel (see the restart phase).
small_buffers() {
	in_ns client sysctl -qw net.ipv4.tcp_rmem="4096 131072 262144"
	for rs in rs1 rs2; do in_ns "$rs" sysctl -qw net.ipv4.tcp_wmem="4096 16384 262144"; done
}

# timed_download URL OUT MAXSECS: one download at 2 MB/s; OUT gets "exit
# http bytes end" (curl's exit status, HTTP status, bytes, the epoch time
# it ended).
timed_download() {
	# shellcheck disable=SC2016
	in_ns client bash -c 'curl -s -m "$3" --limit-rate 2m -o /dev/null -w "%{http_code} %{size_download}" "$1" >"$2.tmp"; rc=$?
		echo "$rc $(cat "$2.tmp") $(date +%s.%N)" >"$2"' dl "$1" "$2" "$3"
}

# who_loop SECS OUT: new connections one after another, each given 1 s;
# OUT gets one line per request: epoch time and the body (rs1, rs2) or
# FAIL.
who_loop() {
	# shellcheck disable=SC2016
	in_ns client bash -c '
		end=$(($(date +%s) + $1))
		while [ "$(date +%s)" -lt "$end" ]; do
			t=$(date +%s.%N)
			b=$(curl -s -m 1 "$2") || b=FAIL
			echo "$t ${b:-FAIL}"
		done' who "$1" "$url" >"$2"
}

# watch_table SECS OUT RIP: when RIP leaves the table (ulvsadm -L -n),
# polled every 0.2 s: OUT gets the epoch time, or nothing.
watch_table() {
	local end=$(($(date +%s) + $1))
	while [ "$(date +%s)" -lt "$end" ]; do
		if ! "$bin/ulvs" ulvsadm -L -n --socket "$sock" 2>/dev/null | grep -q " $3:"; then
			date +%s.%N >"$2"
			return
		fi
		sleep 0.2
	done
}

# since T0 T: seconds from T0 to T.
since() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }

# rs_death MODE FAULT EXPIRE: downloads, keep-alive sessions and a loop of
# new connections through a MODE lab while rs1 dies: FAULT "kill" (its
# server process killed: its kernel answers with RST) or "gone" (its link
# down: nothing answers). Reports what the clients saw.
rs_death() {
	local mode=$1 fault=$2 expire=$3 tag="rs.$1.$2.$3" size=40000000 i
	phase "7. real server death: $mode, rs1 $fault, expire_nodest_conn = $expire"
	new_lab "$mode"
	write_checked_config "$mode" "$expire"
	start_ulvsd || { echo "ulvsd did not start:"; tail -n 5 "$work/ulvsd.log"; exit 1; }
	small_buffers
	local rs1ip
	rs1ip=$(rips | head -n 1)
	sleep 2 # the checks' first round
	drops_snapshot >"$work/$tag.before"
	for i in 1 2 3 4; do
		timed_download "http://$vip/data?size=$size" "$work/$tag.dl.$i" 40 &
		bg_pids+=($!)
	done
	wait_established 4
	for i in 1 2 3 4; do
		# shellcheck disable=SC2016
		in_ns client bash -c 'args=(); for ((j = 0; j < 150; j++)); do args+=(-o /dev/null "$1"); done
			curl -s --rate 5/s -m 10 -w "%{http_code} %{num_connects} %{time_total}\n" "${args[@]}"' ka "$url" >"$work/$tag.ka.$i" 2>/dev/null &
		bg_pids+=($!)
	done
	sleep 3
	local on_rs1
	on_rs1=$("$bin/ulvs" ulvsadm -L -n -c --socket "$sock" | grep -c "ESTABLISHED.*$rs1ip:80")
	who_loop 25 "$work/$tag.who" &
	bg_pids+=($!)
	sleep 2
	local t0
	t0=$(date +%s.%N)
	if [ "$fault" = kill ]; then
		kill -KILL "$(pgrep -f -- "lab serve --name rs1 --lab $lab\$")"
	else
		in_ns rs1 ip link set r1-eth0 down
	fi
	watch_table 20 "$work/$tag.out" "$rs1ip"
	wait "${bg_pids[@]}" 2>/dev/null || true
	bg_pids=()
	drops_snapshot >"$work/$tag.after"
	say "fault at $(date -u -d "@$t0" +%H:%M:%S.%N | cut -c1-12); $on_rs1 established connections on rs1 ($rs1ip) just before"
	if [ -s "$work/$tag.out" ]; then
		say "rs1 out of the table (health check) $(since "$t0" "$(cat "$work/$tag.out")") s after the fault"
	else
		say "rs1 still in the table 20 s after the fault"
	fi
	say "downloads (curl exit status, HTTP status, bytes of $size, seconds from the fault to its end):"
	local rc code got end
	for i in 1 2 3 4; do
		read -r rc code got end <"$work/$tag.dl.$i" || true
		say "  download $i: exit ${rc:-?}, HTTP ${code:-?}, ${got:-0} bytes, $(since "$t0" "${end:-0}") s"
	done
	say "keep-alive sessions (5 requests/s, each request 10 s at most):"
	for i in 1 2 3 4; do
		awk -v s="$i" '{n++} $1 != 200 {f++; ft = ft sprintf(" %.2f s", $3)} NR > 1 && $2 > 0 {r++}
			END {printf "  session %s: %d requests, %d failed%s, %d connections opened again\n", s, n, f, (ft == "" ? "" : " (after" ft ")"), r}' "$work/$tag.ka.$i"
	done
	awk -v t0="$t0" '$1 >= t0 {n++; if ($2 == "rs1" || $2 == "FAIL") {last = $1 - t0; if ($2 == "FAIL") f++; else r1++}}
		END {printf "  new connections after the fault: %d, answered by rs1 %d, failed %d; the last to rs1 or failed began %.2f s after the fault\n", n, r1, f, last}' "$work/$tag.who"
	say "counters that moved:"
	report_delta "$work/$tag.before" "$work/$tag.after"
}

if wants rsdeath; then
	for m in ${rs_modes//,/ }; do
		rs_death "$m" kill 1
		if [ "$m" = nat ]; then rs_death "$m" gone 0; fi
		rs_death "$m" gone 1
	done
fi

# set_mtu MTU NODE:IFACE...: the MTU of each interface (NODE sw, client,
# director, rs1, ...).
set_mtu() {
	local mtu=$1 x
	shift
	for x in "$@"; do in_ns "${x%%:*}" ip link set "${x#*:}" mtu "$mtu"; done
}

# director_mtu IFACE: the MTU ulvsd reports for IFACE (ulvs stats).
director_mtu() { stats | awk -v i="$1" '$1 == "interface" && $2 == i {for (f = 3; f <= NF; f++) if ($f ~ /^mtu=/) print substr($f, 5)}'; }

# wait_mtu IFACE MTU T0: until ulvsd reports MTU for IFACE (at most 10 s);
# prints the seconds since T0.
wait_mtu() {
	for _ in $(seq 100); do
		if [ "$(director_mtu "$1")" = "$2" ]; then since "$3" "$(date +%s.%N)"; return; fi
		sleep 0.1
	done
	echo "not within 10 s (ulvsd reports $(director_mtu "$1"))"
}

# upload FILE OUT MAXSECS: POST FILE at 2 MB/s; OUT gets "exit http
# digest" (the real server answers with the body's SHA-256).
upload() {
	# shellcheck disable=SC2016
	in_ns client bash -c 'd=$(curl -s -m "$3" --limit-rate 2m --data-binary @"$1" -H "Content-Type: application/octet-stream" "$4"); rc=$?
		echo "$rc $d" >"$2"' up "$1" "$2" "$3" "http://$vip/upload"
}

# mtu_phase MODE: uploads and downloads through a MODE lab while the MTU of
# the real servers' path and then of the director's client side drops to
# 1400 and goes back to 1500.
mtu_phase() {
	local mode=$1 tag="mtu.$1" i t0
	phase "8. MTU changes under load: $mode"
	new_lab "$mode"
	write_checked_config "$mode" 0 nocheck
	start_ulvsd || { echo "ulvsd did not start:"; tail -n 5 "$work/ulvsd.log"; exit 1; }
	small_buffers
	local file="$work/upload.bin" size=24000000
	[ -f "$file" ] || head -c "$size" /dev/urandom >"$file"
	local sum
	sum=$(sha256sum "$file" | cut -d' ' -f1)
	drops_snapshot >"$work/$tag.before"
	for i in 1 2; do
		upload "$file" "$work/$tag.up.$i" 60 &
		bg_pids+=($!)
		timed_download "http://$vip/data?size=$size" "$work/$tag.dl.$i" 60 &
		bg_pids+=($!)
	done
	wait_established 4
	# The director's interface last in each list: the pickup time runs
	# from its change.
	local rsnet=() clnet=(client:c-eth0 sw:sw-c sw:sw-d)
	if [ "$mode" = nat ]; then
		rsnet=(sw:sw-d1 sw:sw-r1 sw:sw-r2 rs1:r1-eth0 rs2:r2-eth0 director:d-eth1)
	else
		# One flat LAN: the real servers' path is the director's own
		# interface; the whole LAN changes together.
		clnet+=(sw:sw-r1 sw:sw-r2 rs1:r1-eth0 rs2:r2-eth0)
	fi
	clnet+=(director:d-eth0)
	sleep 3
	if [ ${#rsnet[@]} -gt 0 ]; then
		set_mtu 1400 "${rsnet[@]}"
		t0=$(date +%s.%N)
		say "real servers' LAN (d-eth1 and its peers) at MTU 1400: ulvsd saw it after $(wait_mtu d-eth1 1400 "$t0") s"
		sleep 4
	fi
	set_mtu 1400 "${clnet[@]}"
	t0=$(date +%s.%N)
	say "client LAN (d-eth0 and its peers) at MTU 1400: ulvsd saw it after $(wait_mtu d-eth0 1400 "$t0") s"
	sleep 4
	set_mtu 1500 "${rsnet[@]}" "${clnet[@]}"
	t0=$(date +%s.%N)
	say "back to 1500: ulvsd saw it after $(wait_mtu d-eth0 1500 "$t0") s"
	wait "${bg_pids[@]}" 2>/dev/null || true
	bg_pids=()
	drops_snapshot >"$work/$tag.after"
	local rc code got d
	for i in 1 2; do
		read -r rc d <"$work/$tag.up.$i" || true
		say "  upload $i: exit ${rc:-?}, $([ "${d:-}" = "$sum" ] && echo "intact (SHA-256 matches)" || echo "NOT intact (${d:-no answer})")"
		read -r rc code got _ <"$work/$tag.dl.$i" || true
		say "  download $i: exit ${rc:-?}, HTTP ${code:-?}, ${got:-0} of $size bytes"
	done
	say "counters that moved:"
	report_delta "$work/$tag.before" "$work/$tag.after"
}

if wants mtu; then
	for m in ${mtu_modes//,/ }; do mtu_phase "$m"; done
fi

phase "done"
[ -z "$ulvsd_pid" ] || stats | grep -E '^conn_table |^defense ' | sed 's/^/  /'
