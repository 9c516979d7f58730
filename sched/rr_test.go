package sched

import (
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// TestRR checks sequences stepped by hand through
// net/netfilter/ipvs/ip_vs_rr.c: ip_vs_rr_init_svc (cursor at the list head),
// ip_vs_rr_schedule (walk on from the cursor, wrap once, skip overloaded and
// weight-0 dests, leave the cursor on the pick, keep it on a miss) and
// ip_vs_rr_del_dest (a cursor on the removed dest moves to the dest before
// it); rr has no add_dest or upd_dest hook (ip_vs_ctl.c __ip_vs_update_dest).
// testdata/README.md records the sources.
func TestRR(t *testing.T) {
	runSeq(t, "rr", []seqCase{
		{
			// ipvsadm -A -s rr; -a A; -a B; -a C: the list is C B A and
			// the cursor at the head, so the newest dest goes first.
			name:  "first pick after create is the newest dest",
			steps: []step{{dests: "C:1 B:1 A:1", want: "C B A C B A C"}},
		},
		{
			name:  "weights do not matter beyond zero",
			steps: []step{{dests: "C:1 B:5 A:100", want: "C B A C B A"}},
		},
		{
			name:  "weight 0 from the start is skipped",
			steps: []step{{dests: "C:1 B:0 A:1", want: "C A C A"}},
		},
		{
			// ipvsadm -e -w 0 on B while the cursor is on C: no hook,
			// the cursor stays on C.
			name: "quiesced mid-stream, others continue",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C"},
				{dests: "C:1 B:0 A:1", want: "A C A C"},
			},
		},
		{
			name: "weight change keeps the cursor",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C"},
				{dests: "C:1 B:5 A:1", want: "B A C B"},
			},
		},
		{
			name:  "all weight 0 gives nil",
			steps: []step{{dests: "C:0 B:0 A:0", want: "- - -"}},
		},
		{
			// A miss leaves sched_data alone: the cursor is still on B.
			name: "cursor survives a run of misses",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C B"},
				{dests: "C:0 B:0 A:0", want: "- -"},
				{dests: "C:1 B:1 A:1", want: "A C B"},
			},
		},
		{
			name:  "overloaded dest skipped",
			steps: []step{{dests: "C:1 B:1 A:1", over: "B", want: "C A C A"}},
		},
		{
			// The overload flag is live state: no New between the steps.
			name: "overload cleared, cursor continues from A",
			steps: []step{
				{dests: "C:1 B:1 A:1", over: "B", want: "C A C A"},
				{over: "", want: "C B A"},
			},
		},
		{
			name: "all overloaded gives nil, cursor stays at head",
			steps: []step{
				{dests: "C:1 B:1 A:1", over: "ABC", want: "- -"},
				{over: "", want: "C B"},
			},
		},
		{
			name: "only the cursor dest available is picked again",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C B"},
				{over: "AC", want: "B B"},
			},
		},
		{
			name:  "DR dest without a MAC skipped",
			steps: []step{{dests: "C:1 B:1r A:1", want: "C A C A"}},
		},
		{
			// ip_vs_rr_del_dest: cursor on C (list D C B A) moves to D.
			name: "removing the cursor dest moves the cursor back",
			steps: []step{
				{dests: "D:1 C:1 B:1 A:1", want: "D C"},
				{dests: "D:1 B:1 A:1", want: "B A D B"},
			},
		},
		{
			// Cursor on C, C and D removed: the nearest earlier dest
			// that stays is E.
			name: "removing several dests before the cursor",
			steps: []step{
				{dests: "E:1 D:1 C:1 B:1 A:1", want: "E D C"},
				{dests: "E:1 B:1 A:1", want: "B A E B"},
			},
		},
		{
			name: "removing the first dest under the cursor goes to head",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C"},
				{dests: "B:1 A:1", want: "B A B"},
			},
		},
		{
			// Removal first (cursor to the head), then the add puts D at
			// the head: D is next.
			name: "remove cursor dest and add one in the same reload",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C"},
				{dests: "D:1 B:1 A:1", want: "D B A D"},
			},
		},
		{
			name: "removing a dest elsewhere keeps the cursor",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C"},
				{dests: "C:1 B:1", want: "B C B"},
			},
		},
		{
			// ip_vs_add_dest: list_add_rcu at the head, no hook.
			name: "added dest waits for the wrap",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C B"},
				{dests: "D:1 C:1 B:1 A:1", want: "A D C B"},
			},
		},
		{
			name: "added dest is next when the cursor is at the head",
			steps: []step{
				{dests: "B:1 A:1", over: "AB", want: "-"},
				{dests: "C:1 B:1 A:1", over: "", want: "C B A"},
			},
		},
		{
			// B moved to the head: it was removed (cursor B -> C) and
			// re-added from the trash at the head.
			name: "dest removed and re-added in one reload",
			steps: []step{
				{dests: "C:1 B:1 A:1", want: "C B"},
				{dests: "B:1 C:1 A:1", want: "A B C A"},
			},
		},
		{
			name: "empty service, then a dest added",
			steps: []step{
				{dests: "", want: "- -"},
				{dests: "A:1", want: "A A"},
			},
		},
		{
			name: "every dest replaced",
			steps: []step{
				{dests: "B:1 A:1", want: "B"},
				{dests: "D:1 C:1", want: "D C D"},
			},
		},
		{
			// ip_vs_edit_service binds rr afresh: cursor at the head.
			name:  "switched from wrr starts at the head",
			from:  "wrr",
			steps: []step{{dests: "C:1 B:2 A:3", want: "C B A C"}},
		},
	})
}

func TestRRNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	svc := newFixture(t).service("C:1 B:0 A:1")
	s, err := New("rr", svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { sinkDest = s.Schedule(svc, vs.Flow{}) }); n != 0 {
		t.Errorf("Schedule allocates %v times per call, want 0", n)
	}
}

func BenchmarkRR(b *testing.B) {
	svc := benchService(b, 100)
	s, err := New("rr", svc, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkDest = s.Schedule(svc, vs.Flow{})
	}
}
