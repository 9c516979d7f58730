package ipvsadm

import (
	"math"
	"net/netip"
	"strings"
)

// This file holds the C library conversions ipvsadm's parsing relies on
// (inet_aton, inet_pton, strtoul, strtol, atoi), so that odd input such as
// "0x0a.1" or "-w 3x" is taken or refused exactly as ipvsadm does.

// parseIPv6 is inet_pton(AF_INET6, ...): IPv6 text only, no zone.
func parseIPv6(s string) (netip.Addr, bool) {
	if !strings.Contains(s, ":") || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// inetAton is glibc's inet_aton: one to four parts in C notation (decimal,
// 0 octal, 0x hex), a.b.c.d, a.b.c (c 16 bits), a.b (b 24 bits) or a (32
// bits), optionally followed by white space and anything.
func inetAton(s string) (netip.Addr, bool) {
	var parts [3]uint32
	n := 0
	i := 0
	var val uint64
	for {
		if i >= len(s) || !isDigit(s[i]) {
			return netip.Addr{}, false
		}
		var ok bool
		val, i, ok = strtoul0(s, i)
		if !ok || val > math.MaxUint32 {
			return netip.Addr{}, false
		}
		if i < len(s) && s[i] == '.' {
			if n > 2 || val > 0xff {
				return netip.Addr{}, false
			}
			parts[n] = uint32(val)
			n++
			i++
			continue
		}
		break
	}
	if i < len(s) && !isSpace(s[i]) {
		return netip.Addr{}, false
	}
	max := [4]uint64{0xffffffff, 0xffffff, 0xffff, 0xff}
	if val > max[n] {
		return netip.Addr{}, false
	}
	v := uint32(val)
	for k := 0; k < n; k++ {
		v |= parts[k] << (24 - 8*k)
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// strtoul0 reads an unsigned number at s[i:] as strtoul with base 0 does
// when s[i] is a digit. It reports false on overflow.
func strtoul0(s string, i int) (uint64, int, bool) {
	base := uint64(10)
	if s[i] == '0' {
		base = 8
		if i+2 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) {
			base = 16
			i += 2
		}
	}
	var v uint64
	overflow := false
	for i < len(s) {
		d, ok := digitVal(s[i])
		if !ok || d >= base {
			break
		}
		if v > (math.MaxUint64-d)/base {
			overflow = true
		}
		v = v*base + d
		i++
	}
	return v, i, !overflow
}

func digitVal(c byte) (uint64, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { _, ok := digitVal(c); return ok }
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// strIsDigit is ipvsadm's str_is_digit: true for "" and all-digit strings.
func strIsDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// strtol is C strtol(s, &end, 10): leading space, a sign, digits. ok is
// false when no digits were read, trailing text remains or it overflows.
func strtol(s string) (int64, bool) {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	overflow := false
	for i < len(s) && isDigit(s[i]) {
		v = v*10 + uint64(s[i]-'0')
		if v > 1<<63 {
			overflow = true
			v = 1 << 63
		}
		i++
	}
	if i == start || i != len(s) {
		return 0, false
	}
	if !neg && v > math.MaxInt64 {
		overflow = true
	}
	if overflow {
		return 0, false
	}
	if neg {
		return -int64(v), true
	}
	return int64(v), true
}

// stringToNumber is ipvsadm's string_to_number.
func stringToNumber(s string, min, max int64) (int64, bool) {
	n, ok := strtol(s)
	if !ok || n < min || n > max {
		return 0, false
	}
	return n, true
}

// atoi is C atoi: leading space, a sign, as many digits as there are.
func atoi(s string) int64 {
	i := 0
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var v int64
	for i < len(s) && isDigit(s[i]) {
		if v < 1<<40 {
			v = v*10 + int64(s[i]-'0')
		}
		i++
	}
	if neg {
		return -v
	}
	return v
}
