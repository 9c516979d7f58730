package vrrp

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	ll1    = netip.MustParseAddr("fe80::1")
	ll2    = netip.MustParseAddr("fe80::2")
	vip6a  = netip.MustParseAddr("2001:db8:78::100")
	vip6b  = netip.MustParseAddr("2001:db8:78::101")
	group6 = netip.MustParseAddr("ff02::12")
)

// sum16 is the RFC 1071 checksum over the concatenation of parts, written
// out here on its own (not pkt's) for the vectors.
func sum16(parts ...[]byte) uint16 {
	var all []byte
	for _, p := range parts {
		all = append(all, p...)
	}
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint32
	for i := 0; i < len(all); i += 2 {
		s += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// TestAdvert6Layout: a VRRPv3 advert over IPv6 is the 8-byte header and
// 16-byte addresses (RFC 5798 5.1.2), its checksum over the IPv6
// pseudo-header (RFC 8200 8.1: source, destination, 32-bit upper-layer
// length, three zero bytes, next header 112) and the message.
func TestAdvert6Layout(t *testing.T) {
	a := Advert{Version: V3, Type: TypeAdvertisement, VRID: 61, Priority: 150, Interval: 50, Addrs: []netip.Addr{vip6a, vip6b}}
	msg, err := a.Append(nil, ll1, group6)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x31, 61, 150, 2, 0x00, 50, 0, 0}
	want = append(want, vip6a.AsSlice()...)
	want = append(want, vip6b.AsSlice()...)
	pseudo := append(append(ll1.AsSlice(), group6.AsSlice()...), 0, 0, 0, byte(len(want)), 0, 0, 0, Protocol)
	binary.BigEndian.PutUint16(want[6:], sum16(pseudo, want))
	if !bytes.Equal(msg, want) {
		t.Fatalf("advert\n% x\nwant\n% x", msg, want)
	}
	if a.Len() != 40 || !VerifyChecksum(msg, V3, ll1, group6) || VerifyChecksum(msg, V3, ll2, group6) {
		t.Errorf("Len %d, checksum checks wrong", a.Len())
	}
	got, err := Parse6(msg)
	if err != nil {
		t.Fatal(err)
	}
	got.Checksum = 0
	if diff := cmp.Diff(a, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
		t.Errorf("Parse6 (-want +got):\n%s", diff)
	}
	// The same bytes read as IPv4 do not fit the count.
	if _, err := Parse(msg); ReasonOf(err) != ReasonLength {
		t.Errorf("Parse of an IPv6 advert: %v", err)
	}
	for _, bad := range []struct {
		name string
		a    Advert
		src  netip.Addr
		dst  netip.Addr
	}{
		{"v2 over IPv6", Advert{Version: V2, Type: 1, VRID: 1, Priority: 1, Interval: 1}, ll1, group6},
		{"IPv4 address in an IPv6 advert", Advert{Version: V3, Type: 1, VRID: 1, Priority: 1, Interval: 1, Addrs: []netip.Addr{vip1}}, ll1, group6},
		{"IPv6 address in an IPv4 advert", Advert{Version: V3, Type: 1, VRID: 1, Priority: 1, Interval: 1, Addrs: []netip.Addr{vip6a}}, srcA, MulticastGroup()},
		{"mixed source and destination", Advert{Version: V3, Type: 1, VRID: 1, Priority: 1, Interval: 1}, ll1, MulticastGroup()},
	} {
		if _, err := bad.a.Append(nil, bad.src, bad.dst); err == nil {
			t.Errorf("%s: encoded", bad.name)
		}
	}
	v2 := append([]byte{0x21}, msg[1:]...)
	if _, err := Parse6(v2); ReasonOf(err) != ReasonVersion {
		t.Errorf("Parse6 of version 2: %v", err)
	}
}

// TestParseIPv6: the transport's rebuilt header round-trips; short or
// foreign packets are refused with ReasonIPHeader.
func TestParseIPv6(t *testing.T) {
	msg := []byte{0x31, 1, 100, 0, 0, 100, 0, 0}
	p, err := ParseIPv6(AppendIPv6(nil, ll1, group6, 255, msg))
	if err != nil || p.Src != ll1 || p.Dst != group6 || p.TTL != 255 || !bytes.Equal(p.Payload, msg) {
		t.Fatalf("ParseIPv6: %+v %v", p, err)
	}
	other := AppendIPv6(nil, ll1, group6, 255, msg)
	other[6] = 58
	for name, b := range map[string][]byte{
		"short":       make([]byte, 39),
		"IPv4":        AppendIPv4(nil, srcA, MulticastGroup(), 255, append(msg, make([]byte, 20)...)),
		"next header": other,
		"truncated":   AppendIPv6(nil, ll1, group6, 255, msg)[:45],
	} {
		if _, err := ParseIPv6(b); ReasonOf(err) != ReasonIPHeader {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func inst6(prio uint8, mod ...func(*Instance)) Instance {
	in := Instance{Name: "VI_6", Interface: "eth0", VRID: 61, Priority: prio, Version: V3, IPv6: true,
		AdvertInt: time.Second, VIPs: []VIP{{Prefix: netip.PrefixFrom(vip6a, 64)}}}
	for _, m := range mod {
		m(&in)
	}
	return in
}

// TestValidate6: an IPv6 instance is VRRPv3 and of one family: its
// advertised addresses, unicast_src_ip and unicast_peer are IPv6
// (link-local or global unicast).
func TestValidate6(t *testing.T) {
	if _, err := inst6(100).Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Instance){
		"IPv4 excluded address": func(in *Instance) { in.ExcludedVIPs = []VIP{{Prefix: netip.PrefixFrom(vip1, 32)}} },
		"link-local peers":      func(in *Instance) { in.UnicastPeers = []netip.Addr{ll2, netip.MustParseAddr("fe80::3")} },
		"global source and peer": func(in *Instance) {
			in.UnicastSrc, in.UnicastPeers, in.CheckUnicastSrc = uni6a, []netip.Addr{uni6b}, true
		},
	} {
		if _, err := inst6(100, mod).Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tt := range map[string]struct {
		mod  func(*Instance)
		want string
	}{
		"version 2":                {func(in *Instance) { in.Version = V2 }, "needs vrrp_version 3"},
		"IPv4 VIP":                 {func(in *Instance) { in.VIPs = append(in.VIPs, VIP{Prefix: netip.PrefixFrom(vip1, 32)}) }, "one family per instance"},
		"IPv6 in an IPv4 instance": {func(in *Instance) { in.IPv6 = false }, "the instance is IPv4"},
		"IPv4 peer":                {func(in *Instance) { in.UnicastPeers = []netip.Addr{srcB} }, "unicast_peer 10.77.0.3 is not a unicast IPv6 address"},
		"multicast peer":           {func(in *Instance) { in.UnicastPeers = []netip.Addr{group6} }, "unicast_peer ff02::12 is not"},
		"unspecified peer":         {func(in *Instance) { in.UnicastPeers = []netip.Addr{netip.IPv6Unspecified()} }, "unicast_peer :: is not"},
		"peer with a zone":         {func(in *Instance) { in.UnicastPeers = []netip.Addr{ll2.WithZone("eth0")} }, "is not a unicast IPv6"},
		"IPv4 source":              {func(in *Instance) { in.UnicastSrc, in.UnicastPeers = srcA, []netip.Addr{ll2} }, "unicast_src_ip 10.77.0.2 is not a unicast IPv6"},
		"IPv6 peer, IPv4 instance": {func(in *Instance) { in.IPv6, in.VIPs, in.Version, in.UnicastPeers = false, nil, V2, []netip.Addr{ll2} }, "not a unicast IPv4 address"},
	} {
		_, err := inst6(100, tt.mod).Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", name, err, tt.want)
		}
	}
}

var (
	uni6a = netip.MustParseAddr("2001:db8:78::1")
	uni6b = netip.MustParseAddr("2001:db8:78::2")
)

// TestUnicast6: two IPv6 routers with unicast_peer (keepalived's IPv6
// unicast): the adverts go to the peer only, from unicast_src_ip (or the
// transport's link-local address), their checksum over the pseudo-header
// with the peer as destination (the receiver checks it), any hop limit
// accepted; check_unicast_src refuses a third router, and a multicast
// advert is refused in unicast mode.
func TestUnicast6(t *testing.T) {
	for _, tc := range []struct {
		name   string
		a, b   netip.Addr // the routers' sources
		setSrc bool       // unicast_src_ip set to them
	}{{"global unicast_src_ip", uni6a, uni6b, true}, {"link-local default source", ll1, ll2, false}} {
		t.Run(tc.name, func(t *testing.T) {
			uni := func(self, peer netip.Addr) func(*Instance) {
				return func(in *Instance) {
					in.UnicastPeers, in.CheckUnicastSrc = []netip.Addr{peer}, true
					if tc.setSrc {
						in.UnicastSrc = self
					}
				}
			}
			l := newLAN(t)
			l.ttl = 64 // unicast adverts may cross routers: no hop-limit rule
			a := l.add(inst6(150, uni(tc.a, tc.b)), tc.a)
			b := l.add(inst6(100, uni(tc.b, tc.a)), tc.b)
			a.start()
			b.start()
			l.runFor(5 * time.Second)
			if a.state() != StateMaster || b.state() != StateBackup {
				t.Fatalf("states %v %v\n%s\n%s", a.state(), b.state(), a.log.String(), b.log.String())
			}
			st := b.r.Status()
			if st.MasterAddr != tc.a || st.Counters.AdvertsReceived == 0 || st.Counters.Errors != ([NumReasons]uint64{}) {
				t.Errorf("backup sees %v after %d adverts, errors %v\n%s", st.MasterAddr, st.Counters.AdvertsReceived, st.Counters.Errors, b.log.String())
			}
			for _, d := range a.sentDst {
				if d != tc.b {
					t.Fatalf("A sent to %v, want its peer %v only", d, tc.b)
				}
			}
			// A third router, not a peer of B, sending to B: refused.
			c := l.add(inst6(200, uni(netip.MustParseAddr("2001:db8:78::9"), tc.b)), netip.MustParseAddr("2001:db8:78::9"))
			c.start()
			l.runFor(5 * time.Second) // C's down interval (3.2 s) passes: it advertises
			if n := b.r.Status().Counters.Errors[ReasonUnknownPeer]; n == 0 || b.state() != StateBackup || b.r.Status().MasterAddr != tc.a {
				t.Errorf("advert from a non-peer: %d refused, B %v following %v", n, b.state(), b.r.Status().MasterAddr)
			}
			// A multicast advert reaching a unicast instance: refused.
			msg, err := (&Advert{Version: V3, Type: TypeAdvertisement, VRID: 61, Priority: 250, Interval: 100, Addrs: []netip.Addr{vip6a}}).Append(nil, tc.a, group6)
			if err != nil {
				t.Fatal(err)
			}
			b.r.do(func(now t0type) { b.r.receive(now, AppendIPv6(nil, tc.a, group6, 255, msg), -1) })
			if n := b.r.Status().Counters.Errors[ReasonCastMismatch]; n != 1 {
				t.Errorf("multicast advert in unicast mode: refused %d times\n%s", n, b.log.String())
			}
			// The master stops: the backup takes over on its priority-0
			// unicast advert.
			a.stop()
			l.runFor(2 * time.Second)
			if b.state() != StateMaster {
				t.Errorf("B %v after A stopped\n%s", b.state(), b.log.String())
			}
		})
	}
}

// TestElection6: two IPv6 routers on a simulated link elect the higher
// priority, advertise to ff02::12 from their link-local addresses, and the
// backup takes over when the master stops (its priority-0 advert).
func TestElection6(t *testing.T) {
	l := newLAN(t)
	a := l.add(inst6(150), ll1)
	b := l.add(inst6(100), ll2)
	a.start()
	b.start()
	l.runFor(5 * time.Second)
	if a.state() != StateMaster || b.state() != StateBackup {
		t.Fatalf("states %v %v", a.state(), b.state())
	}
	if st := b.r.Status(); st.MasterAddr != ll1 || st.MasterPriority != 150 || st.Counters.Errors != ([NumReasons]uint64{}) {
		t.Errorf("backup sees %v prio %d, errors %v\n%s", st.MasterAddr, st.MasterPriority, st.Counters.Errors, b.log.String())
	}
	if len(a.sentDst) == 0 || a.sentDst[0] != group6 || len(a.sent[0].Addrs) != 1 || a.sent[0].Addrs[0] != vip6a {
		t.Errorf("adverts to %v carrying %v", a.sentDst, a.sent)
	}
	a.stop()
	l.runFor(2 * time.Second)
	if b.state() != StateMaster {
		t.Fatalf("backup %v after the master stopped", b.state())
	}
	if len(b.garps) == 0 || b.garps[0].VIPs[0].Addr() != vip6a {
		t.Errorf("announcements on takeover: %+v", b.garps)
	}
}

// TestReceiveRules6: an IPv6 instance applies the receive rules to IPv6
// packets: hop limit 255, the IPv6 checksum, v3 only; an IPv4 packet is
// not a well-formed packet for it.
func TestReceiveRules6(t *testing.T) {
	var log bytes.Buffer
	now := t0
	r, err := New(Config{Instance: inst6(100), Transport: fakeTransport{&node{lan: &lan{}, src: ll2}},
		Clock: fakeClock{&now}, Log: slog.New(slog.NewTextHandler(&log, nil)), RunNotify: func([]string) {}})
	if err != nil {
		t.Fatal(err)
	}
	r.do(r.start)
	good := Advert{Version: V3, Type: 1, VRID: 61, Priority: 200, Interval: 100, Addrs: []netip.Addr{vip6a}}
	build := func(a Advert, hops uint8, corrupt bool) []byte {
		msg, err := a.Append(nil, ll1, group6)
		if err != nil {
			t.Fatal(err)
		}
		if corrupt {
			msg[7] ^= 1
		}
		return AppendIPv6(nil, ll1, group6, hops, msg)
	}
	ipv4 := func() []byte {
		a := Advert{Version: V3, Type: 1, VRID: 61, Priority: 200, Interval: 100, Addrs: []netip.Addr{vip1}}
		msg, _ := a.Append(nil, srcA, MulticastGroup())
		return AppendIPv4(nil, srcA, MulticastGroup(), 255, msg)
	}
	for _, tt := range []struct {
		name   string
		pkt    []byte
		reason Reason
	}{
		{"hop limit 254", build(good, 254, false), ReasonTTL},
		{"bad checksum", build(good, 255, true), ReasonChecksum},
		{"IPv4 packet", ipv4(), ReasonIPHeader},
	} {
		r.do(func(now t0type) { r.receive(now, tt.pkt, -1) })
		if n := r.Status().Counters.Errors[tt.reason]; n != 1 {
			t.Errorf("%s: %v counted %d times\n%s", tt.name, tt.reason, n, log.String())
		}
	}
	r.do(func(now t0type) { r.receive(now, build(good, 255, false), -1) })
	if st := r.Status(); st.Counters.AdvertsReceived != 1 || st.MasterAddr != ll1 {
		t.Errorf("good advert: received %d, master %v\n%s", st.Counters.AdvertsReceived, st.MasterAddr, log.String())
	}
	if !strings.Contains(log.String(), "invalid TTL/HL from fe80::1. Received 254 and expect 255") {
		t.Errorf("log:\n%s", log.String())
	}
}

// FuzzParse6: ParseIPv6 and Parse6 never panic; what decodes re-encodes
// to a message with a valid checksum that decodes to the same advert; an
// IPv6 router fed the packet stays in a valid state.
func FuzzParse6(f *testing.F) {
	a := Advert{Version: V3, Type: 1, VRID: 61, Priority: 150, Interval: 50, Addrs: []netip.Addr{vip6a, vip6b}}
	msg, _ := a.Append(nil, ll1, group6)
	f.Add(AppendIPv6(nil, ll1, group6, 255, msg), 255)
	a.Priority, a.Addrs = 0, nil
	msg, _ = a.Append(nil, ll1, group6)
	f.Add(AppendIPv6(nil, ll1, group6, 255, msg), -1)
	f.Fuzz(func(t *testing.T, b []byte, hops int) {
		now := t0
		r, err := New(Config{Instance: inst6(100), Transport: fakeTransport{&node{lan: &lan{}, src: ll2}},
			Clock: fakeClock{&now}, RunNotify: func([]string) {}})
		if err != nil {
			t.Fatal(err)
		}
		r.do(r.start)
		r.do(func(now t0type) { r.receive(now, b, hops) })
		r.do(r.expire)
		if st := r.Status().State; st != StateBackup && st != StateMaster {
			t.Fatalf("state %v", st)
		}
		ip, err := ParseIPv6(b)
		if err != nil {
			return
		}
		a, err := Parse6(ip.Payload)
		if err != nil {
			if ReasonOf(err) == ReasonNone {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		out, err := a.Append(nil, ip.Src, ip.Dst)
		if err != nil {
			if ip.Src.Is4In6() || ip.Dst.Is4In6() {
				return // not an IPv6 source or destination
			}
			t.Fatalf("re-encode %+v: %v", a, err)
		}
		if !VerifyChecksum(out, V3, ip.Src, ip.Dst) {
			t.Fatal("re-encoded checksum invalid")
		}
		again, err := Parse6(out)
		if err != nil {
			t.Fatal(err)
		}
		a.Checksum, again.Checksum = 0, 0
		if diff := cmp.Diff(a, again, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
