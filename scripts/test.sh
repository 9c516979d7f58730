#!/usr/bin/env bash
# The ulvs test run: installs what the tests need, then vet, the whole test
# suite with the race detector (privileged lab tests included when run as
# root), the zero-allocation tests without it, and every benchmark once so
# they keep compiling, and every fuzz target for two seconds (about two
# minutes in all: scripts/fuzz.sh 2s took 118 s for 21 targets here).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-host.sh

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

# The race detector's instrumentation allocates, so the zero-allocation
# tests skip themselves under -race: run them once more without it.
echo "== allocation tests"
go test -count=1 -run 'Alloc' ./...

echo "== fuzz targets (2s each)"
./scripts/fuzz.sh 2s

echo "== benchmarks (one iteration each)"
go test -run '^$' -bench . -benchtime=1x -count=1 -timeout 10m ./... >/tmp/ulvs-bench-1x.txt || {
	cat /tmp/ulvs-bench-1x.txt
	exit 1
}
echo "benchmarks ok"
