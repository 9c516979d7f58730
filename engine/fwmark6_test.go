package engine

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/forward"
	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/sched"
	"github.com/ulvs/ulvs/vs"
)

// fwmark6Table builds IPv6 firewall-mark services (ipvsadm -f N -6) and
// the IPv4 service of the same mark 5, as the kernel keys them by (af,
// mark):
//
//   - IPv6 mark 5, persistent 300 s, -M 64, DR over rs1v6 and rs2v6,
//     marked by a rule for TCP [vip6] ports 80 and 443;
//   - IPv4 mark 5, DR over rs1 (10.77.0.11), marked by a rule for TCP
//     vip port 80;
//   - IPv6 mark 6, NAT66 to [natRS6]:80, for TCP [vip6] port 8443;
//   - IPv6 mark 7, ip6ip6 to rs1v6, for TCP [vip6] port 8888 from
//     2001:db8:ffff::/48 only.
func fwmark6Table(t testing.TB) *vs.Table {
	t.Helper()
	st := func(mac [6]byte) *vs.DestState {
		s := &vs.DestState{}
		s.SetMAC(mac)
		return s
	}
	mk := func(id, mark uint32, addr netip.Addr, persist uint32, bits int, dests ...*vs.Dest) *vs.Service {
		svc := &vs.Service{ID: id, Proto: vs.TCP, Addr: addr, FwMark: mark, Timeout: persist, Netmask: bits,
			Stats: &vs.ServiceStats{}, Dests: dests}
		if persist != 0 {
			svc.Flags |= vs.SvcPersistent
		}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		return svc
	}
	any6 := netip.IPv6Unspecified()
	svcs := []*vs.Service{
		mk(1, 5, any6, 300, 64,
			&vs.Dest{ID: 2, Addr: rs2v6, Method: vs.Route, Weight: 1, State: st(rs2MAC)},
			&vs.Dest{ID: 1, Addr: rs1v6, Method: vs.Route, Weight: 1, State: st(rs1MAC)}),
		mk(2, 5, netip.Addr{}, 0, 32,
			&vs.Dest{ID: 3, Addr: netip.MustParseAddr("10.77.0.11"), Method: vs.Route, Weight: 1, State: st(rs1MAC)}),
		mk(3, 6, any6, 0, 128, &vs.Dest{ID: 4, Addr: natRS6, Port: 80, Method: vs.Masq, Weight: 1, State: st(natMAC)}),
		mk(4, 7, any6, 0, 128, &vs.Dest{ID: 5, Addr: rs1v6, Method: vs.Tunnel, Weight: 1, State: st(rs1MAC)}),
	}
	marks := []vs.MarkRule{
		{Mark: 5, Proto: vs.TCP, Addr: netip.PrefixFrom(vip6, 128), Ports: [][2]uint16{{80, 80}, {443, 443}}},
		{Mark: 5, Proto: vs.TCP, Addr: netip.PrefixFrom(vip, 32), Ports: [][2]uint16{{80, 80}}},
		{Mark: 6, Proto: vs.TCP, Addr: netip.PrefixFrom(vip6, 128), Ports: [][2]uint16{{8443, 8443}}},
		{Mark: 7, Proto: vs.TCP, Addr: netip.PrefixFrom(vip6, 128), Src: netip.MustParsePrefix("2001:db8:ffff::/48"), Ports: [][2]uint16{{8888, 8888}}},
	}
	return vs.NewTableMarks(1, svcs, nil, marks)
}

func tcp6From(src netip.Addr, sport, dport uint16, flags uint8) []byte {
	return pkttest.Frame6{SrcMAC: clientMAC, DstMAC: dirMAC, Src: src, Dst: vip6, Proto: pkt.ProtoTCP,
		SrcPort: sport, DstPort: dport, TCPFlags: flags, Payload: []byte("x")}.Build()
}

// dst6Of returns "rs1", "rs2", "nat" or "" (dropped) for one IPv6 frame.
func dst6Of(w *worker, l *memLink, tbl *vs.Table, frame []byte) string {
	out := run(w, l, tbl, 0, frame)
	if len(out) == 0 {
		return ""
	}
	switch pkt.Ether(out[0]).Dst() {
	case rs1MAC:
		return "rs1"
	case rs2MAC:
		return "rs2"
	case natMAC:
		return "nat"
	}
	return "?"
}

