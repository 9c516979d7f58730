#!/bin/sh
# Writes the web console's screenshots to docs/img/web-*.png by running
# the browser test (TestIntegrationWebConsole: a DR lab, ulvsd --web,
# headless Chromium) with -web-screenshots. Needs root and chromium
# (scripts/setup-host.sh). Takes about a minute: the client loop runs
# half a minute so that the charts have something to show.
set -eu
cd "$(dirname "$0")/.."
exec go test -count=1 -run 'TestIntegrationWebConsole$' ./director/ -web-screenshots="$PWD/docs/img" "$@"
