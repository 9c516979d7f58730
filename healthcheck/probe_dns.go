package healthcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/config"
)

// dnsTypes are the query types keepalived's DNS_CHECK knows (check_dns.c).
var dnsTypes = map[string]uint16{
	"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16,
	"AAAA": 28, "RRSIG": 46, "DNSKEY": 48,
}

// DNS message layout (RFC 1035 section 4.1.1).
const (
	dnsHeaderLen = 12
	dnsFlagQR    = 1 << 15
	dnsFlagRD    = 1 << 8
	dnsRcodeMask = 0xf
	dnsClassIN   = 1
	dnsMaxLen    = 512
)

// dnsProber is DNS_CHECK: one UDP query (recursion desired, class IN);
// good when an answer with the same id and QR set has RCODE NOERROR.
// Datagrams with another id, or queries, are ignored until the timeout,
// as check_dns.c does. Its failure texts are check_dns.c's.
type dnsProber struct {
	dst     netip.AddrPort
	d       *net.Dialer
	timeout time.Duration
	query   []byte // the question section, after the header
	rng     *rand.Rand
}

func newDNSProber(c *config.Check, t Target) (*dnsProber, error) {
	typ := c.DNSType
	if typ == "" {
		typ = "SOA"
	}
	qtype, ok := dnsTypes[strings.ToUpper(typ)]
	if !ok {
		return nil, fmt.Errorf("DNS type %q is not one keepalived knows", typ)
	}
	name := c.DNSName
	if name == "" {
		name = "."
	}
	q, err := dnsEncodeName(name)
	if err != nil {
		return nil, err
	}
	q = binary.BigEndian.AppendUint16(q, qtype)
	q = binary.BigEndian.AppendUint16(q, dnsClassIN)
	return &dnsProber{
		dst:     probeAddr(c, t),
		d:       newDialer(c, "udp", c.ConnectTimeout),
		timeout: c.ConnectTimeout,
		query:   q,
		rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}, nil
}

// dnsEncodeName writes name as DNS labels (RFC 1035 section 3.1).
func dnsEncodeName(name string) ([]byte, error) {
	var b []byte
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			continue
		}
		if len(label) > 63 {
			return nil, fmt.Errorf("DNS name %q: label longer than 63 bytes", name)
		}
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0)
	if len(b) > 255 {
		return nil, fmt.Errorf("DNS name %q is longer than 255 bytes", name)
	}
	return b, nil
}

// dnsQuery builds the whole query message.
func (p *dnsProber) dnsQuery(id uint16) []byte {
	m := make([]byte, dnsHeaderLen, dnsHeaderLen+len(p.query))
	binary.BigEndian.PutUint16(m[0:], id)
	binary.BigEndian.PutUint16(m[2:], dnsFlagRD)
	binary.BigEndian.PutUint16(m[4:], 1) // QDCOUNT
	return append(m, p.query...)
}

// dnsJudge looks at one datagram: skip reports that it is not the answer
// (too short, another id, not a response); otherwise msg is "" for a good
// answer or keepalived's failure text.
func dnsJudge(m []byte, id uint16) (skip bool, msg string) {
	if len(m) < dnsHeaderLen || binary.BigEndian.Uint16(m) != id {
		return true, ""
	}
	flags := binary.BigEndian.Uint16(m[2:])
	if flags&dnsFlagQR == 0 {
		return true, ""
	}
	if rc := flags & dnsRcodeMask; rc != 0 {
		return false, fmt.Sprintf("read error occurred. (rcode = %d)", rc)
	}
	return false, ""
}

func (p *dnsProber) probe(ctx context.Context) Result {
	conn, err := p.d.DialContext(ctx, "udp", p.dst.String())
	if err != nil {
		return Result{Err: fmt.Sprintf("network unreachable for [%s]:%d", p.dst.Addr(), p.dst.Port())}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	deadline := time.Now().Add(p.timeout)
	conn.SetDeadline(deadline)
	id := uint16(p.rng.Uint32())
	if _, err := conn.Write(p.dnsQuery(id)); err != nil {
		return Result{Err: "failed to write socket."}
	}
	buf := make([]byte, dnsMaxLen)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			var te interface{ Timeout() bool }
			if errors.As(err, &te) && te.Timeout() {
				return Result{Err: "read timeout from socket"}
			}
			var en syscall.Errno
			if errors.As(err, &en) {
				return Result{Err: fmt.Sprintf("failed to read socket; errno %d (%s)", int(en), strerror(en))}
			}
			return Result{Err: "failed to read socket; " + err.Error()}
		}
		skip, msg := dnsJudge(buf[:n], id)
		if skip {
			continue
		}
		if msg != "" {
			return Result{Err: msg}
		}
		return Result{OK: true}
	}
}

// strerror is C's strerror text: Go's, with a capital first letter.
func strerror(e syscall.Errno) string {
	s := e.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
