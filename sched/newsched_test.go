package sched

import (
	"sync"
	"testing"
)

// TestLocalityAndHashConcurrent schedules from several goroutines while
// counters change and the control plane reloads (New with prev reads the
// old scheduler's state under its lock). Run with -race: the point is that
// no access is unsynchronised and that no pick fails while dests are
// available.
func TestLocalityAndHashConcurrent(t *testing.T) {
	for _, name := range []string{"lblc", "lblcr", "dh", "sh", "mh", "twos"} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			svc := f.service("D:4 C:1 B:2 A:3")
			s, err := New(name, svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			const workers, perWorker = 4, 300
			var wg sync.WaitGroup
			var nils [workers]int
			for w := range workers {
				wg.Go(func() {
					for i := range perWorker {
						d := s.Schedule(svc, clientFlow(1+(w*perWorker+i)%200))
						if d == nil {
							nils[w]++
							continue
						}
						d.State.ActiveConns.Add(1)
						d.State.ActiveConns.Add(-1)
					}
				})
			}
			wg.Go(func() {
				prev := s
				for range 20 {
					n, err := New(name, f.service("D:4 C:1 B:2 A:3"), prev)
					if err != nil {
						t.Error(err)
						return
					}
					prev = n
				}
			})
			wg.Wait()
			for w, n := range nils {
				if n != 0 {
					t.Errorf("worker %d: %d nil picks with every dest available", w, n)
				}
			}
		})
	}
}
