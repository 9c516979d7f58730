package vrrp

import (
	"bytes"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// refHMACMD5 is HMAC-MD5 written out from RFC 2104 section 2 (key zero
// padded to the 64-byte block, inner pad 0x36, outer pad 0x5c), so the
// test does not check ah.go against the same crypto/hmac it uses.
func refHMACMD5(key, data []byte) [md5.Size]byte {
	var k, ipad, opad [64]byte
	copy(k[:], key)
	for i := range k {
		ipad[i], opad[i] = k[i]^0x36, k[i]^0x5c
	}
	inner := md5.Sum(append(ipad[:], data...))
	return md5.Sum(append(opad[:], inner[:]...))
}

// keepalivedAHPacket lays out, byte by byte, the advert keepalived 2.2.7
// sends for vrrp_instance { virtual_router_id 51 priority 200 advert_int
// 1 authentication { auth_type AH auth_pass 1111 } virtual_ipaddress {
// 10.77.0.100 } } from 10.77.0.3 (vrrp.c vrrp_build_ip4,
// vrrp_build_ipsecah, vrrp_build_vrrp_v2, vrrp_update_pkt): IP ID id,
// sequence number seq, TTL ttl; dst 224.0.0.18 unless unicast.
func keepalivedAHPacket(id uint16, seq uint32, ttl uint8, key string, dst netip.Addr) []byte {
	vrrpMsg := []byte{
		0x21, 51, 200, 1, // version 2, type 1, VRID, priority, 1 address
		2, 1, 0, 0, // auth type AH, advert_int 1, checksum
		10, 77, 0, 100, // the VIP
		0, 0, 0, 0, 0, 0, 0, 0, // authentication data: zero under AH
	}
	binary.BigEndian.PutUint16(vrrpMsg[6:], slowChecksum(vrrpMsg))
	d := dst.As4()
	ip := []byte{
		0x45, 0xc0, 0, 20 + 24 + 20, // version 4, IHL 5, TOS 0xc0, total length
		byte(id >> 8), byte(id), 0, 0, // identification, no flags
		ttl, 51, 0, 0, // TTL, protocol AH, header checksum
		10, 77, 0, 3, // source
		d[0], d[1], d[2], d[3], // destination
	}
	ah := []byte{
		112, 4, 0, 0, // next header VRRP, payload length 4, reserved
		10, 77, 0, 3, // SPI: the source address
		byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq),
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // ICV, zero while computing it
	}
	// The ICV covers the IP header with TOS, flags/offset, checksum (and
	// the TTL for unicast) zeroed, the AH with a zero ICV, the VRRP
	// message; keyed with auth_pass padded to 8 bytes.
	covered := append([]byte(nil), ip...)
	covered[1] = 0
	if !dst.IsMulticast() {
		covered[8] = 0
	}
	covered = append(covered, ah...)
	covered = append(covered, vrrpMsg...)
	var k [8]byte
	copy(k[:], key)
	icv := refHMACMD5(k[:], covered)
	copy(ah[12:], icv[:12])
	binary.BigEndian.PutUint16(ip[10:], slowChecksum(ip))
	out := append(ip, ah...)
	return append(out, vrrpMsg...)
}

func TestAHPacketLayout(t *testing.T) {
	for _, dst := range []netip.Addr{MulticastGroup(), srcA} {
		want := keepalivedAHPacket(7, 3, TTL, "1111", dst)
		a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthAH, Interval: 1, Addrs: []netip.Addr{vip1}}
		msg, err := a.Append(nil, srcB, dst)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendAHPacket(nil, srcB, dst, TTL, 7, 3, [8]byte{'1', '1', '1', '1'}, !dst.IsMulticast(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("to %v:\n got %x\nwant %x", dst, got, want)
		}
		p, err := ParseIPv4(got)
		if err != nil {
			t.Fatal(err)
		}
		if p.Protocol != ProtocolAH || p.AH.Seq != 3 || p.AH.SPI != 0x0a4d0003 || len(p.Payload) != 20 {
			t.Errorf("ParseIPv4 = %+v", p)
		}
		if err := verifyAH(p.Packet, p.HeaderLen, p.AH, srcB, [8]byte{'1', '1', '1', '1'}, !dst.IsMulticast()); err != nil {
			t.Error(err)
		}
		if err := verifyAH(p.Packet, p.HeaderLen, p.AH, srcB, [8]byte{'1', '1', '1', '2'}, !dst.IsMulticast()); ReasonOf(err) != ReasonAuthFailure {
			t.Errorf("wrong key: %v", err)
		}
	}
}

