package sched

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ulvs/ulvs/vs"
)

// This file is a slow, literal model of the kernel: svc->destinations as a
// circular doubly linked list with a head sentinel, driven one ipvsadm
// command at a time (ip_vs_ctl.c: list_add_rcu at the head in
// __ip_vs_update_dest, list_del_rcu in __ip_vs_unlink_dest, then the
// scheduler hook), with ip_vs_rr.c and ip_vs_wrr.c transcribed onto it.
// The fast schedulers, which only ever see whole tables, must pick the same
// dests after every reload.

type knode struct {
	prev, next *knode
	id         uint32
	weight     int
	state      *vs.DestState // nil for the head
}

type kmodel struct {
	head  knode
	rrCur *knode // ip_vs_rr: svc->sched_data
	// ip_vs_wrr_mark
	cl         *knode
	cw, mw, di int
}

func newKModel() *kmodel {
	k := &kmodel{}
	k.head.prev, k.head.next = &k.head, &k.head
	k.rrCur = &k.head // ip_vs_rr_init_svc
	k.wrrInit()       // ip_vs_wrr_init_svc on the empty list
	return k
}

func (k *kmodel) wrrMarks() (di, mw int) {
	g, max := 0, 0
	for d := k.head.next; d != &k.head; d = d.next {
		if d.weight > 0 {
			if g > 0 {
				g = gcd(d.weight, g)
			} else {
				g = d.weight
			}
		}
		if d.weight > max {
			max = d.weight
		}
	}
	if g == 0 {
		g = 1
	}
	return g, max - (g - 1)
}

func (k *kmodel) wrrInit() {
	k.cl = &k.head
	k.di, k.mw = k.wrrMarks()
	k.cw = k.mw
}

// wrrDestChanged is ip_vs_wrr_dest_changed.
func (k *kmodel) wrrDestChanged() {
	k.cl = &k.head
	k.di, k.mw = k.wrrMarks()
	if k.cw > k.mw || k.cw == 0 {
		k.cw = k.mw
	} else if k.di > 1 {
		k.cw = (k.cw/k.di)*k.di + 1
	}
}

func (k *kmodel) find(id uint32) *knode {
	for d := k.head.next; d != &k.head; d = d.next {
		if d.id == id {
			return d
		}
	}
	return nil
}

// add is ip_vs_add_dest.
func (k *kmodel) add(id uint32, w int, st *vs.DestState) {
	d := &knode{id: id, weight: w, state: st}
	d.prev, d.next = &k.head, k.head.next
	k.head.next.prev = d
	k.head.next = d
	k.wrrDestChanged() // rr has no add_dest
}

// edit is ip_vs_edit_dest.
func (k *kmodel) edit(id uint32, w int) {
	k.find(id).weight = w
	k.wrrDestChanged() // rr has no upd_dest
}

// del is ip_vs_del_dest.
func (k *kmodel) del(id uint32) {
	d := k.find(id)
	d.prev.next = d.next
	d.next.prev = d.prev
	// ip_vs_rr_del_dest: p->next->prev, with p->next still valid.
	if k.rrCur == d {
		k.rrCur = d.next.prev
	}
	k.wrrDestChanged()
}

func kAvailable(d *knode) bool { return !d.state.Overloaded.Load() && d.weight > 0 }

// rrSchedule is ip_vs_rr_schedule.
func (k *kmodel) rrSchedule() uint32 {
	p := k.rrCur
	last, dest := p, p
	for pass := 0; ; {
		for dest = dest.next; dest != &k.head; dest = dest.next {
			if kAvailable(dest) {
				k.rrCur = dest
				return dest.id
			}
			if dest == last {
				return 0
			}
		}
		pass++
		if pass >= 2 || p == &k.head {
			return 0
		}
	}
}

