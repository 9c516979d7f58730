package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

const schedUsage = `Usage: ulvs sched -s NAME -r SERVER[:WEIGHT] ... [-n N] [options]

Prints the dests a scheduler picks, one line per new connection, then how
many each dest got: a teaching and what-if tool that runs the same code as
the director (package sched), without a director.

  ulvs sched -s wrr -r A:4 -r B:3 -r C:2 -n 18

Options:
  -s NAME        the scheduler: rr wrr lc wlc lblc lblcr dh sh sed nq fo
                 ovf mh twos (default wlc, as ipvsadm)
  -r SERVER[:W]  a real server and its weight (default 1, 0..65535),
                 repeatable, in the order ipvsadm -a would add them. The
                 kernel inserts each new dest at the head of its list, so
                 the list the scheduler walks is newest first: the last -r
                 comes first (rr's first pick is the last -r). SERVER is an
                 IPv4 address or a label; labels get 172.16.0.1, .2, ... in
                 -r order. Every server listens on port 80.
  -n N           number of picks (default 10)
  --clients N    drive the picks with N synthetic clients, round and round:
                 client i connects from 10.0.0.i (10.0.1.0 after .255 ...),
                 port 1023+i, to 198.51.100.i port 80, so both source- and
                 destination-hashing schedulers spread
  --flows FILE   drive the picks with the flows in FILE, round and round:
                 one "SRC[:PORT] [DST[:PORT]]" per line, # comments; the
                 destination defaults to the service, 192.0.2.1:80
                 (without --clients or --flows every pick comes from a new
                 synthetic client and the flows are not printed)
  -b FLAGS       scheduler flags, comma separated, as ipvsadm -b:
                 sh-fallback, sh-port, mh-fallback, mh-port (flag-1,
                 flag-2, flag-3)
  --conns        count each pick as a new active connection on its dest
                 (for lc, wlc, sed, nq, ovf, lblc, lblcr, twos: without it
                 the counters stay 0)
  --mh-size P    mh lookup table size, a prime (default 4093)
`

// schedOptions is the parsed command line of ulvs sched.
type schedOptions struct {
	sched   string
	servers []schedServer // in -r order, oldest first
	n       int
	clients int
	flows   []vs.Flow
	flags   vs.ServiceFlags
	conns   bool
	mhSize  int
}

type schedServer struct {
	name   string
	addr   netip.Addr
	weight int32
}

// serverList collects repeated -r flags.
type serverList []string

func (l *serverList) String() string     { return strings.Join(*l, " ") }
func (l *serverList) Set(v string) error { *l = append(*l, v); return nil }

// schedVIP is the service the picks are made for.
var schedVIP = netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), 80)

func schedMain(args []string, stdout, stderr io.Writer) int {
	opts, err := parseSched(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "ulvs sched: %v\n", err)
		return 2
	}
	if err := runSched(opts, stdout); err != nil {
		fmt.Fprintf(stderr, "ulvs sched: %v\n", err)
		return 1
	}
	return 0
}

// parseSched parses the command line. Flag syntax errors are errUsage
// (the flag set has printed them); bad values are other errors.
func parseSched(args []string, stderr io.Writer) (schedOptions, error) {
	fs := flag.NewFlagSet("ulvs sched", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, schedUsage) }
	var servers serverList
	name := fs.String("s", "wlc", "scheduler")
	fs.Var(&servers, "r", "real server SERVER[:WEIGHT], repeatable")
	n := fs.Int("n", 10, "picks")
	clients := fs.Int("clients", 0, "synthetic clients")
	flowsFile := fs.String("flows", "", "file of flows")
	bflags := fs.String("b", "", "scheduler flags")
	conns := fs.Bool("conns", false, "count picks as active connections")
	mhSize := fs.Int("mh-size", 0, "mh table size")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return schedOptions{}, err
		}
		return schedOptions{}, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, schedUsage)
		return schedOptions{}, errUsage
	}
	o := schedOptions{sched: *name, n: *n, clients: *clients, conns: *conns, mhSize: *mhSize}
	if !slices.Contains(sched.Names(), o.sched) {
		return o, fmt.Errorf("-s %q: unknown scheduler (want one of %s)", o.sched, strings.Join(sched.Names(), " "))
	}
	if len(servers) == 0 {
		return o, errors.New("no real servers: give -r SERVER[:WEIGHT] at least once")
	}
	if o.n < 0 || o.n > 10_000_000 {
		return o, fmt.Errorf("-n %d: want 0..10000000", o.n)
	}
	if o.clients < 0 || o.clients > 1<<24 {
		return o, fmt.Errorf("--clients %d: want 0..16777216", o.clients)
	}
	if o.clients > 0 && *flowsFile != "" {
		return o, errors.New("--clients and --flows exclude each other")
	}
	seen := make(map[string]bool)
	for i, r := range servers {
		s, err := parseServer(r, i)
		if err != nil {
			return o, err
		}
		if seen[s.name] {
			return o, fmt.Errorf("-r %s: server given twice", s.name)
		}
		seen[s.name] = true
		o.servers = append(o.servers, s)
	}
	flags, err := parseSchedFlags(*bflags)
	if err != nil {
		return o, err
	}
	o.flags = flags
	if *flowsFile != "" {
		if o.flows, err = readFlows(*flowsFile); err != nil {
			return o, err
		}
	}
	return o, nil
}

