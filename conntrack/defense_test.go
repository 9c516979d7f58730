package conntrack

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

func TestSecureTCPStates(t *testing.T) {
	// The rows where tcp_states_dos differs from tcp_states
	// (ip_vs_proto_tcp.c); every other cell is the same.
	diff := map[[3]int]State{
		{int(Input), rowSyn, int(sSA)}:     sSA,
		{int(Input), rowFin, int(sSA)}:     sSA,
		{int(Input), rowAck, int(sSR)}:     sSR,
		{int(Input), rowAck, int(sSA)}:     sSA,
		{int(Input), rowRst, int(sSA)}:     sCL,
		{int(Output), rowSyn, int(sSR)}:    sSA,
		{int(Output), rowSyn, int(sSA)}:    sSA,
		{int(InputOnly), rowSyn, int(sNO)}: sSA,
		{int(InputOnly), rowSyn, int(sFW)}: sSA,
		{int(InputOnly), rowSyn, int(sTW)}: sSA,
		{int(InputOnly), rowSyn, int(sCL)}: sSA,
		{int(InputOnly), rowSyn, int(sCW)}: sSA,
		{int(InputOnly), rowSyn, int(sLA)}: sSA,
		{int(InputOnly), rowSyn, int(sLI)}: sSA,
		{int(InputOnly), rowSyn, int(sSA)}: sSA,
	}
	for dir := range 3 {
		for row := range numRows {
			for s := range NumTCPStates {
				want, differs := diff[[3]int{dir, row, s}]
				if !differs {
					want = tcpStates[dir][row][s]
				} else if want == tcpStates[dir][row][s] {
					t.Errorf("%v row %d %v: listed as different but both tables say %v", Direction(dir), row, State(s), want)
				}
				if got := tcpStatesDos[dir][row][s]; got != want {
					t.Errorf("dos %v row %d %v = %v, want %v", Direction(dir), row, State(s), got, want)
				}
			}
		}
	}
}

// step is one segment: its direction and flags.
type step struct {
	dir   Direction
	flags uint8
}

func TestSecureTCPStep(t *testing.T) {
	vt := newFixture(t)
	tests := []struct {
		name   string
		dest   uint32
		secure bool
		steps  []step
		want   []State
	}{
		{"NAT normal: client ACK establishes", idMasq, false, []step{{Input, TCPSyn}, {Input, TCPAck}}, []State{StateSynRecv, StateEstablished}},
		{"NAT secure: client ACK does not, the server's answer does", idMasq, true, []step{{Input, TCPSyn}, {Input, TCPAck}, {Output, TCPSyn | TCPAck}, {Input, TCPAck}, {Output, TCPAck}},
			[]State{StateSynRecv, StateSynRecv, StateSynAck, StateSynAck, StateEstablished}},
		{"DR normal: SYN makes SYN_RECV", idRoute, false, []step{{Input, TCPSyn}, {Input, TCPAck}}, []State{StateSynRecv, StateEstablished}},
		{"DR secure: SYN makes SYNACK, ACK establishes", idRoute, true, []step{{Input, TCPSyn}, {Input, TCPSyn}, {Input, TCPAck}}, []State{StateSynAck, StateSynAck, StateEstablished}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := New(Config{Capacity: 64})
			tb.SetSecureTCP(tc.secure)
			if tb.SecureTCP() != tc.secure {
				t.Fatal("SecureTCP does not report the setting")
			}
			d := vt.Dest(tc.dest)
			c := tb.Insert(key(vs.TCP, 1), 1, d, 0)
			for i, s := range tc.steps {
				tb.Step(c, s.dir, s.flags, Tick(i), d)
				if c.State != tc.want[i] {
					t.Fatalf("step %d (%v %#x): state %v, want %v", i, s.dir, s.flags, c.State, tc.want[i])
				}
			}
			tb.Flush(vt)
		})
	}
}

// dropFixture fills a table with one connection per state of interest,
// idle for idle ms at now, each with pkts client packets.
func dropFixture(t *testing.T, vt *vs.Table, tb *Table, now Tick, idle int, pkts uint32) map[State]Key {
	t.Helper()
	d := vt.Dest(idRoute)
	keys := map[State]Key{}
	to := tb.Timeouts()
	for i, st := range []State{StateSynRecv, StateSynAck, StateEstablished, StateFinWait, StateTimeWait, StateClose, StateUDP} {
		proto := vs.TCP
		if st == StateUDP {
			proto = vs.UDP
		}
		k := key(proto, i+1)
		c := tb.Insert(k, 1, d, now)
		c.State = st
		c.InPkts = pkts
		c.Expires = now + ticks(to.forState(uint8(proto), st).seconds()) - Tick(idle)
		keys[st] = k
	}
	return keys
}

// present reports whether k is in tb, expired or not.
func present(tb *Table, k Key) bool {
	found := false
	tb.Range(func(c *Conn) bool {
		found = c.Key == k
		return !found
	})
	return found
}

func (t Tick) seconds() uint32 { return uint32(t / 1000) }

