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
broken, and since when), the connection tables' fill and the defence
ladder (drop_entry, drop_packet, secure_tcp: mode and whether it acts
now), then its data-path counters: frames and bytes
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
			printDefense(w, snap.Defense)
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

// printDefense prints the connection tables' fill and the defence ladder:
//
//	conn_table conns=49152 capacity=98304 free=49152 amemthresh=1024
//	defense drop_entry=2(on) drop_packet=2(rate 1) secure_tcp=2(on)
func printDefense(w io.Writer, d *ctl.DefenseStatus) {
	if d == nil {
		return
	}
	fmt.Fprintf(w, "conn_table conns=%d capacity=%d free=%d amemthresh=%d\n", d.Conns, d.Capacity, d.Free, d.AmemThresh)
	onOff := func(on bool) string {
		if on {
			return "on"
		}
		return "off"
	}
	rate := "off"
	if d.DropRate > 0 {
		rate = fmt.Sprintf("rate %d", d.DropRate)
	}
	fmt.Fprintf(w, "defense drop_entry=%d(%s) drop_packet=%d(%s) secure_tcp=%d(%s)\n",
		d.DropEntry, onOff(d.DropEntryOn), d.DropPacket, rate, d.SecureTCP, onOff(d.SecureOn))
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
