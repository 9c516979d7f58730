package engine

import (
	"net/netip"
	"runtime"
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
	"github.com/ulvs/ulvs/vs"
)

// TestDefenseLevel walks each defence through update_defense_level's
// transitions (ip_vs_ctl.c): mode 0 off, 1 <-> 2 with memory, 3 always.
func TestDefenseLevel(t *testing.T) {
	const thresh = 1000
	type step struct {
		avail int
		// Expected after the update: the modes, drop_entry running, the
		// drop rate, secure_tcp's table and whether it changed.
		entry, packet, secure int
		entryOn               bool
		rate                  int
		secureOn, changed     bool
	}
	tests := []struct {
		name  string
		modes [3]int
		steps []step
	}{
		{"all off", [3]int{0, 0, 0}, []step{
			{avail: 0, entry: 0, packet: 0, secure: 0},
			{avail: 5000, entry: 0, packet: 0, secure: 0},
		}},
		{"automatic: 1 -> 2 when short, back to 1 when not", [3]int{1, 1, 1}, []step{
			{avail: 5000, entry: 1, packet: 1, secure: 1},
			{avail: 999, entry: 2, packet: 2, secure: 2, entryOn: true, rate: 1000, secureOn: true, changed: true},
			// Rate = amemthresh / (amemthresh - availmem).
			{avail: 500, entry: 2, packet: 2, secure: 2, entryOn: true, rate: 2, secureOn: true},
			{avail: 0, entry: 2, packet: 2, secure: 2, entryOn: true, rate: 1, secureOn: true},
			{avail: 1000, entry: 1, packet: 1, secure: 1, changed: true},
			{avail: 1000, entry: 1, packet: 1, secure: 1},
		}},
		{"configured 2 behaves as automatic", [3]int{2, 2, 2}, []step{
			{avail: 100, entry: 2, packet: 2, secure: 2, entryOn: true, rate: 1, secureOn: true, changed: true},
			{avail: 2000, entry: 1, packet: 1, secure: 1, changed: true},
		}},
		{"configured 2 with room falls to 1 at once", [3]int{2, 2, 2}, []step{
			{avail: 2000, entry: 1, packet: 1, secure: 1},
		}},
		{"always on", [3]int{3, 3, 3}, []step{
			{avail: 5000, entry: 3, packet: 3, secure: 3, entryOn: true, rate: 10, secureOn: true, changed: true},
			{avail: 0, entry: 3, packet: 3, secure: 3, entryOn: true, rate: 10, secureOn: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d defense
			k := vs.DefaultKnobs()
			k.AmemThresh = thresh
			k.DropEntry, k.DropPacket, k.SecureTCP = tc.modes[0], tc.modes[1], tc.modes[2]
			for i, s := range tc.steps {
				changed := d.update(&k, s.avail)
				got := step{s.avail, d.dropEntry, d.dropPacket, d.secureTCP, d.dropEntryOn, d.dropRate, d.secureOn, changed}
				if got != s {
					t.Fatalf("step %d (availmem %d):\n got %+v\nwant %+v", i, s.avail, got, s)
				}
			}
		})
	}
}

func TestDefenseSecureOff(t *testing.T) {
	// secure_tcp set back to 0 while on: the normal table returns.
	var d defense
	k := vs.DefaultKnobs()
	k.SecureTCP = 3
	if !d.update(&k, 1<<20) || !d.secureOn {
		t.Fatal("mode 3 did not switch the table")
	}
	k.SecureTCP = 0
	if !d.update(&k, 1<<20) || d.secureOn {
		t.Fatal("mode 0 did not switch it back")
	}
	// A configuration that does not change keeps the automatic modes.
	k.DropEntry = 1
	d.update(&k, 0)
	d.update(&k, 0)
	if d.dropEntry != 2 {
		t.Errorf("drop_entry %d after two short updates, want 2", d.dropEntry)
	}
}

// synFrom builds a SYN to the test VIP from a spoofed source n.
func synFrom(n int) []byte {
	src := netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)})
	return pkttest.Frame{
		SrcMAC: clientMAC, DstMAC: dirMAC, Src: src, Dst: vip,
		Proto: pkt.ProtoTCP, SrcPort: uint16(1024 + n), DstPort: 80, TCPFlags: pkt.TCPSyn,
	}.Build()
}