// An IPv6 mark service groups ports: both marked ports of one client (and
// of its /64) reach one real server through one template <IPPROTO_IP,
// client/64, 0, mark, 0>, as ip_vs_sched_persist builds it for AF_INET6.
func TestIPv6FwMarkPersistent(t *testing.T) {
	tbl := fwmark6Table(t)
	w, l := newTestWorker()
	first := dst6Of(w, l, tbl, tcp6From(client6, 40000, 80, pkt.TCPSyn))
	if first == "" {
		t.Fatal("SYN to the marked port 80 dropped")
	}
	if got := dst6Of(w, l, tbl, tcp6From(client6, 40001, 443, pkt.TCPSyn)); got != first {
		t.Errorf("port 443 of the same mark went to %q, want %q", got, first)
	}
	sameNet := netip.MustParseAddr("2001:db8:ffff:0:1234::99") // in client6's /64
	if got := dst6Of(w, l, tbl, tcp6From(sameNet, 40000, 443, pkt.TCPSyn)); got != first {
		t.Errorf("a client in the same /64 went to %q, want %q", got, first)
	}
	otherNet := netip.MustParseAddr("2001:db8:fffe::10")
	if got := dst6Of(w, l, tbl, tcp6From(otherNet, 40000, 80, pkt.TCPSyn)); got == first || got == "" {
		t.Errorf("a client of another /64 went to %q; rr gives it the other real server than %q", got, first)
	}
	// Port 81 is in no rule and no service: dropped.
	if got := dst6Of(w, l, tbl, tcp6From(client6, 40002, 81, pkt.TCPSyn)); got != "" {
		t.Errorf("unmarked port 81 went to %s", got)
	}
	if w.c.drops[ReasonNoService].Load() != 1 {
		t.Errorf("no_service %d, want 1", w.c.drops[ReasonNoService].Load())
	}
	// DR keeps the packet (the real server's port is the packet's).
	out := run(w, l, tbl, 0, tcp6From(client6, 40000, 80, pkt.TCPAck))
	if len(out) != 1 {
		t.Fatalf("established segment: %d frames", len(out))
	}
	if p := decoded6(t, out[0]); p.Dst != vip6.As16() || p.DstPort != 80 {
		t.Errorf("DR rewrote the packet to %v port %d", netip.AddrFrom16(p.Dst), p.DstPort)
	}
	list := w.tmpls.List()
	if len(list) != 2 {
		t.Fatalf("%d templates, want 2 (one per /64): %+v", len(list), list)
	}
	want := conntrack.TemplateKey{Proto: 0, Src6: netip.MustParseAddr("2001:db8:ffff::").As16(), Dst6: [16]byte{0, 0, 0, 5}}
	found := false
	for _, tp := range list {
		if tp.Key == want {
			found = true
		}
	}
	if !found {
		t.Errorf("templates %+v, want one with key %+v", list, want)
	}
	if !tbl.AnswersND(vip6.As16()) || !tbl.IsVIP6(vip6.As16()) {
		t.Errorf("the IPv6 mark rule's address is not a VIP")
	}
}

// IPv4 and IPv6 fwmark services may share a mark: each family's packets
// reach their own.
func TestIPv6FwMarkFamilies(t *testing.T) {
	tbl := fwmark6Table(t)
	if s := tbl.Lookup6From(vs.TCP, client6.As16(), vip6.As16(), 80); s == nil || s.ID != 1 {
		t.Errorf("IPv6 packet of mark 5 found %+v, want the IPv6 service", s)
	}
	if s := tbl.LookupFrom(vs.TCP, clientA.As4(), vip.As4(), 80); s == nil || s.ID != 2 {
		t.Errorf("IPv4 packet of mark 5 found %+v, want the IPv4 service", s)
	}
	if s := tbl.LookupFrom(vs.TCP, clientA.As4(), vip.As4(), 443); s != nil {
		t.Errorf("IPv4 port 443 (an IPv6 rule's port) found %+v", s)
	}
	w, l := newTestWorker()
	if got := dstOf(w, l, tbl, 0, syn(clientA, 1000, 80)); got != "rs1" {
		t.Errorf("IPv4 SYN went to %q, want rs1", got)
	}
}

func TestIPv6FwMarkNAT66AndTunnel(t *testing.T) {
	tbl := fwmark6Table(t)
	w, l := newTestWorker()
	w.addrs6[0] = dip6.As16()
	out := run(w, l, tbl, 0, tcp6From(client6, 40000, 8443, pkt.TCPSyn))
	if len(out) != 1 {
		t.Fatalf("NAT66: %d frames", len(out))
	}
	p := decoded6(t, out[0])
	if p.Dst != natRS6.As16() || p.DstPort != 80 || pkt.Ether(out[0]).Dst() != natMAC {
		t.Errorf("NAT66 in: %v port %d", netip.AddrFrom16(p.Dst), p.DstPort)
	}
	reply := pkttest.Frame6{SrcMAC: natMAC, DstMAC: dirMAC, Src: natRS6, Dst: client6, Proto: pkt.ProtoTCP,
		SrcPort: 80, DstPort: 40000, TCPFlags: pkt.TCPSyn | pkt.TCPAck}.Build()
	out = run(w, l, tbl, 0, reply)
	if len(out) != 1 {
		t.Fatalf("NAT66 reply: %d frames", len(out))
	}
	p = decoded6(t, out[0])
	if p.Src != vip6.As16() || p.SrcPort != 8443 || p.Dst != client6.As16() {
		t.Errorf("NAT66 out: %v port %d -> %v", netip.AddrFrom16(p.Src), p.SrcPort, netip.AddrFrom16(p.Dst))
	}
	// Mark 7 names a source prefix: client6 is in it, otherNet not.
	out = run(w, l, tbl, 0, tcp6From(client6, 40001, 8888, pkt.TCPSyn))
	if len(out) != 1 || pkt.IPv6(out[0][pkt.EtherHeaderLen:]).NextHeader() != forward.ProtoIPv6 {
		t.Fatalf("ip6ip6 for mark 7: %d frames", len(out))
	}
	if got := dst6Of(w, l, tbl, tcp6From(netip.MustParseAddr("2001:db8:fffe::10"), 40001, 8888, pkt.TCPSyn)); got != "" {
		t.Errorf("a client outside mark 7's source prefix went to %s", got)
	}
}

