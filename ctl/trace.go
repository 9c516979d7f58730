package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/trace"
)

// TraceRequest asks for a stream of trace events (ulvs trace).
type TraceRequest struct {
	// Filter selects the events (trace.Parse); "" is all.
	Filter string `json:"filter,omitempty"`
	// Snap asks for the frames' first Snap bytes (at most trace.MaxSnap),
	// for --write; 0 for none.
	Snap int `json:"snap,omitempty"`
	// Rate bounds the records per second per worker (0: the engine's
	// default).
	Rate int `json:"rate,omitempty"`
}

// Tracer is implemented by a Director that can stream `ulvs trace`.
type Tracer interface {
	// Trace sends every event f matches to send until ctx is done or
	// send fails. The frames are cut to req.Snap bytes (none for 0).
	Trace(ctx context.Context, f *trace.Filter, req TraceRequest, send func(*trace.Event) error) error
}

// traceWriteTimeout bounds one event's write to the client: a client that
// stops reading is cut off.
const traceWriteTimeout = 10 * time.Second

// trace serves a trace request: an empty response says it started, then
// one response per event until the client closes the connection or the
// server stops. A trace ends the connection.
func (s *Server) trace(c net.Conn, r *bufio.Reader, enc *json.Encoder, req request, log *slog.Logger) {
	fail := func(err error) {
		c.SetWriteDeadline(time.Now().Add(traceWriteTimeout))
		enc.Encode(errorResponse(err))
	}
	tr, ok := s.Director.(Tracer)
	if !ok {
		fail(fmt.Errorf("trace: %w", config.ErrNotSupported))
		return
	}
	if req.Trace == nil {
		fail(fmt.Errorf("%w: trace without its request", errBadRequest))
		return
	}
	if req.Trace.Snap < 0 || req.Trace.Snap > trace.MaxSnap || req.Trace.Rate < 0 {
		fail(fmt.Errorf("%w: trace snap must be 0-%d and rate not negative", errBadRequest, trace.MaxSnap))
		return
	}
	f, err := trace.Parse(req.Trace.Filter)
	if err != nil {
		fail(fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	c.SetWriteDeadline(time.Now().Add(traceWriteTimeout))
	if err := enc.Encode(response{}); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The client says nothing more; its closing (EOF) ends the trace.
	c.SetReadDeadline(time.Time{})
	go func() {
		io.Copy(io.Discard, r)
		cancel()
	}()
	send := func(e *trace.Event) error {
		c.SetWriteDeadline(time.Now().Add(traceWriteTimeout))
		return enc.Encode(response{Event: e})
	}
	if err := tr.Trace(ctx, f, *req.Trace, send); err != nil && ctx.Err() == nil {
		var ne net.Error
		if !errors.As(err, &ne) && !errors.Is(err, net.ErrClosed) {
			log.Warn("ctl: trace ended", "err", err)
		}
	}
}

// Trace asks the daemon for trace events and calls fn with each until ctx
// is done (then it returns nil), fn returns an error (returned) or the
// connection fails. The Client is used up: close it afterwards.
func (c *Client) Trace(ctx context.Context, req TraceRequest, fn func(*trace.Event) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.SetDeadline(time.Now().Add(DialTimeout))
	if err := c.enc.Encode(request{Op: "trace", Trace: &req}); err != nil {
		return fmt.Errorf("ctl: send trace: %w", err)
	}
	var resp response
	if err := c.dec.Decode(&resp); err != nil {
		return fmt.Errorf("ctl: receive trace: %w", err)
	}
	if resp.Error != nil {
		return &RemoteError{Code: resp.Error.Code, Message: resp.Error.Message}
	}
	c.conn.SetDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { c.conn.Close() })
	defer stop()
	for {
		var resp response
		if err := c.dec.Decode(&resp); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errors.New("ctl: trace: ulvsd closed the connection")
			}
			return fmt.Errorf("ctl: trace: %w", err)
		}
		if resp.Error != nil {
			return &RemoteError{Code: resp.Error.Code, Message: resp.Error.Message}
		}
		if resp.Event == nil {
			continue
		}
		if err := fn(resp.Event); err != nil {
			return err
		}
	}
}
