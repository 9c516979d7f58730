package conntrack

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestDropEntry6: drop_entry picks IPv6 victims as it picks IPv4 ones
// (TestDropEntry): embryonic TCP at once, established TCP and UDP idle
// 60 s with 1 packet, never the closing TCP states; the dest counters
// are released.
func TestDropEntry6(t *testing.T) {
	vt := newFixture(t)
	d := vt.Dest(idRoute)
	const now = Tick(1_000_000)
	for _, idle := range []int{0, 60_000} {
		v4 := New(Config{Capacity: 32})
		t6 := NewTable6(v4, 32)
		to := v4.Timeouts()
		keys := map[State]Key6{}
		for i, st := range []State{StateSynRecv, StateSynAck, StateEstablished, StateFinWait, StateTimeWait, StateClose, StateUDP} {
			k := key6(i + 1)
			if st == StateUDP {
				k.Proto = uint8(vs.UDP)
			}
			c := t6.Insert(k, 1, d, now)
			c.State, c.InPkts = st, 1
			c.Expires = now + ticks(to.forState(k.Proto, st).seconds()) - Tick(idle)
			keys[st] = k
		}
		dropped := 0
		for range 4000 {
			dropped += t6.DropEntry(now, vt)
		}
		want := map[State]bool{StateSynRecv: true, StateSynAck: true}
		if idle > 0 {
			want[StateEstablished], want[StateUDP] = true, true
		}
		if dropped != len(want) {
			t.Errorf("idle %d ms: dropped %d, want %d", idle, dropped, len(want))
		}
		for st, k := range keys {
			gone := true // expired entries stay until the sweep: look at the slots
			t6.Range(func(c *Conn6) bool {
				gone = gone && c.Key6 != k
				return gone
			})
			if gone != want[st] {
				t.Errorf("idle %d ms: %v gone %v, want %v", idle, st, gone, want[st])
			}
		}
		t6.Flush(vt)
		if a, i := d.State.ActiveConns.Load(), d.State.InactConns.Load(); a != 0 || i != 0 {
			t.Errorf("dest counters %d active %d inactive after all went", a, i)
		}
	}
}
