package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/lab"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/trace"
	"github.com/ulvs/ulvs/vs"
)

func TestParseTraceArgs(t *testing.T) {
	o, err := parseTraceArgs([]string{"--json", "-c", "5", "-t", "10.77.0.100:80", "and", "not", "port", "22", "--duration=3s"})
	if err != nil {
		t.Fatal(err)
	}
	if !o.json || o.count != 5 || o.duration != 3*time.Second || o.filter != "-t 10.77.0.100:80 and not port 22" || o.snap != 0 {
		t.Errorf("got %+v", o)
	}
	if o, err = parseTraceArgs([]string{"--write", "x.pcapng", "-r", "10.77.1.11:80"}); err != nil || o.snap != trace.MaxSnap || o.filter != "-r 10.77.1.11:80" {
		t.Errorf("--write: got %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-c"}, {"-c", "x"}, {"--snap", "9999"}, {"--write", "f", "--snap", "0"}, {"host"}, {"--duration", "0s"}, {"-f", "1"}} {
		if _, err := parseTraceArgs(bad); err == nil {
			t.Errorf("parseTraceArgs(%q) accepted", bad)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"trace", "(tcp"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "missing )") {
		t.Errorf("bad filter: exit %d, stderr %q", code, errb.String())
	}
}

// TestIntegrationTrace traces one HTTP request through a NAT lab: SYN ->
// new connection -> pick -> rewrite; FIN -> state change; a SYN to a port
// with no service -> drop with its reason; the frames written as pcapng
// and read back; `ulvs trace --json -c 1`; an edit through the control
// socket in the same stream.
func TestIntegrationTrace(t *testing.T) {
	skipUnprivileged(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ld, err := startLabDirector(ctx, lab.ModeNAT, false, "ulvs-trace-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ld.close(os.Stderr, nil); err != nil {
			t.Error(err)
		}
	}()
	evs, err := traceRequest(ctx, ld)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range evs {
		lines = append(lines, evs[i].Line())
	}
	t.Logf("trace:\n%s", strings.Join(lines, "\n"))
	// The known sequence, in order.
	steps := []struct {
		name string
		ok   func(e *trace.Event) bool
	}{
		{"SYN: new connection, rr pick, NAT rewrite", func(e *trace.Event) bool {
			return e.Dir == "in" && e.Flags == "S" && e.Dst.Port() == 80 && e.Conn == "new" && e.Sched == "rr" &&
				e.Dest.IsValid() && e.Method == "nat" && e.State == "NONE>SYN_RECV" && e.Timeout > 0 &&
				hasPrefix(e.Rewrite, "dnat 10.77.0.100:80->"+e.Dest.String()) && e.Verdict == trace.VerdictForward
		}},
		{"SYN-ACK: reply found, SNAT back to the VIP", func(e *trace.Event) bool {
			// (queued when the director has yet to resolve the client's
			// next hop, which it does from the SYN on)
			return e.Dir == "out" && e.Flags == "S." && e.Conn == "hit" && hasPrefix(e.Rewrite, "snat "+e.Dest.String()+"->10.77.0.100:80") &&
				(e.Verdict == trace.VerdictForward || e.Verdict == trace.VerdictQueue)
		}},
		{"a FIN: state change", func(e *trace.Event) bool {
			return strings.Contains(e.Flags, "F") && e.Conn == "hit" && strings.Contains(e.State, ">") && e.Timeout > 0 &&
				e.Verdict == trace.VerdictForward
		}},
	}
	i := 0
	for _, st := range steps {
		for i < len(evs) && !st.ok(&evs[i]) {
			i++
		}
		if i == len(evs) {
			t.Fatalf("no event for %q in order", st.name)
		}
	}
	dropped := false
	for k := range evs {
		e := &evs[k]
		if e.Dst.Port() == 81 && e.Service == "none" && e.Verdict == trace.VerdictDrop && e.Drop == "no_service" {
			dropped = true
		}
	}
	if !dropped {
		t.Error("no drop no_service for the SYN to port 81")
	}

	// pcapng: every frame, as it came and went, with the decision.
	path := filepath.Join(t.TempDir(), "trace.pcapng")
	n, err := writePcapng(path, evs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for k := range evs {
		e := &evs[k]
		for _, want := range []struct {
			frame []byte
			tag   string
		}{{e.InFrame, "in: "}, {e.OutFrame, "out: "}} {
			if len(want.frame) == 0 {
				continue
			}
			data, _, opts, err := r.ReadPacketDataWithOptions()
			if err != nil {
				t.Fatalf("frame %d: %v", read, err)
			}
			read++
			if !bytes.Equal(data, want.frame) {
				t.Errorf("frame %d differs from the traced one", read)
			}
			if len(opts.Comments) != 1 || opts.Comments[0] != want.tag+e.Decision() {
				t.Errorf("frame %d comment %q", read, opts.Comments)
			}
		}
	}
	if read != n || n < 8 {
		t.Errorf("read %d frames of %d written", read, n)
	}
	// The first SYN as sent by the client and as the real server got it.
	// (The trace may start with the client's ARP for the VIP.)
	var ps pkt.Parsed
	var syn *trace.Event
	for k := range evs {
		if e := &evs[k]; e.Dir == "in" && e.Flags == "S" && e.Dst.Port() == 80 && len(e.InFrame) > 0 {
			syn = e
			break
		}
	}
	if syn == nil {
		t.Fatal("no SYN to port 80 with its frame in the trace")
	}
	if ps.Decode(syn.InFrame) != pkt.DecodeOK || ps.TCPFlags != pkt.TCPSyn || ps.Dst != [4]byte{10, 77, 0, 100} {
		t.Errorf("first SYN frame as it came: %+v", ps)
	}
	if ps.Decode(syn.OutFrame) != pkt.DecodeOK || ps.Dst != syn.Dest.Addr().As4() || ps.DstPort != syn.Dest.Port() {
		t.Errorf("first SYN frame as it left: %+v, want to %v", ps, syn.Dest)
	}

	// The command line: one packet as JSON.
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"trace", "--socket", ld.sock, "--json", "-c", "1", "tcp", "and", "dst", "port", "80"}, &out, &errb)
	}()
	c := ld.lab.Client.HTTPClient()
	c.Timeout = 5 * time.Second
	code := -1
	for code < 0 {
		httpGet(ctx, c, "http://"+ld.lab.VIP.String()+"/")
		select {
		case code = <-done:
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("ulvs trace -c 1 did not end")
		}
	}
	var e trace.Event
	if code != 0 || json.Unmarshal(out.Bytes(), &e) != nil || e.Dst.Port() != 80 || e.Kind != trace.KindPacket {
		t.Errorf("ulvs trace --json -c 1: exit %d, %q, stderr %q", code, out.String(), errb.String())
	}

	// An edit through the control socket shows in the stream.
	cl, err := ctl.Dial(ld.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tctx, tcancel := context.WithCancel(ctx)
	defer tcancel()
	got := make(chan trace.Event, 16)
	go cl.Trace(tctx, ctl.TraceRequest{Filter: "-t 10.77.0.100:80"}, func(e *trace.Event) error {
		if e.Kind == trace.KindConfig || e.Kind == trace.KindStats {
			got <- *e
		}
		return nil
	})
	if ev := <-got; ev.Kind != trace.KindStats { // subscribed
		t.Fatalf("first event %+v, want stats", ev)
	}
	adm, err := ctl.Dial(ld.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	cmd := config.Command{Op: config.OpEditDest, HasService: true,
		Service: config.Service{Proto: vs.TCP, Addr: ld.lab.VIP, Port: 80},
		Dest:    config.Dest{Addr: syn.Dest.Addr(), Port: 80, Weight: 3, Method: vs.Masq}}
	if err := adm.Apply(cmd); err != nil {
		t.Fatal(err)
	}
	for ev := range got {
		if ev.Kind == trace.KindConfig {
			if !strings.Contains(ev.Text, "weight 3") || ev.Dest != syn.Dest {
				t.Errorf("config event %+v", ev)
			}
			break
		}
	}
}

func hasPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
