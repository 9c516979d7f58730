package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// ServerPort is the TCP and UDP port of the lab's real-server servers.
const ServerPort = 80

// MaxDataSize bounds GET /data?size=N.
const MaxDataSize = 1 << 36

// maxHold bounds GET /hold?secs=N.
const maxHold = time.Hour

// dataSeed seeds the /data stream. ChaCha8's output for a seed is fixed by
// its specification, so the stream never changes between Go releases.
var dataSeed = [32]byte{'u', 'l', 'v', 's', ' ', 'l', 'a', 'b', ' ', 'd', 'a', 't', 'a'}

// DataReader returns the first n bytes of the lab's deterministic
// pseudo-random stream: what GET /data?size=n sends, and a body for
// POST /upload.
func DataReader(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8(dataSeed), n)
}

// DataSHA256 returns the hex SHA-256 of DataReader(n): the digest of a
// GET /data?size=n download, and the answer to uploading DataReader(n).
func DataSHA256(n int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, DataReader(n)) // neither side can fail
	return hex.EncodeToString(h.Sum(nil))
}

// Serve runs a real server called name until ctx ends: HTTP on ln and a UDP
// echo on pc (either may be nil). It owns ln and pc and closes them before
// it returns. It returns nil when ctx ended, else the error that stopped
// it.
//
// HTTP (every answer carries the header "X-Real-Server: name"; keep-alive
// connections work, so one connection can carry several requests):
//
//	GET  /              "name\n"
//	GET  /data?size=N   N bytes of DataReader(N), with Content-Length
//	POST /upload        hex SHA-256 of the body, then "\n"
//	GET  /hold?secs=N   waits N seconds (or until the client goes), then "name\n"
//
// UDP: each datagram is answered with "name\n" followed by the datagram.
// For an IPv4 socket the answer's source is the address the datagram was
// sent to (IP_PKTINFO), so a DR real server answers from the VIP.
func Serve(ctx context.Context, name string, ln net.Listener, pc net.PacketConn) error {
	if ln == nil && pc == nil {
		return fmt.Errorf("serve %s: no listener and no packet conn", name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		cancel()
	}
	if ln != nil {
		srv := &http.Server{
			Handler:           Handler(name),
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return ctx },
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("%s: http: %w", name, err))
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			srv.Close() // closes ln and every open connection
		}()
	}
	if pc != nil {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := udpEcho(name, pc); ctx.Err() == nil {
				fail(fmt.Errorf("%s: udp echo: %w", name, err))
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			pc.Close()
		}()
	}
	wg.Wait()
	return first
}

// Handler returns Serve's HTTP handler for the real server called name.
func Handler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+"\n")
	})
	mux.HandleFunc("GET /peer", func(w http.ResponseWriter, r *http.Request) {
		// The address the connection came from: the client's with DR
		// and NAT, the director's local address with FULLNAT.
		io.WriteString(w, name+" "+r.RemoteAddr+"\n")
	})
	mux.HandleFunc("GET /data", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
		if err != nil || n < 0 || n > MaxDataSize {
			http.Error(w, fmt.Sprintf("size: want 0..%d", int64(MaxDataSize)), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		io.Copy(w, DataReader(n))
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, hex.EncodeToString(h.Sum(nil))+"\n")
	})
	mux.HandleFunc("GET /hold", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.ParseFloat(r.URL.Query().Get("secs"), 64)
		d := time.Duration(secs * float64(time.Second))
		if err != nil || d < 0 || d > maxHold {
			http.Error(w, fmt.Sprintf("secs: want 0..%d", int(maxHold.Seconds())), http.StatusBadRequest)
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, name+"\n")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Real-Server", name)
		mux.ServeHTTP(w, r)
	})
}

// udpEcho answers datagrams on pc until reading fails.
func udpEcho(name string, pc net.PacketConn) error {
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, len(name)+1+len(buf))
	// Answer from the address the datagram was sent to. This works only
	// for IPv4 UDP sockets; others answer from what the kernel picks.
	p4 := ipv4.NewPacketConn(pc)
	if err := p4.SetControlMessage(ipv4.FlagDst, true); err != nil {
		p4 = nil
	}
	for {
		var (
			n   int
			src net.Addr
			cm  *ipv4.ControlMessage
			err error
		)
		if p4 != nil {
			n, cm, src, err = p4.ReadFrom(buf)
		} else {
			n, src, err = pc.ReadFrom(buf)
		}
		if err != nil {
			return err
		}
		out = append(append(append(out[:0], name...), '\n'), buf[:n]...)
		if p4 != nil && cm != nil && cm.Dst != nil {
			_, err = p4.WriteTo(out, &ipv4.ControlMessage{Src: cm.Dst}, src)
		} else {
			_, err = pc.WriteTo(out, src)
		}
		// A failed answer (an unreachable client) is not the server's end.
		_ = err
	}
}

// StartServers starts Serve inside every real server's namespace, in this
// process: HTTP on 0.0.0.0:80 and the UDP echo on 0.0.0.0:80, named rs1..rsN.
// They run until ctx ends or Down. A second call before Down is an error.
func (l *Lab) StartServers(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopServer != nil {
		return fmt.Errorf("lab %s: servers already running", l.Prefix)
	}
	ctx, cancel := context.WithCancel(ctx)
	addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(ServerPort))
	type pair struct {
		name string
		ln   net.Listener
		pc   net.PacketConn
	}
	var started []pair
	closeAll := func() {
		for _, p := range started {
			p.ln.Close()
			p.pc.Close()
		}
	}
	for i, rs := range l.RS {
		ln, err := rs.Listen("tcp4", addr)
		if err != nil {
			closeAll()
			cancel()
			return err
		}
		pc, err := rs.ListenPacket("udp4", addr)
		if err != nil {
			ln.Close()
			closeAll()
			cancel()
			return err
		}
		started = append(started, pair{fmt.Sprintf("rs%d", i+1), ln, pc})
		if l.VIP6.IsValid() {
			// Dual-stack: the same server on IPv6 (tcp6 on [::] is
			// IPv6 only).
			addr6 := net.JoinHostPort("::", strconv.Itoa(ServerPort))
			ln6, err := rs.Listen("tcp6", addr6)
			if err != nil {
				closeAll()
				cancel()
				return err
			}
			pc6, err := rs.ListenPacket("udp6", addr6)
			if err != nil {
				ln6.Close()
				closeAll()
				cancel()
				return err
			}
			started = append(started, pair{fmt.Sprintf("rs%d", i+1), ln6, pc6})
		}
	}
	log := l.logger()
	for _, p := range started {
		l.servers.Add(1)
		go func() {
			defer l.servers.Done()
			if err := Serve(ctx, p.name, p.ln, p.pc); err != nil {
				log.Error("lab server stopped", "server", p.name, "err", err)
			}
		}()
	}
	l.stopServer = cancel
	log.Info("lab servers started", "count", len(started))
	return nil
}

// stopServers stops what StartServers started and waits for it.
func (l *Lab) stopServers() {
	l.mu.Lock()
	stop := l.stopServer
	l.stopServer = nil
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
	l.servers.Wait()
}
