package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTP(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			fmt.Fprintln(w, "rs1")
		} else {
			fmt.Fprintln(w, "rs2")
		}
	}))
	defer srv.Close()
	r, err := HTTP(context.Background(), HTTPConfig{URL: srv.URL, Concurrency: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Errors != 0 {
		t.Fatalf("got %v", r)
	}
	if r.Answers["rs1"]+r.Answers["rs2"] != r.Requests {
		t.Errorf("answers %v do not add up to %d requests", r.Answers, r.Requests)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.RequestsPerSecond() <= 0 {
		t.Errorf("bad latency or rate: %v", r)
	}
	c := Comparison{Baseline: r, Director: r}
	if c.Ratio() != 1 {
		t.Errorf("ratio of a run to itself = %v", c.Ratio())
	}
}

func TestHTTPErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	r, err := HTTP(context.Background(), HTTPConfig{URL: srv.URL, Concurrency: 1, Duration: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 0 || r.Errors == 0 {
		t.Errorf("503 answers counted as success: %v", r)
	}
	if _, err := HTTP(context.Background(), HTTPConfig{}); err == nil {
		t.Errorf("no URL accepted")
	}
}
