package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Value syntax, as keepalived's lib/parser.c reads it.

// timerDigits is keepalived's TIMER_HZ_DIGITS: a <TIMER> has at most six
// decimal places (microseconds).
const timerDigits = 6

// maxTimer bounds every timer: keepalived's TIMER_MAXIMUM is ULONG_MAX-1
// microseconds; ulvs stops at 10^15 us (31 years) so that a Duration
// cannot overflow.
const maxTimer = 1_000_000_000_000_000

// parseTimer reads a <TIMER>: decimal seconds with up to six decimal
// places ("2", "0.5", "1.000001"), between lo and hi microseconds.
func parseTimer(s string, lo, hi uint64) (time.Duration, string) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" && (!hasDot || frac == "") || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Sprintf("%q is not a number of seconds", s)
	}
	if len(frac) > timerDigits {
		return 0, fmt.Sprintf("%q has more than %d decimal places", s, timerDigits)
	}
	digits := strings.TrimLeft(whole+frac+strings.Repeat("0", timerDigits-len(frac)), "0")
	if digits == "" {
		digits = "0"
	}
	us, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || us > hi || us > maxTimer {
		return 0, fmt.Sprintf("%q is too large (at most %s s)", s, formatMicros(min(hi, maxTimer)))
	}
	if us < lo {
		return 0, fmt.Sprintf("%q is too small (at least %s s)", s, formatMicros(lo))
	}
	return time.Duration(us) * time.Microsecond, ""
}

func formatMicros(us uint64) string {
	s := strconv.FormatUint(us/1e6, 10)
	if f := us % 1e6; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", f), "0")
	}
	return s
}

// parseUint reads an unsigned decimal integer between lo and hi.
func parseUint(s string, lo, hi uint64) (uint64, string) {
	if !allDigits(s) || s == "" {
		return 0, fmt.Sprintf("%q is not a whole number", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Sprintf("%q is out of range [%d, %d]", s, lo, hi)
	}
	return n, ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseBool reads keepalived's check_true_false words.
func parseBool(s string) (bool, bool) {
	switch s {
	case "true", "on", "yes":
		return true, true
	case "false", "off", "no":
		return false, true
	}
	return false, false
}

// parseIPv4 reads an address; ulvs is IPv4 only, so an IPv6 address is
// refused with its own message.
func parseIPv4(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Sprintf("%q is not an IP address", s)
	case !a.Is4():
		return netip.Addr{}, fmt.Sprintf("%s: IPv6 is not supported by ulvs (IPv4 only)", s)
	}
	return a, ""
}

// parseAddr reads an IPv4 or IPv6 address (virtual and real servers;
// keepalived takes both, inet_pton of the family the text is in).
func parseAddr(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Sprintf("%q is not an IP address", s)
	case a.Zone() != "":
		return netip.Addr{}, fmt.Sprintf("%s: an address with a zone is not supported by ulvs", s)
	}
	return a, ""
}

// parsePort reads an optional port word: absent or 0 means none.
func parsePort(args []string, i int) (uint16, string) {
	if len(args) <= i {
		return 0, ""
	}
	n, msg := parseUint(args[i], 0, 65535)
	return uint16(n), msg
}

// parseHex reads a UDP_CHECK hex string as keepalived's read_hex_str:
// pairs of hex digits, white space between groups, a lone digit before a
// space being one byte.
func parseHex(s string) ([]byte, string) {
	var out []byte
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		hi, ok := hexVal(s[i])
		if !ok {
			return nil, fmt.Sprintf("%q is not a hex string", s)
		}
		i++
		v := hi
		if i < len(s) && s[i] != ' ' && s[i] != '\t' {
			lo, ok := hexVal(s[i])
			if !ok {
				return nil, fmt.Sprintf("%q is not a hex string", s)
			}
			v = hi<<4 | lo
			i++
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, "empty hex string"
	}
	return out, ""
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isHex(c byte) bool { _, ok := hexVal(c); return ok }
