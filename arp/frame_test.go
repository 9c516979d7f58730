package arp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	mdarp "github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

var (
	macClient   = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macDirector = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}
	ipClient    = [4]byte{10, 77, 0, 10}
	ipVIP       = [4]byte{10, 77, 0, 100}
	bcast       = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// arpFields are the fields of a test ARP frame; the zero value of every
// field but the addresses is a valid Ethernet/IPv4 request.
type arpFields struct {
	ethDst, ethSrc [6]byte
	vlans          []uint16 // TPIDs of VLAN tags to insert, outermost first
	etherType      uint16   // 0: ARP
	htype, ptype   uint16   // 0: 1, 0x0800
	hlen, plen     uint8    // 0: 6, 4
	op             uint16
	sha            [6]byte
	spa            [4]byte
	tha            [6]byte
	tpa            [4]byte
	pad            int // bytes of zero padding after the ARP packet
}

// build writes the frame byte by byte, independently of pkt, and returns it
// with the offset of the ARP header.
func (f arpFields) build() (frame []byte, l3off int) {
	def16 := func(v, d uint16) uint16 {
		if v == 0 {
			return d
		}
		return v
	}
	def8 := func(v, d uint8) uint8 {
		if v == 0 {
			return d
		}
		return v
	}
	put16 := func(b []byte, v uint16) []byte { return append(b, byte(v>>8), byte(v)) }

	b := append([]byte{}, f.ethDst[:]...)
	b = append(b, f.ethSrc[:]...)
	for i, tpid := range f.vlans {
		b = put16(b, tpid)
		b = put16(b, uint16(100+i)) // VLAN ID
	}
	b = put16(b, def16(f.etherType, 0x0806))
	l3off = len(b)
	b = put16(b, def16(f.htype, 1))
	b = put16(b, def16(f.ptype, 0x0800))
	b = append(b, def8(f.hlen, 6), def8(f.plen, 4))
	b = put16(b, f.op)
	b = append(b, f.sha[:]...)
	b = append(b, f.spa[:]...)
	b = append(b, f.tha[:]...)
	b = append(b, f.tpa[:]...)
	b = append(b, make([]byte, f.pad)...)
	return b, l3off
}

// request is a who-has for the VIP from the client, as Linux sends it.
func request() arpFields {
	return arpFields{ethDst: bcast, ethSrc: macClient, op: 1, sha: macClient, spa: ipClient, tpa: ipVIP}
}

