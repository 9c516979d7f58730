#!/bin/sh
# Writes the web console's screenshots to docs/img/web-*.png by running
# the browser tests with -web-screenshots: TestIntegrationWebConsole (a DR
# lab, ulvsd --web on a ulvs.toml, headless Chromium) and
# TestIntegrationWebConsoleLVSCF (the same on an lvs.cf: global settings,
# redundancy, monitoring scripts and the virtual server's lvs.cf fields)
# and TestIntegrationWebConsoleKeepalived (a keepalived.conf: the VRRP
# instance's form on the redundancy page, the checker forms of the
# monitoring scripts page; the TOML test shoots them too).
# Needs root and chromium (scripts/setup-host.sh). Takes about a minute
# and a half: the client loop runs half a minute so that the charts have
# something to show.
set -eu
cd "$(dirname "$0")/.."
exec go test -count=1 -run 'TestIntegrationWebConsole(LVSCF|Keepalived)?$' ./director/ -web-screenshots="$PWD/docs/img" "$@"
