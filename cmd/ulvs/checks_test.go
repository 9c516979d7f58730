package main

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/vs"
)

func TestPrintChecks(t *testing.T) {
	now := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	vss := []healthcheck.VirtualStatus{{
		Service:  config.ServiceKey{Proto: vs.TCP, Addr: netip.MustParseAddr("10.0.0.100"), Port: 80},
		QuorumUp: true,
		Sorry:    netip.MustParseAddrPort("10.0.0.13:80"),
		Reals: []healthcheck.RealStatus{
			{Addr: netip.MustParseAddr("10.0.0.11"), Port: 80, Alive: true, Weight: 1, Checks: []healthcheck.CheckStatus{{
				Kind: "TCP_CHECK", Up: true, HasRun: true,
				Last: healthcheck.Result{OK: true, Latency: 210 * time.Microsecond},
			}}},
			{Addr: netip.MustParseAddr("10.0.0.12"), Port: 80, Weight: 1, Inhibit: true, Checks: []healthcheck.CheckStatus{{
				Kind: "HTTP_GET", HasRun: true, ConsecutiveFailures: 3, Transitions: 1,
				LastTransition: now.Add(-42 * time.Second),
				Last:           healthcheck.Result{Err: "HTTP status 404", Latency: 1500 * time.Microsecond},
			}}},
		},
	}}
	var b bytes.Buffer
	printChecks(&b, vss, now)
	want := `VS [10.0.0.100]:tcp:80  quorum up  sorry server 10.0.0.13:80 standby
  SERVER              STATE            WEIGHT  CHECK      CHECK STATE  LAST    LATENCY  FAILS  TRANSITIONS  SINCE    ERROR
  [10.0.0.11]:tcp:80  up               1       TCP_CHECK  up           ok      210us    0      0            -        
  [10.0.0.12]:tcp:80  down (weight 0)  1       HTTP_GET   down         failed  1.5ms    3      1            42s ago  HTTP status 404
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printChecks(&b, nil, now)
	if b.String() != "no health checks configured\n" {
		t.Errorf("empty: got %q", b.String())
	}
}
