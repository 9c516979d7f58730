package conntrack

import "math/rand/v2"

// This file holds the table's part of IPVS's defences against a full
// table (ip_vs_ctl.c update_defense_level decides, the engine applies):
// secure_tcp's stricter state table and drop_entry's random early drop.

// SetSecureTCP switches Step between the kernel's tcp_states table (off)
// and tcp_states_dos (on), as secure_tcp does when its defence level
// reaches 2 (ip_vs_protocol_timeout_change, tcp_timeout_change). Existing
// connections keep their state; their next packet steps through the new
// table. Like every method but SetTimeouts, call it on the table's owner.
func (t *Table) SetSecureTCP(on bool) { t.secure = on }

// SecureTCP reports whether Step uses tcp_states_dos.
func (t *Table) SecureTCP() bool { return t.secure }

// dropIdle is how long a connection must have been idle before drop_entry
// may take an established (or UDP) one: todrop_entry's 60 seconds.
const dropIdle = 60 * 1000

// DropEntry is ip_vs_random_dropentry (ip_vs_conn.c) for this table, run
// once a second while drop_entry is active: it looks at 1/32 of the slots
// chosen at random and removes
//
//   - TCP connections in SYN_RECV or SYNACK (embryonic: a spoofed SYN
//     never gets further), always;
//   - established TCP connections and UDP ones that todrop_entry picks:
//     idle for at least 60 seconds and with 1 to 8 packets from the
//     client, every n-th such connection with n packets (fewer packets,
//     dropped sooner).
//
// Every other state is left alone. Each removed connection releases its
// dest's counters and its persistence template's count, and the template
// is told to expire now (it dies if nothing else holds it), as the
// kernel expires cp->control. It returns how many connections it removed.
// DropEntry moves entries: every *Conn from this table is invalid
// afterwards. It does not allocate.
func (t *Table) DropEntry(now Tick, dests Dests) (dropped int) {
	n := len(t.slots) >> 5
	if n == 0 {
		n = 1
	}
	if t.live == 0 {
		return 0
	}
	to := t.timeouts.Load()
	for ; n > 0; n-- {
		c := &t.slots[rand.Uint32N(t.ring.n)]
		if c.DestID == 0 || c.Flags&(flagDead|FlagTemplate) != 0 || !t.dropVictim(c, now, to) {
			continue
		}
		tmpl := c.Tmpl
		t.Delete(c, dests)
		if tmpl != 0 && t.tmpls != nil {
			t.tmpls.ExpireNow(tmpl, now)
		}
		dropped++
	}
	return dropped
}

// dropVictim is ip_vs_random_dropentry's choice for a connection it
// picked, IPv4 or IPv6 (Table6.DropEntry): embryonic TCP always, an
// established TCP or any other connection when todrop says so, no other
// TCP state.
func (t *Table) dropVictim(c *Conn, now Tick, to *Timeouts) bool {
	if c.Key.Proto != protoTCP {
		return t.todrop(c, now, to)
	}
	switch c.State {
	case StateSynRecv, StateSynAck:
		return true
	case StateEstablished:
		return t.todrop(c, now, to)
	}
	return false
}

// todrop is todrop_entry: c has been idle for at least 60 seconds (its
// remaining time is at most its state's timeout less 60 s) and has seen
// 1 to 8 client packets; of the connections with i packets, every i-th
// is dropped (one counter per i, per table as the kernel keeps one per
// network namespace).
func (t *Table) todrop(c *Conn, now Tick, to *Timeouts) bool {
	timeout := to.forState(c.Key.Proto, c.State)
	if int64(c.Expires.Sub(now)) > int64(timeout)-dropIdle {
		return false
	}
	i := c.InPkts
	if i < 1 || i > 8 {
		return false
	}
	i--
	t.dropCount[i]--
	if t.dropCount[i] > 0 {
		return false
	}
	t.dropCount[i] = int8(i + 1)
	return true
}
