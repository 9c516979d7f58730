package director_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationRestartKeepsConnections: a NAT director with a state
// file is stopped (SIGTERM) and started again while a keep-alive HTTP
// connection is open; the connection's next request, on the same TCP
// connection, reaches the same real server through the new process.
// Without the handover the new director would know neither direction of
// the connection and drop both. With synproxy = true the connection is
// the SYN proxy's: the handover must carry its sequence number delta and
// options too, or the real server's segments reach the client with
// numbers it does not expect.
func TestIntegrationRestartKeepsConnections(t *testing.T) {
	for _, proxy := range []bool{false, true} {
		t.Run(fmt.Sprintf("synproxy=%v", proxy), func(t *testing.T) { testRestartKeepsConnections(t, proxy) })
	}
}

func testRestartKeepsConnections(t *testing.T, proxy bool) {
	skipUnprivileged(t)
	cfg, err := lab.DemoConfig(lab.ModeNAT)
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "conns.state")
	conf := strings.Replace(string(cfg), "[director]\n", "[director]\nstate_file = \""+state+"\"\n", 1)
	if proxy {
		conf = strings.Replace(conf, "scheduler = \"rr\"\n", "scheduler = \"rr\"\nsynproxy = true\n", 1)
	}
	e := newEnv(t, lab.Config{Mode: lab.ModeNAT, RealServers: 2}, conf)
	e.waitReady(2)

	c := e.keepAlive()
	var reused []bool
	get := func() string {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
		req, err := http.NewRequest("GET", "http://10.77.0.100/", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
		if err != nil {
			t.Fatalf("request: %v\nulvsd log:\n%s", err, e.logText())
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body) // read to the end, or the connection is not reused
		return resp.Header.Get("X-Real-Server")
	}
	first := get()
	if again := get(); again != first {
		t.Fatalf("keep-alive connection moved from %s to %s before the restart", first, again)
	}
	if opened := e.snapshot().Engine["synproxy_opened"]; (opened > 0) != proxy {
		t.Fatalf("synproxy_opened = %d with synproxy = %v", opened, proxy)
	}
	e.stop()
	e.start()
	if got := get(); got != first {
		t.Errorf("after the restart the connection reached %q, want %q", got, first)
	}
	// A body of several segments each way, on the same connection.
	if got := get(); got != first {
		t.Errorf("second request after the restart reached %q, want %q", got, first)
	}
	if want := []bool{false, true, true, true}; len(reused) != 4 || reused[1] != want[1] || reused[2] != want[2] || reused[3] != want[3] {
		t.Errorf("connection reuse %v, want %v: the keep-alive connection did not survive", reused, want)
	}
	log := e.logText()
	for _, want := range []string{`msg="state file: connections saved`, `msg="state file: connections restored"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
}
