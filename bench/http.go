package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// HTTPConfig describes one HTTP load run.
type HTTPConfig struct {
	// URL is fetched with GET by every request.
	URL string
	// Dial opens connections (for example inside a network namespace);
	// nil means net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Concurrency is the number of clients in parallel; 0 means 8.
	Concurrency int
	// Duration of the run; 0 means 5 s.
	Duration time.Duration
	// KeepAlive reuses connections; false opens a new TCP connection per
	// request, which is what exercises a load balancer's scheduler.
	KeepAlive bool
}

// Result is the outcome of a run.
type Result struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
	// Answers counts the response bodies (the lab's servers answer their
	// name), to show how the load was spread.
	Answers map[string]int
}

// RequestsPerSecond is the throughput of successful requests.
func (r Result) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests in %.2fs = %.0f req/s, %d errors, p50 %v, p99 %v",
		r.Requests, r.Elapsed.Seconds(), r.RequestsPerSecond(), r.Errors, r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond))
}

// HTTP runs the load and returns its result. It stops at the end of the
// duration or when ctx is done.
func HTTP(ctx context.Context, cfg HTTPConfig) (Result, error) {
	if cfg.URL == "" {
		return Result{}, errors.New("bench: no URL")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 5 * time.Second
	}
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr := &http.Transport{
		DialContext:         dial,
		DisableKeepAlives:   !cfg.KeepAlive,
		MaxIdleConnsPerHost: cfg.Concurrency,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	type worker struct {
		ok, errs  int
		latencies []time.Duration
		answers   map[string]int
	}
	workers := make([]worker, cfg.Concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range workers {
		w := &workers[i]
		w.answers = map[string]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 512)
			for ctx.Err() == nil {
				t0 := time.Now()
				body, err := get(ctx, client, cfg.URL, buf)
				if err != nil {
					if ctx.Err() == nil {
						w.errs++
					}
					continue
				}
				w.ok++
				w.latencies = append(w.latencies, time.Since(t0))
				w.answers[body]++
			}
		}()
	}
	wg.Wait()
	r := Result{Elapsed: time.Since(start), Answers: map[string]int{}}
	var all []time.Duration
	for _, w := range workers {
		r.Requests += w.ok
		r.Errors += w.errs
		all = append(all, w.latencies...)
		for k, v := range w.answers {
			r.Answers[k] += v
		}
	}
	if len(all) > 0 {
		slices.Sort(all)
		r.P50 = all[len(all)/2]
		r.P99 = all[len(all)*99/100]
	}
	return r, nil
}

// get fetches url and returns the first line of the body.
func get(ctx context.Context, c *http.Client, url string, buf []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	n, err := io.ReadFull(resp.Body, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	body := buf[:n]
	for i, b := range body {
		if b == '\n' {
			body = body[:i]
			break
		}
	}
	return string(body), nil
}

// Comparison is a run through the director next to a baseline run.
type Comparison struct {
	Name     string
	Baseline Result
	Director Result
}

// Ratio is the director's throughput as a fraction of the baseline's.
func (c Comparison) Ratio() float64 {
	b := c.Baseline.RequestsPerSecond()
	if b == 0 {
		return 0
	}
	return c.Director.RequestsPerSecond() / b
}
