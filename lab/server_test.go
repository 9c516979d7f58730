package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDataReader(t *testing.T) {
	// The stream is fixed: a change would break digests that tests and
	// scripts compute elsewhere.
	const golden1K = "9182cc485a87b6403a195486acc653237f8ed4c114dce764a214441466da71ae"
	if got := DataSHA256(1024); got != golden1K {
		t.Errorf("DataSHA256(1024): got %s, want %s", got, golden1K)
	}
	if got := DataSHA256(0); got != hex.EncodeToString(func() []byte { s := sha256.Sum256(nil); return s[:] }()) {
		t.Errorf("DataSHA256(0): got %s, want the digest of nothing", got)
	}
	long, _ := io.ReadAll(DataReader(100_000))
	short, _ := io.ReadAll(DataReader(777))
	if len(long) != 100_000 || len(short) != 777 {
		t.Fatalf("lengths: got %d and %d, want 100000 and 777", len(long), len(short))
	}
	if !bytes.Equal(long[:777], short) {
		t.Error("DataReader(777) is not a prefix of DataReader(100000)")
	}
	if bytes.Count(long, long[:1]) > len(long)/100 {
		t.Error("DataReader bytes are not pseudo-random")
	}
	sum := sha256.Sum256(long)
	if got := DataSHA256(100_000); got != hex.EncodeToString(sum[:]) {
		t.Errorf("DataSHA256(100000): got %s, want %x", got, sum)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler("rs7"))
	defer srv.Close()
	tests := []struct {
		name       string
		method     string
		path       string
		body       io.Reader
		wantStatus int
		wantBody   string
	}{
		{"root", "GET", "/", nil, 200, "rs7\n"},
		{"head root", "HEAD", "/", nil, 200, ""},
		{"unknown path", "GET", "/nope", nil, 404, ""},
		{"data", "GET", "/data?size=5000", nil, 200, ""},
		{"data zero", "GET", "/data?size=0", nil, 200, ""},
		{"data negative", "GET", "/data?size=-1", nil, 400, ""},
		{"data too big", "GET", "/data?size=99999999999999", nil, 400, ""},
		{"data no size", "GET", "/data", nil, 400, ""},
		{"upload", "POST", "/upload", DataReader(12345), 200, DataSHA256(12345) + "\n"},
		{"upload empty", "POST", "/upload", nil, 200, DataSHA256(0) + "\n"},
		{"upload by GET", "GET", "/upload", nil, 405, ""},
		{"peer", "GET", "/peer", nil, 200, "rs7 127.0.0.1:"},
		{"hold zero", "GET", "/hold?secs=0", nil, 200, "rs7\n"},
		{"hold short", "GET", "/hold?secs=0.01", nil, 200, "rs7\n"},
		{"hold bad", "GET", "/hold?secs=x", nil, 400, ""},
		{"hold too long", "GET", "/hold?secs=100000", nil, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, tt.body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, tt.wantStatus, b)
			}
			if got := resp.Header.Get("X-Real-Server"); got != "rs7" {
				t.Errorf("X-Real-Server: got %q, want rs7", got)
			}
			if tt.wantBody != "" && string(b) != tt.wantBody && !(tt.path == "/peer" && strings.HasPrefix(string(b), tt.wantBody)) {
				t.Errorf("body: got %q, want %q", b, tt.wantBody)
			}
			if strings.HasPrefix(tt.path, "/data?size=") && tt.wantStatus == 200 {
				sum := sha256.Sum256(b)
				n := int64(len(b))
				if hex.EncodeToString(sum[:]) != DataSHA256(n) || resp.ContentLength != n {
					t.Errorf("data: %d bytes (Content-Length %d) do not match DataSHA256", n, resp.ContentLength)
				}
			}
		})
	}
}

func TestHoldEndsWithClient(t *testing.T) {
	srv := httptest.NewServer(Handler("rs1"))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/hold?secs=3600", nil)
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("held request: got an answer, want the client's timeout")
	}
	// srv.Close waits for handlers: it returns only if the hold ended.
	srv.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("hold outlived its client by %v", d)
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "rs3", ln, pc) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "rs3\n" {
		t.Errorf("http: got %q, want %q", b, "rs3\n")
	}

	uc, err := net.Dial("udp4", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	uc.SetDeadline(time.Now().Add(5 * time.Second))
	uc.Write([]byte("hello"))
	buf := make([]byte, 64)
	n, err := uc.Read(buf)
	if err != nil || string(buf[:n]) != "rs3\nhello" {
		t.Errorf("udp: got %q, %v; want %q", buf[:n], err, "rs3\nhello")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: got %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.Dial("tcp4", ln.Addr().String()); err == nil {
		t.Error("listener still open after Serve returned")
	}
}

func TestServeNothing(t *testing.T) {
	if err := Serve(context.Background(), "rs1", nil, nil); err == nil {
		t.Error("Serve with no sockets: got nil error")
	}
}
