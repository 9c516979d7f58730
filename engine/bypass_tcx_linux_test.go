//go:build linux

package engine

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/tcx"
	"github.com/ulvs/ulvs/vs"
)

// testRunTCX runs the loaded program prog on frame and returns its
// verdict.
func testRunTCX(t *testing.T, prog int, frame []byte) int32 {
	t.Helper()
	v, _, err := tcx.TestRun(prog, frame)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// bypassFrame is an Ethernet frame with an IPv4 header (ihl 5 plus opts
// words of options) to dst, protocol proto, fragment field frag, and
// dport in the transport header's destination port.
func bypassFrame(dst [4]byte, proto vs.Protocol, dport uint16, opts int, frag uint16) []byte {
	ihl := 20 + 4*opts
	f := make([]byte, 14+ihl+20)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(ip[2:], uint16(ihl+20))
	binary.BigEndian.PutUint16(ip[6:], frag)
	ip[8] = 64
	ip[9] = byte(proto)
	copy(ip[12:], []byte{192, 0, 2, 7})
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[ihl:], 40000)
	binary.BigEndian.PutUint16(ip[ihl+2:], dport)
	return f
}

func needBPF(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: loading a BPF program needs root")
	}
}

// TestBypassProgram runs the tcx program on frames the bypass must drop
// and on frames it must leave to the stack, against the services of
// bypassRuleset's own test: what nftables' rule drops, the program drops.
func TestBypassProgram(t *testing.T) {
	needBPF(t)
	svcs := []bypassService{
		{addr: [4]byte{10, 77, 0, 100}, proto: vs.TCP, port: 80},
		{addr: [4]byte{192, 168, 1, 1}, proto: vs.UDP, port: 53}, // above 2^31
		{addr: [4]byte{10, 0, 0, 5}, proto: vs.TCP},              // every port
		{addr: [4]byte{172, 16, 0, 1}, proto: vs.UDP},
	}
	prog, err := loadTCX(bypassProgram(svcs))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(prog)
	vip, big := [4]byte{10, 77, 0, 100}, [4]byte{192, 168, 1, 1}
	arp := bypassFrame(vip, vs.TCP, 80, 0, 0)
	binary.BigEndian.PutUint16(arp[12:], 0x0806)
	vlan := bypassFrame(vip, vs.TCP, 80, 0, 0)
	binary.BigEndian.PutUint16(vlan[12:], 0x8100)
	six := bypassFrame(vip, vs.TCP, 80, 0, 0)
	binary.BigEndian.PutUint16(six[12:], 0x86dd)
	short := bypassFrame(vip, vs.TCP, 80, 0, 0)[:14+20+2] // no destination port
	for _, tt := range []struct {
		name  string
		frame []byte
		want  int32
	}{
		{"tcp to vip:80", bypassFrame(vip, vs.TCP, 80, 0, 0), tcx.Drop},
		{"tcp to vip:81", bypassFrame(vip, vs.TCP, 81, 0, 0), tcx.Next},
		{"udp to vip:80", bypassFrame(vip, vs.UDP, 80, 0, 0), tcx.Next},
		{"icmp to vip", bypassFrame(vip, 1, 80, 0, 0), tcx.Next},
		{"udp to 192.168.1.1:53", bypassFrame(big, vs.UDP, 53, 0, 0), tcx.Drop},
		{"tcp to 192.168.1.1:53", bypassFrame(big, vs.TCP, 53, 0, 0), tcx.Next},
		{"udp to 192.168.1.1:54", bypassFrame(big, vs.UDP, 54, 0, 0), tcx.Next},
		{"tcp to a port-0 service", bypassFrame([4]byte{10, 0, 0, 5}, vs.TCP, 12345, 0, 0), tcx.Drop},
		{"udp to a tcp port-0 service", bypassFrame([4]byte{10, 0, 0, 5}, vs.UDP, 1, 0, 0), tcx.Next},
		{"udp to a udp port-0 service", bypassFrame([4]byte{172, 16, 0, 1}, vs.UDP, 9, 0, 0), tcx.Drop},
		{"another address", bypassFrame([4]byte{10, 77, 0, 101}, vs.TCP, 80, 0, 0), tcx.Next},
		{"ip options", bypassFrame(vip, vs.TCP, 80, 2, 0), tcx.Drop},
		{"ip options, other port", bypassFrame(vip, vs.TCP, 443, 2, 0), tcx.Next},
		{"first fragment", bypassFrame(big, vs.UDP, 53, 0, 0x2000), tcx.Drop},
		{"later fragment", bypassFrame(big, vs.UDP, 53, 0, 0x2000|10), tcx.Next},
		{"last fragment", bypassFrame(big, vs.UDP, 53, 0, 10), tcx.Next},
		{"arp", arp, tcx.Next},
		{"vlan tag in the frame", vlan, tcx.Next},
		{"ipv6", six, tcx.Next},
		{"too short for the port", short, 0},
		// The program copies 24 bytes past the Ethernet header at once;
		// shorter frames take the loads one field at a time.
		{"header and ports only", bypassFrame(vip, vs.TCP, 80, 0, 0)[:14+24], tcx.Drop},
		{"icmp, short of the copy", bypassFrame(vip, 1, 80, 0, 0)[:14+20+2], tcx.Next},
		{"later fragment, short of the copy", bypassFrame(big, vs.UDP, 53, 0, 0x2000|10)[:14+20+2], tcx.Next},
		{"udp port-0 service, short of the copy", bypassFrame([4]byte{172, 16, 0, 1}, vs.UDP, 9, 0, 0)[:14+20+3], 0},
	} {
		if got := testRunTCX(t, prog, tt.frame); got != tt.want {
			t.Errorf("%s: verdict %d, want %d", tt.name, got, tt.want)
		}
	}
	// The largest program loads.
	var many []bypassService
	for i := range maxTCXServices {
		many = append(many, bypassService{addr: [4]byte{10, 1, byte(i >> 8), byte(i)}, proto: vs.TCP, port: uint16(i + 1)})
	}
	big2, err := loadTCX(bypassProgram(many))
	if err != nil {
		t.Fatalf("%d services: %v", len(many), err)
	}
	last := many[len(many)-1]
	if got := testRunTCX(t, big2, bypassFrame(last.addr, vs.TCP, last.port, 0, 0)); got != tcx.Drop {
		t.Errorf("the last of %d services: verdict %d, want drop", len(many), got)
	}
	unix.Close(big2)
}

