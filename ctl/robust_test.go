package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener is a net.Listener whose first Accept calls fail with the
// errors in fail (in order), then accept from the real listener.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	fail  []error
	calls int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	l.calls++
	if len(l.fail) > 0 {
		err := l.fail[0]
		l.fail = l.fail[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// acceptErr is what net.UnixListener.Accept returns for errno.
func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", errno)}
}

func allowAll(uint32) error { return nil }

// serveOn runs s on ln and returns a wait function for Serve's result.
func serveOn(t *testing.T, s *Server, ln net.Listener) (cancel func(), wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	var once sync.Once
	var err error
	wait = func() error {
		once.Do(func() {
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("Serve did not return within 10s")
			}
		})
		return err
	}
	t.Cleanup(func() { cancel(); wait() })
	return cancel, wait
}

func listen(t *testing.T) (net.Listener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ulvsd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	return ln, path
}

// TestAcceptRetriesWhenOutOfDescriptors: accept failing with EMFILE or
// ENFILE (the process or the system out of file descriptors) does not end
// the control socket: Serve backs off, retries, and serves the client that
// was waiting in the backlog.
func TestAcceptRetriesWhenOutOfDescriptors(t *testing.T) {
	real, path := listen(t)
	fl := &flakyListener{Listener: real, fail: []error{
		acceptErr(syscall.EMFILE), acceptErr(syscall.EMFILE), acceptErr(syscall.ENFILE),
		acceptErr(syscall.EMFILE), acceptErr(syscall.ECONNABORTED),
	}}
	serveOn(t, &Server{Director: &fakeDirector{}, Authorize: allowAll}, fl)
	c := dial(t, path)
	start := time.Now()
	if _, err := c.Info(); err != nil {
		t.Fatalf("Info after accept failures: %v", err)
	}
	fl.mu.Lock()
	calls, left := fl.calls, len(fl.fail)
	fl.mu.Unlock()
	if left != 0 || calls < 6 {
		t.Errorf("Accept called %d times with %d failures left, want the 5 failures then a connection", calls, left)
	}
	// 5+10+20+40+80 ms of back-off at least.
	if el := time.Since(start); el < 100*time.Millisecond {
		t.Errorf("served after %v: no back-off between failing accepts", el)
	}
	// And it goes on serving new clients.
	if _, err := dial(t, path).Info(); err != nil {
		t.Errorf("Info from a second client: %v", err)
	}
}

// TestAcceptFatalError: an accept error that waiting cannot cure still
// ends Serve with it, and cancelling during a back-off returns promptly.
func TestAcceptFatalError(t *testing.T) {
	real, _ := listen(t)
	bad := errors.New("listener broken")
	_, wait := serveOn(t, &Server{Director: &fakeDirector{}}, &flakyListener{Listener: real, fail: []error{acceptErr(syscall.EMFILE), bad}})
	if err := wait(); !errors.Is(err, bad) {
		t.Errorf("Serve = %v, want %v", err, bad)
	}

	real2, _ := listen(t)
	fail := make([]error, 1000)
	for i := range fail {
		fail[i] = acceptErr(syscall.EMFILE)
	}
	cancel, wait := serveOn(t, &Server{Director: &fakeDirector{}}, &flakyListener{Listener: real2, fail: fail})
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := wait(); err != nil {
		t.Errorf("Serve after cancel during back-off = %v, want nil", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("Serve took %v to return after cancel", el)
	}
}

func TestRetryableAccept(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{acceptErr(syscall.EMFILE), true},
		{acceptErr(syscall.ENFILE), true},
		{acceptErr(syscall.ENOBUFS), true},
		{acceptErr(syscall.ENOMEM), true},
		{acceptErr(syscall.ECONNABORTED), true},
		{acceptErr(syscall.EINVAL), false},
		{net.ErrClosed, false},
		{errors.New("other"), false},
	} {
		if got := retryableAccept(tt.err); got != tt.want {
			t.Errorf("retryableAccept(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestManyClients: many clients at once, each with its own requests, all
// answered.
func TestManyClients(t *testing.T) {
	path := serve(t, &Server{Director: &fakeDirector{}, Authorize: allowAll})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(path)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for j := 0; j < 3; j++ {
				if _, err := c.Snapshot(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("client: %v", err)
	}
}

// TestSlowClient: a client that sends half a request and stalls blocks no
// one, and is cut off after the idle timeout.
func TestSlowClient(t *testing.T) {
	const idle = 300 * time.Millisecond
	path := serve(t, &Server{Director: &fakeDirector{}, Authorize: allowAll, IdleTimeout: idle})
	slow, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, `{"op":"inf`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := dial(t, path).Info(); err != nil {
		t.Fatalf("Info while another client stalls: %v", err)
	}
	if el := time.Since(start); el >= idle {
		t.Errorf("a stalled client delayed another by %v", el)
	}
	// Trickling a byte now and then does not keep it alive: the deadline
	// is for the whole line.
	for i := 0; i < 4; i++ {
		time.Sleep(idle / 4)
		slow.Write([]byte(" "))
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(slow)
	// The server's close shows as EOF, or as a reset when it closed with
	// the client's last bytes still unread.
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the stalled client's connection: %v, want it closed by the server", err)
	}
	if len(rest) != 0 {
		t.Errorf("the stalled client got %q, want nothing", rest)
	}
	if el := time.Since(start); el > idle+2*time.Second {
		t.Errorf("stalled client cut off after %v, want about %v", el, idle)
	}
}

// TestOversizedRequestStream: a client that streams bytes without a
// newline gets a bad-request answer once MaxRequestSize is passed and is
// disconnected; the server does not buffer the rest.
func TestOversizedRequestStream(t *testing.T) {
	path := serve(t, &Server{Director: &fakeDirector{}, Authorize: allowAll})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan int64, 1)
	go func() {
		// Up to 8 MiB; the write fails once the server has hung up.
		chunk := []byte(strings.Repeat("a", 64<<10))
		var n int64
		for n < 8<<20 {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			w, err := c.Write(chunk)
			n += int64(w)
			if err != nil {
				break
			}
		}
		done <- n
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no answer to an oversized request: %v", err)
	}
	var resp response
	if err := json.Unmarshal(line, &resp); err != nil || resp.Error == nil || resp.Error.Code != "bad-request" {
		t.Fatalf("answer %q (%v), want a bad-request error", line, err)
	}
	if n := <-done; n >= 8<<20 {
		t.Errorf("server read all %d bytes of an endless request", n)
	}
	if _, err := dial(t, path).Info(); err != nil {
		t.Errorf("Info after an oversized request: %v", err)
	}
}
