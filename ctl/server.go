package ctl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/config"
)

// IdleTimeout is how long the server waits for a client's next request,
// from the moment it starts waiting to the request's final '\n': a client
// that sends half a line and stalls is cut off after it, however slowly it
// trickles bytes.
const IdleTimeout = 30 * time.Second

// Accept back-off: after an accept error that says the process or the
// system is out of something (file descriptors, buffers, memory), Serve
// waits acceptBackoffMin, doubling up to acceptBackoffMax while the errors
// go on, and keeps serving the connections it has.
const (
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// Listen creates the control socket at path: the parent directory is made
// (0755) if missing, a stale socket left by a dead daemon is removed, and
// the socket is made 0600. It fails if another daemon answers on path or
// path is not a socket.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("ctl: listen %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("ctl: listen %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("ctl: listen %s: another daemon is listening", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("ctl: remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("ctl: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ctl: chmod %s: %w", path, err)
	}
	return ln, nil
}

// Server serves the admin protocol for a Director. The zero value is not
// usable: set Director.
type Server struct {
	Director Director
	// Log receives one line per refused peer or bad request; nil discards.
	Log *slog.Logger
	// Authorize decides whether a peer with uid may use the socket; nil
	// allows only root.
	Authorize func(uid uint32) error
	// IdleTimeout overrides the package's IdleTimeout when not zero.
	IdleTimeout time.Duration
}

// Serve serves d on ln until ctx is done, then closes ln and every
// connection and returns nil. An accept error that a wait can cure
// (EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, a timeout) is logged and
// retried with a growing back-off; any other ends Serve with that error.
func Serve(ctx context.Context, ln net.Listener, d Director, log *slog.Logger) error {
	s := &Server{Director: d, Log: log}
	return s.Serve(ctx, ln)
}

// Serve is the package-level Serve for s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !retryableAccept(err) {
				return fmt.Errorf("ctl: accept: %w", err)
			}
			backoff = min(max(2*backoff, acceptBackoffMin), acceptBackoffMax)
			log.Warn("ctl: accept failed, retrying", "err", err, "in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		mu.Lock()
		if ctx.Err() != nil {
			mu.Unlock()
			c.Close()
			return nil
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handle(c, log)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

// retryableAccept reports whether an accept error is one that waiting can
// cure: the process or the system out of file descriptors (EMFILE,
// ENFILE), buffers or memory (ENOBUFS, ENOMEM), a connection that went
// away before it was accepted (ECONNABORTED), or a timeout. net/http's
// server retries the same way.
func retryableAccept(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *Server) authorize(c net.Conn) error {
	uid, err := peerUID(c)
	if err != nil {
		return fmt.Errorf("%w (peer credentials: %v)", ErrPermission, err)
	}
	if s.Authorize != nil {
		return s.Authorize(uid)
	}
	return rootOnly(uid)
}

// rootOnly is the default authorization: uid 0 only.
func rootOnly(uid uint32) error {
	if uid != 0 {
		return fmt.Errorf("%w, not uid %d", ErrPermission, uid)
	}
	return nil
}

func (s *Server) handle(c net.Conn, log *slog.Logger) {
	authErr := s.authorize(c)
	if authErr != nil {
		log.Warn("ctl: refused peer", "err", authErr)
	}
	idle := s.IdleTimeout
	if idle == 0 {
		idle = IdleTimeout
	}
	r := bufio.NewReaderSize(c, 64<<10)
	enc := json.NewEncoder(c)
	for {
		c.SetReadDeadline(time.Now().Add(idle))
		line, err := readLine(r, MaxRequestSize)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				var ne net.Error
				if !(errors.As(err, &ne) && ne.Timeout()) {
					log.Warn("ctl: bad request", "err", err)
					c.SetWriteDeadline(time.Now().Add(idle))
					enc.Encode(errorResponse(fmt.Errorf("%w: %v", errBadRequest, err)))
				}
			}
			return
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var resp response
		if authErr != nil {
			resp = errorResponse(authErr)
		} else if req, ok := traceRequest(line); ok {
			s.trace(c, r, enc, req, log) // trace.go: a stream, then the end
			return
		} else {
			resp = s.do(line, log)
		}
		c.SetWriteDeadline(time.Now().Add(idle))
		if err := enc.Encode(resp); err != nil || authErr != nil {
			return
		}
		if resp.Error != nil && resp.Error.Code == "bad-request" {
			return
		}
	}
}

// readLine reads one '\n'-terminated line of at most max bytes. A final
// line without '\n' counts.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(buf)+len(frag) > max {
			return nil, fmt.Errorf("request longer than %d bytes", max)
		}
		buf = append(buf, frag...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return buf, nil
		default:
			return nil, err
		}
	}
}

func (s *Server) do(line []byte, log *slog.Logger) (resp response) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("ctl: director panicked", "panic", p)
			resp = errorResponse(errInternal)
		}
	}()
	var req request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		log.Warn("ctl: bad request", "err", err)
		return errorResponse(fmt.Errorf("%w: %v", errBadRequest, err))
	}
	switch req.Op {
	case "info":
		snap := s.Director.Snapshot()
		info := snap.Info()
		return response{Info: &info}
	case "snapshot":
		snap := s.Director.Snapshot()
		return response{Snapshot: &snap}
	case "conns":
		var conns []ConnStatus
		if cl, ok := s.Director.(ConnLister); ok {
			conns = cl.Conns()
		}
		if conns == nil {
			conns = []ConnStatus{}
		}
		return response{Conns: conns}
	case "apply":
		if req.Command == nil {
			return errorResponse(fmt.Errorf("%w: apply without command", errBadRequest))
		}
		if err := req.Command.Validate(); err != nil {
			return errorResponse(fmt.Errorf("%w: %v", errBadRequest, err))
		}
		if err := s.Director.Apply(*req.Command); err != nil {
			return errorResponse(err)
		}
		return response{}
	case "save-config":
		cs, ok := s.Director.(ConfigSaver)
		if !ok {
			return errorResponse(fmt.Errorf("save-config: %w", config.ErrNotSupported))
		}
		if req.Path != "" && !filepath.IsAbs(req.Path) {
			return errorResponse(fmt.Errorf("%w: save-config path %q is not absolute", errBadRequest, req.Path))
		}
		saved, err := cs.SaveConfig(req.Path)
		if err != nil {
			return errorResponse(err)
		}
		return response{Saved: saved}
	case "bgp-drain":
		bd, ok := s.Director.(BGPDrainer)
		if !ok {
			return errorResponse(fmt.Errorf("bgp: %w", config.ErrNotSupported))
		}
		if req.Drain == nil {
			return errorResponse(fmt.Errorf("%w: bgp-drain without drain", errBadRequest))
		}
		if err := bd.BGPDrain(*req.Drain); err != nil {
			return errorResponse(err)
		}
		return response{}
	}
	return errorResponse(fmt.Errorf("%w: unknown op %q", errBadRequest, req.Op))
}

// traceRequest returns the request on line if it is a well-formed trace
// request (anything else goes to do).
func traceRequest(line []byte) (request, bool) {
	var req request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if dec.Decode(&req) != nil || req.Op != "trace" {
		return request{}, false
	}
	return req, true
}