// The FTP rule of ip_vs_service_find holds for IPv6: TCP to port 20 or
// an unprivileged port falls to the address's port-21 service, and a
// persistent port-21 service's template has vport 0.
func TestIPv6FTPRule(t *testing.T) {
	mk := func(persist uint32) *vs.Table {
		s1, s2 := &vs.DestState{}, &vs.DestState{}
		s1.SetMAC(rs1MAC)
		s2.SetMAC(rs2MAC)
		svc := &vs.Service{ID: 1, Proto: vs.TCP, Addr: vip6, Port: 21, Timeout: persist, Netmask: 128, Stats: &vs.ServiceStats{},
			Dests: []*vs.Dest{
				{ID: 2, Addr: rs2v6, Port: 21, Method: vs.Route, Weight: 1, State: s2},
				{ID: 1, Addr: rs1v6, Port: 21, Method: vs.Route, Weight: 1, State: s1},
			}}
		if persist != 0 {
			svc.Flags |= vs.SvcPersistent
		}
		sc, err := sched.New("rr", svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		svc.Scheduler = sc
		return vs.NewTable(1, []*vs.Service{svc}, nil)
	}
	tbl := mk(300)
	w, l := newTestWorker()
	ctrl := dst6Of(w, l, tbl, tcp6From(client6, 40000, 21, pkt.TCPSyn))
	if ctrl == "" {
		t.Fatal("control connection dropped")
	}
	for _, port := range []uint16{20, 1024, 30000} {
		if got := dst6Of(w, l, tbl, tcp6From(client6, 40001+port, port, pkt.TCPSyn)); got != ctrl {
			t.Errorf("data connection to port %d went to %q, want %q", port, got, ctrl)
		}
	}
	if got := dst6Of(w, l, tbl, tcp6From(client6, 40002, 80, pkt.TCPSyn)); got != "" {
		t.Errorf("privileged port 80 matched the FTP service: %s", got)
	}
	list := w.tmpls.List()
	if len(list) != 1 || list[0].Key.DstPort != 0 || list[0].Key.Proto != pkt.ProtoTCP || list[0].Key.Dst6 != vip6.As16() {
		t.Errorf("templates %+v, want one <TCP, client, vip6, vport 0>", list)
	}
	// Not persistent: the rule finds the service, which schedules only
	// its own port (ip_vs_schedule).
	tbl = mk(0)
	w, l = newTestWorker()
	if got := dst6Of(w, l, tbl, tcp6From(client6, 40001, 30000, pkt.TCPSyn)); got != "" {
		t.Errorf("non-persistent FTP service scheduled a data port: %s", got)
	}
	if got := dst6Of(w, l, tbl, tcp6From(client6, 40000, 21, pkt.TCPSyn)); got == "" {
		t.Errorf("non-persistent FTP service refused its own port")
	}
}

// IPv6 mark services allocate nothing per packet, nor per new connection
// under an existing template.
func TestIPv6FwMarkAllocs(t *testing.T) {
	tbl := fwmark6Table(t)
	w, l := newTestWorker()
	w.ct = conntrack.New(conntrack.Config{Capacity: 1 << 14, Templates: w.tmpls})
	run(w, l, tbl, 0, tcp6From(client6, 40000, 80, pkt.TCPSyn), tcp6From(client6, 40001, 8443, pkt.TCPSyn))
	for name, frame := range map[string][]byte{
		"mark DR established":    tcp6From(client6, 40000, 80, pkt.TCPAck),
		"mark NAT66 established": tcp6From(client6, 40001, 8443, pkt.TCPAck),
	} {
		if allocs := packetAllocs(t, w, tbl, frame, 0); allocs != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", name, allocs)
		}
	}
	if allocs := newPortAllocs(t, w, tbl, tcp6From(client6, 2, 443, pkt.TCPSyn), pkt.IPv6HeaderLen); allocs != 0 {
		t.Errorf("new connection under an IPv6 mark template allocates %v times", allocs)
	}
}
