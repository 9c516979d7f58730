package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/trace/pcapng"
)

// traceLessons are seed 003's three exercises, in its order, with what
// each trace shows.
var traceLessons = []struct{ mode, lesson string }{
	{lab.ModeNAT, "NAT: the director rewrites the destination to the real server (dnat) on the way in, and the source back to the VIP (snat) on the reply, which must come back through it."},
	{lab.ModeTUN, "TUN: the director leaves the packet as it is and wraps it in an outer IPv4 header (ipip DIP>RIP); the real server unwraps it and answers the client directly, so no reply passes here."},
	{lab.ModeDR, "DR: the director changes only the destination MAC to the real server's; the IP packet stays addressed to the VIP, which the real server holds on lo, and it answers the client directly."},
}

// labTraceStep runs the guided trace of each mode (all three when mode is
// ""): a fresh lab, ulvsd, a trace of the client's traffic, one HTTP
// request and one SYN to a port with no service; it prints the trace.
// With write set, each mode's frames go to write with the mode in its
// name (trace-nat.pcapng, ...).
func labTraceStep(mode, write string, stdout, stderr io.Writer) error {
	if err := needRoot(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, ls := range traceLessons {
		if mode != "" && mode != ls.mode {
			continue
		}
		fmt.Fprintf(stdout, "== %s\n", ls.lesson)
		evs, err := traceLesson(ctx, ls.mode, stdout, stderr)
		if err != nil {
			return fmt.Errorf("%s: %w", ls.mode, err)
		}
		for i := range evs {
			fmt.Fprintln(stdout, evs[i].Line())
		}
		if write != "" {
			path := strings.TrimSuffix(write, ".pcapng") + "-" + ls.mode + ".pcapng"
			n, err := writePcapng(path, evs)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%d frames written to %s\n", n, path)
		}
	}
	return nil
}

// writePcapng writes the events' frames to path.
func writePcapng(path string, evs []trace.Event) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := pcapng.NewWriter(f)
	total := 0
	for i := range evs {
		n, err := w.WriteEvent(&evs[i])
		if err != nil {
			f.Close()
			return total, err
		}
		total += n
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return total, err
	}
	return total, f.Close()
}

// traceLesson builds the lab of mode and returns the trace of one request.
func traceLesson(ctx context.Context, mode string, stdout, stderr io.Writer) (_ []trace.Event, err error) {
	ld, err := startLabDirector(ctx, mode, false, "ulvs-trace-")
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, ld.close(stderr, err)) }()
	fmt.Fprintf(stdout, "lab %s (%s): client %s fetches http://%s/ once, then sends a SYN to %s:81 (no service)\n",
		ld.lab.Prefix, mode, ld.lab.ClientAddr, ld.lab.VIP, ld.lab.VIP)
	return traceRequest(ctx, ld)
}

// traceRequest traces the lab client's traffic through the director of
// ld while the client makes one HTTP request and one connection attempt
// to a port without a service; it returns the packet events once the
// request's connection is closed both ways and the attempt was dropped.
func traceRequest(ctx context.Context, ld *labDirector) ([]trace.Event, error) {
	l := ld.lab
	cl, err := ctl.Dial(ld.sock)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		evs     []trace.Event
		started = make(chan struct{})
		once    sync.Once
		done    = make(chan error, 1)
	)
	go func() {
		done <- cl.Trace(tctx, ctl.TraceRequest{Filter: "host " + l.ClientAddr.String(), Snap: trace.MaxSnap}, func(e *trace.Event) error {
			if e.Kind == trace.KindStats {
				once.Do(func() { close(started) }) // the director has our subscription
				return nil
			}
			if e.Kind == trace.KindPacket {
				mu.Lock()
				evs = append(evs, *e)
				mu.Unlock()
			}
			return nil
		})
	}()
	select {
	case <-started:
	case err := <-done:
		return nil, fmt.Errorf("trace: %w", err)
	case <-time.After(15 * time.Second):
		return nil, errors.New("trace: no answer from ulvsd within 15s")
	}
	c := l.Client.HTTPClient()
	c.Timeout = 10 * time.Second
	if _, err := httpGet(ctx, c, "http://"+l.VIP.String()+"/"); err != nil {
		return nil, fmt.Errorf("GET http://%s/: %w", l.VIP, err)
	}
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	if conn, err := l.Client.DialContext(dctx, "tcp", l.VIP.String()+":81"); err == nil {
		conn.Close()
	}
	dcancel()
	// Wait for the client's FIN and the dropped SYN to port 81.
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		fin, drop := false, false
		for i := range evs {
			e := &evs[i]
			fin = fin || (e.Dir == "in" && strings.Contains(e.Flags, "F") && e.Verdict == trace.VerdictForward)
			drop = drop || (e.Dst.Port() == 81 && e.Verdict == trace.VerdictDrop)
		}
		mu.Unlock()
		if fin && drop {
			break
		}
		if time.Now().After(deadline) {
			break // print what there is
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the last ACKs
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Workers deliver in turn: put the packets back in time order.
	slices.SortStableFunc(evs, func(a, b trace.Event) int { return a.Time.Compare(b.Time) })
	return evs, nil
}
