package director

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestListenPprofRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:0", "[::]:0", "10.0.0.1:0", "example.com:6060", "127.0.0.1"} {
		ln, err := listenPprof(addr)
		if err == nil {
			ln.Close()
			t.Errorf("listenPprof(%q) accepted", addr)
			continue
		}
		if !strings.Contains(err.Error(), addr) {
			t.Errorf("listenPprof(%q): error %q does not name the address", addr, err)
		}
	}
}

func TestPprofServesOnLoopback(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := listenPprof(addr)
		if err != nil {
			t.Fatalf("listenPprof(%q): %v", addr, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- servePprof(ctx, ln, slog.New(slog.DiscardHandler)) }()
		resp, err := http.Get("http://" + ln.Addr().String() + "/debug/pprof/goroutine?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
			t.Errorf("%s: status %s, body %.80q", addr, resp.Status, body)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("servePprof: %v", err)
		}
	}
}