// ahBackup is a BACKUP router with auth_type AH auth_pass 1111.
func ahBackup(t testing.TB) (*Router, *bytes.Buffer) {
	return backupRouter(t, func(in *Instance) { in.AuthType = AuthAH })
}

func TestReceiveAH(t *testing.T) {
	mcast := MulticastGroup()
	tamper := func(b []byte, off int) []byte { b[off] ^= 1; return b }
	pass := func() []byte {
		a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthPass, Interval: 1,
			Addrs: []netip.Addr{vip1}, AuthData: [8]byte{'1', '1', '1', '1'}}
		msg, _ := a.Append(nil, srcB, mcast)
		return AppendIPv4(nil, srcB, mcast, TTL, msg)
	}
	badSPI := func() []byte {
		a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthAH, Interval: 1, Addrs: []netip.Addr{vip1}}
		msg, _ := a.Append(nil, srcB, mcast)
		// The SPI says srcA, the ICV is right for that packet.
		b, _ := AppendAHPacket(nil, srcB, mcast, TTL, 1, 5, [8]byte{'1', '1', '1', '1'}, false, msg)
		copy(b[20+4:], []byte{10, 77, 0, 2})
		icv := ahICV(b, 20, [8]byte{'1', '1', '1', '1'}, false)
		copy(b[20+12:], icv[:])
		return b
	}
	tests := []struct {
		name     string
		pkts     [][]byte
		reason   Reason
		accepted uint64
		log      string
	}{
		{"good", [][]byte{keepalivedAHPacket(1, 1, TTL, "1111", mcast)}, ReasonNone, 1, ""},
		{"increasing", [][]byte{keepalivedAHPacket(1, 1, TTL, "1111", mcast), keepalivedAHPacket(2, 2, TTL, "1111", mcast)}, ReasonNone, 2, ""},
		{"TOS and TTL-free fields mutate", [][]byte{func() []byte {
			b := keepalivedAHPacket(1, 1, TTL, "1111", mcast)
			b[1] = 0 // a router rewrote the TOS: not covered
			return b
		}()}, ReasonNone, 1, ""},
		{"wrong password", [][]byte{keepalivedAHPacket(1, 1, TTL, "1112", mcast)}, ReasonAuthFailure, 0,
			"IPSEC-AH : invalid IPSEC HMAC-MD5 value from 10.77.0.3. Due to fields mutation or bad password !"},
		{"tampered priority", [][]byte{tamper(keepalivedAHPacket(1, 1, TTL, "1111", mcast), 20+24+2)}, ReasonAuthFailure, 0, "invalid IPSEC HMAC-MD5"},
		{"tampered ID", [][]byte{tamper(keepalivedAHPacket(1, 1, TTL, "1111", mcast), 5)}, ReasonAuthFailure, 0, "invalid IPSEC HMAC-MD5"},
		{"bad SPI", [][]byte{badSPI()}, ReasonAuthFailure, 0, "invalid IPSEC SPI value from 10.77.0.3"},
		{"replay", [][]byte{keepalivedAHPacket(1, 4, TTL, "1111", mcast), keepalivedAHPacket(1, 4, TTL, "1111", mcast)}, ReasonAHReplay, 1,
			"IPSEC-AH : sequence number 4 from 10.77.0.3 already processed. Packet dropped. Local(4)"},
		{"older", [][]byte{keepalivedAHPacket(1, 9, TTL, "1111", mcast), keepalivedAHPacket(2, 8, TTL, "1111", mcast)}, ReasonAHReplay, 1, "sequence number 8"},
		{"PASS to AH", [][]byte{pass()}, ReasonAuthTypeMismatch, 0, "No AH header from 10.77.0.3 but auth type is AH"},
		{"ttl", [][]byte{keepalivedAHPacket(1, 1, 254, "1111", mcast)}, ReasonTTL, 0, "invalid TTL"},
		{"AH for another protocol", [][]byte{func() []byte {
			b := keepalivedAHPacket(1, 1, TTL, "1111", mcast)
			b[20] = 6
			return b
		}()}, ReasonIPHeader, 0, "authentication header for protocol 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, log := ahBackup(t)
			for _, p := range tt.pkts {
				r.do(func(now t0type) { r.receive(now, p, -1) })
			}
			st := r.Status()
			if tt.reason != ReasonNone && st.Counters.Errors[tt.reason] != 1 {
				t.Errorf("counter %v = %d, want 1 (all: %v)", tt.reason, st.Counters.Errors[tt.reason], st.Counters.Errors)
			}
			if st.Counters.AdvertsReceived != tt.accepted {
				t.Errorf("accepted %d, want %d", st.Counters.AdvertsReceived, tt.accepted)
			}
			if tt.log != "" && !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log.String())
			}
		})
	}
	// An AH advert to a PASS instance is an auth type mismatch.
	r, log := backupRouter(t)
	r.do(func(now t0type) { r.receive(now, keepalivedAHPacket(1, 1, TTL, "1111", mcast), -1) })
	if r.Status().Counters.Errors[ReasonAuthTypeMismatch] != 1 || !strings.Contains(log.String(), "Received AH header from 10.77.0.3 but auth type not AH") {
		t.Errorf("AH to PASS instance: %v\n%s", r.Status().Counters.Errors, log.String())
	}
}

