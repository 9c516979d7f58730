package arp

import "github.com/ulvs/ulvs/pkt"

// Field values of the only ARP this package speaks: Ethernet hardware
// addresses and IPv4 protocol addresses (RFC 826; layout in pkt.ARP).
const (
	hwAddrLen    = pkt.EtherAddrLen
	protoAddrLen = 4
)

// GratuitousLen is the length of the frame [Gratuitous] appends.
const GratuitousLen = pkt.EtherHeaderLen + pkt.ARPLen

// IsRequestFor reports whether frame holds an ARP request that asks who has
// tpa and deserves an answer, and returns that target address.
//
// frame starts with the Ethernet header; l3off is the offset of the ARP
// header, after any VLAN tags. The EtherType just before l3off must be ARP.
// ok is true only for a well-formed Ethernet/IPv4 request (HTYPE 1, PTYPE
// 0x0800, HLEN 6, PLEN 4, OPER 1) from a unicast Ethernet source, and:
//
//   - an ARP Probe (RFC 5227 section 2.1.1, SPA 0.0.0.0) is accepted: a host
//     probing for our address must learn that it is in use, as the kernel's
//     arp_process (net/ipv4/arp.c, "sip == 0") also answers it;
//   - an ARP Announcement or any gratuitous request (SPA == TPA, RFC 5227
//     section 2.3) is refused: it asks nobody anything.
//
// Replies and any other operation give ok == false. Whether tpa belongs to
// the director is for the caller to decide. IsRequestFor only reads frame,
// does not keep it, and never allocates.
//
// The engine should also drop frames the kernel would (pkttype OTHERHOST,
// our own outgoing frames); this function cannot see the packet type.
func IsRequestFor(frame []byte, l3off int) (tpa [4]byte, ok bool) {
	if l3off < pkt.EtherHeaderLen || l3off > len(frame)-pkt.ARPLen {
		return tpa, false
	}
	if uint16(frame[l3off-2])<<8|uint16(frame[l3off-1]) != pkt.EtherTypeARP {
		return tpa, false
	}
	if pkt.Ether(frame).Src()[0]&0x01 != 0 { // group address as Ethernet source
		return tpa, false
	}
	a := pkt.ARP(frame[l3off : l3off+pkt.ARPLen])
	if a.HType() != pkt.ARPHTypeEthernet || a.PType() != pkt.EtherTypeIPv4 ||
		a.HLen() != hwAddrLen || a.PLen() != protoAddrLen || a.Op() != pkt.ARPRequest {
		return tpa, false
	}
	tpa = a.TPA()
	if a.SPA() == tpa {
		return [4]byte{}, false
	}
	return tpa, true
}

// MakeReply rewrites, in place, an ARP request that [IsRequestFor] accepted
// into the reply that says the asked address is at mac:
//
//	Ethernet destination = the request's Ethernet source
//	Ethernet source      = mac
//	OPER = reply, SHA = mac, SPA = the asked TPA,
//	THA = the request's SHA, TPA = the request's SPA
//
// VLAN tags between the MAC addresses and the ARP header, and any padding,
// are left as they are, so the caller transmits the same buffer with the same
// length. For a probe the reply carries TPA 0.0.0.0, like the kernel's.
// MakeReply never allocates.
//
// MakeReply panics if l3off is smaller than an Ethernet header or the frame
// cannot hold an ARP packet at l3off: calling it on a frame IsRequestFor did
// not accept is a programming error.
func MakeReply(frame []byte, l3off int, mac [6]byte) {
	if l3off < pkt.EtherHeaderLen || l3off > len(frame)-pkt.ARPLen {
		panic("arp: MakeReply on a frame that IsRequestFor did not accept")
	}
	e := pkt.Ether(frame)
	a := pkt.ARP(frame[l3off : l3off+pkt.ARPLen])
	sha, spa, tpa := a.SHA(), a.SPA(), a.TPA()

	e.SetDst(e.Src())
	e.SetSrc(mac)
	a.SetOp(pkt.ARPReply)
	a.SetSHA(mac)
	a.SetSPA(tpa)
	a.SetTHA(sha)
	a.SetTPA(spa)
}

// Gratuitous appends to buf a gratuitous ARP frame announcing that ip is at
// mac, and returns the extended slice ([GratuitousLen] more bytes; no VLAN
// tag, no padding to the Ethernet minimum, as the kernel's own ARP frames).
//
// The frame is broadcast and is an ARP request with SPA = TPA = ip,
// SHA = mac and THA = 00:00:00:00:00:00: the ARP Announcement of RFC 5227
// section 2.3. The request form is the one Linux receivers honour
// unconditionally (net/ipv4/arp.c, arp_process and arp_is_garp):
//
//   - A receiver that already has an entry for ip, in any state (FAILED
//     after it ARPed before the director was up, STALE with an old MAC,
//     INCOMPLETE while it is resolving), updates it to mac in state STALE.
//     Because the frame counts as gratuitous (sip == tip), the update
//     overrides a valid entry even within neigh locktime.
//   - A gratuitous reply would only count as gratuitous if THA equalled
//     SHA; a reply with THA zero or broadcast overrides a different valid
//     MAC only after locktime (1 s by default) has passed since the
//     entry's last update, so it may be ignored right after a failover.
//   - Neither form creates an entry on a host without one unless its
//     arp_accept sysctl allows it, and hosts with drop_gratuitous_arp=1 drop
//     both; a host without an entry simply ARPs and is answered.
//
// One request therefore does everything a reply would and more, so only the
// request form is built. The caller owns buf and the result.
func Gratuitous(buf []byte, mac [6]byte, ip [4]byte) []byte {
	n := len(buf)
	buf = append(buf, make([]byte, GratuitousLen)...)
	f := buf[n:]
	e := pkt.Ether(f)
	e.SetDst(pkt.EtherBroadcast)
	e.SetSrc(mac)
	e.SetEtherType(pkt.EtherTypeARP)
	a := pkt.ARP(f[pkt.EtherHeaderLen:])
	a.SetHeader(pkt.ARPRequest)
	a.SetSHA(mac)
	a.SetSPA(ip)
	a.SetTHA([6]byte{})
	a.SetTPA(ip)
	return buf
}
