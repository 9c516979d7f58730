package trace

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Filter selects Events. The zero Filter (and Parse of "") matches all.
type Filter struct {
	root node
	text string
}

// String returns the filter's text as parsed.
func (f *Filter) String() string { return f.text }

// Match reports whether e passes the filter.
func (f *Filter) Match(e *Event) bool {
	if f == nil || f.root == nil {
		return true
	}
	if e.Kind == KindStats {
		return true
	}
	return f.root.match(e)
}

// ErrFilter is wrapped by every error of Parse.
var ErrFilter = errors.New("bad trace filter")

// maxFilterLen bounds a filter's text; maxDepth its nesting.
const (
	maxFilterLen = 4096
	maxDepth     = 64
)

// Parse parses a filter. The language is tcpdump's for the common cases:
//
//	host A, src host A, dst host A         A an IPv4 or IPv6 address
//	net P, src net P, dst net P            P a prefix, 10.77.1.0/24, 2001:db8::/64
//	port N, src port N, dst port N
//	tcp, udp, icmp, icmp6, arp
//	not X, X and Y, X or Y, (X)            also !, &&, ||
//
// plus ipvsadm's names for a service or real server:
//
//	-t VIP:PORT, -u VIP:PORT               the TCP or UDP service ([VIP6]:PORT)
//	-r RIP[:PORT]                          a real server (RIP6 or [RIP6]:PORT)
//
// Terms side by side are joined with "and" (`-t VIP:80 -r RIP:80`). A
// packet matches an address or port if it had it when it arrived or when
// it left (so `host RIP` shows the client's packets rewritten to the real
// server as well as its replies); a health, vrrp or config event matches
// by its service, real server and addresses.
func Parse(s string) (*Filter, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrFilter, maxFilterLen)
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	f := &Filter{text: strings.Join(toks, " ")}
	if len(toks) == 0 {
		return f, nil
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected %q", ErrFilter, p.toks[p.i])
	}
	f.root = n
	return f, nil
}

// tokenize splits s at blanks and around ( ) ! and the && || operators.
func tokenize(s string) ([]string, error) {
	var out []string
	cur := strings.Builder{}
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			flush()
		case c == '(' || c == ')':
			flush()
			out = append(out, string(c))
		case c == '!' && cur.Len() == 0:
			out = append(out, "!")
		case (c == '&' || c == '|') && i+1 < len(s) && s[i+1] == c:
			flush()
			out = append(out, s[i:i+2])
			i++
		case c < 0x21 || c > 0x7e:
			return nil, fmt.Errorf("%w: character %q", ErrFilter, c)
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

type parser struct {
	toks []string
	i    int
}

func (p *parser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *parser) next() (string, error) {
	if p.i >= len(p.toks) {
		return "", fmt.Errorf("%w: unexpected end", ErrFilter)
	}
	t := p.toks[p.i]
	p.i++
	return t, nil
}

func (p *parser) or(depth int) (node, error) {
	n, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t == "or" || t == "||"; t = p.peek() {
		p.i++
		m, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		n = orNode{n, m}
	}
	return n, nil
}

func (p *parser) and(depth int) (node, error) {
	n, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch t {
		case "and", "&&":
			p.i++
		case "", "or", "||", ")":
			return n, nil
		}
		m, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		n = andNode{n, m}
	}
}

func (p *parser) unary(depth int) (node, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrFilter, maxDepth)
	}
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t {
	case "not", "!":
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case "(":
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if t, err := p.next(); err != nil || t != ")" {
			return nil, fmt.Errorf("%w: missing )", ErrFilter)
		}
		return n, nil
	case ")":
		return nil, fmt.Errorf("%w: unexpected )", ErrFilter)
	case "tcp", "udp", "icmp", "icmp6", "arp":
		return protoNode(t), nil
	case "ip":
		return notNode{protoNode("arp")}, nil
	case "-t", "-u", "-r":
		arg, err := p.next()
		if err != nil {
			return nil, fmt.Errorf("%w: %s needs an address", ErrFilter, t)
		}
		return ipvsadmTerm(t, arg)
	case "-f":
		return nil, fmt.Errorf("%w: -f (fwmark services) is not supported in trace filters; use -t/-u or host/port", ErrFilter)
	case "src", "dst":
		q, err := p.next()
		if err != nil {
			return nil, fmt.Errorf("%w: %s needs host, net or port", ErrFilter, t)
		}
		return p.prim(t, q)
	}
	return p.prim("", t)
}

