package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/ulvs/ulvs/ctl"
)

const bgpUsage = `Usage: ulvs bgp status [--socket PATH] [--json]
       ulvs bgp drain [--socket PATH]
       ulvs bgp undrain [--socket PATH]

status lists the director's BGP sessions (peer, AS, state, hold time) and
its virtual addresses: announced or not, and why. drain withdraws every
route and keeps them withdrawn, so that the routers send no new flow here
(the connections already here keep being forwarded); undrain announces
again what has quorum. See docs/scale-out.md.
`

func bgpMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, bgpUsage)
		return 2
	}
	switch args[0] {
	case "status":
		return snapshotCommand{
			name:  "ulvs bgp status",
			usage: bgpUsage,
			print: func(w io.Writer, snap *ctl.Snapshot) { printBGP(w, snap.BGP, time.Now()) },
			asJSON: func(snap *ctl.Snapshot) any {
				if snap.BGP == nil {
					return struct{}{}
				}
				return snap.BGP
			},
		}.run(args[1:], stdout, stderr)
	case "drain", "undrain":
		return bgpDrain(args[0], args[1:], stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, bgpUsage)
		return 0
	}
	fmt.Fprintf(stderr, "ulvs bgp: unknown command %q\n\n%s", args[0], bgpUsage)
	return 2
}

func bgpDrain(cmd string, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("ulvs bgp "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, bgpUsage) }
	socket := fs.String("socket", "", "control socket (default $ULVS_SOCKET or "+ctl.DefaultSocket+")")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, bgpUsage)
		return 2
	}
	path := ctl.SocketPath(*socket, os.Getenv)
	cl, err := ctl.Dial(path)
	if err != nil {
		fmt.Fprintf(stderr, "ulvs bgp %s: %v (is ulvsd running with --socket %s?)\n", cmd, err, path)
		return 1
	}
	defer cl.Close()
	if err := cl.BGPDrain(cmd == "drain"); err != nil {
		fmt.Fprintf(stderr, "ulvs bgp %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// printBGP writes the speaker's sessions and addresses.
func printBGP(w io.Writer, st *ctl.BGPStatus, now time.Time) {
	if st == nil {
		fmt.Fprintln(w, "no BGP configured ([bgp] in the file, or ulvsd --bgp-as)")
		return
	}
	state := "announcing what has quorum"
	switch {
	case st.Stopping:
		state = "stopping (routes withdrawn)"
	case st.Drained:
		state = "drained (routes withdrawn; ulvs bgp undrain)"
	case st.Warmup != "":
		state = st.Warmup + " (routes withdrawn)"
	}
	fmt.Fprintf(w, "BGP AS %d, router id %v, quorum %d: %s\n", st.LocalAS, st.RouterID, st.Quorum, state)
	if st.Error != "" {
		fmt.Fprintf(w, "last error: %s\n", st.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	bfd := slices.ContainsFunc(st.Peers, func(p ctl.BGPPeerStatus) bool { return p.BFD != "" })
	head := "\nPEER\tAS\tSTATE\tHOLD\tSINCE\tUPDATES OUT/IN\tFLOPS"
	if bfd {
		head += "\tBFD"
	}
	fmt.Fprintln(tw, head)
	for _, p := range st.Peers {
		since := "-"
		if !p.Since.IsZero() {
			since = now.Sub(p.Since).Round(time.Second).String() + " ago"
		}
		hold := "-"
		if p.State == "established" {
			hold = fmt.Sprintf("%ds", p.HoldTime)
		}
		fmt.Fprintf(tw, "%v\t%d\t%s\t%s\t%s\t%d/%d\t%d", p.Address, p.AS, p.State, hold, since, p.UpdatesSent, p.UpdatesReceived, p.Flops)
		if bfd {
			b := p.BFD
			if b == "" {
				b = "off"
			}
			fmt.Fprintf(tw, "\t%s", b)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPREFIX\tANNOUNCED\tWHY")
	for _, a := range st.Addresses {
		fmt.Fprintf(tw, "%v\t%s\t%s\n", a.Prefix, map[bool]string{true: "yes", false: "no"}[a.Announced], a.Reason)
	}
	if len(st.Addresses) == 0 {
		fmt.Fprintln(tw, "(no virtual address)\t\t")
	}
	tw.Flush()
}