func TestIsRequestFor(t *testing.T) {
	tests := []struct {
		name   string
		f      func(*arpFields)
		l3off  func(int) int // adjusts the real offset; nil keeps it
		trunc  int           // bytes cut from the end
		ok     bool
		wanted [4]byte
	}{
		{name: "request for VIP", ok: true, wanted: ipVIP},
		{name: "padded to 60 bytes", f: func(f *arpFields) { f.pad = 18 }, ok: true, wanted: ipVIP},
		{name: "unicast request (refresh of a stale entry)", f: func(f *arpFields) { f.ethDst = macDirector; f.tha = macDirector }, ok: true, wanted: ipVIP},
		{name: "probe SPA 0.0.0.0", f: func(f *arpFields) { f.spa = [4]byte{} }, ok: true, wanted: ipVIP},
		{name: "802.1Q tagged", f: func(f *arpFields) { f.vlans = []uint16{0x8100} }, ok: true, wanted: ipVIP},
		{name: "QinQ tagged", f: func(f *arpFields) { f.vlans = []uint16{0x88a8, 0x8100} }, ok: true, wanted: ipVIP},
		{name: "reply", f: func(f *arpFields) { f.op = 2 }},
		{name: "gratuitous request SPA == TPA", f: func(f *arpFields) { f.spa = ipVIP }},
		{name: "gratuitous request for another host", f: func(f *arpFields) { f.spa, f.tpa = ipClient, ipClient }},
		{name: "probe for 0.0.0.0", f: func(f *arpFields) { f.spa, f.tpa = [4]byte{}, [4]byte{} }},
		{name: "RARP request op 3", f: func(f *arpFields) { f.op = 3 }},
		{name: "op 0x0100 (byte order)", f: func(f *arpFields) { f.op = 0x0100 }},
		{name: "htype IEEE 802", f: func(f *arpFields) { f.htype = 6 }},
		{name: "ptype IPv6", f: func(f *arpFields) { f.ptype = 0x86dd }},
		{name: "hlen 8", f: func(f *arpFields) { f.hlen = 8 }},
		{name: "plen 16", f: func(f *arpFields) { f.plen = 16 }},
		{name: "EtherType IPv4", f: func(f *arpFields) { f.etherType = 0x0800 }},
		{name: "multicast Ethernet source", f: func(f *arpFields) { f.ethSrc = [6]byte{0x01, 0, 0x5e, 0, 0, 1} }},
		{name: "broadcast Ethernet source", f: func(f *arpFields) { f.ethSrc = bcast }},
		{name: "truncated by one byte", trunc: 1},
		{name: "truncated to the Ethernet header", trunc: 28},
		{name: "l3off past the tag", f: func(f *arpFields) { f.vlans = []uint16{0x8100} }, l3off: func(o int) int { return o + 4 }},
		{name: "l3off 0", l3off: func(int) int { return 0 }},
		{name: "l3off 13", l3off: func(int) int { return 13 }},
		{name: "l3off negative", l3off: func(int) int { return -2 }},
		{name: "l3off huge", l3off: func(int) int { return int(^uint(0) >> 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := request()
			if tt.f != nil {
				tt.f(&f)
			}
			frame, l3off := f.build()
			frame = frame[:len(frame)-tt.trunc]
			if tt.l3off != nil {
				l3off = tt.l3off(l3off)
			}
			before := bytes.Clone(frame)
			tpa, ok := IsRequestFor(frame, l3off)
			if ok != tt.ok || tpa != tt.wanted {
				t.Errorf("IsRequestFor = %v, %v; want %v, %v", netip.AddrFrom4(tpa), ok, netip.AddrFrom4(tt.wanted), tt.ok)
			}
			if !bytes.Equal(frame, before) {
				t.Errorf("IsRequestFor modified the frame")
			}
		})
	}
}

func TestIsRequestForShortFrames(t *testing.T) {
	frame, _ := request().build()
	for n := 0; n <= len(frame); n++ {
		for off := -1; off <= n+1; off++ {
			_, ok := IsRequestFor(frame[:n], off)
			if want := n == len(frame) && off == 14; ok != want {
				t.Errorf("IsRequestFor(frame[:%d], %d) ok = %v, want %v", n, off, ok, want)
			}
		}
	}
}

func TestMakeReply(t *testing.T) {
	tests := []struct {
		name string
		req  arpFields
		want arpFields
	}{
		{
			name: "broadcast request",
			req:  request(),
			want: arpFields{ethDst: macClient, ethSrc: macDirector, op: 2,
				sha: macDirector, spa: ipVIP, tha: macClient, tpa: ipClient},
		},
		{
			name: "unicast request with THA set, padded",
			req: arpFields{ethDst: macDirector, ethSrc: macClient, op: 1, sha: macClient, spa: ipClient,
				tha: macDirector, tpa: ipVIP, pad: 18},
			want: arpFields{ethDst: macClient, ethSrc: macDirector, op: 2,
				sha: macDirector, spa: ipVIP, tha: macClient, tpa: ipClient, pad: 18},
		},
		{
			name: "probe: reply to 0.0.0.0 at the prober's MAC",
			req:  arpFields{ethDst: bcast, ethSrc: macClient, op: 1, sha: macClient, tpa: ipVIP},
			want: arpFields{ethDst: macClient, ethSrc: macDirector, op: 2,
				sha: macDirector, spa: ipVIP, tha: macClient},
		},
		{
			name: "VLAN tags kept",
			req: arpFields{ethDst: bcast, ethSrc: macClient, vlans: []uint16{0x88a8, 0x8100}, op: 1,
				sha: macClient, spa: ipClient, tpa: ipVIP},
			want: arpFields{ethDst: macClient, ethSrc: macDirector, vlans: []uint16{0x88a8, 0x8100}, op: 2,
				sha: macDirector, spa: ipVIP, tha: macClient, tpa: ipClient},
		},
		{
			name: "Ethernet source differs from SHA (bridged or proxied request)",
			req: arpFields{ethDst: bcast, ethSrc: [6]byte{2, 0, 0, 0, 0, 0x77}, op: 1,
				sha: macClient, spa: ipClient, tpa: ipVIP},
			want: arpFields{ethDst: [6]byte{2, 0, 0, 0, 0, 0x77}, ethSrc: macDirector, op: 2,
				sha: macDirector, spa: ipVIP, tha: macClient, tpa: ipClient},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, l3off := tt.req.build()
			if _, ok := IsRequestFor(frame, l3off); !ok {
				t.Fatalf("IsRequestFor rejected the test request")
			}
			MakeReply(frame, l3off, macDirector)
			want, _ := tt.want.build()
			if !bytes.Equal(frame, want) {
				t.Errorf("MakeReply:\n got  % x\n want % x", frame, want)
			}
			if _, ok := IsRequestFor(frame, l3off); ok {
				t.Errorf("IsRequestFor accepts the reply")
			}
		})
	}
}