// prim parses host/net/port with direction dir ("", "src", "dst").
func (p *parser) prim(dir, kw string) (node, error) {
	switch kw {
	case "host", "net", "port":
	default:
		if dir != "" {
			return nil, fmt.Errorf("%w: %s %s: want host, net or port", ErrFilter, dir, kw)
		}
		return nil, fmt.Errorf("%w: unknown term %q", ErrFilter, kw)
	}
	arg, err := p.next()
	if err != nil {
		return nil, fmt.Errorf("%w: %s needs a value", ErrFilter, kw)
	}
	switch kw {
	case "host":
		a, err := netip.ParseAddr(arg)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%w: host %q: want an IP address", ErrFilter, arg)
		}
		return addrNode{dir: dir, pfx: netip.PrefixFrom(a, a.BitLen())}, nil
	case "net":
		pf, err := netip.ParsePrefix(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: net %q: want an IP prefix", ErrFilter, arg)
		}
		return addrNode{dir: dir, pfx: pf.Masked()}, nil
	}
	n, err := strconv.ParseUint(arg, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%w: port %q: want a number 0-65535", ErrFilter, arg)
	}
	return portNode{dir: dir, port: uint16(n)}, nil
}

// ipvsadmTerm parses -t/-u VIP:PORT and -r RIP[:PORT].
func ipvsadmTerm(opt, arg string) (node, error) {
	if opt == "-r" {
		if a, err := netip.ParseAddr(arg); err == nil && a.Zone() == "" {
			return realNode{addr: a}, nil
		}
	}
	ap, err := netip.ParseAddrPort(arg)
	if err != nil || ap.Addr().Zone() != "" {
		return nil, fmt.Errorf("%w: %s %q: want ADDR:PORT or [IPv6ADDR]:PORT", ErrFilter, opt, arg)
	}
	switch opt {
	case "-t":
		return serviceNode{proto: "tcp", name: "TCP " + ap.String(), ap: ap}, nil
	case "-u":
		return serviceNode{proto: "udp", name: "UDP " + ap.String(), ap: ap}, nil
	}
	return realNode{addr: ap.Addr(), port: ap.Port(), hasPort: true}, nil
}

type node interface{ match(e *Event) bool }

type orNode struct{ a, b node }

func (n orNode) match(e *Event) bool { return n.a.match(e) || n.b.match(e) }

type andNode struct{ a, b node }

func (n andNode) match(e *Event) bool { return n.a.match(e) && n.b.match(e) }

type notNode struct{ a node }

func (n notNode) match(e *Event) bool { return !n.a.match(e) }

type protoNode string

func (n protoNode) match(e *Event) bool {
	if e.Kind != KindPacket {
		return strings.HasPrefix(strings.ToLower(e.Service), string(n)+" ")
	}
	return e.Proto == string(n)
}

// addrNode is host or net.
type addrNode struct {
	dir string
	pfx netip.Prefix
}

func (n addrNode) match(e *Event) bool {
	in := func(ap netip.AddrPort) bool { return ap.IsValid() && n.pfx.Contains(ap.Addr()) }
	if e.Kind != KindPacket {
		if in(e.Dest) || in(serviceAddr(e.Service)) {
			return true
		}
		for _, a := range e.Addrs {
			if n.pfx.Contains(a) {
				return true
			}
		}
		return false
	}
	src := in(e.Src) || in(e.OutSrc)
	dst := in(e.Dst) || in(e.OutDst)
	switch n.dir {
	case "src":
		return src
	case "dst":
		return dst
	}
	return src || dst
}

type portNode struct {
	dir  string
	port uint16
}

func (n portNode) match(e *Event) bool {
	is := func(ap netip.AddrPort) bool {
		return ap.IsValid() && ap.Port() == n.port && e.Proto != "icmp" && e.Proto != "icmp6"
	}
	if e.Kind != KindPacket {
		return (e.Dest.IsValid() && e.Dest.Port() == n.port) || serviceAddr(e.Service).Port() == n.port
	}
	src := is(e.Src) || is(e.OutSrc)
	dst := is(e.Dst) || is(e.OutDst)
	switch n.dir {
	case "src":
		return src
	case "dst":
		return dst
	}
	return src || dst
}

// serviceNode is -t/-u: the service a packet was matched to, or a packet
// to or (a reply) from the virtual address and port.
type serviceNode struct {
	proto, name string
	ap          netip.AddrPort
}

func (n serviceNode) match(e *Event) bool {
	if e.Service == n.name {
		return true
	}
	return e.Kind == KindPacket && e.Proto == n.proto && (e.Dst == n.ap || e.OutSrc == n.ap)
}

// realNode is -r: packets scheduled to the real server or from it.
type realNode struct {
	addr    netip.Addr
	port    uint16
	hasPort bool
}

func (n realNode) match(e *Event) bool {
	is := func(ap netip.AddrPort) bool {
		return ap.IsValid() && ap.Addr() == n.addr && (!n.hasPort || ap.Port() == n.port)
	}
	if is(e.Dest) {
		return true
	}
	return e.Kind == KindPacket && (is(e.Src) || is(e.OutDst))
}

// serviceAddr returns the address of a service name "TCP A:P"; the zero
// AddrPort if it is not one.
func serviceAddr(s string) netip.AddrPort {
	_, rest, ok := strings.Cut(s, " ")
	if !ok {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(rest)
	return ap
}
