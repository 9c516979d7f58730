package vrrp

import (
	"crypto/subtle"
	"fmt"
	"net/netip"
	"time"
)

// check applies the receive rules of RFC 3768/5798 section 7.1 in
// keepalived's order (vrrp_check_packet) to an IPv4 packet (an IPv6 one
// for an IPv6 instance) that arrived with ttl (-1 = use the header's).
// It returns the advert and its source, or a *PacketError. Address count
// and list mismatches are logged and counted but do not refuse the advert
// (keepalived's behaviour).
func (r *Router) check(b []byte, ttl int) (Advert, netip.Addr, error) {
	var ip IPv4Packet
	var err error
	if r.in.IPv6 {
		ip, err = ParseIPv6(b)
	} else {
		ip, err = ParseIPv4(b)
	}
	if err != nil {
		return Advert{}, netip.Addr{}, err
	}
	src := ip.Src
	if ttl < 0 {
		ttl = int(ip.TTL)
	}
	msg := ip.Payload
	if len(msg) < HeaderLen {
		family := "IPv4"
		if r.in.IPv6 {
			family = "IPv6"
		}
		return Advert{}, src, perr(ReasonTooShort, "%s VRRP packet too short - %d bytes from %v", family, len(msg), src)
	}
	if vrid := msg[offVRID]; vrid != r.in.VRID {
		return Advert{VRID: vrid}, src, perr(ReasonUnknownVRID, "Unknown VRID(%d) received on interface(%s) from %v. ignoring...", vrid, r.in.Interface, src)
	}
	// keepalived checks the IP protocol against auth_type first.
	if isAH, wantAH := ip.Protocol == ProtocolAH, r.in.AuthType == AuthAH; isAH != wantAH {
		if isAH {
			return Advert{}, src, perr(ReasonAuthTypeMismatch, "Received AH header from %v but auth type not AH", src)
		}
		return Advert{}, src, perr(ReasonAuthTypeMismatch, "No AH header from %v but auth type is AH", src)
	}
	var a Advert
	if r.in.IPv6 {
		a, err = Parse6(msg)
	} else {
		a, err = Parse(msg)
	}
	if err != nil {
		if ReasonOf(err) == ReasonVersion {
			return a, src, perr(ReasonVersion, "wrong VRRP version from %v. Received %d and expect %d", src, msg[offVersType]>>4, r.in.Version)
		}
		return a, src, perr(ReasonOf(err), "vrrp packet from %v %s", src, err.(*PacketError).Detail)
	}
	unicast := len(r.in.UnicastPeers) > 0
	if !unicast && ttl != TTL {
		return a, src, perr(ReasonTTL, "invalid TTL/HL from %v. Received %d and expect %d", src, ttl, TTL)
	}
	if a.Version != r.in.Version {
		return a, src, perr(ReasonVersion, "wrong VRRP version from %v. Received %d and expect %d", src, a.Version, r.in.Version)
	}
	if a.Version == V2 {
		switch a.AuthType {
		case AuthNone, AuthPass, AuthAH:
		default:
			return a, src, perr(ReasonInvalidAuthType, "Invalid auth type from %v: %d", src, a.AuthType)
		}
		if a.AuthType != r.in.AuthType {
			return a, src, perr(ReasonAuthTypeMismatch, "received a %d auth from %v, expecting %d!", a.AuthType, src, r.in.AuthType)
		}
		want := r.in.authData()
		if a.AuthType == AuthPass && subtle.ConstantTimeCompare(a.AuthData[:], want[:]) != 1 {
			return a, src, perr(ReasonAuthFailure, "received an invalid passwd from %v!", src)
		}
		if a.AuthType == AuthAH {
			if err := verifyAH(ip.Packet, ip.HeaderLen, ip.AH, src, r.in.ahKey(), unicast); err != nil {
				return a, src, err
			}
			if ip.AH.Seq <= r.ahSeq {
				return a, src, perr(ReasonAHReplay, "IPSEC-AH : sequence number %d from %v already processed. Packet dropped. Local(%d)", ip.AH.Seq, src, r.ahSeq)
			}
			r.ahSeq = ip.AH.Seq
		}
		if a.Interval != r.in.wireInterval() {
			return a, src, perr(ReasonIntervalMismatch, "advertisement interval mismatch with %v mine=%d sec rcv'd=%d sec", src, r.in.wireInterval(), a.Interval)
		}
	}
	if a.Type != TypeAdvertisement {
		return a, src, perr(ReasonType, "Invalid packet type from %v. %d and expect %d", src, a.Type, TypeAdvertisement)
	}
	if a.Version == V3 && a.Interval != r.in.wireInterval() {
		// keepalived only logs this for v3 and uses the master's interval.
		r.logOnce(ReasonIntervalMismatch, "advertisement interval mismatch ours = %d centi-sec rcv'd=%d centi-sec", r.in.wireInterval(), a.Interval)
	}
	if !VerifyChecksum(msg[:a.Len()], a.Version, src, ip.Dst) {
		return a, src, perr(ReasonChecksum, "Invalid VRRPv%d checksum from %v", a.Version, src)
	}
	if ip.Dst.IsMulticast() == unicast {
		want, got := "mult", "un"
		if unicast {
			want, got = "un", "mult"
		}
		return a, src, perr(ReasonCastMismatch, "Expected %sicast packet but received %sicast packet from %v", want, got, src)
	}
	if len(a.Addrs) != len(r.in.VIPs) {
		r.counters.Errors[ReasonAddrCount]++
		r.logOnce(ReasonAddrCount, "expected %d VIPs but received %d", len(r.in.VIPs), len(a.Addrs))
	} else {
		for _, v := range r.in.VIPs {
			if !containsAddr(a.Addrs, v.Addr()) {
				r.counters.Errors[ReasonAddrList]++
				r.logOnce(ReasonAddrList, "ip address associated with VRID %d not present in advert from %v: %v", r.in.VRID, src, v.Addr())
				break
			}
		}
	}
	if unicast && r.in.CheckUnicastSrc && !containsAddr(r.in.UnicastPeers, src) {
		return a, src, perr(ReasonUnknownPeer, "unicast source address %v not a unicast peer", src)
	}
	return a, src, nil
}