func TestDropEntry(t *testing.T) {
	vt := newFixture(t)
	// A table of 32 slots: DropEntry looks at one random slot per call,
	// so calls until nothing changes visit them all.
	run := func(tb *Table, now Tick) int {
		total := 0
		for range 4000 {
			total += tb.DropEntry(now, vt)
		}
		return total
	}
	const now = Tick(1_000_000)
	t.Run("fresh: only embryonic entries go", func(t *testing.T) {
		tb := New(Config{Capacity: 32})
		keys := dropFixture(t, vt, tb, now, 0, 1)
		if got := run(tb, now); got != 2 {
			t.Errorf("dropped %d, want 2 (SYN_RECV and SYNACK)", got)
		}
		for st, k := range keys {
			gone := tb.Lookup(k, now, vt) == nil
			if want := st == StateSynRecv || st == StateSynAck; gone != want {
				t.Errorf("%v: gone %v, want %v", st, gone, want)
			}
		}
		checkInvariants(t, tb)
	})
	t.Run("idle 60 s with 1 packet: established and UDP go too", func(t *testing.T) {
		tb := New(Config{Capacity: 32})
		keys := dropFixture(t, vt, tb, now, 60_000, 1)
		if got := run(tb, now); got != 4 {
			t.Errorf("dropped %d, want 4", got)
		}
		for _, st := range []State{StateFinWait, StateTimeWait, StateClose} {
			if !present(tb, keys[st]) {
				t.Errorf("%v was dropped", st)
			}
		}
	})
	t.Run("idle 59.999 s: established stays", func(t *testing.T) {
		tb := New(Config{Capacity: 32})
		keys := dropFixture(t, vt, tb, now, 59_999, 1)
		run(tb, now)
		if tb.Lookup(keys[StateEstablished], now, vt) == nil || tb.Lookup(keys[StateUDP], now, vt) == nil {
			t.Error("an entry idle less than 60 s was dropped")
		}
	})
	for _, pkts := range []uint32{0, 9, 1000} {
		tb := New(Config{Capacity: 32})
		keys := dropFixture(t, vt, tb, now, 120_000, pkts)
		run(tb, now)
		if tb.Lookup(keys[StateEstablished], now, vt) == nil || tb.Lookup(keys[StateUDP], now, vt) == nil {
			t.Errorf("%d client packets: dropped (todrop_entry takes 1..8 only)", pkts)
		}
	}
}

func TestTodropRate(t *testing.T) {
	// Of the candidates with i packets, every i-th is dropped.
	vt := newFixture(t)
	tb := New(Config{Capacity: 64})
	to := tb.Timeouts()
	c := &Conn{Key: key(vs.UDP, 1), State: StateUDP, Expires: 0}
	for i := uint32(1); i <= 8; i++ {
		c.InPkts = i
		got := 0
		for range 8 * 5 {
			if tb.todrop(c, Tick(to.UDP*1000), to) {
				got++
			}
		}
		// The counters start at 0: the first candidate goes at once.
		if want := (8*5 + int(i) - 1) / int(i); got != want {
			t.Errorf("%d packets: %d of 40 dropped, want %d", i, got, want)
		}
	}
	_ = vt
}

func TestDropEntryReleases(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tmpls := NewTemplates()
	tb := New(Config{Capacity: 8, Templates: tmpls})
	k := key(vs.TCP, 1)
	out := k
	out.Src, out.Dst = [4]byte{10, 0, 1, 11}, k.Src
	c := tb.InsertNAT(k, out, 1, d, 0)
	_, id := tmpls.Use(TemplateKey{Src: k.Src, Dst: k.Dst, DstPort: 80, Proto: k.Proto}, 1, 300, 0, vt,
		func(*vs.Dest) bool { return true }, func() *vs.Dest { return d })
	tb.SetTemplate(c, id)
	tb.Step(c, Input, TCPSyn, 0, d)
	before := d.State.ActiveConns.Load()
	for tb.Len() > 0 {
		tb.DropEntry(1, vt)
	}
	if got := d.State.ActiveConns.Load(); got != before-1 {
		t.Errorf("ActiveConns %d, want %d", got, before-1)
	}
	if tb.OutInUse(out) {
		t.Error("reply key still indexed")
	}
	if n := tmpls.Sweep(1, vt); n != 1 {
		t.Errorf("template sweep expired %d, want 1 (expired now with its connection)", n)
	}
	if p := d.State.PersistConns.Load(); p != 0 {
		t.Errorf("PersistConns %d, want 0", p)
	}
}

func TestTemplatesMax(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idRoute)
	ts := NewTemplates()
	ts.SetMax(3)
	use := func(n byte) uint32 {
		_, id := ts.Use(TemplateKey{Src: [4]byte{10, 0, 0, n}, Proto: 6}, 1, 300, 0, vt,
			func(*vs.Dest) bool { return true }, func() *vs.Dest { return d })
		return id
	}
	for n := range byte(3) {
		if use(n) == 0 {
			t.Fatalf("template %d refused below the bound", n)
		}
	}
	if use(9) != 0 || ts.Refused() != 1 || ts.Len() != 3 {
		t.Errorf("at the bound: Len %d, Refused %d; want 3 and 1", ts.Len(), ts.Refused())
	}
	if use(1) == 0 {
		t.Error("an existing template refused at the bound")
	}
}

