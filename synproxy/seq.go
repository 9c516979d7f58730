package synproxy

import "github.com/ulvs/ulvs/pkt"

// Phase is where a proxied connection stands.
type Phase uint8

// Phases of a proxied connection.
const (
	// PhaseNone: not a proxied connection (the zero value).
	PhaseNone Phase = iota
	// PhaseOpening: the client's ACK carried a valid cookie, the SYN to
	// the real server went; its SYN-ACK has not come yet.
	PhaseOpening
	// PhaseOpen: both sides are joined; every segment is translated.
	PhaseOpen
)

// Flags of Conn.Opts.
const (
	OptWScale   = 1 << iota // window scaling negotiated with the client
	OptSACK                 // SACK-permitted negotiated with the client
	OptTS                   // timestamps negotiated with the client
	OptServerWS             // the real server answered with a window scale
	OptServerTS             // the real server answered with timestamps
)

// OurWScale is the window scale the proxy's SYN-ACK offers a client that
// offered one: Linux's usual value with the default tcp_rmem.
const OurWScale = 7

// Conn is the proxy's state of one connection. It holds no pointers and
// lives in the connection table entry.
type Conn struct {
	// Delta is the real server's ISN less the cookie (PhaseOpen); the
	// cookie itself while opening.
	Delta uint32
	// TSOff is the real server's timestamp less ours (PhaseOpen); the
	// client's last timestamp value while opening.
	TSOff uint32
	// ISN is the client's initial sequence number.
	ISN uint32
	// SentAt is when the SYN to the real server last went (engine ticks).
	SentAt uint32
	// Win is the window of the client's ACK, as sent.
	Win uint16
	// MSS is the client's MSS as the cookie kept it.
	MSS uint16
	Phase
	// Opts are OptWScale ... OptServerTS.
	Opts uint8
	// ClientWS and ServerWS are the two sides' window scales.
	ClientWS, ServerWS uint8
}

// Opening fills c for a connection whose client's ACK (sequence number
// seq, ack number ack, window win, timestamp tsval if any) carried a valid
// cookie decoded to o.
func (c *Conn) Opening(o *Options, seq, ack uint32, win uint16, tsval uint32) {
	*c = Conn{Delta: ack - 1, TSOff: tsval, ISN: seq - 1, Win: win, MSS: o.MSS, Phase: PhaseOpening}
	if o.HasWScale {
		c.Opts |= OptWScale
		c.ClientWS = o.WScale
	}
	if o.SACKPerm {
		c.Opts |= OptSACK
	}
	if o.HasTS {
		c.Opts |= OptTS
	}
}

// Options returns the client's options as the SYN to the real server
// repeats them.
func (c *Conn) Options() Options {
	return Options{MSS: c.MSS, HasWScale: c.Opts&OptWScale != 0, WScale: c.ClientWS,
		SACKPerm: c.Opts&OptSACK != 0, HasTS: c.Opts&OptTS != 0}
}

// Cookie returns the ISN the proxy gave the client.
func (c *Conn) Cookie() uint32 {
	if c.Phase == PhaseOpening {
		return c.Delta
	}
	return 0
}

// ClientTSVal returns the client's last timestamp while opening.
func (c *Conn) ClientTSVal() uint32 { return c.TSOff }

// Open joins the sides once the real server's SYN-ACK (sequence number
// seq, options o) came: from now on Delta and TSOff translate. ourTS is
// the timestamp clock the proxy's SYN-ACK used (the client echoes it),
// read now; the offset keeps the real server's clock running on from it.
func (c *Conn) Open(seq uint32, o *Options, ourTS uint32) {
	c.Delta = seq - c.Delta
	c.TSOff = 0
	if o.HasTS && c.Opts&OptTS != 0 {
		c.Opts |= OptServerTS
		c.TSOff = o.TSVal - ourTS
	}
	if o.HasWScale && c.Opts&OptWScale != 0 {
		c.Opts |= OptServerWS
		c.ServerWS = o.WScale
	}
	c.Phase = PhaseOpen
}

// csumAdj accumulates the one's complement sums of the 16-bit words of a
// segment before and after changes, for one RFC 1624 update at the end.
type csumAdj struct{ old, new uint32 }

// words returns the sum of the aligned 16-bit words covering b[off:off+n].
func words(b []byte, off, n int) uint32 {
	lo, hi := off&^1, (off+n+1)&^1
	var s uint32
	for i := lo; i < hi; i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	return s
}

