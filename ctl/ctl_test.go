package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/vs"
)

// fakeDirector keeps config.Rules and reports them with fixed counters.
type fakeDirector struct {
	mu    sync.Mutex
	rules config.Rules
	panic bool
}

func (d *fakeDirector) Apply(c config.Command) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.panic {
		panic("boom")
	}
	return d.rules.Apply(c)
}

func (d *fakeDirector) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Snapshot{ConnTableSize: 4096}
	for _, svc := range d.rules.Services {
		ss := ServiceStatus{Service: svc, Stats: Stats{Conns: 7}}
		ss.Service.Dests = nil
		for _, dst := range svc.Dests {
			ss.Dests = append(ss.Dests, DestStatus{Dest: dst, ActiveConns: 1, InactConns: 2})
		}
		s.Services = append(s.Services, ss)
	}
	return s
}

func (d *fakeDirector) Conns() []ConnStatus {
	return []ConnStatus{{Proto: vs.TCP, Client: netip.MustParseAddrPort("10.77.0.10:40000"),
		Virtual: netip.MustParseAddrPort("10.77.0.100:80"), Dest: netip.MustParseAddrPort("10.77.0.11:80"),
		State: "ESTABLISHED", Expires: 899}}
}

func serve(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "ulvsd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path
}

func dial(t *testing.T, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func parse(t *testing.T, line string) config.Command {
	t.Helper()
	c, err := ipvsadm.ParseArgsWith(strings.Fields(line), nil)
	if err != nil {
		t.Fatalf("ParseArgs(%q): %v", line, err)
	}
	return c
}

func TestApplyAndSnapshot(t *testing.T) {
	d := &fakeDirector{}
	c := dial(t, serve(t, &Server{Director: d}))

	info, err := c.Info()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Info{Version: "1.2.1", ConnTableSize: 4096}); info != want {
		t.Errorf("Info = %+v, want %+v", info, want)
	}
	steps := []struct {
		cmd  string
		want error
	}{
		{"-A -t 10.77.0.100:80 -s rr", nil},
		{"-a -t 10.77.0.100:80 -r 10.77.0.11 -m -w 3", nil},
		{"-A -t 10.77.0.100:80 -s rr", config.ErrServiceExists},
		{"-a -t 10.77.0.100:80 -r 10.77.0.11", config.ErrDestExists},
		{"-a -t 10.77.0.100:81 -r 10.77.0.11", config.ErrNoService},
		{"-e -t 10.77.0.100:80 -r 10.77.0.12", config.ErrNoDest},
		{"-E -t 10.77.0.100:80 -s bogus", config.ErrSchedulerNotFound},
		{"-a -t 10.77.0.100:80 -r 10.77.0.12 -y 3", config.ErrRange},
	}
	for _, st := range steps {
		err := c.Apply(parse(t, st.cmd))
		if !errors.Is(err, st.want) || (err == nil) != (st.want == nil) {
			t.Errorf("Apply(%q) = %v, want %v", st.cmd, err, st.want)
		}
		var re *RemoteError
		if st.want != nil && !errors.As(err, &re) {
			t.Errorf("Apply(%q) error %T is not a *RemoteError", st.cmd, err)
		}
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want := d.Snapshot()
	if diff := cmp.Diff(want, snap, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	conns, err := c.Conns()
	if err != nil || len(conns) != 1 || conns[0].State != "ESTABLISHED" {
		t.Errorf("Conns = %+v, %v", conns, err)
	}
}

// rawRequest sends line on a fresh connection and returns the response.
func rawRequest(t *testing.T, path, line string) response {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprint(conn, line); err != nil {
		t.Fatal(err)
	}
	var resp response
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		t.Fatalf("request %.40q: no response: %v", line, err)
	}
	return resp
}

func TestMalformedRequests(t *testing.T) {
	d := &fakeDirector{}
	path := serve(t, &Server{Director: d})
	for _, tt := range []struct {
		name, line string
	}{
		{"not json", "hello\n"},
		{"unknown op", `{"op":"reboot"}` + "\n"},
		{"unknown field", `{"op":"info","x":1}` + "\n"},
		{"apply without command", `{"op":"apply"}` + "\n"},
		{"invalid command", `{"op":"apply","command":{"Op":1}}` + "\n"},
		{"wrong types", `{"op":"apply","command":{"Op":"x"}}` + "\n"},
		{"too long", `{"op":"` + strings.Repeat("a", MaxRequestSize) + "\"}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawRequest(t, path, tt.line)
			if resp.Error == nil || resp.Error.Code != "bad-request" {
				t.Errorf("response %+v, want a bad-request error", resp.Error)
			}
		})
	}
	// The server still works.
	if _, err := dial(t, path).Info(); err != nil {
		t.Errorf("Info after bad requests: %v", err)
	}
}

func TestDirectorPanic(t *testing.T) {
	d := &fakeDirector{panic: true}
	c := dial(t, serve(t, &Server{Director: d}))
	err := c.Apply(parse(t, "-C"))
	if !errors.Is(err, errInternal) {
		t.Errorf("Apply with a panicking director = %v, want errInternal", err)
	}
	if _, err := c.Info(); err != nil {
		t.Errorf("Info after panic: %v", err)
	}
}

func TestRefusesPeer(t *testing.T) {
	var gotUID uint32 = 1 << 31
	s := &Server{Director: &fakeDirector{}, Authorize: func(uid uint32) error {
		gotUID = uid
		return fmt.Errorf("%w: uid %d", ErrPermission, uid)
	}}
	c := dial(t, serve(t, s))
	_, err := c.Info()
	if !errors.Is(err, ErrPermission) {
		t.Fatalf("Info from a refused peer = %v, want ErrPermission", err)
	}
	if gotUID != uint32(os.Getuid()) {
		t.Errorf("Authorize saw uid %d, want %d", gotUID, os.Getuid())
	}
}

func TestDefaultAuthorize(t *testing.T) {
	if err := rootOnly(0); err != nil {
		t.Errorf("rootOnly(0) = %v", err)
	}
	if err := rootOnly(1000); !errors.Is(err, ErrPermission) {
		t.Errorf("rootOnly(1000) = %v, want ErrPermission", err)
	}
	// Through a real connection, for our own uid.
	_, err := dial(t, serve(t, &Server{Director: &fakeDirector{}})).Info()
	if os.Getuid() == 0 && err != nil {
		t.Errorf("root refused: %v", err)
	}
	if os.Getuid() != 0 && !errors.Is(err, ErrPermission) {
		t.Errorf("non-root peer accepted: %v", err)
	}
}

func TestListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v, want 0600", fi.Mode(), err)
	}
	if _, err := Listen(path); err == nil {
		t.Error("second Listen on a live socket succeeded")
	}
	// A stale socket (no listener) is replaced.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
	// A regular file is not removed.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Listen(file); err == nil {
		t.Error("Listen replaced a regular file")
	}
}

func TestSocketPath(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvSocket {
				return v
			}
			return ""
		}
	}
	for _, tt := range []struct {
		flag, env, want string
	}{
		{"", "", DefaultSocket},
		{"", "/tmp/e.sock", "/tmp/e.sock"},
		{"/tmp/f.sock", "/tmp/e.sock", "/tmp/f.sock"},
	} {
		if got := SocketPath(tt.flag, env(tt.env)); got != tt.want {
			t.Errorf("SocketPath(%q, env %q) = %q, want %q", tt.flag, tt.env, got, tt.want)
		}
	}
}