// TestBoundedMemory inserts far more connections (NAT ones, with reply
// keys) than the table holds, with churn, and checks that the heap does
// not grow once the table is full and that every refusal is reported.
const rounds = 10

func TestBoundedMemory(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idMasq)
	tb := New(Config{Capacity: 1 << 14})
	limit := tb.Cap() * 3 / 4
	n, refused := 0, 0
	insert := func(i int) {
		k := key(vs.TCP, i)
		out := Key{Src: [4]byte{10, 0, 1, 11}, Dst: k.Src, SrcPort: 80, DstPort: k.SrcPort, Proto: k.Proto}
		if tb.InsertNAT(k, out, 1, d, 0) == nil {
			refused++
		}
	}
	for ; n < limit; n++ {
		insert(n)
	}
	if refused != 0 || tb.Len() != limit {
		t.Fatalf("filling: %d refused, Len %d, want 0 and %d", refused, tb.Len(), limit)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	// Ten table-fulls more: every insert into a full table is refused.
	for end := n + 10*limit; n < end; n++ {
		insert(n)
	}
	if refused != 10*limit {
		t.Errorf("refused %d of %d inserts into a full table", refused, 10*limit)
	}
	// Churn: expire everything, refill with new keys, ten times over.
	for round := range rounds {
		for range 4 {
			tb.Sweep(Tick(10_000*(round+1)), tb.Cap(), vt)
		}
		if tb.Len() != 0 {
			t.Fatalf("round %d: %d left after expiry", round, tb.Len())
		}
		for end := n + limit; n < end; n++ {
			insert(n)
		}
	}
	if grown := int64(heap()) - int64(base); grown > 64<<10 {
		t.Errorf("heap grew by %d bytes past the table's bound", grown)
	}
	tb.Flush(vt)
}

// TestOutIndexAgainstMap: random NAT inserts (reply keys drawn from a
// small set, so they collide, for TCP and UDP), deletes, auxiliary slots
// and expiries, never more than the table holds, against a map of reply
// keys; the side entries and the index keep their invariants.
func TestOutIndexAgainstMap(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idFullNAT)
	tb := New(Config{Capacity: 256})
	rng := rand.New(rand.NewPCG(42, 7))
	ref := map[Key]Key{} // reply key -> connection key
	var keys []Key       // connection keys
	now := Tick(0)
	for i := range 20000 {
		switch op := rng.IntN(10); {
		case op < 6 && tb.Room() > 0:
			proto := vs.TCP
			if rng.IntN(2) == 0 {
				proto = vs.UDP
			}
			k := key(proto, 5000+i)
			out := Key{Src: [4]byte{10, 0, 1, 14}, Dst: [4]byte{10, 0, 9, byte(rng.IntN(2))},
				SrcPort: 80, DstPort: uint16(rng.IntN(300)), Proto: k.Proto}
			_, dup := ref[out]
			if tb.OutInUse(out) != dup {
				t.Fatalf("step %d: OutInUse(%v) = %v, want %v", i, out, !dup, dup)
			}
			c := tb.InsertNAT(k, out, 1, d, now)
			if (c == nil) != dup {
				t.Fatalf("step %d: InsertNAT with reply key %v in use %v gave %v", i, out, dup, c)
			}
			if c != nil {
				ref[out] = k
				keys = append(keys, k)
				if rng.IntN(3) == 0 && tb.AttachAux(c) == 0 {
					t.Fatalf("step %d: no auxiliary slot", i)
				}
			}
		case op < 9 && len(keys) > 0:
			j := rng.IntN(len(keys))
			c := tb.Lookup(keys[j], now, vt)
			out := tb.Out(c)
			if got := tb.LookupOut(out, now, vt); got != c {
				t.Fatalf("step %d: LookupOut(%v) = %v, want %v", i, out, got, c)
			}
			if rng.IntN(2) == 0 {
				tb.Delete(c, vt)
			} else {
				// Expire it: the next lookup by its reply key ends it.
				c.Expires = now
				if tb.LookupOut(out, now, vt) != nil {
					t.Fatalf("step %d: an expired connection was found", i)
				}
			}
			delete(ref, out)
			keys = append(keys[:j], keys[j+1:]...)
		default:
			tb.Sweep(now, 16, vt)
		}
		if i%200 == 0 {
			checkInvariants(t, tb)
		}
	}
	checkInvariants(t, tb)
	for out, k := range ref {
		if c := tb.LookupOut(out, now, vt); c == nil || c.Key != k || tb.Out(c) != out {
			t.Fatalf("LookupOut(%v) = %v, want key %v", out, c, k)
		}
	}
	tb.Flush(vt)
	checkInvariants(t, tb)
	if tb.out.n != 0 || d.State.InactConns.Load() != 0 {
		t.Fatalf("after Flush: index %d, inactive %d", tb.out.n, d.State.InactConns.Load())
	}
}