// TestFloodBoundedAndDefended floods a worker whose table holds 96
// connections with 2000 spoofed SYNs: the table stops at its bound and
// counts every refusal; with drop_packet and drop_entry the ladder drops
// new connections and clears embryonic ones, and secure_tcp switches the
// table, all counted.
func TestFloodBoundedAndDefended(t *testing.T) {
	tbl := testTable(t)
	tbl.Knobs.AmemThresh = 32
	tbl.Knobs.DropEntry, tbl.Knobs.DropPacket, tbl.Knobs.SecureTCP = 1, 1, 1
	l := &memLink{}
	e := &Engine{}
	e.table.Store(tbl)
	w := newWorker(l, dirMAC, &counters{}, Config{ConnTableSize: 128}, nil)
	e.counts = []*counters{w.c}
	usable := w.ct.Usable()

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	flood := func(from, n int) {
		for i := from; i < from+n; i += batchSize {
			for j := i; j < min(i+batchSize, from+n); j++ {
				l.queue(synFrom(j))
			}
			k := l.collect(w.rx)
			w.batch(k, tbl, 1000)
			l.takeOut()
			w.defend(&e.defense, tbl, 1000)
		}
	}
	flood(0, usable)
	if got := w.ct.Len(); got != usable {
		t.Fatalf("table holds %d after %d SYNs, want %d", got, usable, usable)
	}
	base := heap()
	flood(usable, 2000)
	if got := w.c.drops[ReasonTableFull].Load(); got != 2000 {
		t.Errorf("conn_table_full counted %d, want 2000", got)
	}
	if grown := int64(heap()) - int64(base); grown > 256<<10 {
		t.Errorf("heap grew by %d bytes with the table full", grown)
	}

	// The defence tick: no room left, every automatic mode goes to 2.
	e.updateDefense(true)
	st := e.Defense()
	if st.DropEntry != 2 || st.DropPacket != 2 || st.SecureTCP != 2 || !st.SecureOn || !st.DropEntryOn || st.DropRate != 1 || st.Free != 0 {
		t.Fatalf("defence after the flood: %+v", st)
	}
	w.defend(&e.defense, tbl, 1000)
	if !w.ct.SecureTCP() {
		t.Error("the worker's table did not switch to tcp_states_dos")
	}
	if got := e.defense.secureOnCount.Load(); got != 1 {
		t.Errorf("secure_tcp switched on %d times, want 1", got)
	}
	// drop_entry ran once on this tick: embryonic entries went (1/32 of
	// the slots looked at per tick, picked at random as
	// ip_vs_random_dropentry picks them: 4 of 128 here, so one tick in
	// about 250 finds only empty slots; a few more ticks make that
	// vanishingly rare).
	for tick := 0; w.c.dropEntry.Load() == 0 && tick < 8; tick++ {
		e.updateDefense(true)
		w.defend(&e.defense, tbl, 1000)
	}
	if w.c.dropEntry.Load() == 0 {
		t.Error("drop_entry removed nothing from a table full of SYN_RECV entries in 9 ticks")
	}
	// Rate 1: every new connection is dropped by drop_packet now.
	before := w.c.drops[ReasonDropPacket].Load()
	flood(10000, 10)
	if got := w.c.drops[ReasonDropPacket].Load() - before; got != 10 {
		t.Errorf("drop_packet dropped %d of 10 SYNs at rate 1", got)
	}
	// Ticks until drop_entry made room again (amemthresh free slots);
	// then the ladder steps back down to mode 1 and the normal state
	// table, and drop_entry stops.
	for range 2000 {
		e.updateDefense(true)
		w.defend(&e.defense, tbl, 1000)
		if !e.Defense().DropEntryOn {
			break
		}
	}
	st = e.Defense()
	if st.DropEntry != 1 || st.DropPacket != 1 || st.SecureTCP != 1 || st.SecureOn || st.DropRate != 0 || w.ct.SecureTCP() {
		t.Errorf("defence after recovery: %+v", st)
	}
	left := w.ct.Len()
	if room := w.ct.Room(); room < tbl.Knobs.AmemThresh || room > tbl.Knobs.AmemThresh+usable/32 {
		t.Errorf("room %d after drop_entry, want amemthresh %d to one tick more", room, tbl.Knobs.AmemThresh)
	}
	if got := e.Counters()["defense_drop_entry"]; got != uint64(usable-left) {
		t.Errorf("defense_drop_entry %d, want %d", got, usable-left)
	}
	var conns int32
	for _, d := range tbl.Services[0].Dests {
		conns += d.State.ActiveConns.Load() + d.State.InactConns.Load()
	}
	if int(conns) != left {
		t.Errorf("dests count %d connections, the table holds %d", conns, left)
	}
}
