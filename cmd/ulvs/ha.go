package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vrrp"
)

const haUsage = `Usage: ulvs ha [--socket PATH] [--json]

Lists the director's failover (VRRP) instances: state, priority (and the
effective one with track weights), the master last seen, when and why the
state last changed, and the advert counters. An instance in a
vrrp_sync_group shows the group's name in brackets.
`

func haMain(args []string, stdout, stderr io.Writer) int {
	return snapshotCommand{
		name:  "ulvs ha",
		usage: haUsage,
		print: func(w io.Writer, snap *ctl.Snapshot) { printHA(w, snap.HA, time.Now()) },
		asJSON: func(snap *ctl.Snapshot) any {
			if snap.HA == nil {
				return []vrrp.Status{}
			}
			return snap.HA
		},
	}.run(args, stdout, stderr)
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
		name := s.Name
		if s.SyncGroup != "" {
			name += " [" + s.SyncGroup + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\t%s\t%s\t%d/%d\n", name, s.Interface, vrid, version, s.State,
			prio, master, since, why, s.Counters.AdvertsReceived, s.Counters.AdvertsSent)
	}
	tw.Flush()
}
