# Shared by the lab replays (dr.sh, nat.sh, tun.sh, fullnat.sh); source it
# after setting MODE. It builds ulvs unless $ULVS names a binary, names the
# lab ($LAB or ulvs<mode><pid>), points ulvsadm at a private control socket
# (ULVS_SOCKET) and removes everything on exit, Ctrl-C included.

name=${LAB:-ulvs$MODE$$}
tmp=$(mktemp -d "/tmp/ulvs-$MODE.XXXXXX")
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

# start_ulvsd ARGS...: runs ulvsd ARGS in the director's namespace and
# waits for its control socket.
start_ulvsd() {
	# "$ULVS" itself, not the ulvs function: $! must be its PID for kill.
	"$ULVS" lab exec --name "$name" director "$ULVS" ulvsd "$@" --socket "$ULVS_SOCKET" >"$tmp/ulvsd.log" 2>&1 &
	ulvsd_pid=$!
	for _ in $(seq 100); do
		[ -S "$ULVS_SOCKET" ] && return 0
		sleep 0.1
	done
	echo "ulvsd did not start:" >&2
	cat "$tmp/ulvsd.log" >&2
	exit 1
}

# curl_loop: the seeds' check, for i in {1..6}; do curl VIP; done, which
# must alternate between rs1 and rs2.
curl_loop() {
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
}