// TestTCXBypassAttach: the bypass attaches to each interface's tcx
// ingress, follows an interface that is replaced (a new index), skips one
// that is missing, swaps its program in place when the services change,
// and leaves nothing attached once closed.
func TestTCXBypassAttach(t *testing.T) {
	ns, ip := testNamespace(t, "ulvstcx")
	for _, dev := range []string{"ta", "tb"} {
		ip("-n", ns.Name, "link", "add", dev+"0", "type", "veth", "peer", "name", dev+"1")
	}
	svcs := []bypassService{{addr: [4]byte{10, 77, 0, 100}, proto: vs.TCP, port: 80}}
	b := newTCXBypass()
	defer b.close()
	count := func(name string) int {
		t.Helper()
		var n int
		err := ns.Do(func() error {
			ni, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			n, err = tcx.IngressCount(ni.Index)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return n
	}
	apply := func(names []string, svcs []bypassService) {
		t.Helper()
		if err := ns.Do(func() error { return b.apply(names, svcs) }); err != nil {
			t.Fatal(err)
		}
	}
	apply([]string{"ta0", "tb0", "tc0"}, svcs) // tc0 does not exist
	if a, b := count("ta0"), count("tb0"); a != 1 || b != 1 {
		t.Fatalf("programs attached: ta0 %d, tb0 %d, want 1 and 1", a, b)
	}
	if _, ok := b.links["tc0"]; ok {
		t.Errorf("a link on the missing tc0")
	}
	prog := b.prog
	// ta0 replaced by a new interface of the same name.
	ip("-n", ns.Name, "link", "del", "ta0")
	ip("-n", ns.Name, "link", "add", "ta0", "type", "veth", "peer", "name", "ta1")
	apply([]string{"ta0", "tb0"}, svcs)
	if n := count("ta0"); n != 1 {
		t.Errorf("the new ta0 has %d programs, want 1", n)
	}
	if b.prog != prog {
		t.Errorf("the program was reloaded with the services unchanged")
	}
	// New services: a new program, swapped into the same links.
	linkBefore := b.links["tb0"].fd
	apply([]string{"ta0", "tb0"}, append(svcs, bypassService{addr: [4]byte{10, 77, 0, 101}, proto: vs.UDP, port: 53}))
	if b.prog == prog || b.links["tb0"].fd != linkBefore {
		t.Errorf("services changed: program %d (was %d), tb0's link %d (was %d): want a new program in the same link",
			b.prog, prog, b.links["tb0"].fd, linkBefore)
	}
	if a, b := count("ta0"), count("tb0"); a != 1 || b != 1 {
		t.Errorf("after the swap: ta0 %d, tb0 %d programs, want 1 and 1", a, b)
	}
	// An interface left out is detached; no service detaches all.
	apply([]string{"tb0"}, svcs)
	if n := count("ta0"); n != 0 {
		t.Errorf("ta0 left out, still %d programs", n)
	}
	apply([]string{"tb0"}, nil)
	if n := count("tb0"); n != 0 || b.prog >= 0 {
		t.Errorf("no services: tb0 has %d programs, program fd %d", n, b.prog)
	}
	apply([]string{"ta0", "tb0"}, svcs)
	b.close()
	if a, b := count("ta0"), count("tb0"); a != 0 || b != 0 {
		t.Errorf("after close: ta0 %d, tb0 %d programs, want none", a, b)
	}
}

// TestRunBypassModes runs the bypass goroutine of an engine in a
// namespace with one interface: the tcx program where the kernel takes it
// (and no nftables table), the nftables table where it does not or where
// there are more services than the program holds, and nothing of either
// once the goroutine ends.
func TestRunBypassModes(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	ns, ip := testNamespace(t, "ulvsbyp")
	ip("-n", ns.Name, "link", "add", "by0", "type", "veth", "peer", "name", "by1")
	nsFD, err := unix.Open("/var/run/netns/"+ns.Name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nsFD)
	table := func(n int) *vs.Table {
		tbl := &vs.Table{}
		for i := range n {
			tbl.Services = append(tbl.Services, &vs.Service{Proto: vs.TCP,
				Addr: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), Port: 80})
		}
		return tbl
	}
	state := func() (tcx int, nft bool) {
		t.Helper()
		if err := ns.Do(func() (err error) {
			tcx, err = TCXIngressPrograms("by0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return tcx, exec.Command("ip", "netns", "exec", ns.Name, "nft", "list", "table", "netdev", bypassTable).Run() == nil
	}
	for _, tt := range []struct {
		name     string
		refuse   bool
		services int
		tcx      int
		nft      bool
	}{
		{"tcx", false, 2, 1, false},
		{"tcx, a table an earlier ulvsd left", false, 2, 1, false},
		{"tcx refused", true, 2, 0, true},
		{"more services than the program holds", false, maxTCXServices + 1, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.refuse {
				old := loadTCX
				loadTCX = func([]tcx.Insn) (int, error) { return -1, unix.EINVAL }
				defer func() { loadTCX = old }()
			}
			e := &Engine{log: slog.New(slog.NewTextHandler(io.Discard, nil)), nsFD: nsFD,
				ifaces: []*iface{{name: "by0"}}, bypassKick: make(chan struct{}, 1)}
			e.table.Store(table(tt.services))
			if strings.Contains(tt.name, "earlier") {
				cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-f", "-")
				cmd.Stdin = strings.NewReader(bypassRuleset([]string{"by0"}, bypassServices(table(1))))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("nft: %v: %s", err, out)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { e.runBypass(ctx); close(done) }()
			e.kickBypass()
			deadline := time.Now().Add(10 * time.Second)
			for {
				tcx, nft := state()
				if tcx == tt.tcx && nft == tt.nft {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("tcx programs %d, nftables table %v; want %d, %v", tcx, nft, tt.tcx, tt.nft)
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			<-done
			if tcx, nft := state(); tcx != 0 || nft {
				t.Errorf("after the engine stopped: tcx programs %d, nftables table %v", tcx, nft)
			}
		})
	}
}
