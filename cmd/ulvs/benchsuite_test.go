package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/bench"
)

func TestBenchConfig(t *testing.T) {
	got := string(benchConfig("fullnat"))
	for _, want := range []string{`interfaces = ["d-eth0", "d-eth1"]`, `protocol = "udp"`, `address = "10.77.0.100:9"`,
		`forward = "fullnat"`, `local_addresses = ["10.77.1.200", "10.77.1.201"]`, `address = "10.77.1.12:9"`, `address = "10.77.1.11:80"`} {
		if !strings.Contains(got, want) {
			t.Errorf("fullnat config lacks %q:\n%s", want, got)
		}
	}
}

func TestBenchWorkers(t *testing.T) {
	for cpus, want := range map[int]int{1: 1, 2: 1, 4: 3, 16: 15} {
		if got := benchWorkers(cpus); got != want {
			t.Errorf("benchWorkers(%d) = %d, want %d", cpus, got, want)
		}
	}
}

func TestBenchSuiteUsage(t *testing.T) {
	for _, args := range [][]string{{"--methods", "dr,lvs"}, {"--sizes", "40"}, {"--rounds", "-1"}, {"--quick", "extra"}} {
		var out, errb bytes.Buffer
		if code := run(append([]string{"bench"}, args...), &out, &errb); code != 2 {
			t.Errorf("bench %v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

// TestIntegrationBenchSuite runs a one-round, short suite on the dr lab:
// it checks that every path produced numbers, that the JSON parses and
// that the labs are gone afterwards. It asserts no speed.
func TestIntegrationBenchSuite(t *testing.T) {
	skipUnprivileged(t)
	for _, tool := range []string{"trafgen", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/setup-host.sh)", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := suiteOptions{rounds: 1, ppsDur: 300 * time.Millisecond, httpDur: 300 * time.Millisecond, methods: []string{"dr"},
		sizes: []int{64}, concurrency: 2, http: true, jsonOut: true, command: "test"}
	var out, errb bytes.Buffer
	if err := benchSuite(ctx, o, &out, &errb); err != nil {
		t.Fatalf("bench: %v\n%s", err, errb.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON: %v\n%s", err, out.String())
	}
	for _, want := range []struct{ test, path string }{
		{"pps64", "ceiling"}, {"pps64", "direct"}, {"pps64", "kernel"}, {"pps64", "nft"}, {"pps64", "ulvs-dr"},
		{"http-keepalive", "nft"}, {"http-keepalive", "ulvs-dr"}, {"http-new", "kernel"}, {"http-new", "ulvs-dr"},
	} {
		row := rep.Row(want.test, want.path)
		if row == nil {
			t.Errorf("no row %s %s", want.test, want.path)
			continue
		}
		if row.Median <= 0 || len(row.Values) != 1 {
			t.Errorf("%s %s: median %v, values %v, errors %d\n%s", want.test, want.path, row.Median, row.Values, row.Errors, errb.String())
		}
		if row.Unit == "pps" && row.Offered <= 0 {
			t.Errorf("%s %s: offered %v", want.test, want.path, row.Offered)
		}
		// The machine's CPU per request; ulvsd's on its own path.
		if row.Unit == "req/s" && (row.BoxCPUPerRequest <= 0 || want.path == "ulvs-dr" && row.CPUPerRequest <= 0) {
			t.Errorf("%s %s: CPU per request %v us, of the machine %v us", want.test, want.path, row.CPUPerRequest, row.BoxCPUPerRequest)
		}
	}
	if rep.Host == nil || rep.Host.Syscall <= 0 || rep.Host.PipeOneCPU <= 0 {
		t.Errorf("report: host costs %+v, want a system call and a round trip", rep.Host)
	}
	if r := rep.Row("pps64", "ulvs-dr"); r != nil && (r.Baseline != "kernel" || r.Ratio <= 0) {
		t.Errorf("ulvs-dr: baseline %q ratio %v", r.Baseline, r.Ratio)
	}
	// Without --workers, the bench's ulvsd runs one worker per CPU but
	// the generator's: each round's log line lists its workers.
	if want := benchWorkers(runtime.NumCPU()); rep.Workers != want {
		t.Errorf("report: %d workers, want %d", rep.Workers, want)
	}
	perWorker := regexp.MustCompile(`\bw\d+ \d+pps`)
	for _, line := range strings.Split(errb.String(), "\n") {
		if strings.Contains(line, "ulvs-dr") && strings.Contains(line, "offered") {
			if got := len(perWorker.FindAllString(line, -1)); got != rep.Workers {
				t.Errorf("ulvsd ran %d workers, want %d: %s", got, rep.Workers, line)
			}
		}
	}
	// Every lab of this process is gone.
	list, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if mine := "ulvs" + strconv.Itoa(os.Getpid()); strings.Contains(string(list), mine) {
		t.Errorf("namespaces of this process remain:\n%s", list)
	}
}

func TestNetDevCounters(t *testing.T) {
	text := []byte(`Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
c-eth0: 1234567    8901    0    0    0     0          0         0 987654321  123456    0    0    0     0       0          0
`)
	rx, tx, err := netDevCounters(text, "c-eth0")
	if err != nil || rx != 8901 || tx != 123456 {
		t.Errorf("c-eth0: rx %d tx %d err %v, want 8901 123456", rx, tx, err)
	}
	if _, _, err := netDevCounters(text, "eth9"); err == nil {
		t.Error("eth9: no error")
	}
}

func TestBusyOf(t *testing.T) {
	for _, tc := range []struct {
		line string
		want float64
	}{
		// user nice system idle iowait irq softirq steal ...: busy is
		// user+nice+system+irq+softirq, in USER_HZ (100).
		{"cpu  1000 20 300 9000 50 4 76 500 0 0", 14},
		{"cpu 1 2 3 4 5 6 7", 0.19},
		{"cpu0 1000 20 300 9000 50 4 76 500 0 0", -1}, // one CPU's line
		{"cpu 1 2 3", -1},
		{"cpu 1 x 3 4 5 6 7", -1},
		{"cpu -5 0 0 0 0 0 0", -1},
		{"", -1},
	} {
		if got := busyOf(tc.line); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("busyOf(%q) = %v, want %v", tc.line, got, tc.want)
		}
	}
}

// FuzzBusyOf: any text gives a finite, non-negative figure or -1, never
// a panic.
func FuzzBusyOf(f *testing.F) {
	f.Add("cpu  1000 20 300 9000 50 4 76 500 0 0")
	f.Add("cpu 1 2 3")
	f.Add("cpu -5 0 0 0 0 0 0")
	f.Fuzz(func(t *testing.T, line string) {
		got := busyOf(line)
		if got != -1 && (got < 0 || math.IsNaN(got) || math.IsInf(got, 0)) {
			t.Errorf("busyOf(%q) = %v", line, got)
		}
	})
}
