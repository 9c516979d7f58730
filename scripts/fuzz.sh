#!/usr/bin/env bash
# Runs every fuzz target of the repository (each `func FuzzXxx` in a
# _test.go file) for DURATION each, one at a time: `go test -fuzz` fuzzes one
# target per invocation. Prints one line per target and exits non-zero when
# any target fails.
#
#   scripts/fuzz.sh [DURATION] [TARGET-REGEXP]
#
#   DURATION       a Go -fuzztime value: 10s (the default), 2m, or 5000x
#                  (executions)
#   TARGET-REGEXP  run only the targets whose "dir/FuzzName" matches this
#                  extended regexp, e.g. 'pkt/' or 'FuzzFragmentIPv4$'
#
# Environment: FUZZ_PARALLEL sets -parallel (fuzzing processes; the default
# is GOMAXPROCS, use 1 on a shared machine); FUZZ_MINIMIZE sets
# -fuzzminimizetime (default 5s, Go's own default is 60s); FUZZ_LOG_DIR keeps
# each target's full output (default: a temporary directory, removed when
# every target passed).
#
# Why 5s: Go minimizes every new interesting input, for up to
# -fuzzminimizetime, before it fuzzes on, and the executions spent
# minimizing are not counted. With Go's 60s a target could spend a whole
# 60 s run minimizing one input (measured: FuzzUpdate ran 2543 inputs in
# 60 s, and 290419 in 20 s with 1s). A failing input is minimized within
# the same bound.
#
# The corpus is kept in two places, both by `go test` itself:
#   - A failing input is written to DIR/testdata/fuzz/FuzzName/<hash> in the
#     package's directory. Commit it with the fix: from then on plain
#     `go test ./DIR` runs it as a regression test (with the f.Add seeds).
#   - New interesting inputs that pass (the growing corpus that coverage
#     guidance builds on) go to the build cache,
#     $(go env GOCACHE)/fuzz/<module path>/<package>/FuzzName, and are reused
#     by the next run of the same target on this machine. `go clean
#     -fuzzcache` deletes them; CI machines start from the seeds and
#     testdata/fuzz only.
set -uo pipefail
cd "$(dirname "$0")/.."

duration=${1:-10s}
filter=${2:-}
minimize=${FUZZ_MINIMIZE:-5s}
parallel=()
if [[ -n ${FUZZ_PARALLEL:-} ]]; then
	parallel=(-parallel "$FUZZ_PARALLEL")
fi
logdir=${FUZZ_LOG_DIR:-}
keep_logs=1
if [[ -z $logdir ]]; then
	logdir=$(mktemp -d /tmp/ulvs-fuzz.XXXXXX)
	keep_logs=0
fi
mkdir -p "$logdir"

# dir<TAB>FuzzName for every target, sorted so runs are comparable.
mapfile -t targets < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . |
	sed -E 's|^\./||; s|^(.*)/[^/]+_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]+)\(.*|\1\t\2|' |
	sort -u)
if [[ ${#targets[@]} -eq 0 ]]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi

# coordinator_race LOG: whether the only failure in LOG is Go's own race
# at the end of a -fuzztime duration (go.dev/issue/75804, fixed in Go 1.27,
# present in the 1.26 this module builds with): the coordinator reports the
# expiry of its own deadline as "context deadline exceeded" when a worker is
# still busy at that instant, which happens often on a loaded machine. Such a
# run wrote no failing input and its target reported nothing else, so it is
# a clean run of the requested length. Any other text under the FAIL line,
# or a failing input written, is a real failure.
coordinator_race() {
	grep -q 'Failing input written' "$1" && return 1
	awk '
		/^--- FAIL: / { in_fail = 1; next }
		/^FAIL$|^exit status|^FAIL\t/ { in_fail = 0; next }
		in_fail && NF { if ($0 == "    context deadline exceeded") race = 1; else other = 1 }
		END { exit !(race && !other) }
	' "$1"
}

failed=0
ran=0
for t in "${targets[@]}"; do
	dir=${t%%$'\t'*}
	name=${t#*$'\t'}
	if [[ -n $filter ]] && ! [[ "$dir/$name" =~ $filter ]]; then
		continue
	fi
	ran=$((ran + 1))
	log="$logdir/${dir//\//_}_$name.log"
	start=$(date +%s)
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -fuzzminimizetime "$minimize" \
		"${parallel[@]}" "./$dir" >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	# The last progress line carries the execution count.
	execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	if [[ $rc -eq 0 ]]; then
		printf 'ok    %-22s %-28s %s fuzzing, %ss in all, %s execs\n' "$dir" "$name" "$duration" "$secs" "${execs:-?}"
	elif coordinator_race "$log"; then
		printf 'ok    %-22s %-28s %s fuzzing, %ss in all, %s execs (go#75804 at the end: no failing input)\n' \
			"$dir" "$name" "$duration" "$secs" "${execs:-?}"
	else
		failed=$((failed + 1))
		input=$(grep -oE 'testdata/fuzz/[^ ]+' "$log" | head -1)
		printf 'FAIL  %-22s %-28s after %ss: %s (log %s)\n' "$dir" "$name" "$secs" \
			"${input:+failing input $dir/$input}${input:-see the log}" "$log"
		keep_logs=1
	fi
done

if [[ $ran -eq 0 ]]; then
	echo "fuzz.sh: no target matches '$filter'" >&2
	exit 1
fi
if [[ $keep_logs -eq 0 ]]; then
	rm -rf "$logdir"
fi
if [[ $failed -ne 0 ]]; then
	echo "fuzz.sh: $failed of $ran targets failed"
	exit 1
fi
echo "fuzz.sh: all $ran targets clean ($duration each)"
