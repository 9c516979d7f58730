package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := Median(tc.in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func testReport() *Report {
	r := &Report{Command: "ulvs bench --quick", Date: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC), Machine: "test <cpu>",
		CPUs: 2, Workers: 2, Rounds: 3, Duration: "1s", LoadBefore: "0.1 0.2 0.3", LoadAfter: "0.4 0.5 0.6",
		Rows: []Row{
			{Test: "pps64", Path: "ceiling", Unit: "pps", Values: []float64{1e6}, Median: 1e6, Offered: 1e6, Limit: "generator"},
			{Test: "pps64", Path: "kernel", Unit: "pps", Values: []float64{4e5}, Median: 4e5, Offered: 4e5, Limit: "generator"},
			{Test: "pps64", Path: "ulvs-dr", Unit: "pps", Values: []float64{6e5}, Median: 6e5, Offered: 9e5, Loss: 1.0 / 3,
				Limit: "director", Baseline: "kernel", Target: 1.3, DirectorCPU: 1.1},
			{Test: "http-new", Path: "nft", Unit: "req/s", Median: 3000, P50: 1500 * time.Microsecond, P99: 9 * time.Millisecond},
			{Test: "http-new", Path: "ulvs-dr", Unit: "req/s", Median: 2400, Baseline: "nft", Target: 1,
				DirectorCPU: 0.37, CPUPerRequest: 154.04, BoxCPUPerRequest: 612.46},
		}}
	r.Host = &HostCosts{Syscall: 956 * time.Nanosecond, PipeOneCPU: 13167 * time.Nanosecond, PipeAcross: 21172 * time.Nanosecond}
	r.Finish()
	return r
}