// TestMakeReplyDecodes checks the reply with an independent decoder.
func TestMakeReplyDecodes(t *testing.T) {
	frame, l3off := request().build()
	MakeReply(frame, l3off, macDirector)
	var eth ethernet.Frame
	if err := eth.UnmarshalBinary(frame); err != nil {
		t.Fatalf("ethernet: %v", err)
	}
	var p mdarp.Packet
	if err := p.UnmarshalBinary(eth.Payload); err != nil {
		t.Fatalf("arp: %v", err)
	}
	check := func(field string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
	check("Ethernet destination", eth.Destination.String(), net.HardwareAddr(macClient[:]).String())
	check("Ethernet source", eth.Source.String(), net.HardwareAddr(macDirector[:]).String())
	check("EtherType", eth.EtherType, ethernet.EtherTypeARP)
	check("HardwareType", p.HardwareType, uint16(1))
	check("ProtocolType", p.ProtocolType, uint16(0x0800))
	check("Operation", p.Operation, mdarp.OperationReply)
	check("SenderHardwareAddr", p.SenderHardwareAddr.String(), net.HardwareAddr(macDirector[:]).String())
	check("SenderIP", p.SenderIP, netip.AddrFrom4(ipVIP))
	check("TargetHardwareAddr", p.TargetHardwareAddr.String(), net.HardwareAddr(macClient[:]).String())
	check("TargetIP", p.TargetIP, netip.AddrFrom4(ipClient))
}

func TestMakeReplyPanicsOnMisuse(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		l3off int
	}{{"short", 41, 14}, {"l3off in Ethernet header", 42, 10}, {"negative", 42, -1}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("MakeReply(len %d, %d) did not panic", tc.n, tc.l3off)
				}
			}()
			MakeReply(make([]byte, tc.n), tc.l3off, macDirector)
		})
	}
}

func TestGratuitous(t *testing.T) {
	want := []byte{
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet destination: broadcast
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // Ethernet source: mac
		0x08, 0x06, // EtherType ARP
		0x00, 0x01, // HTYPE Ethernet
		0x08, 0x00, // PTYPE IPv4
		0x06, 0x04, // HLEN, PLEN
		0x00, 0x01, // OPER request
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // SHA
		10, 77, 0, 100, // SPA
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // THA
		10, 77, 0, 100, // TPA
	}
	got := Gratuitous(nil, macDirector, ipVIP)
	if !bytes.Equal(got, want) {
		t.Errorf("Gratuitous:\n got  % x\n want % x", got, want)
	}
	if len(got) != GratuitousLen {
		t.Errorf("len = %d, want GratuitousLen %d", len(got), GratuitousLen)
	}

	// Appending keeps what is there, and spare capacity holding garbage
	// does not leak into THA.
	buf := bytes.Repeat([]byte{0xee}, 100)[:3]
	got = Gratuitous(buf, macDirector, ipVIP)
	if !bytes.Equal(got[:3], []byte{0xee, 0xee, 0xee}) || !bytes.Equal(got[3:], want) {
		t.Errorf("Gratuitous after 3 bytes:\n got  % x\n want ee ee ee % x", got, want)
	}

	// A gratuitous request must not be answered by another director.
	if _, ok := IsRequestFor(got[3:], 14); ok {
		t.Errorf("IsRequestFor accepts our own gratuitous ARP")
	}

	var p mdarp.Packet
	if err := p.UnmarshalBinary(want[14:]); err != nil {
		t.Fatalf("mdlayher/arp cannot decode the frame: %v", err)
	}
	if p.Operation != mdarp.OperationRequest || p.SenderIP != netip.AddrFrom4(ipVIP) || p.TargetIP != p.SenderIP {
		t.Errorf("decoded %+v, want a request with SenderIP == TargetIP == %v", p, netip.AddrFrom4(ipVIP))
	}
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	frame, l3off := request().build()
	orig := bytes.Clone(frame)
	buf := make([]byte, 0, GratuitousLen)
	tests := []struct {
		name string
		fn   func()
	}{
		{"IsRequestFor", func() { sinkAddr, sinkOK = IsRequestFor(frame, l3off) }},
		{"MakeReply", func() { copy(frame, orig); MakeReply(frame, l3off, macDirector) }},
		{"Gratuitous", func() { sinkBuf = Gratuitous(buf[:0], macDirector, ipVIP) }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.fn); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, n)
		}
	}
}

var (
	sinkAddr [4]byte
	sinkOK   bool
	sinkBuf  []byte
)

func BenchmarkIsRequestFor(b *testing.B) {
	frame, l3off := request().build()
	b.ReportAllocs()
	for b.Loop() {
		sinkAddr, sinkOK = IsRequestFor(frame, l3off)
	}
}

func BenchmarkMakeReply(b *testing.B) {
	frame, l3off := request().build()
	b.ReportAllocs()
	for b.Loop() {
		// Replying to the reply keeps the frame a valid ARP packet; the
		// work is the same as for a request.
		MakeReply(frame, l3off, macDirector)
	}
	sinkBuf = frame
}

func BenchmarkGratuitous(b *testing.B) {
	buf := make([]byte, 0, GratuitousLen)
	b.ReportAllocs()
	for b.Loop() {
		sinkBuf = Gratuitous(buf[:0], macDirector, ipVIP)
	}
}