// Two ulvs routers under AH elect a master and the backup follows the
// master's sequence numbers; when the master dies the backup takes over
// counting on from the last number it saw (keepalived's shared counter);
// the old master restarted (counter back to 0) learns the number from
// the new master's adverts before its own down timer makes it master, and
// then preempts.
func TestSimAH(t *testing.T) {
	ah := func(in *Instance) { in.AuthType = AuthAH }
	l, a, b := pair(t, TTL, inst(200, ah), inst(100, ah))
	if a.state() != StateMaster || b.state() != StateBackup {
		t.Fatalf("states %v %v", a.state(), b.state())
	}
	if n := b.r.Status().Counters.AdvertsReceived; n < 5 {
		t.Fatalf("backup accepted %d adverts", n)
	}
	for _, n := range []*node{a, b} {
		if e := n.r.Status().Counters.Errors; e != ([NumReasons]uint64{}) {
			t.Errorf("%v errors: %v", n.src, e)
		}
	}
	seen := b.r.ahSeq
	if sent := a.r.ahSeq; seen != sent || seen < 5 {
		t.Errorf("backup counter %d, master sent %d", seen, sent)
	}
	a.kill()
	l.runFor(10 * time.Second)
	if b.state() != StateMaster {
		t.Fatalf("backup did not take over: %v", b.state())
	}
	if b.r.ahSeq <= seen {
		t.Errorf("new master counts from %d, last seen %d", b.r.ahSeq, seen)
	}
	a2 := l.add(inst(200, ah), srcA)
	a2.start()
	l.runFor(10 * time.Second)
	if a2.state() != StateMaster || b.state() != StateBackup {
		t.Fatalf("after restart: %v %v\n%s\n%s", a2.state(), b.state(), a2.log.String(), b.log.String())
	}
	if n := b.r.Status().Counters.Errors[ReasonAHReplay]; n != 0 {
		t.Errorf("backup dropped %d replays", n)
	}
}

// A reload replaces a master's Router: the new one starts from the old
// one's sequence counter (SetAHSequence), or the backup drops its adverts
// as replays.
func TestSimAHReload(t *testing.T) {
	ah := func(in *Instance) { in.AuthType = AuthAH }
	for _, carry := range []bool{true, false} {
		l, a, b := pair(t, TTL, inst(150, ah), inst(100, ah))
		if a.state() != StateMaster {
			t.Fatalf("a: %v", a.state())
		}
		a.r.Retire()
		a.stop()
		a2 := l.addIn(inst(150, ah), srcA, nil)
		a2.r.cfg.ResumeMaster = true
		if carry {
			a2.r.SetAHSequence(a.r.AHSequence())
		}
		a2.start()
		l.runFor(2 * time.Second)
		replays := b.r.Status().Counters.Errors[ReasonAHReplay]
		if carry && replays != 0 {
			t.Errorf("carried over: backup dropped %d replays\n%s", replays, b.log.String())
		}
		if !carry && replays == 0 {
			t.Errorf("counter from 0: no replay dropped (the test cannot tell)")
		}
	}
}

