package bench

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
	"time"
)

// Row is one test through one path, over the rounds of a run: the values
// of each round and their median, and the median as a ratio to the
// path's baseline in the same run.
type Row struct {
	// Test is "pps64", "pps1500", "http-keepalive", "http-new" or
	// "http-latency"; Path is "ceiling", "direct", "kernel", "nft" or
	// "ulvs-" and a method.
	Test string `json:"test"`
	Path string `json:"path"`
	// Unit of Values and Median: "pps" (delivered packets per second)
	// or "req/s".
	Unit   string    `json:"unit"`
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	// Baseline is the path Ratio compares with ("" for none); Target is
	// the ratio the issue asks for (0 for none).
	Baseline string  `json:"baseline,omitempty"`
	Ratio    float64 `json:"ratio,omitempty"`
	Target   float64 `json:"target,omitempty"`
	// RoundRatios are each round's value over the baseline's value of
	// the same round: measured minutes apart at most, they show how
	// much of Ratio a machine whose speed drifts during the run (a
	// shared host) leaves standing.
	RoundRatios []float64 `json:"round_ratios,omitempty"`
	// Packet-rate tests: the median offered rate (what the generator
	// sent), the median loss (fraction of offered frames that never
	// reached a real server) and what limited the rate: "generator" (the
	// director kept up with all it was offered) or "director" (it lost
	// frames).
	Offered float64 `json:"offered_pps,omitempty"`
	Loss    float64 `json:"loss,omitempty"`
	Limit   string  `json:"limit,omitempty"`
	// DirectorCPU is ulvsd's median CPU use during the test, in cores
	// (1 = one core busy); 0 for the kernel's paths, whose work is
	// softirq time nobody is billed for.
	DirectorCPU float64 `json:"director_cpu,omitempty"`
	// CPUPerPacket is ulvsd's CPU time per delivered packet, in
	// microseconds: less sensitive to a busy machine than the rates.
	CPUPerPacket float64 `json:"director_cpu_us_per_packet,omitempty"`
	// BoxCPUPerPacket is the whole machine's busy CPU time per delivered
	// packet (per offered packet on the ceiling path), in microseconds:
	// the generator, the lab's bridges, the director (kernel or ulvsd)
	// and the real servers' ingress together, the figure to compare
	// between paths on an idle machine. Any other process counts too.
	BoxCPUPerPacket float64 `json:"box_cpu_us_per_packet,omitempty"`
	// CPUPerRequest and BoxCPUPerRequest are the same for the HTTP
	// tests, per successful request: what a request costs ulvsd and the
	// whole machine (the client, the real server, the bridges and the
	// director) while the load runs. On a machine whose CPUs the test
	// keeps busy, the rates follow them.
	CPUPerRequest    float64 `json:"director_cpu_us_per_request,omitempty"`
	BoxCPUPerRequest float64 `json:"box_cpu_us_per_request,omitempty"`
	// HTTP tests: median over rounds of each round's latency
	// percentiles, and the requests that failed.
	P50    time.Duration `json:"p50_ns,omitempty"`
	P99    time.Duration `json:"p99_ns,omitempty"`
	Errors int           `json:"errors,omitempty"`
}

// Report is a whole run of `ulvs bench`.
type Report struct {
	Command  string    `json:"command"`
	Date     time.Time `json:"date"`
	Machine  string    `json:"machine"`
	Kernel   string    `json:"kernel"`
	CPUs     int       `json:"cpus"`
	Workers  int       `json:"workers"`
	Rounds   int       `json:"rounds"`
	Duration string    `json:"round_duration"`
	// LoadBefore and LoadAfter are /proc/loadavg at the start and end:
	// the machine may be shared, which is why only ratios within one
	// run mean anything.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
	// Host is what a system call and a wake-up cost on the machine
	// (ProbeHost), nil if it was not measured.
	Host *HostCosts `json:"host,omitempty"`
	// Rows are the tests through the paths; path "ceiling" is the
	// generator's rate when the director just drops what it gets.
	Rows []Row `json:"rows"`
	// Notes are remarks of the run (a path that failed, ...).
	Notes []string `json:"notes,omitempty"`
}

