package engine

import (
	"strings"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/trace"
)

// TestTraceIPv6 traces IPv6 frames as TestTraceSequence traces IPv4 ones:
// a DR SYN (service, scheduler, real server, state), a NAT66 exchange
// (the rewrites both ways), a neighbour solicitation answered, a drop;
// and the filter language takes IPv6 hosts, nets and services.
func TestTraceIPv6(t *testing.T) {
	tbl := testTable6(t)
	w, l, tr := traceWorker(trace.MaxSnap)
	run(w, l, tbl, 1000, tcp6(4000, 80, pkt.TCPSyn))
	run(w, l, tbl, 1000, tcp6(4001, 8080, pkt.TCPSyn))
	run(w, l, tbl, 1001, pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP,
		SrcPort: 80, DstPort: 4001, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build())
	run(w, l, tbl, 1002, pkttest.Solicit6(clientMAC, client6, vip6))
	run(w, l, tbl, 1003, tcp6(4002, 81, pkt.TCPSyn))
	evs := tr.read(nil)
	if len(evs) != 5 {
		t.Fatalf("got %d events, want 5", len(evs))
	}
	for _, e := range evs {
		t.Log(e.Line())
	}
	e := evs[0]
	if e.Dir != "in" || e.Src.String() != "[2001:db8:ffff::10]:4000" || e.Dst.String() != "[2001:db8::100]:80" || e.Conn != "new" ||
		e.Service != "TCP [2001:db8::100]:80" || e.Sched != "rr" || e.Method != "dr" || e.State != "NONE>SYN_RECV" ||
		e.Verdict != trace.VerdictForward || !strings.HasPrefix(e.Dest.String(), "[2001:db8::1") {
		t.Errorf("DR SYN event = %+v", e)
	}
	e = evs[1]
	if e.Method != "nat" || e.Dest.String() != "[2001:db8:1::21]:80" || len(e.Rewrite) != 2 ||
		e.Rewrite[1] != "dnat [2001:db8::100]:8080->[2001:db8:1::21]:80" || e.OutDst.String() != "[2001:db8:1::21]:80" {
		t.Errorf("NAT66 SYN event = %+v", e)
	}
	e = evs[2]
	if e.Dir != "out" || e.Conn != "hit" || e.Service != "TCP [2001:db8::100]:8080" || e.State != "SYN_RECV" ||
		len(e.Rewrite) != 2 || e.Rewrite[1] != "snat [2001:db8:1::21]:80->[2001:db8::100]:8080" {
		t.Errorf("NAT66 reply event = %+v", e)
	}
	if e = evs[3]; e.Proto != "icmp6" || e.Verdict != trace.VerdictAnswer {
		t.Errorf("solicitation event = %+v", e)
	}
	if e = evs[4]; e.Service != "none" || e.Verdict != trace.VerdictDrop || e.Drop != "no_service" {
		t.Errorf("no-service event = %+v", e)
	}
	for _, c := range []struct {
		filter string
		want   int
	}{
		{"host 2001:db8:1::21", 2},
		{"net 2001:db8:ffff::/48 and tcp", 4},
		{"-t [2001:db8::100]:8080", 2},
		{"-r [2001:db8:1::21]:80", 2},
		{"icmp6 or dst port 81", 2},
	} {
		f, err := trace.Parse(c.filter)
		if err != nil {
			t.Fatalf("%q: %v", c.filter, err)
		}
		n := 0
		for i := range evs {
			if f.Match(&evs[i]) {
				n++
			}
		}
		if n != c.want {
			t.Errorf("%q matched %d events, want %d", c.filter, n, c.want)
		}
	}
}

// TestTraceIPv6FwMark: a packet of an IPv6 mark service is traced with
// the service as ipvsadm names it, and the persistence template it made.
func TestTraceIPv6FwMark(t *testing.T) {
	tbl := fwmark6Table(t)
	w, l, tr := traceWorker(trace.MaxSnap)
	run(w, l, tbl, 1000, tcp6From(client6, 4000, 443, pkt.TCPSyn))
	run(w, l, tbl, 1000, syn(clientA, 4000, 80))
	evs := tr.read(nil)
	if len(evs) != 2 {
		t.Fatalf("got %d events, want 2", len(evs))
	}
	for _, e := range evs {
		t.Log(e.Line())
	}
	if e := evs[0]; e.Service != "FWM 5 IPv6" || e.Verdict != trace.VerdictForward || e.Method != "dr" {
		t.Errorf("IPv6 mark event = %+v", e)
	}
	if e := evs[1]; e.Service != "FWM 5" || e.Verdict != trace.VerdictForward {
		t.Errorf("IPv4 mark event = %+v", e)
	}
}