func TestReportRatiosAndTable(t *testing.T) {
	r := testReport()
	if got := r.Row("pps64", "ulvs-dr").Ratio; got != 1.5 {
		t.Errorf("pps64 ulvs-dr ratio = %v, want 1.5", got)
	}
	if got := r.Row("http-new", "ulvs-dr").Ratio; got != 0.8 {
		t.Errorf("http-new ulvs-dr ratio = %v, want 0.8", got)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"1.50x kernel", "1.3 ok", "0.80x nft", "1.0 no", "33.3%", "110%", "1500us", "ulvs bench --quick",
		"us/op", "box/op", "37%   154.0   612.5",
		"host: a system call 0.96 us, a pipe round trip 13.17 us on one CPU and 21.17 us across two"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestReportJSONAndSVG(t *testing.T) {
	r := testReport()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not parse back: %v", err)
	}
	if len(back.Rows) != len(r.Rows) || back.Rows[2].Ratio != 1.5 || back.Rows[3].P50 != 1500*time.Microsecond {
		t.Errorf("JSON round trip: %+v", back.Rows)
	}
	if back.Host == nil || *back.Host != *r.Host || !strings.Contains(b.String(), `"pipe_round_trip_across_cpus_ns": 21172`) {
		t.Errorf("JSON round trip of the host costs: %+v\n%s", back.Host, b.String())
	}
	b.Reset()
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, one bar per row, names escaped.
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	rects := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects != len(r.Rows)+1 { // and the background
		t.Errorf("SVG has %d rects, want %d", rects, len(r.Rows)+1)
	}
	if !strings.Contains(b.String(), "test &lt;cpu&gt;") {
		t.Errorf("SVG does not escape the machine name")
	}
	if !strings.Contains(b.String(), ">host: a system call 0.96 us, a pipe round trip 13.17 us on one CPU and 21.17 us across two</text>") {
		t.Errorf("SVG does not say the host's costs")
	}
}

func TestTrafgenConfig(t *testing.T) {
	mac := func(s string) net.HardwareAddr { m, _ := net.ParseMAC(s); return m }
	f := UDPFlood{SrcMAC: mac("02:00:00:00:00:01"), DstMAC: mac("02:00:00:00:00:02"),
		Src: netip.MustParseAddr("10.77.0.10"), Dst: netip.MustParseAddr("10.77.0.100"),
		SrcPort: 20000, DstPort: 9, Flows: 3, FrameLen: 64}
	text, err := f.TrafgenConfig()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(text, "{ eth("); n != 3 {
		t.Errorf("%d packets, want 3:\n%s", n, text)
	}
	for _, want := range []string{"da=02:00:00:00:00:02", "sa=02:00:00:00:00:01", "daddr=10.77.0.100", "sp=20002, dp=9", "fill(0x55, 22)"} {
		if !strings.Contains(text, want) {
			t.Errorf("config lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []UDPFlood{
		{SrcMAC: f.SrcMAC, DstMAC: f.DstMAC, Src: f.Src, Dst: f.Dst, Flows: 1, FrameLen: 42},
		{SrcMAC: f.SrcMAC, DstMAC: f.DstMAC, Src: f.Src, Dst: f.Dst, Flows: 1, FrameLen: 1515},
		{SrcMAC: f.SrcMAC, DstMAC: f.DstMAC, Src: f.Src, Dst: f.Dst, Flows: 0, FrameLen: 64},
		{SrcMAC: f.SrcMAC, DstMAC: f.DstMAC, Src: f.Src, Dst: f.Dst, SrcPort: 65535, Flows: 2, FrameLen: 64},
		{Src: f.Src, Dst: f.Dst, Flows: 1, FrameLen: 64},
	} {
		if _, err := bad.TrafgenConfig(); err == nil {
			t.Errorf("TrafgenConfig(%+v) accepted", bad)
		}
	}
}

func TestReportRoundRatios(t *testing.T) {
	r := &Report{Rows: []Row{
		{Test: "pps64", Path: "kernel", Unit: "pps", Values: []float64{4e5, 5e5, 2e5}},
		{Test: "pps64", Path: "ulvs-dr", Unit: "pps", Values: []float64{6e5, 5e5, 3e5}, Baseline: "kernel"},
		{Test: "pps64", Path: "ulvs-nat", Unit: "pps", Values: []float64{6e5, 5e5}, Baseline: "kernel"},
		{Test: "pps1500", Path: "kernel", Unit: "pps", Values: []float64{4e5, 0}},
		{Test: "pps1500", Path: "ulvs-dr", Unit: "pps", Values: []float64{6e5, 5e5}, Baseline: "kernel"},
	}}
	r.Finish()
	if got, want := r.Row("pps64", "ulvs-dr").RoundRatios, []float64{1.5, 1, 1.5}; !slices.Equal(got, want) {
		t.Errorf("round ratios %v, want %v", got, want)
	}
	// A path with a round less, or a baseline round that delivered
	// nothing, has no round ratios: they would pair the wrong rounds or
	// divide by zero.
	if got := r.Row("pps64", "ulvs-nat").RoundRatios; got != nil {
		t.Errorf("round ratios with a round missing: %v", got)
	}
	if got := r.Row("pps1500", "ulvs-dr").RoundRatios; got != nil {
		t.Errorf("round ratios over a zero: %v", got)
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "ratio per round (each round's value over its baseline's in the same round):\n" +
		"pps64           ulvs-dr       kernel  1.50 1.00 1.50  median 1.50, 1.00 to 1.50\n"
	if !strings.HasSuffix(b.String(), want) {
		t.Errorf("table ends\n%s\nwant it to end\n%s", b.String(), want)
	}
	// Finish again (after rows changed) starts the ratios over.
	r.Rows[1].Values = []float64{8e5, 5e5, 2e5}
	r.Finish()
	if got, want := r.Row("pps64", "ulvs-dr").RoundRatios, []float64{2, 1, 1}; !slices.Equal(got, want) {
		t.Errorf("round ratios after a second Finish %v, want %v", got, want)
	}
}