// wrrSchedule is ip_vs_wrr_schedule.
func (k *kmodel) wrrSchedule() uint32 {
	dest := k.cl
	if k.mw == 0 {
		return 0
	}
	last := dest
	var stop *knode
	lastPass, restarted := false, false
	for {
		for dest = dest.next; dest != &k.head; dest = dest.next {
			if !dest.state.Overloaded.Load() && dest.weight >= k.cw {
				k.cl = dest
				return dest.id
			}
			if dest == stop {
				k.cl = dest
				return 0
			}
		}
		k.cw -= k.di
		if k.cw <= 0 {
			k.cw = k.mw
			if lastPass || last == &k.head {
				k.cl = dest
				return 0
			}
			restarted = true
		}
		lastPass = k.cw <= k.di
		if lastPass && restarted && last != &k.head {
			stop = last
		}
	}
}

// table is the model's list as a vs.Service.
func (k *kmodel) table() *vs.Service {
	svc := &vs.Service{}
	for d := k.head.next; d != &k.head; d = d.next {
		svc.Dests = append(svc.Dests, &vs.Dest{
			ID: d.id, Addr: netip.AddrFrom4([4]byte{10, 0, byte(d.id >> 8), byte(d.id)}),
			Method: vs.Masq, Weight: int32(d.weight), State: d.state,
		})
	}
	return svc
}

func idOf(d *vs.Dest) uint32 {
	if d == nil {
		return 0
	}
	return d.ID
}

// TestAgainstKernelModel drives random reloads through the model, one
// command at a time in the order New documents (deletes in list order, then
// edits in list order, then adds), and through New on whole tables, and
// compares every pick, with random overload flags.
func TestAgainstKernelModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	runs := 200
	if testing.Short() {
		runs = 40
	}
	for run := range runs {
		k := newKModel()
		nextID := uint32(1)
		states := map[uint32]*vs.DestState{}
		var rr, wrr vs.Scheduler
		var log []string
		for reload := range 8 {
			if reload > 0 {
				// Deletes, in list order.
				var ids []uint32
				for d := k.head.next; d != &k.head; d = d.next {
					ids = append(ids, d.id)
				}
				var kept []uint32
				for _, id := range ids {
					if rng.IntN(4) == 0 {
						k.del(id)
						log = append(log, fmt.Sprintf("del %d", id))
					} else {
						kept = append(kept, id)
					}
				}
				// Edits, in list order.
				for _, id := range kept {
					if rng.IntN(3) == 0 {
						w := rng.IntN(7)
						if w == k.find(id).weight {
							continue // would not be an edit in a table diff
						}
						k.edit(id, w)
						log = append(log, fmt.Sprintf("edit %d w%d", id, w))
					}
				}
			}
			// Adds, oldest first.
			for range rng.IntN(4) {
				id := nextID
				nextID++
				states[id] = &vs.DestState{}
				w := rng.IntN(7)
				if rng.IntN(3) == 0 {
					w *= 2
				}
				k.add(id, w, states[id])
				log = append(log, fmt.Sprintf("add %d w%d", id, w))
			}
			svc := k.table()
			var err error
			if rr, err = New("rr", svc, rr); err != nil {
				t.Fatal(err)
			}
			if wrr, err = New("wrr", svc, wrr); err != nil {
				t.Fatal(err)
			}
			for pick := range 30 {
				if rng.IntN(5) == 0 {
					for _, s := range states {
						s.Overloaded.Store(rng.IntN(3) == 0)
					}
				}
				if got, want := idOf(rr.Schedule(svc, vs.Flow{})), k.rrSchedule(); got != want {
					t.Fatalf("run %d reload %d pick %d: rr got dest %d, kernel model %d; commands %v",
						run, reload, pick, got, want, log)
				}
				if got, want := idOf(wrr.Schedule(svc, vs.Flow{})), k.wrrSchedule(); got != want {
					t.Fatalf("run %d reload %d pick %d: wrr got dest %d, kernel model %d; commands %v",
						run, reload, pick, got, want, log)
				}
			}
			for _, s := range states {
				s.Overloaded.Store(false)
			}
			log = append(log, "|")
		}
	}
}
