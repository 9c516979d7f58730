package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// MaxSnap is the most bytes of a frame an Event carries (each way).
const MaxSnap = 512

// Kinds of Event.
const (
	KindPacket = "packet" // a frame the data path handled
	KindHealth = "health" // a health check changed the table
	KindVRRP   = "vrrp"   // a failover instance changed state
	KindConfig = "config" // an edit through the control socket or a reload
	KindStats  = "stats"  // the tracer's own counters (sent once a second)
)

// Verdicts of a packet Event.
const (
	VerdictForward = "forward" // rewritten and sent on
	VerdictAnswer  = "answer"  // ARP or echo reply sent by the director
	VerdictDrop    = "drop"    // counted as dropped (Drop says why)
	VerdictQueue   = "queue"   // held until the next hop's MAC is known
	VerdictICMP    = "icmp"    // not forwarded, an ICMP error sent instead
)

// Event is one line of `ulvs trace`. Fields that do not apply are zero
// and left out of the JSON.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`

	// Packet: where it came in and went out, what it was.
	Worker int    `json:"worker"`
	In     string `json:"in,omitempty"`
	Out    string `json:"out,omitempty"`
	// Dir is "in" (client to a VIP), "out" (a real server's reply through
	// the director), "icmp" or "other"; "" for ARP.
	Dir   string         `json:"dir,omitempty"`
	Proto string         `json:"proto,omitempty"` // tcp, udp, icmp, arp
	Src   netip.AddrPort `json:"src,omitzero"`
	Dst   netip.AddrPort `json:"dst,omitzero"`
	Flags string         `json:"flags,omitempty"` // TCP flags, tcpdump's letters
	Len   int            `json:"len,omitempty"`   // IP length

	// Decision.
	Service  string         `json:"service,omitempty"` // "TCP 10.77.0.100:80"
	Conn     string         `json:"conn,omitempty"`    // hit, miss, new, expired
	Dest     netip.AddrPort `json:"dest,omitzero"`     // the real server
	Method   string         `json:"method,omitempty"`  // dr, nat, tun, fullnat
	Sched    string         `json:"sched,omitempty"`   // the scheduler's pick and why
	Template string         `json:"template,omitempty"`
	State    string         `json:"state,omitempty"` // "NONE>SYN_RECV"
	Timeout  time.Duration  `json:"timeout,omitempty"`
	Rewrite  []string       `json:"rewrite,omitempty"`
	OutSrc   netip.AddrPort `json:"out_src,omitzero"` // as it left (inner header for TUN)
	OutDst   netip.AddrPort `json:"out_dst,omitzero"`
	Frames   int            `json:"frames,omitempty"` // frames sent (several: fragments, segments)
	ICMP     string         `json:"icmp,omitempty"`   // an ICMP error the director sent
	Verdict  string         `json:"verdict,omitempty"`
	Drop     string         `json:"drop,omitempty"` // the drop counter's name

	// Health, vrrp, config: what changed, and the addresses concerned.
	Text  string       `json:"text,omitempty"`
	Addrs []netip.Addr `json:"addrs,omitempty"`

	// Frames as they arrived and left, first MaxSnap bytes (only when
	// asked for, for --write); InLen and OutLen are their full lengths.
	InFrame  []byte `json:"in_frame,omitempty"`
	InLen    int    `json:"in_len,omitempty"`
	OutFrame []byte `json:"out_frame,omitempty"`
	OutLen   int    `json:"out_len,omitempty"`

	// Stats: the tracer's counters, cumulative.
	Stats *Stats `json:"stats,omitempty"`
}

// Stats counts what a trace lost.
type Stats struct {
	// Traced is the records the workers wrote; RingFull those they
	// could not (the reader was behind); RateLimited those the rate
	// limit skipped; Slow the events this client was too slow for.
	Traced      uint64 `json:"traced"`
	RingFull    uint64 `json:"ring_full"`
	RateLimited uint64 `json:"rate_limited"`
	Slow        uint64 `json:"slow"`
}

// Line is e as one line of text, without a newline.
func (e *Event) Line() string {
	var b strings.Builder
	b.WriteString(e.Time.Format("15:04:05.000000"))
	b.WriteByte(' ')
	switch e.Kind {
	case KindPacket, "":
	case KindStats:
		if s := e.Stats; s != nil {
			fmt.Fprintf(&b, "stats traced %d ring_full %d rate_limited %d slow %d", s.Traced, s.RingFull, s.RateLimited, s.Slow)
		}
		return b.String()
	default:
		b.WriteString(e.Kind)
		b.WriteString(": ")
		b.WriteString(e.Text)
		return b.String()
	}
	b.WriteString(e.Decision())
	return b.String()
}

// Decision is a packet Event as text without the time: the frame, then
// what the director did with it.
func (e *Event) Decision() string {
	var b strings.Builder
	fmt.Fprintf(&b, "w%d %s", e.Worker, e.In)
	if e.Dir != "" {
		fmt.Fprintf(&b, " %s", e.Dir)
	}
	b.WriteByte(' ')
	b.WriteString(e.Proto)
	if e.Src.IsValid() {
		fmt.Fprintf(&b, " %s > %s", addrText(e.Src), addrText(e.Dst))
	}
	if e.Flags != "" {
		fmt.Fprintf(&b, " [%s]", e.Flags)
	}
	if e.Len > 0 {
		fmt.Fprintf(&b, " len %d", e.Len)
	}
	sep := ": "
	item := func(format string, args ...any) {
		b.WriteString(sep)
		fmt.Fprintf(&b, format, args...)
		sep = ", "
	}
	if e.Service != "" {
		item("service %s", e.Service)
	}
	if e.Conn != "" {
		item("conn %s", e.Conn)
	}
	if e.Template != "" {
		item("template %s", e.Template)
	}
	if e.Sched != "" {
		item("sched %s", e.Sched)
	}
	if e.Dest.IsValid() {
		item("dest %s %s", e.Dest, e.Method)
	}
	if e.State != "" {
		if e.Timeout > 0 {
			item("state %s (%s)", e.State, e.Timeout)
		} else {
			item("state %s", e.State)
		}
	}
	for _, r := range e.Rewrite {
		item("%s", r)
	}
	if e.ICMP != "" {
		item("sent %s", e.ICMP)
	}
	if e.Frames > 1 {
		item("%d frames", e.Frames)
	}
	switch e.Verdict {
	case VerdictDrop:
		item("DROP %s", e.Drop)
	case "":
	default:
		if e.Out != "" {
			item("%s on %s", e.Verdict, e.Out)
		} else {
			item("%s", e.Verdict)
		}
	}
	return b.String()
}

// addrText prints an address with its port, or without for port 0.
func addrText(a netip.AddrPort) string {
	if a.Port() == 0 {
		return a.Addr().String()
	}
	return a.String()
}

// TCPFlags writes TCP flags as tcpdump does: S, F, R, P, U, E, W, and "."
// for ACK.
func TCPFlags(f uint8) string {
	const letters = "FSRP.UEW"
	var b [8]byte
	n := 0
	for _, bit := range []uint{1, 0, 2, 3, 5, 6, 7, 4} { // SFRPUEW then .
		if f&(1<<bit) != 0 {
			b[n] = letters[bit]
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}
