#!/usr/bin/env bash
# The ulvs test run: installs what the tests need, then vet, the whole test
# suite with the race detector (privileged lab tests included when run as
# root), and every benchmark once so they keep compiling and stay alloc-free.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-host.sh

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m ./...

echo "== benchmarks (one iteration each)"
go test -run '^$' -bench . -benchtime=1x -count=1 -timeout 10m ./... >/tmp/ulvs-bench-1x.txt || {
	cat /tmp/ulvs-bench-1x.txt
	exit 1
}
echo "benchmarks ok"