func containsAddr(l []netip.Addr, a netip.Addr) bool {
	for _, x := range l {
		if x == a {
			return true
		}
	}
	return false
}

// receive handles one received IPv4 packet.
func (r *Router) receive(now time.Time, b []byte, ttl int) {
	if !r.started || r.state == StateStop {
		return
	}
	a, src, err := r.check(b, ttl)
	if err != nil {
		reason := ReasonOf(err)
		r.counters.Errors[reason]++
		if reason == ReasonUnknownVRID {
			if !r.loggedVRID[a.VRID] {
				r.loggedVRID[a.VRID] = true
				r.log.Info(err.(*PacketError).Detail)
			}
			return
		}
		r.logOnce(reason, "%s", err.(*PacketError).Detail)
		return
	}
	r.counters.AdvertsReceived++
	if a.Priority == PriorityStop {
		r.counters.PriorityZeroReceived++
	}
	switch r.state {
	case StateBackup:
		r.backupRx(now, a, src)
	case StateMaster:
		r.masterRx(now, a, src)
	}
}

// advertInterval returns the interval an advert carries.
func (r *Router) advertInterval(a Advert) time.Duration {
	if a.Version == V3 {
		return time.Duration(a.Interval) * 10 * time.Millisecond
	}
	return time.Duration(a.Interval) * time.Second
}

// backupRx is RFC 5798 6.4.2 as keepalived implements it
// (vrrp_state_backup).
func (r *Router) backupRx(now time.Time, a Advert, src netip.Addr) {
	if src != r.masterAddr {
		clear(r.logged)
	}
	preemptWait := r.in.PreemptDelay > 0 && (r.preemptAt.IsZero() || r.preemptAt.After(now))
	switch {
	case a.Priority == PriorityStop:
		// The master is leaving: take over after Skew_Time.
		r.downAt = now.Add(r.skew())
		r.logf("Backup received priority 0 advertisement from %v", src)
	case r.in.NoPreempt || a.Priority >= r.effPrio || preemptWait:
		if a.Version == V3 {
			r.masterAdverInt = r.advertInterval(a)
		}
		r.masterAddr, r.masterPrio = src, a.Priority
		r.downAt = now.Add(r.downInterval())
		if g := r.cfg.Group; g != nil {
			g.setWant(r, false)
		}
		if r.in.PreemptDelay > 0 {
			if a.Priority >= r.effPrio {
				r.preemptAt = time.Time{}
			} else if r.preemptAt.IsZero() {
				r.preemptAt = now.Add(r.in.PreemptDelay)
				r.logf("start preempt delay (%v)", r.in.PreemptDelay)
			}
		}
	default:
		// Preempt: ignore the lower-priority master; the down timer
		// keeps running and makes us master.
		r.masterAddr, r.masterPrio = src, a.Priority
		r.logf("received lower priority (%d) advert from %v - discarding", a.Priority, src)
	}
}

// masterRx is RFC 5798 6.4.3 as keepalived implements it
// (vrrp_state_master_rx).
func (r *Router) masterRx(now time.Time, a Advert, src netip.Addr) {
	if a.Priority == PriorityStop {
		// Another router left: advertise at once so backups see us.
		r.sendAdvert(r.effPrio)
		r.advertAt = now.Add(r.in.AdvertInt)
		return
	}
	cmp := src.Compare(r.src)
	switch {
	case a.Priority == r.effPrio && cmp == 0:
		r.counters.Errors[ReasonOwnAddress]++
		r.logOnce(ReasonOwnAddress, "WARNING - equal priority advert received from remote host with our IP address.")
	case a.Priority < r.effPrio || (a.Priority == r.effPrio && cmp < 0):
		r.logf("Received advert from %v with lower priority %d, ours %d, forcing new election", src, a.Priority, r.effPrio)
		if r.in.AuthType == AuthAH {
			// keepalived: "IPSEC-AH : Syncing seq_num - Increment seq"
			// (check set ahSeq to the advert's number).
			r.ahSeq++
		}
		r.sendAdvert(r.effPrio)
		r.advertAt = now.Add(r.in.AdvertInt)
	default:
		var why string
		if a.Priority > r.effPrio {
			why = fmt.Sprintf("higher priority advert from %v (prio %d, ours %d)", src, a.Priority, r.effPrio)
		} else {
			why = fmt.Sprintf("advert from %v with same priority %d but higher IP address", src, a.Priority)
		}
		r.logf("Master received %s", why)
		r.leaveMaster(now, StateBackup, why, false)
		if a.Version == V3 {
			r.masterAdverInt = r.advertInterval(a)
		}
		r.masterAddr, r.masterPrio = src, a.Priority
		r.downAt = now.Add(r.downInterval())
	}
}
