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

const statsUsage = `Usage: ulvs stats [--socket PATH] [--nonzero] [--json]

Prints the state of the director's interfaces (up, absent, down or
broken, and since when), the connection tables' fill and the defence
ladder (drop_entry, drop_packet, secure_tcp: mode and whether it acts
now), then each data-path worker's loop (frames received, receive batches
and their average size, sleeps in poll, transmit batches and frames,
frames the kernel dropped because its receive rings were full, CPU time
of its thread), then the data-path counters: frames and bytes received
and sent, ARP and ping answers, new connections, and every drop by
reason. Every frame the engine reads ends in exactly one of forwarded,
an answer, or a drop counter. --json prints the same as one object:
interfaces, workers and engine.
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
			printWorkers(w, snap.Workers)
			printCounters(w, snap.Engine, *nonzero)
		},
		asJSON: func(snap *ctl.Snapshot) any {
			return struct {
				Interfaces []ctl.InterfaceStatus `json:"interfaces"`
				Workers    []ctl.WorkerStatus    `json:"workers"`
				Engine     map[string]uint64     `json:"engine"`
			}{snap.Interfaces, snap.Workers, snap.Engine}
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

// printWorkers prints one line per data-path worker:
//
//	worker 0 packets=1200 batches=100 avg_batch=12.0 polls=40 tx_batches=100 tx_frames=1200 ring_drops=0 cpu=0.250s
//
// with idle_wins=N before cpu= when the worker polls before it sleeps
// (ulvsd --idle-poll) and some of those polls found frames.
func printWorkers(w io.Writer, ws []ctl.WorkerStatus) {
	for _, s := range ws {
		avg := 0.0
		if s.Batches > 0 {
			avg = float64(s.Packets) / float64(s.Batches)
		}
		idle := ""
		if s.IdleWins > 0 {
			idle = fmt.Sprintf(" idle_wins=%d", s.IdleWins)
		}
		fmt.Fprintf(w, "worker %d packets=%d batches=%d avg_batch=%.1f polls=%d tx_batches=%d tx_frames=%d ring_drops=%d%s cpu=%.3fs\n",
			s.Index, s.Packets, s.Batches, avg, s.Polls, s.TxCalls, s.TxFrames, s.RingDrops, idle, time.Duration(s.CPUNanos).Seconds())
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
