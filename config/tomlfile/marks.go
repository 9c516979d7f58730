package tomlfile

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// This file parses the [[fwmark]] tables: the packet classifiers that give
// a mark service (fwmark = N) its packets.

// marks parses the [[fwmark]] tables into f.Marks and returns them by
// number. A mark whose number is valid is in the map even when one of its
// matches has a problem, so that the services naming it are not also
// reported.
func (p *fileParser) marks(f *config.File, tables []map[string]any) map[uint32]*config.Mark {
	byNum := make(map[uint32]*config.Mark, len(tables))
	first := make(map[uint32]int, len(tables)) // mark -> index of its table
	for i, m := range tables {
		path := fmt.Sprintf("fwmark[%d]", i)
		mk, numOK, ok := p.mark(path, m)
		if !numOK {
			continue
		}
		if j, dup := first[mk.Mark]; dup {
			p.errorf(path+".mark", "duplicate of fwmark[%d] (mark %d)", j, mk.Mark)
			continue
		}
		first[mk.Mark] = i
		if ok {
			f.Marks = append(f.Marks, mk)
		}
		byNum[mk.Mark] = &mk
	}
	return byNum
}

// mark parses one [[fwmark]] table. numOK says whether its mark number is
// valid, ok whether all of it is.
func (p *fileParser) mark(path string, m map[string]any) (mk config.Mark, numOK, ok bool) {
	t := p.table(path, m, "mark", "match")
	defer t.done()
	if _, set := m["mark"]; set {
		n, nok := t.int("mark", 1, math.MaxUint32)
		mk.Mark, numOK = uint32(n), nok
	} else {
		p.errorf(path+".mark", "required: the mark number, 1 to %d", uint32(math.MaxUint32))
	}
	ok = numOK

	v, present := m["match"]
	matches := t.tables("match")
	switch {
	case !present:
		p.errorf(path+".match", "required: at least one [[fwmark.match]] choosing the packets that get the mark")
		ok = false
	case len(matches) == 0:
		if arr, isArr := v.([]any); isArr && len(arr) == 0 {
			p.errorf(path+".match", "must hold at least one match")
		}
		ok = false // otherwise reported by tables
	}
	for i, mm := range matches {
		match, mok := p.markMatch(fmt.Sprintf("%s.match[%d]", path, i), mm)
		if mok {
			mk.Matches = append(mk.Matches, match)
		}
		ok = ok && mok
	}
	return mk, numOK, ok
}

// markMatch parses one [[fwmark.match]] table.
func (p *fileParser) markMatch(path string, m map[string]any) (config.MarkMatch, bool) {
	t := p.table(path, m, "protocol", "address", "ports", "source")
	defer t.done()
	ok := true
	match := config.MarkMatch{Proto: vs.TCP}

	if s, set := t.string("protocol"); set {
		if proto, valid := config.ParseProto(s); valid {
			match.Proto = proto
		} else {
			p.errorf(path+".protocol", "must be \"tcp\" or \"udp\" (got %q)", s)
			ok = false
		}
	}

	var present, pok bool
	match.Addr, present, pok = p.prefix(t, path, "address")
	if !present {
		p.errorf(path+".address", "required: the destination IPv4 or IPv6 address (the VIP) or prefix")
	}
	ok = ok && present && pok
	match.Src, present, pok = p.prefix(t, path, "source")
	ok = ok && pok
	if present && pok && match.Addr.IsValid() && isIPv6Prefix(match.Src) != isIPv6Prefix(match.Addr) {
		p.errorf(path+".source", "%s is not of the address's family (%s): a packet has both", match.Src, match.Addr)
		ok = false
	}

	if v, present := m["ports"]; present {
		ports, pok := p.ports(t.field("ports"), v)
		match.Ports, ok = ports, ok && pok
	}
	return match, ok
}

// prefix parses the IPv4 or IPv6 address or prefix at key of the match at path:
// present tells whether the key is there, ok whether its value is good
// (errors are reported).
func (p *fileParser) prefix(t *tomlTable, path, key string) (pfx netip.Prefix, present, ok bool) {
	if _, present = t.m[key]; !present {
		return netip.Prefix{}, false, true
	}
	s, isString := t.string(key)
	if !isString {
		return netip.Prefix{}, true, false
	}
	pfx, msg := config.ParseMarkPrefix(s)
	if msg != "" {
		p.errorf(path+"."+key, "%s", msg)
		return netip.Prefix{}, true, false
	}
	return pfx, true, true
}

// ports parses the ports array of a match at field: integers and
// "first-last" (or iptables' "first:last") strings. The result is sorted,
// with overlapping and adjacent ranges merged; nil for an empty array,
// which matches every port.
func (p *fileParser) ports(field string, v any) ([]config.PortRange, bool) {
	arr, isArr := v.([]any)
	if !isArr {
		p.wrongType(field, v, `an array of ports and "first-last" ranges`)
		return nil, false
	}
	ok := true
	var out []config.PortRange
	for i, e := range arr {
		elem := fmt.Sprintf("%s[%d]", field, i)
		switch e := e.(type) {
		case int64:
			if e < 1 || e > math.MaxUint16 {
				p.errorf(elem, "port must be between 1 and 65535 (got %d); leave ports out to match every port", e)
				ok = false
				continue
			}
			out = append(out, config.PortRange{First: uint16(e), Last: uint16(e)})
		case string:
			r, msg := config.ParsePortRange(e)
			if msg != "" {
				p.errorf(elem, "%s", msg)
				ok = false
				continue
			}
			out = append(out, r)
		default:
			p.errorf(elem, "must be a port number or a \"first-last\" range string (got %s)", tomlValueText(e))
			ok = false
		}
	}
	if !ok {
		return nil, false
	}
	return config.MergePorts(out), true
}

// markHasProto reports whether a match of mk selects protocol proto.
func markHasProto(mk *config.Mark, proto vs.Protocol) bool {
	return slices.ContainsFunc(mk.Matches, func(m config.MarkMatch) bool { return m.Proto == proto })
}

// definedMarks lists the mark numbers of marks for an error message.
func definedMarks(marks map[uint32]*config.Mark) string {
	if len(marks) == 0 {
		return ""
	}
	nums := make([]uint32, 0, len(marks))
	for n := range marks {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	var b strings.Builder
	b.WriteString(" (defined: ")
	for i, n := range nums {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(uint64(n), 10))
	}
	b.WriteByte(')')
	return b.String()
}