// Median returns the median of xs (the mean of the middle two for an even
// count), 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Row returns the row of test and path, nil if there is none.
func (r *Report) Row(test, path string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Test == test && r.Rows[i].Path == path {
			return &r.Rows[i]
		}
	}
	return nil
}

// Finish computes each row's ratio to its baseline row of the same test.
func (r *Report) Finish() {
	for i := range r.Rows {
		row := &r.Rows[i]
		row.Ratio, row.RoundRatios = 0, nil
		if row.Baseline == "" {
			continue
		}
		b := r.Row(row.Test, row.Baseline)
		if b == nil {
			continue
		}
		if b.Median > 0 {
			row.Ratio = row.Median / b.Median
		}
		// Values are in round order, one per round for every path.
		if len(row.Values) == len(b.Values) && !slices.Contains(b.Values, 0) {
			for k, v := range row.Values {
				row.RoundRatios = append(row.RoundRatios, v/b.Values[k])
			}
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as a text table, one line per row. Its
// us/op and box/op columns are ulvsd's and the machine's CPU time per
// operation in microseconds: per delivered packet in the packet-rate rows,
// per request in the HTTP rows.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "ulvs bench, %s, %s, kernel %s, %d CPUs, %d workers\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Machine, r.Kernel, r.CPUs, r.Workers)
	if r.Host != nil {
		fmt.Fprintf(&b, "host: %s\n", r.Host)
	}
	fmt.Fprintf(&b, "command: %s\n", r.Command)
	fmt.Fprintf(&b, "%d rounds of %s, alternating paths; medians; load average before %s, after %s\n", r.Rounds, r.Duration, r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(&b, "%-15s %-13s %10s %-6s %7s %-7s %7s %6s %10s %-9s %5s %7s %7s %8s %8s\n",
		"test", "path", "median", "unit", "ratio", "vs", "target", "loss", "offered", "limit", "cpu", "us/op", "box/op", "p50", "p99")
	for _, row := range r.Rows {
		ratio, vs, target := "", "", ""
		if row.Baseline != "" {
			ratio, vs = fmt.Sprintf("%.2fx", row.Ratio), row.Baseline
		}
		if row.Target > 0 {
			mark := "no"
			if row.Ratio >= row.Target {
				mark = "ok"
			}
			target = fmt.Sprintf("%.1f %s", row.Target, mark)
		}
		loss, offered, cpu, p50, p99 := "", "", "", "", ""
		// CPU per operation: a packet, or a request (fewer, dearer).
		perOp, boxOp, opFormat := row.CPUPerPacket, row.BoxCPUPerPacket, "%.2f"
		if row.Unit == "pps" {
			loss = fmt.Sprintf("%.1f%%", 100*row.Loss)
			offered = fmt.Sprintf("%.0f", row.Offered)
		} else {
			p50 = fmt.Sprintf("%.0fus", float64(row.P50)/1e3)
			p99 = fmt.Sprintf("%.0fus", float64(row.P99)/1e3)
			perOp, boxOp, opFormat = row.CPUPerRequest, row.BoxCPUPerRequest, "%.1f"
		}
		if row.DirectorCPU > 0 {
			cpu = fmt.Sprintf("%.0f%%", 100*row.DirectorCPU)
		}
		perOpText, boxOpText := "", ""
		if perOp > 0 {
			perOpText = fmt.Sprintf(opFormat, perOp)
		}
		if boxOp > 0 {
			boxOpText = fmt.Sprintf(opFormat, boxOp)
		}
		fmt.Fprintf(&b, "%-15s %-13s %10.0f %-6s %7s %-7s %7s %6s %10s %-9s %5s %7s %7s %8s %8s\n",
			row.Test, row.Path, row.Median, row.Unit, ratio, vs, target, loss, offered, row.Limit, cpu, perOpText, boxOpText, p50, p99)
	}
	r.writeRoundRatios(&b)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRoundRatios lists, for every row compared over more than one
// round, its ratio round by round, their median and range.
func (r *Report) writeRoundRatios(b *strings.Builder) {
	header := false
	for _, row := range r.Rows {
		if len(row.RoundRatios) < 2 {
			continue
		}
		if !header {
			fmt.Fprintf(b, "ratio per round (each round's value over its baseline's in the same round):\n")
			header = true
		}
		var each []string
		for _, x := range row.RoundRatios {
			each = append(each, fmt.Sprintf("%.2f", x))
		}
		fmt.Fprintf(b, "%-15s %-13s %-7s %s  median %.2f, %.2f to %.2f\n", row.Test, row.Path, row.Baseline,
			strings.Join(each, " "), Median(row.RoundRatios), slices.Min(row.RoundRatios), slices.Max(row.RoundRatios))
	}
}

// WriteSVG draws the report as a bar chart: one group per test, one bar
// per path scaled to the test's largest median, labelled with the value
// and the ratio to its baseline.
func (r *Report) WriteSVG(w io.Writer) error {
	const (
		width, left, barH, gap, groupGap = 900, 130, 16, 4, 30
		barMax                           = 560
	)
	top := 60
	if r.Host != nil {
		top += 18 // a line for the host's costs
	}
	var tests []string
	for _, row := range r.Rows {
		if !slices.Contains(tests, row.Test) {
			tests = append(tests, row.Test)
		}
	}
	var body strings.Builder
	y := top
	for _, t := range tests {
		maxv := 0.0
		for _, row := range r.Rows {
			if row.Test == t {
				maxv = max(maxv, row.Median)
			}
		}
		unit := ""
		for _, row := range r.Rows {
			if row.Test == t {
				unit = row.Unit
			}
		}
		fmt.Fprintf(&body, `<text x="10" y="%d" font-weight="bold">%s (%s)</text>`+"\n", y, html.EscapeString(t), html.EscapeString(unit))
		y += 8
		for _, row := range r.Rows {
			if row.Test != t {
				continue
			}
			bw := 0
			if maxv > 0 {
				bw = int(row.Median / maxv * barMax)
			}
			fill := "#8c8c8c"
			switch {
			case strings.HasPrefix(row.Path, "ulvs-"):
				fill = "#2b7bb9"
			case row.Path == "ceiling":
				fill = "#d0d0d0"
			}
			label := fmt.Sprintf("%.0f", row.Median)
			if row.Baseline != "" {
				label += fmt.Sprintf("  %.2fx %s", row.Ratio, row.Baseline)
			}
			if row.Unit == "pps" && row.Path != "ceiling" && row.Loss > 0.01 {
				label += fmt.Sprintf("  loss %.0f%%", 100*row.Loss)
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+barH-4, html.EscapeString(row.Path))
			fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, bw, barH, fill)
			fmt.Fprintf(&body, `<text x="%d" y="%d">%s</text>`+"\n", left+bw+6, y+barH-4, html.EscapeString(label))
			y += barH + gap
		}
		y += groupGap
	}
	height := y + 20
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">ulvs bench %s</text>`+"\n", html.EscapeString(r.Date.UTC().Format("2006-01-02 15:04 MST")))
	fmt.Fprintf(&b, `<text x="10" y="38">%s, %d CPUs, %d rounds of %s, medians; load %s / %s</text>`+"\n",
		html.EscapeString(r.Machine), r.CPUs, r.Rounds, html.EscapeString(r.Duration), html.EscapeString(r.LoadBefore), html.EscapeString(r.LoadAfter))
	if r.Host != nil {
		fmt.Fprintf(&b, `<text x="10" y="56">host: %s</text>`+"\n", html.EscapeString(r.Host.String()))
	}
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
