#!/usr/bin/env bash
# Builds ulvs and runs the DR lab demo: a client in its own network namespace
# fetches http://10.77.0.100/ six times through a ulvs director and the
# answers alternate between rs1 and rs2. Needs root. --mode nat|fullnat|tun
# for the other methods, --ipv6 for the same over IPv6 (a dual-stack lab,
# http://[2001:db8:77::100]/).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-host.sh
mkdir -p bin
go build -o bin/ ./cmd/...
exec ./bin/ulvs lab demo "$@"
