package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/ctl"
)

const statsUsage = `Usage: ulvs stats [--socket PATH] [--nonzero]

Prints the state of the director's interfaces (up, absent, down or
broken, and since when), then its data-path counters: frames and bytes
received and sent, ARP and ping answers, new connections, and every drop
by reason. Every frame the engine reads ends in exactly one of forwarded,
an answer, or a drop counter.
`

func statsMain(args []string, stdout, stderr io.Writer) int {
	var nonzero *bool
	return snapshotCommand{
		name:  "ulvs stats",
		usage: statsUsage,
		flags: func(fs *flag.FlagSet) { nonzero = fs.Bool("nonzero", false, "leave out counters that are zero") },
		print: func(w io.Writer, snap *ctl.Snapshot) {
			printInterfaces(w, snap.Interfaces, time.Now())
			printCounters(w, snap.Engine, *nonzero)
		},
	}.run(args, stdout, stderr)
}

// printInterfaces prints one line per interface:
//
//	interface d-eth0 absent since=2026-12-06T18:40:01Z for=12s losses=1 carrier=no
func printInterfaces(w io.Writer, ifs []ctl.InterfaceStatus, now time.Time) {
	for _, i := range ifs {
		fmt.Fprintf(w, "interface %s %s since=%s for=%s", i.Name, i.State,
			i.Since.UTC().Format(time.RFC3339), now.Sub(i.Since).Truncate(time.Second))
		if i.MAC != "" {
			fmt.Fprintf(w, " mac=%s", i.MAC)
		}
		if i.MTU != 0 {
			fmt.Fprintf(w, " mtu=%d", i.MTU)
		}
		carrier := "no"
		if i.Carrier {
			carrier = "yes"
		}
		fmt.Fprintf(w, " carrier=%s losses=%d\n", carrier, i.Losses)
	}
}

// printCounters prints name/value lines: totals first, drops after, each
// group in name order.
func printCounters(w io.Writer, m map[string]uint64, nonzero bool) {
	names := make([]string, 0, len(m))
	for k, v := range m {
		if nonzero && v == 0 {
			continue
		}
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		da, db := strings.HasPrefix(a, "drop_"), strings.HasPrefix(b, "drop_")
		if da != db {
			if da {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	for _, k := range names {
		fmt.Fprintf(w, "%-24s %d\n", k, m[k])
	}
}
