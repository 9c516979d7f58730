package main

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/healthcheck"
)

const checksUsage = `Usage: ulvs checks [--socket PATH] [--json]

Lists every health checker of the running director: the virtual service
with its quorum and sorry server, each real server with its verdict and
weight, and each checker with its state, last result and error, latency,
consecutive failures and last transition.
`

func checksMain(args []string, stdout, stderr io.Writer) int {
	return snapshotCommand{
		name:  "ulvs checks",
		usage: checksUsage,
		print: func(w io.Writer, snap *ctl.Snapshot) { printChecks(w, snap.Checks, time.Now()) },
		asJSON: func(snap *ctl.Snapshot) any {
			if snap.Checks == nil {
				return []healthcheck.VirtualStatus{}
			}
			return snap.Checks
		},
	}.run(args, stdout, stderr)
}

// printChecks writes the checks as a table, one service heading and then a
// line per checker.
func printChecks(w io.Writer, vss []healthcheck.VirtualStatus, now time.Time) {
	if len(vss) == 0 {
		fmt.Fprintln(w, "no health checks configured")
		return
	}
	for i, v := range vss {
		if i > 0 {
			fmt.Fprintln(w)
		}
		quorum := "quorum up"
		if !v.QuorumUp {
			quorum = "quorum down"
		}
		fmt.Fprintf(w, "VS %s  %s", healthcheck.FormatVS(v.Service), quorum)
		if v.Sorry.IsValid() {
			state := "standby"
			if v.SorryActive {
				state = "active"
			}
			fmt.Fprintf(w, "  sorry server %s %s", v.Sorry, state)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  SERVER\tSTATE\tWEIGHT\tCHECK\tCHECK STATE\tLAST\tLATENCY\tFAILS\tTRANSITIONS\tSINCE\tERROR")
		for _, r := range v.Reals {
			state := "up"
			if !r.Alive {
				state = "down"
				if r.Inhibit {
					state = "down (weight 0)"
				}
			}
			server := healthcheck.FormatServer(r.Addr, r.Port, v.Service.Proto)
			if len(r.Checks) == 0 {
				fmt.Fprintf(tw, "  %s\t%s\t%d\t-\t-\t-\t-\t-\t-\t-\t\n", server, state, r.Weight)
			}
			for _, c := range r.Checks {
				cs, last, lat := "up", "-", "-"
				if !c.Up {
					cs = "down"
				}
				if c.HasRun {
					last = "ok"
					if !c.Last.OK {
						last = "failed"
					}
					lat = fmtLatency(c.Last.Latency)
				}
				since := "-"
				if !c.LastTransition.IsZero() {
					since = now.Sub(c.LastTransition).Round(time.Second).String() + " ago"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n",
					server, state, r.Weight, c.Kind, cs, last, lat, c.ConsecutiveFailures, c.Transitions, since, c.Last.Err)
			}
		}
		tw.Flush()
	}
}

func fmtLatency(d time.Duration) string {
	if d < time.Millisecond {
		return strconv.FormatInt(d.Microseconds(), 10) + "us"
	}
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
}
