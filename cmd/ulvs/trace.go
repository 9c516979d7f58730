package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/trace/pcapng"
)

const traceUsage = `Usage: ulvs trace [OPTIONS] [FILTER]

Streams what the running director decides, one line per packet: interface
and direction, addresses and ports, TCP flags, the service matched (or
none), the connection lookup (new, hit, miss), the scheduler's pick and
why, the TCP state change and its timeout, the rewrite (DR: MAC; NAT:
address:port; TUN: outer header; FULLNAT: local address and port), ICMP
sent, and drops with their counter's name. Health-check, failover and
rule changes appear in the same stream.

FILTER is tcpdump's language for the common cases (host, src/dst host,
net, port, src/dst port, tcp, udp, icmp, arp, and/or/not, parentheses) or
ipvsadm's names: -t VIP:PORT, -u VIP:PORT, -r RIP[:PORT] (side by side
means "and"). Examples:
  ulvs trace -t 10.77.0.100:80
  ulvs trace 'tcp and port 80 and not host 10.77.0.11'
  ulvs trace --write http.pcapng -c 20 port 80

Options:
  --json            one JSON object per line
  --write FILE      write the frames as they arrived and as they left to
                    FILE (pcapng, the decision as each packet's comment)
  -c COUNT          stop after COUNT packets
  --duration D      stop after D (e.g. 10s)
  --snap N          bytes of each frame to write (default and at most 512)
  --rate N          records per second per worker at most (default 2000)
  -q                with --write, print nothing but the summary
  --socket PATH     control socket (default $ULVS_SOCKET or /run/ulvs/ulvsd.sock)
`

// traceOptions are ulvs trace's options.
type traceOptions struct {
	json     bool
	write    string
	count    int
	duration time.Duration
	snap     int
	rate     int
	quiet    bool
	socket   string
	filter   string
}

// parseTraceArgs separates the options from the filter: everything that
// is not one of the options is a word of the filter (so -t, -u and -r
// belong to it).
func parseTraceArgs(args []string) (traceOptions, error) {
	o := traceOptions{snap: -1}
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(a, "=")
		name = strings.TrimLeft(name, "-")
		if !strings.HasPrefix(a, "-") || len(name) == 0 {
			words = append(words, a)
			continue
		}
		value := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return args[i], nil
		}
		number := func() (int, error) {
			v, err := value()
			if err != nil {
				return 0, err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s %q: want a number", a, v)
			}
			return n, nil
		}
		var err error
		switch name {
		case "json":
			o.json = true
		case "q", "quiet":
			o.quiet = true
		case "w", "write":
			o.write, err = value()
		case "c", "count":
			o.count, err = number()
		case "snap", "s":
			o.snap, err = number()
		case "rate":
			o.rate, err = number()
		case "socket":
			o.socket, err = value()
		case "duration", "G":
			var v string
			if v, err = value(); err == nil {
				if o.duration, err = time.ParseDuration(v); err != nil || o.duration <= 0 {
					err = fmt.Errorf("--duration %q: want a duration like 10s", v)
				}
			}
		case "h", "help":
			return o, flagHelp
		default:
			words = append(words, a) // -t, -u, -r, and what the filter says of the rest
		}
		if err != nil {
			return o, err
		}
	}
	if o.snap < 0 {
		o.snap = 0
		if o.write != "" {
			o.snap = trace.MaxSnap
		}
	}
	if o.snap > trace.MaxSnap {
		return o, fmt.Errorf("--snap %d: at most %d", o.snap, trace.MaxSnap)
	}
	if o.write != "" && o.snap == 0 {
		return o, errors.New("--write needs frames: --snap must not be 0")
	}
	o.filter = strings.Join(words, " ")
	if _, err := trace.Parse(o.filter); err != nil {
		return o, err
	}
	return o, nil
}

var flagHelp = errors.New("help")

func traceMain(args []string, stdout, stderr io.Writer) int {
	o, err := parseTraceArgs(args)
	if errors.Is(err, flagHelp) {
		fmt.Fprint(stdout, traceUsage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ulvs trace: %v\n\n%s", err, traceUsage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	if err := runTrace(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "ulvs trace: %v\n", err)
		return 1
	}
	return 0
}

// errTraceDone ends a trace that reached its count.
var errTraceDone = errors.New("count reached")

// runTrace connects, streams and prints (or writes) until ctx is done or
// the count is reached.
func runTrace(ctx context.Context, o traceOptions, stdout, stderr io.Writer) error {
	path := ctl.SocketPath(o.socket, os.Getenv)
	cl, err := ctl.Dial(path)
	if err != nil {
		return fmt.Errorf("%v (is ulvsd running with --socket %s?)", err, path)
	}
	defer cl.Close()
	var pw *pcapng.Writer
	var file *os.File
	if o.write != "" {
		if file, err = os.Create(o.write); err != nil {
			return err
		}
		defer file.Close()
		pw = pcapng.NewWriter(file)
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	packets, frames := 0, 0
	var last trace.Stats
	err = cl.Trace(ctx, ctl.TraceRequest{Filter: o.filter, Snap: o.snap, Rate: o.rate}, func(e *trace.Event) error {
		if e.Kind == trace.KindStats {
			if e.Stats != nil {
				last = *e.Stats
			}
			return nil
		}
		if pw != nil {
			n, err := pw.WriteEvent(e)
			if err != nil {
				return err
			}
			frames += n
		}
		if !o.quiet || pw == nil {
			if o.json {
				if err := enc.Encode(e); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(out, e.Line())
			}
			out.Flush()
		}
		if e.Kind == trace.KindPacket {
			packets++
			if o.count > 0 && packets >= o.count {
				return errTraceDone
			}
		}
		return nil
	})
	if errors.Is(err, errTraceDone) {
		err = nil
	}
	if pw != nil {
		if ferr := pw.Flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	if err != nil {
		return err
	}
	if pw != nil {
		fmt.Fprintf(stderr, "%d packets, %d frames written to %s\n", packets, frames, o.write)
	}
	if last.RingFull > 0 || last.RateLimited > 0 || last.Slow > 0 {
		fmt.Fprintf(stderr, "not traced: %d (ring full), %d (rate limit), %d (client too slow)\n", last.RingFull, last.RateLimited, last.Slow)
	}
	return nil
}
