package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vrrp"
)

const haUsage = `Usage: ulvs ha [--socket PATH] [--json]

Lists the director's failover (VRRP) instances: state, priority (and the
effective one with track weights), the master last seen, when and why the
state last changed, and the advert counters.
`

func haMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ulvs ha", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, haUsage) }
	socket := fs.String("socket", "", "control socket (default $ULVS_SOCKET or "+ctl.DefaultSocket+")")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, haUsage)
		return 2
	}
	path := ctl.SocketPath(*socket, os.Getenv)
	c, err := ctl.Dial(path)
	if err != nil {
		fmt.Fprintf(stderr, "ulvs ha: %v (is ulvsd running with --socket %s?)\n", err, path)
		return 1
	}
	defer c.Close()
	snap, err := c.Snapshot()
	if err != nil {
		fmt.Fprintf(stderr, "ulvs ha: %v\n", err)
		return 1
	}
	if *asJSON {
		st := snap.HA
		if st == nil {
			st = []vrrp.Status{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			fmt.Fprintf(stderr, "ulvs ha: %v\n", err)
			return 1
		}
		return 0
	}
	printHA(stdout, snap.HA, time.Now())
	return 0
}

// printHA writes one line per instance.
func printHA(w io.Writer, st []vrrp.Status, now time.Time) {
	if len(st) == 0 {
		fmt.Fprintln(w, "no failover (vrrp_instance, or lvs.cf backup_active) configured")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tINTERFACE\tVRID\tVERSION\tSTATE\tPRIORITY\tMASTER SEEN\tSINCE\tWHY\tADVERTS IN/OUT")
	for _, s := range st {
		prio := fmt.Sprint(s.Priority)
		if s.EffectivePriority != s.Priority {
			prio = fmt.Sprintf("%d (effective %d)", s.Priority, s.EffectivePriority)
		}
		master := "-"
		if s.MasterAddr.IsValid() {
			master = fmt.Sprintf("%v (prio %d)", s.MasterAddr, s.MasterPriority)
		}
		since := "-"
		if !s.LastTransition.IsZero() {
			since = now.Sub(s.LastTransition).Round(time.Second).String() + " ago"
		}
		why := s.Reason
		if len(s.Faults) > 0 {
			why = fmt.Sprintf("%s (faults: %v)", why, s.Faults)
		}
		// Piranha's pulse (no VRRP version) has neither VRID nor priority:
		// its heartbeats count as adverts.
		vrid, version := fmt.Sprint(s.VRID), fmt.Sprintf("v%d", s.Version)
		if s.Version == 0 {
			vrid, version, prio = "-", "pulse", "-"
			if s.MasterAddr.IsValid() {
				master = s.MasterAddr.String()
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\t%d/%d\n", s.Name, s.Interface, vrid, version, s.State,
			prio, master, since, why, s.Counters.AdvertsReceived, s.Counters.AdvertsSent)
	}
	tw.Flush()
}