// parseServer parses SERVER[:WEIGHT]; i is its -r position.
func parseServer(s string, i int) (schedServer, error) {
	name, w, hasW := strings.Cut(s, ":")
	srv := schedServer{name: name, weight: 1}
	if name == "" {
		return srv, fmt.Errorf("-r %q: empty server name", s)
	}
	if hasW {
		v, err := strconv.ParseUint(w, 10, 32)
		if err != nil || v > 65535 {
			return srv, fmt.Errorf("-r %q: weight must be 0..65535", s)
		}
		srv.weight = int32(v)
	}
	if a, err := netip.ParseAddr(name); err == nil && a.Is4() {
		srv.addr = a
	} else {
		k := i + 1
		srv.addr = netip.AddrFrom4([4]byte{172, 16, byte(k >> 8), byte(k)})
	}
	return srv, nil
}

// parseSchedFlags parses ipvsadm -b's list.
func parseSchedFlags(s string) (vs.ServiceFlags, error) {
	var f vs.ServiceFlags
	if s == "" {
		return 0, nil
	}
	for _, name := range strings.Split(s, ",") {
		switch strings.TrimSpace(name) {
		case "sh-fallback", "mh-fallback", "flag-1":
			f |= vs.SvcSchedFlag1
		case "sh-port", "mh-port", "flag-2":
			f |= vs.SvcSchedFlag2
		case "flag-3":
			f |= vs.SvcSchedFlag3
		default:
			return 0, fmt.Errorf("-b: unknown scheduler flag %q", name)
		}
	}
	return f, nil
}

// readFlows reads a --flows file.
func readFlows(path string) ([]vs.Flow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var flows []vs.Flow
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 2 {
			return nil, fmt.Errorf("%s:%d: want SRC[:PORT] [DST[:PORT]]", path, line)
		}
		fl := vs.Flow{Proto: vs.TCP, Dst: schedVIP.Addr(), DstPort: schedVIP.Port()}
		if fl.Src, fl.SrcPort, err = parseEndpoint(fields[0]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(fields) == 2 {
			if fl.Dst, fl.DstPort, err = parseEndpoint(fields[1]); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if fl.DstPort == 0 {
				fl.DstPort = schedVIP.Port()
			}
		}
		flows = append(flows, fl)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(flows) == 0 {
		return nil, fmt.Errorf("%s: no flows", path)
	}
	return flows, nil
}

// parseEndpoint parses ADDR or ADDR:PORT (IPv4).
func parseEndpoint(s string) (netip.Addr, uint16, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
		return ap.Addr(), ap.Port(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return a, 0, nil
	}
	return netip.Addr{}, 0, fmt.Errorf("%q is not an IPv4 address or address:port", s)
}

// syntheticFlow is client i (from 1) of --clients.
func syntheticFlow(i int) vs.Flow {
	return vs.Flow{
		Proto:   vs.TCP,
		Src:     netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}),
		SrcPort: uint16(1023 + i),
		Dst:     netip.AddrFrom4([4]byte{198, 51, byte(100 + i>>8), byte(i)}),
		DstPort: 80,
	}
}

// runSched builds the service and scheduler and prints the picks.
func runSched(o schedOptions, w io.Writer) error {
	svc := &vs.Service{
		ID: 1, Proto: vs.TCP, Addr: schedVIP.Addr(), Port: schedVIP.Port(), Flags: o.flags,
		Params: vs.SchedParams{MHTableSize: o.mhSize},
	}
	// ipvsadm adds the servers in -r order; the kernel's list is newest
	// first.
	dests := make([]*vs.Dest, len(o.servers))
	for i, s := range o.servers {
		dests[i] = &vs.Dest{
			ID: uint32(i + 1), Addr: s.addr, Port: 80, Method: vs.Masq,
			Weight: s.weight, State: &vs.DestState{},
		}
	}
	for i := len(dests) - 1; i >= 0; i-- {
		svc.Dests = append(svc.Dests, dests[i])
	}
	s, err := sched.New(o.sched, svc, nil)
	if err != nil {
		return err
	}
	showFlows := o.clients > 0 || len(o.flows) > 0
	counts := make([]int, len(dests))
	none := 0
	bw := bufio.NewWriter(w)
	for k := range o.n {
		var fl vs.Flow
		switch {
		case len(o.flows) > 0:
			fl = o.flows[k%len(o.flows)]
		case o.clients > 0:
			fl = syntheticFlow(k%o.clients + 1)
		default:
			fl = syntheticFlow(k + 1)
		}
		d := s.Schedule(svc, fl)
		name := "-"
		if d != nil {
			name = o.servers[d.ID-1].name
			counts[d.ID-1]++
			if o.conns {
				d.State.ActiveConns.Add(1)
			}
		} else {
			none++
		}
		if showFlows {
			fmt.Fprintf(bw, "%d: %s\t%s -> %s\n", k+1, name,
				netip.AddrPortFrom(fl.Src, fl.SrcPort), netip.AddrPortFrom(fl.Dst, fl.DstPort))
		} else {
			fmt.Fprintf(bw, "%d: %s\n", k+1, name)
		}
	}
	fmt.Fprintln(bw)
	width := len("none")
	for _, sv := range o.servers {
		width = max(width, len(sv.name))
	}
	for i, sv := range o.servers {
		fmt.Fprintf(bw, "%-*s  weight %-5d picks %d\n", width, sv.name, sv.weight, counts[i])
	}
	if none > 0 {
		fmt.Fprintf(bw, "%-*s  %-12s picks %d\n", width, "none", "", none)
	}
	return bw.Flush()
}
