package synproxy

import (
	"crypto/rand"
	"encoding/binary"
)

// Cookie layout, as Linux's secure_tcp_syn_cookie and DPVS's
// syn_proxy_cookie_v4_init_sequence build it:
//
//	cookie = H(key, flow, 0) + client ISN + count<<24 + (H(key, flow, count) + data) mod 2^24
//
// count is the time slice (8 bits on the wire); data holds the options
// below in the top 9 of its 24 bits and must leave the low 15 zero, so a
// forged ACK passes with a probability near 2^-22 (2 slices of 256, 15
// zero bits, a valid window scale).
const (
	cookieBits = 24
	cookieMask = 1<<cookieBits - 1

	dataWScale   = 0x0f // bits 0-3: the client's window scale
	dataHasWS    = 0x10 // the client sent a window scale
	dataSACK     = 0x20 // the client sent SACK-permitted
	dataTS       = 0x40 // the client sent timestamps
	dataMSSShift = 7    // bits 7-8: index into mssTable
	dataBits     = 9
	// dataShift puts data in the top bits of the 24, so the low 15 must
	// come back zero: a cookie changed in them (or checked with another
	// ISN) never passes.
	dataShift = cookieBits - dataBits

	// MaxAge is how many time slices a cookie stays valid: the slice it
	// was made in and the next (Linux's MAX_SYNCOOKIE_AGE).
	MaxAge = 2
	// SliceShift turns a millisecond clock into the cookie's time slice:
	// 2^16 ms, about 65.5 s (Linux counts minutes).
	SliceShift = 16
	// MaxWScale is the largest window scale RFC 7323 allows.
	MaxWScale = 14
)

// mssTable are the MSS values a cookie can carry, as Linux's msstab for
// IPv4: the client's MSS is rounded down to one of them.
var mssTable = [4]uint16{536, 1300, 1440, 1460}

// Cookies makes and checks SYN cookies under one random key. Safe for
// concurrent use: it is never changed after NewCookies.
type Cookies struct {
	k0, k1 uint64
}

// NewCookies returns Cookies with a fresh random key.
func NewCookies() *Cookies {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24 and later)
	return &Cookies{k0: binary.LittleEndian.Uint64(b[:8]), k1: binary.LittleEndian.Uint64(b[8:])}
}

// NewCookiesKey returns Cookies with the given key, for tests.
func NewCookiesKey(k0, k1 uint64) *Cookies { return &Cookies{k0: k0, k1: k1} }

// Flow is the client's side of a connection as its SYN carries it.
type Flow struct {
	Src, Dst         [4]byte
	SrcPort, DstPort uint16
}

func (c *Cookies) hash(f *Flow, count uint32) uint32 {
	m0 := uint64(binary.LittleEndian.Uint32(f.Src[:])) | uint64(binary.LittleEndian.Uint32(f.Dst[:]))<<32
	m1 := uint64(f.SrcPort) | uint64(f.DstPort)<<16 | uint64(count)<<32
	return uint32(sum16(c.k0, c.k1, m0, m1))
}

// Slice returns the cookie time slice of a millisecond clock reading.
func Slice(ms uint32) uint32 { return ms >> SliceShift }

// Make returns the ISN of the proxy's SYN-ACK for a SYN of flow with
// sequence number isn and options o, made in time slice count. The second
// result is o as the cookie keeps it: MSS rounded down to the table (536
// when the client sent none or a smaller one), window scale capped at 14.
func (c *Cookies) Make(f Flow, isn, count uint32, o Options) (uint32, Options) {
	return makeCookie(&mssTable, c.hash(&f, 0), c.hash(&f, count|1<<31), isn, count, o)
}

// Check decodes the cookie an ACK of flow acknowledges (its ack number
// less one), its sequence number less one being the client's ISN, at time
// slice count. It reports false for a cookie this key did not make for
// this flow and ISN, or made more than MaxAge-1 slices ago.
func (c *Cookies) Check(f Flow, cookie, isn, count uint32) (Options, bool) {
	v, made, ok := cookieAge(c.hash(&f, 0), cookie, isn, count)
	if !ok {
		return Options{}, false
	}
	return cookieData(&mssTable, v-c.hash(&f, made|1<<31))
}

// makeCookie builds a cookie from the flow's two hashes (count 0 and the
// slice's) with the MSS taken from table.
func makeCookie(table *[4]uint16, h0, hCount, isn, count uint32, o Options) (uint32, Options) {
	idx := 0
	for i := len(table) - 1; i > 0; i-- {
		if o.MSS >= table[i] {
			idx = i
			break
		}
	}
	var data uint32 = uint32(idx) << dataMSSShift
	kept := Options{MSS: table[idx], SACKPerm: o.SACKPerm, HasTS: o.HasTS, TSVal: o.TSVal}
	if o.HasWScale {
		kept.HasWScale = true
		kept.WScale = min(o.WScale, MaxWScale)
		data |= dataHasWS | uint32(kept.WScale)
	}
	if o.SACKPerm {
		data |= dataSACK
	}
	if o.HasTS {
		data |= dataTS
	}
	cookie := h0 + isn + count<<cookieBits + (hCount+data<<dataShift)&cookieMask
	return cookie, kept
}

// cookieAge takes the flow's count-0 hash and the ISN off a cookie and
// returns what is left and the slice it was made in, or false when that
// slice is too old.
func cookieAge(h0, cookie, isn, count uint32) (v, made uint32, ok bool) {
	v = cookie - h0 - isn
	diff := (count - v>>cookieBits) & (1<<(32-cookieBits) - 1)
	if diff >= MaxAge {
		return 0, 0, false
	}
	return v, count - diff, true
}

// cookieData decodes the options of a cookie from what is left once the
// slice's hash is taken off too, the MSS from table.
func cookieData(table *[4]uint16, data uint32) (Options, bool) {
	data &= cookieMask
	if data&(1<<dataShift-1) != 0 {
		return Options{}, false
	}
	data >>= dataShift
	o := Options{MSS: table[data>>dataMSSShift&3], SACKPerm: data&dataSACK != 0, HasTS: data&dataTS != 0}
	if data&dataHasWS != 0 {
		ws := uint8(data & dataWScale)
		if ws > MaxWScale {
			return Options{}, false
		}
		o.HasWScale, o.WScale = true, ws
	} else if data&dataWScale != 0 {
		return Options{}, false
	}
	return o, true
}
