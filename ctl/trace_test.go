package ctl

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/trace"
)

// traceDirector streams a fixed list of events through the filter, then
// waits for the end.
type traceDirector struct {
	fakeDirector
	events []trace.Event
	req    chan TraceRequest
}

func (d *traceDirector) Trace(ctx context.Context, f *trace.Filter, req TraceRequest, send func(*trace.Event) error) error {
	d.req <- req
	for i := range d.events {
		if f.Match(&d.events[i]) {
			if err := send(&d.events[i]); err != nil {
				return err
			}
		}
	}
	<-ctx.Done()
	return nil
}

func TestTraceStream(t *testing.T) {
	d := &traceDirector{req: make(chan TraceRequest, 1), events: []trace.Event{
		{Kind: trace.KindPacket, Proto: "tcp", Src: netip.MustParseAddrPort("10.0.0.1:1000"), Dst: netip.MustParseAddrPort("10.0.0.100:80")},
		{Kind: trace.KindPacket, Proto: "udp", Src: netip.MustParseAddrPort("10.0.0.1:1000"), Dst: netip.MustParseAddrPort("10.0.0.100:53")},
		{Kind: trace.KindPacket, Proto: "tcp", Src: netip.MustParseAddrPort("10.0.0.2:1000"), Dst: netip.MustParseAddrPort("10.0.0.100:80"), InFrame: []byte{1, 2, 3}},
	}}
	path := serve(t, &Server{Director: d})
	c := dial(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []trace.Event
	err := c.Trace(ctx, TraceRequest{Filter: "tcp", Snap: 64}, func(e *trace.Event) error {
		got = append(got, *e)
		if len(got) == 2 {
			return errors.New("enough")
		}
		return nil
	})
	if err == nil || err.Error() != "enough" {
		t.Fatalf("Trace: %v", err)
	}
	if r := <-d.req; r.Filter != "tcp" || r.Snap != 64 {
		t.Errorf("director got %+v", r)
	}
	if got[0].Src != d.events[0].Src || got[1].Src != d.events[2].Src || string(got[1].InFrame) != "\x01\x02\x03" {
		t.Errorf("got %+v", got)
	}
}

func TestTraceRefused(t *testing.T) {
	td := &traceDirector{req: make(chan TraceRequest, 1)}
	for _, tc := range []struct {
		name string
		d    Director
		req  TraceRequest
		want error
	}{
		{"bad filter", td, TraceRequest{Filter: "host nowhere"}, errBadRequest},
		{"snap too long", td, TraceRequest{Snap: trace.MaxSnap + 1}, errBadRequest},
		{"no tracer", &fakeDirector{}, TraceRequest{}, config.ErrNotSupported},
	} {
		path := serve(t, &Server{Director: tc.d})
		c := dial(t, path)
		err := c.Trace(context.Background(), tc.req, func(*trace.Event) error { return nil })
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