func FuzzParseAH(f *testing.F) {
	f.Add(keepalivedAHPacket(1, 1, TTL, "1111", MulticastGroup()), -1)
	f.Add(keepalivedAHPacket(9, 0xfffffffe, 254, "x", srcA), 255)
	if b, err := hex.DecodeString(capturedKeepalivedAH); err == nil {
		f.Add(b, -1)
	}
	f.Fuzz(func(t *testing.T, b []byte, ttl int) {
		p, err := ParseIPv4(b)
		if err == nil && p.Protocol == ProtocolAH {
			if len(p.Packet) < p.HeaderLen+AHLen || len(p.Payload) != len(p.Packet)-p.HeaderLen-AHLen {
				t.Fatalf("AH packet of %d bytes, header %d", len(p.Packet), p.HeaderLen)
			}
			_ = verifyAH(p.Packet, p.HeaderLen, p.AH, p.Src, [8]byte{'1'}, false)
		}
		r, _ := ahBackup(t)
		r.do(func(now t0type) { r.receive(now, b, ttl) })
		r.do(r.expire)
		if st := r.Status().State; st != StateBackup && st != StateMaster {
			t.Fatalf("state %v", st)
		}
	})
}

// checkKeepalivedAH checks a packet captured from keepalived against the
// layout and an ICV computed here from the spec (refHMACMD5).
func checkKeepalivedAH(t *testing.T, p []byte, pass string) {
	t.Helper()
	t.Logf("captured from keepalived: %x", p)
	if len(p) < 20+AHLen+HeaderLen || p[0] != 0x45 || p[1] != 0xc0 || p[9] != ProtocolAH {
		t.Fatalf("not an AH packet with TOS 0xc0: %x", p)
	}
	ah, msg := p[20:20+AHLen], p[20+AHLen:]
	if ah[0] != Protocol || ah[1] != 4 || !bytes.Equal(ah[4:8], p[12:16]) || binary.BigEndian.Uint32(ah[8:]) == 0 {
		t.Errorf("AH header %x (want next header 112, length 4, SPI = source %x, sequence > 0)", ah, p[12:16])
	}
	if msg[0] != 0x21 || msg[4] != byte(AuthAH) || !bytes.Equal(msg[len(msg)-AuthDataLen:], make([]byte, AuthDataLen)) {
		t.Errorf("VRRP message %x (want v2 advert, auth type 2, zero auth data)", msg)
	}
	covered := append([]byte(nil), p...)
	covered[1] = 0                  // TOS
	covered[6], covered[7] = 0, 0   // flags, fragment offset
	covered[10], covered[11] = 0, 0 // header checksum
	clear(covered[20+12 : 20+AHLen])
	var k [8]byte
	copy(k[:], pass)
	icv := refHMACMD5(k[:], covered)
	if !bytes.Equal(icv[:AHICVLen], ah[12:]) {
		t.Errorf("ICV %x, computed from the spec %x", ah[12:], icv[:AHICVLen])
	}
}

// capturedKeepalivedAH is an advert captured from Debian's keepalived
// 2.2.7 (TestIntegrationVRRPKeepalivedAH logs it): virtual_router_id 51,
// priority 100, advert_int 1, auth_type AH, auth_pass 1111, virtual
// address 10.78.0.100, from 10.78.0.1, IP ID 6, sequence number 12.
const capturedKeepalivedAH = "45c0004000060000ff33d0630a4e0001e0000012" +
	"700400000a4e00010000000c10cf32ab20b5dc38f3ce9832" +
	"2133640102016e180a4e00640000000000000000"

func TestAHKeepalivedCapture(t *testing.T) {
	want, err := hex.DecodeString(capturedKeepalivedAH)
	if err != nil {
		t.Fatal(err)
	}
	checkKeepalivedAH(t, want, "1111")
	ka, vip := netip.MustParseAddr("10.78.0.1"), netip.MustParseAddr("10.78.0.100")
	a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 100, AuthType: AuthAH, Interval: 1, Addrs: []netip.Addr{vip}}
	msg, err := a.Append(nil, ka, MulticastGroup())
	if err != nil {
		t.Fatal(err)
	}
	got, err := AppendAHPacket(nil, ka, MulticastGroup(), TTL, 6, 12, [8]byte{'1', '1', '1', '1'}, false, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ulvs builds\n%x\nkeepalived sent\n%x", got, want)
	}
	r, log := backupRouter(t, func(in *Instance) {
		in.AuthType, in.Priority = AuthAH, 50
		in.VIPs = []VIP{{Prefix: netip.PrefixFrom(vip, 24)}}
	})
	r.do(func(now t0type) { r.receive(now, want, -1) })
	if st := r.Status(); st.Counters.AdvertsReceived != 1 || st.MasterAddr != ka || st.Counters.Errors != ([NumReasons]uint64{}) {
		t.Errorf("captured advert: %+v\n%s", st.Counters, log.String())
	}
}
