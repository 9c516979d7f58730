package sched

import (
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// kernelIPv6Vectors were computed by a C rendering of the kernel's
// ip_vs_sh_hashkey and ip_vs_dh_hashkey for AF_INET6 (ip_vs_sh.c,
// ip_vs_dh.c: addr_fold = ip6[0]^ip6[1]^ip6[2]^ip6[3], then hash_32 of
// ntohs(port) + ntohl(addr_fold), or of ntohl(addr_fold) alone, to 8 bits
// with GOLDEN_RATIO_32), run on this machine with inet_pton and ntohl, not
// with ulvs's code: the sh bucket with the sh-port flag, and the dh bucket.
var kernelIPv6Vectors = []struct {
	addr   string
	port   uint16
	fold   uint32
	sh, dh int
}{
	{"2001:db8::1", 0, 0x20010db9, 63, 63},
	{"2001:db8::1", 80, 0x20010db9, 205, 63},
	{"2001:db8::1", 40000, 0x20010db9, 226, 63},
	{"2001:db8:ffff::10", 0, 0xdffe0da8, 109, 109},
	{"2001:db8:ffff::10", 80, 0xdffe0da8, 252, 109},
	{"2001:db8:ffff::10", 40000, 0xdffe0da8, 17, 109},
	{"fe80::1", 0, 0xfe800001, 247, 247},
	{"fe80::1", 80, 0xfe800001, 133, 247},
	{"fe80::1", 40000, 0xfe800001, 155, 247},
	{"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 0, 0xa8899421, 252, 252},
	{"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 80, 0xa8899421, 139, 252},
	{"2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 40000, 0xa8899421, 160, 252},
	{"::1", 0, 0x00000001, 97, 97},
	{"::1", 80, 0x00000001, 240, 97},
	{"::1", 40000, 0x00000001, 5, 97},
	{"2a00:1450:4001:82b::200e", 0, 0x6a013c75, 156, 156},
	{"2a00:1450:4001:82b::200e", 80, 0x6a013c75, 43, 156},
	{"2a00:1450:4001:82b::200e", 40000, 0x6a013c75, 64, 156},
}

// TestIPv6HashesAsKernel schedules IPv6 flows with sh (sh-port) and dh
// over 256 dests of weight 1, so bucket i holds dest i, and checks each
// lands on the bucket the kernel's functions give.
func TestIPv6HashesAsKernel(t *testing.T) {
	var dests []*vs.Dest
	for i := range 256 {
		dests = append(dests, &vs.Dest{ID: uint32(i + 1), Addr: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)}),
			Port: 80, Method: vs.Masq, Weight: 1, State: &vs.DestState{}})
	}
	vip := netip.MustParseAddr("2001:db8::100")
	shSvc := &vs.Service{Proto: vs.TCP, Addr: vip, Port: 80, Flags: vs.SvcSchedFlag2, Dests: dests}
	dhSvc := &vs.Service{Proto: vs.TCP, Addr: vip, Port: 80, Dests: dests}
	shS, err := New("sh", shSvc, nil)
	if err != nil {
		t.Fatal(err)
	}
	dhS, err := New("dh", dhSvc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range kernelIPv6Vectors {
		a := netip.MustParseAddr(v.addr)
		if got := addrFold(a); got != v.fold {
			t.Errorf("%s: fold %#08x, kernel %#08x", v.addr, got, v.fold)
		}
		d := shS.Schedule(shSvc, vs.Flow{Proto: vs.TCP, Src: a, Dst: vip, SrcPort: v.port, DstPort: 80})
		if d == nil || d != dests[v.sh] {
			t.Errorf("sh %s port %d: dest %v, kernel bucket %d", v.addr, v.port, d, v.sh)
		}
		d = dhS.Schedule(dhSvc, vs.Flow{Proto: vs.TCP, Src: vip, Dst: a, SrcPort: v.port, DstPort: 80})
		if d == nil || d != dests[v.dh] {
			t.Errorf("dh %s: dest %v, kernel bucket %d", v.addr, d, v.dh)
		}
	}
}

// TestIPv6LBLCAndMH checks that lblc, lblcr and mh take IPv6 flows: the
// same destination (lblc, lblcr) or source (mh) keeps its real server.
func TestIPv6LBLCAndMH(t *testing.T) {
	mk := func(n int) []*vs.Dest {
		var ds []*vs.Dest
		for i := range n {
			ds = append(ds, &vs.Dest{ID: uint32(i + 1), Addr: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)}),
				Port: 80, Method: vs.Masq, Weight: 1, State: &vs.DestState{}})
		}
		return ds
	}
	vip := netip.MustParseAddr("2001:db8::100")
	for _, name := range []string{"lblc", "lblcr", "mh"} {
		svc := &vs.Service{Proto: vs.TCP, Addr: vip, Port: 80, Dests: mk(4)}
		s, err := New(name, svc, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 15: byte(i)})
			f := vs.Flow{Proto: vs.TCP, Src: a, Dst: a, SrcPort: uint16(1000 + i), DstPort: 80}
			d1 := s.Schedule(svc, f)
			f.SrcPort++
			d2 := s.Schedule(svc, f)
			if d1 == nil || d1 != d2 {
				t.Errorf("%s: %v then %v for the same address", name, d1, d2)
			}
		}
	}
}