func (a *csumAdj) put32(b []byte, off int, v uint32) {
	a.old += words(b, off, 4)
	putBE32(b[off:], v)
	a.new += words(b, off, 4)
}

func (a *csumAdj) put16(b []byte, off int, v uint16) {
	a.old += words(b, off, 2)
	putBE16(b[off:], v)
	a.new += words(b, off, 2)
}

// apply writes the adjusted checksum; a partial one (completed later by
// the device over the header) is left alone.
func (a *csumAdj) apply(t pkt.TCP, partial bool) {
	if partial || a.old == a.new {
		return
	}
	old, new := pkt.Fold(a.old), pkt.Fold(a.new)
	t.SetChecksum(pkt.Update16(t.Checksum(), old, new))
}

// TCP header offsets used here.
const (
	offSeq    = 4
	offAck    = 8
	offFlags  = 13
	offWindow = 14
	offOpts   = 20
)

// ToServer translates a client's segment to the real server in place: the
// acknowledgment number and SACK blocks (they count the real server's
// bytes) up by Delta, the echoed timestamp up by TSOff, and the window
// re-scaled when the server did not agree to window scaling. t is the TCP
// header and data (at least the header); partial says the checksum field
// holds only the pseudo-header sum (CHECKSUM_PARTIAL). It does not
// allocate.
func (c *Conn) ToServer(t pkt.TCP, partial bool) {
	var a csumAdj
	if t[offFlags]&pkt.TCPAck != 0 {
		a.put32(t, offAck, t.Ack()+c.Delta)
	}
	if c.Opts&OptWScale != 0 && c.Opts&OptServerWS == 0 {
		a.put16(t, offWindow, rescale(t.Window(), c.ClientWS, 0))
	}
	c.options(t, &a, true)
	a.apply(t, partial)
}

// ToClient translates a real server's segment to the client in place:
// the sequence number down by Delta, the timestamp value down by TSOff,
// and the window re-scaled from the server's scale to the one the proxy
// offered the client.
func (c *Conn) ToClient(t pkt.TCP, partial bool) {
	var a csumAdj
	a.put32(t, offSeq, t.Seq()-c.Delta)
	if c.Opts&OptWScale != 0 && c.ServerWS != OurWScale {
		a.put16(t, offWindow, rescale(t.Window(), c.ServerWS, OurWScale))
	}
	c.options(t, &a, false)
	a.apply(t, partial)
}

// rescale converts a window field sent with scale from into one read with
// scale to, capped at 65535; a nonzero window stays nonzero.
func rescale(win uint16, from, to uint8) uint16 {
	if from == to {
		return win
	}
	v := uint64(win) << from >> to
	switch {
	case v > 0xffff:
		return 0xffff
	case v == 0 && win != 0:
		return 1
	}
	return uint16(v)
}

// options walks the segment's options: SACK blocks to the server go up by
// Delta; timestamps to the server have their echo raised by TSOff, those
// to the client their value lowered by it.
func (c *Conn) options(t pkt.TCP, a *csumAdj, toServer bool) {
	end := t.DataOffset()
	if end <= offOpts || end > len(t) {
		return
	}
	i := offOpts
	for i < end {
		kind := t[i]
		if kind == optEnd {
			return
		}
		if kind == optNOP {
			i++
			continue
		}
		if i+2 > end {
			return
		}
		n := int(t[i+1])
		if n < 2 || i+n > end {
			return
		}
		switch {
		case kind == optSACK && toServer && (n-2)%8 == 0:
			for j := i + 2; j < i+n; j += 4 {
				a.put32(t, j, be32(t[j:])+c.Delta)
			}
		case kind == optTimestamp && n == lenTimestamp && c.Opts&OptServerTS != 0:
			if toServer {
				a.put32(t, i+6, be32(t[i+6:])+c.TSOff)
			} else {
				a.put32(t, i+2, be32(t[i+2:])-c.TSOff)
			}
		}
		i += n
	}
}

// RSTToClient gives a real server's reset, sent while the connection was
// opening (it refused the SYN), the sequence number the client expects:
// one past the cookie.
func (c *Conn) RSTToClient(t pkt.TCP, partial bool) {
	var a csumAdj
	a.put32(t, offSeq, c.Cookie()+1)
	a.apply(t, partial)
}
