package director

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/vrrp"
)

// rawFake records what goes to the raw socket.
type rawFake struct {
	sent []netip.Addr
}

func (f *rawFake) Send(msg []byte, dst netip.Addr) error { f.sent = append(f.sent, dst); return nil }
func (f *rawFake) Receive([]byte) (int, int, error)      { return 0, 0, nil }
func (f *rawFake) Source() netip.Addr                    { return netip.MustParseAddr("10.77.0.2") }
func (f *rawFake) Close() error                          { return nil }

// TestVMACTransport: a use_vmac advert to 224.0.0.18 leaves as an
// Ethernet frame from the virtual MAC to 01:00:5e:00:00:12 with the
// IPv4 header the raw socket would give it; a unicast advert goes to the
// raw socket.
func TestVMACTransport(t *testing.T) {
	raw := &rawFake{}
	var ifname string
	var frame []byte
	tr := &vmacTransport{Transport: raw, ifname: "eth0", vmac: vrrpVMAC(51),
		send: func(name string, f []byte) error { ifname, frame = name, append([]byte(nil), f...); return nil }}
	msg := []byte{0x21, 51, 100, 1, 0, 1, 0xaa, 0xbb, 10, 77, 0, 100}
	if err := tr.Send(msg, vrrp.MulticastGroup()); err != nil {
		t.Fatal(err)
	}
	if ifname != "eth0" || len(frame) != 14+20+len(msg) {
		t.Fatalf("sent %d bytes on %q", len(frame), ifname)
	}
	e := pkt.Ether(frame)
	if e.Dst() != [6]byte{0x01, 0, 0x5e, 0, 0, 0x12} || e.Src() != [6]byte{0, 0, 0x5e, 0, 1, 51} || e.EtherType() != pkt.EtherTypeIPv4 {
		t.Errorf("Ethernet header %x", frame[:14])
	}
	ip := pkt.IPv4(frame[14:])
	if ip.TTL() != 255 || ip.Protocol() != 112 || ip.Src() != [4]byte{10, 77, 0, 2} || ip.Dst() != [4]byte{224, 0, 0, 18} || !ip.ChecksumValid() {
		t.Errorf("IPv4 header %x", frame[14:34])
	}
	if !bytes.Equal(frame[34:], msg) {
		t.Errorf("payload %x, want %x", frame[34:], msg)
	}
	peer := netip.MustParseAddr("10.77.0.3")
	if err := tr.Send(msg, peer); err != nil || len(raw.sent) != 1 || raw.sent[0] != peer {
		t.Errorf("unicast advert: %v, raw socket got %v", err, raw.sent)
	}
}
