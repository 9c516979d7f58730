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
	src  netip.Addr // 10.77.0.2 when not set
}

func (f *rawFake) Send(msg []byte, dst netip.Addr) error { f.sent = append(f.sent, dst); return nil }
func (f *rawFake) Receive([]byte) (int, int, error)      { return 0, 0, nil }
func (f *rawFake) Close() error                          { return nil }
func (f *rawFake) Source() netip.Addr {
	if f.src.IsValid() {
		return f.src
	}
	return netip.MustParseAddr("10.77.0.2")
}

// TestVMACTransport: a use_vmac advert to 224.0.0.18 leaves as an
// Ethernet frame from the virtual MAC to 01:00:5e:00:00:12 with the
// IPv4 header the raw socket would give it; a unicast advert goes to the
// raw socket.
func TestVMACTransport(t *testing.T) {
	raw := &rawFake{}
	var ifname string
	var frame []byte
	tr := &vmacTransport{Transport: raw, ifname: "eth0", vmac: vrrpVMAC(51, false),
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

// TestVMACTransport6: a use_vmac advert of an IPv6 instance to ff02::12
// leaves from the virtual MAC 00:00:5e:00:02:VRID to 33:33:00:00:00:12
// with the IPv6 header the raw socket would give it (from the
// transport's link-local source, traffic class 0xc0, hop limit 255,
// next header 112), its checksum valid for that source and destination;
// a unicast advert goes to the raw socket.
func TestVMACTransport6(t *testing.T) {
	src := netip.MustParseAddr("fe80::2")
	raw := &rawFake{src: src}
	var frame []byte
	tr := &vmacTransport{Transport: raw, ifname: "eth0", vmac: vrrpVMAC(61, true),
		send: func(name string, f []byte) error { frame = append([]byte(nil), f...); return nil }}
	vip := netip.MustParseAddr("2001:db8:77::100")
	msg, err := (&vrrp.Advert{Version: vrrp.V3, Type: vrrp.TypeAdvertisement, VRID: 61, Priority: 100, Interval: 100,
		Addrs: []netip.Addr{vip}}).Append(nil, src, vrrp.MulticastGroup6())
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Send(msg, vrrp.MulticastGroup6()); err != nil {
		t.Fatal(err)
	}
	if len(frame) != 14+40+len(msg) {
		t.Fatalf("sent %d bytes", len(frame))
	}
	e := pkt.Ether(frame)
	if e.Dst() != [6]byte{0x33, 0x33, 0, 0, 0, 0x12} || e.Src() != [6]byte{0, 0, 0x5e, 0, 2, 61} || e.EtherType() != pkt.EtherTypeIPv6 {
		t.Errorf("Ethernet header %x", frame[:14])
	}
	ip := frame[14:54]
	if ip[0] != 0x6c || ip[1]&0xf0 != 0 || int(ip[4])<<8|int(ip[5]) != len(msg) || ip[6] != 112 || ip[7] != 255 ||
		!bytes.Equal(ip[8:24], src.AsSlice()) || !bytes.Equal(ip[24:40], vrrp.MulticastGroup6().AsSlice()) {
		t.Errorf("IPv6 header %x", ip)
	}
	p, err := vrrp.ParseIPv6(frame[14:])
	if err != nil || !bytes.Equal(p.Payload, msg) || !vrrp.VerifyChecksum(p.Payload, vrrp.V3, p.Src, p.Dst) {
		t.Errorf("payload %x (%v), want %x with a valid checksum", p.Payload, err, msg)
	}
	peer := netip.MustParseAddr("2001:db8:77::3")
	if err := tr.Send(msg, peer); err != nil || len(raw.sent) != 1 || raw.sent[0] != peer {
		t.Errorf("unicast advert: %v, raw socket got %v", err, raw.sent)
	}
}
