package vrrp

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// backupRouter returns a started BACKUP router for inst(100) at srcA and
// its log.
func backupRouter(t testing.TB, mod ...func(*Instance)) (*Router, *bytes.Buffer) {
	var log bytes.Buffer
	now := t0
	r, err := New(Config{Instance: inst(100, mod...), Transport: fakeTransport{&node{lan: &lan{}, src: srcA}},
		Clock: fakeClock{&now}, Log: slog.New(slog.NewTextHandler(&log, nil)), RunNotify: func([]string) {}})
	if err != nil {
		t.Fatal(err)
	}
	r.do(r.start)
	return r, &log
}

func TestReceiveRules(t *testing.T) {
	good := func() Advert {
		return Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthPass, Interval: 1,
			Addrs: []netip.Addr{vip1}, AuthData: [8]byte{'1', '1', '1', '1'}}
	}
	build := func(a Advert, dst netip.Addr, ttl uint8) []byte {
		msg, err := a.Append(nil, srcB, dst)
		if err != nil {
			t.Fatal(err)
		}
		return AppendIPv4(nil, srcB, dst, ttl, msg)
	}
	mod := func(f func(*Advert)) []byte {
		a := good()
		f(&a)
		return build(a, MulticastGroup(), TTL)
	}
	badSum := build(good(), MulticastGroup(), TTL)
	badSum[20+7] ^= 1
	tests := []struct {
		name     string
		pkt      []byte
		reason   Reason // counted
		accepted bool
		log      string
	}{
		{"good", build(good(), MulticastGroup(), TTL), ReasonNone, true, ""},
		{"garbage", []byte{1, 2, 3}, ReasonIPHeader, false, "3 bytes, shorter than an IPv4 header"},
		{"too short", AppendIPv4(nil, srcB, MulticastGroup(), TTL, []byte{0x21, 51, 1}), ReasonTooShort, false, "IPv4 VRRP packet too short - 3 bytes from 10.77.0.3"},
		{"ttl 254", build(good(), MulticastGroup(), 254), ReasonTTL, false, "invalid TTL/HL from 10.77.0.3. Received 254 and expect 255"},
		{"wrong vrid", mod(func(a *Advert) { a.VRID = 52 }), ReasonUnknownVRID, false, "Unknown VRID(52) received on interface(eth0)"},
		{"version 3", mod(func(a *Advert) { a.Version, a.AuthType, a.AuthData, a.Interval = V3, 0, [8]byte{}, 100 }), ReasonVersion, false, "wrong VRRP version from 10.77.0.3. Received 3 and expect 2"},
		{"auth type 7", mod(func(a *Advert) { a.AuthType = 7 }), ReasonInvalidAuthType, false, "Invalid auth type from 10.77.0.3: 7"},
		{"auth none", mod(func(a *Advert) { a.AuthType, a.AuthData = AuthNone, [8]byte{} }), ReasonAuthTypeMismatch, false, "received a 0 auth from 10.77.0.3, expecting 1!"},
		{"wrong password", mod(func(a *Advert) { a.AuthData[3] = '2' }), ReasonAuthFailure, false, "received an invalid passwd from 10.77.0.3!"},
		{"interval 2", mod(func(a *Advert) { a.Interval = 2 }), ReasonIntervalMismatch, false, "advertisement interval mismatch with 10.77.0.3 mine=1 sec rcv'd=2 sec"},
		{"type 2", mod(func(a *Advert) { a.Type = 2 }), ReasonType, false, "Invalid packet type from 10.77.0.3. 2 and expect 1"},
		{"checksum", badSum, ReasonChecksum, false, "Invalid VRRPv2 checksum from 10.77.0.3"},
		{"unicast", build(good(), srcA, TTL), ReasonCastMismatch, false, "Expected multicast packet but received unicast packet"},
		{"two addresses", mod(func(a *Advert) { a.Addrs = append(a.Addrs, vip2) }), ReasonAddrCount, true, "expected 1 VIPs but received 2"},
		{"other address", mod(func(a *Advert) { a.Addrs = []netip.Addr{vip2} }), ReasonAddrList, true, "ip address associated with VRID 51 not present in advert from 10.77.0.3: 10.77.0.100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, log := backupRouter(t)
			r.do(func(now t0type) { r.receive(now, tt.pkt, -1) })
			st := r.Status()
			if tt.reason != ReasonNone && st.Counters.Errors[tt.reason] != 1 {
				t.Errorf("counter %v = %d, want 1 (all: %v)", tt.reason, st.Counters.Errors[tt.reason], st.Counters.Errors)
			}
			if got := st.Counters.AdvertsReceived == 1; got != tt.accepted {
				t.Errorf("accepted = %v, want %v", got, tt.accepted)
			}
			if got := st.MasterAddr == srcB; got != tt.accepted {
				t.Errorf("master seen = %v, want %v", st.MasterAddr, tt.accepted)
			}
			if tt.log != "" && !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log.String())
			}
			// Rate limit: the same error again logs nothing new.
			n := log.Len()
			r.do(func(now t0type) { r.receive(now, tt.pkt, -1) })
			if !tt.accepted && log.Len() != n {
				t.Errorf("second identical error logged again: %s", log.String()[n:])
			}
		})
	}
}

// The TTL the socket reports wins over the header's (IP_RECVTTL).
func TestReceiveSocketTTL(t *testing.T) {
	r, _ := backupRouter(t)
	a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthPass, Interval: 1,
		Addrs: []netip.Addr{vip1}, AuthData: [8]byte{'1', '1', '1', '1'}}
	msg, _ := a.Append(nil, srcB, MulticastGroup())
	r.do(func(now t0type) { r.receive(now, AppendIPv4(nil, srcB, MulticastGroup(), 255, msg), 1) })
	if r.Status().Counters.Errors[ReasonTTL] != 1 {
		t.Error("socket TTL 1 not refused")
	}
}

type t0type = time.Time

func FuzzReceive(f *testing.F) {
	a := Advert{Version: V2, Type: 1, VRID: 51, Priority: 200, AuthType: AuthPass, Interval: 1,
		Addrs: []netip.Addr{vip1}, AuthData: [8]byte{'1', '1', '1', '1'}}
	msg, _ := a.Append(nil, srcB, MulticastGroup())
	f.Add(AppendIPv4(nil, srcB, MulticastGroup(), 255, msg), 255)
	a.Priority = 0
	msg, _ = a.Append(nil, srcB, MulticastGroup())
	f.Add(AppendIPv4(nil, srcB, MulticastGroup(), 255, msg), -1)
	f.Fuzz(func(t *testing.T, b []byte, ttl int) {
		r, _ := backupRouter(t)
		r.do(func(now t0type) { r.receive(now, b, ttl) })
		r.do(r.expire)
		st := r.Status()
		if st.State != StateBackup && st.State != StateMaster {
			t.Fatalf("state %v", st.State)
		}
	})
}
