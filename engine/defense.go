package engine

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/ulvs/ulvs/conntrack"
	"github.com/ulvs/ulvs/vs"
)

// This file is IPVS's defence ladder against a connection table filling
// up (a SYN flood from spoofed sources, say): the sysctls drop_entry,
// drop_packet and secure_tcp with their modes 0..3 and amemthresh, decided
// once a second as update_defense_level (ip_vs_ctl.c) decides them, and
// applied by each worker to its own table between batches.
//
// The kernel measures "short of memory" as free plus buffered pages below
// amemthresh. ulvs's connection tables are allocated whole at start (they
// never grow), so what runs out is their room, not the process's memory:
// availmem here is the free connection slots summed over the workers'
// tables, and amemthresh (default 1024) is counted in slots.

// defenseTick is how often the defence level is decided and drop_entry
// runs: the kernel's DEFENSE_TIMER_PERIOD.
const defenseTick = time.Second

// defense is update_defense_level's state. The modes move between 1 and 2
// by themselves as the kernel's sysctls do; cfg remembers the modes last
// configured, so that only a configuration change resets them (as a write
// to the sysctl does).
type defense struct {
	dropEntry, dropPacket, secureTCP int
	cfg                              [3]int
	configured                       bool
	oldSecureTCP                     int
	// Results: drop_entry runs; drop_packet's rate (drop one new
	// connection in dropRate, 0 none), and whether this update set the
	// drop counter (resetCounter); the TCP state table in use.
	dropEntryOn  bool
	dropRate     int
	resetCounter bool
	secureOn     bool
}

// configure adopts the configured modes if they changed.
func (d *defense) configure(k *vs.Knobs) {
	cfg := [3]int{k.DropEntry, k.DropPacket, k.SecureTCP}
	if d.configured && cfg == d.cfg {
		return
	}
	d.cfg, d.configured = cfg, true
	d.dropEntry, d.dropPacket, d.secureTCP = cfg[0], cfg[1], cfg[2]
}

// update is update_defense_level with availmem free slots against the
// threshold and drop rate of k. It reports whether the TCP state table
// changes (ip_vs_protocol_timeout_change).
func (d *defense) update(k *vs.Knobs, availmem int) (secureChanged bool) {
	d.configure(k)
	nomem := availmem < k.AmemThresh

	switch d.dropEntry {
	case 0:
		d.dropEntryOn = false
	case 1:
		d.dropEntryOn = nomem
		if nomem {
			d.dropEntry = 2
		}
	case 2:
		d.dropEntryOn = nomem
		if !nomem {
			d.dropEntry = 1
		}
	case 3:
		d.dropEntryOn = true
	}

	d.resetCounter = false
	rate := func() int {
		d.resetCounter = true
		return k.AmemThresh / (k.AmemThresh - availmem)
	}
	switch d.dropPacket {
	case 0:
		d.dropRate = 0
	case 1:
		if nomem {
			d.dropRate = rate()
			d.dropPacket = 2
		} else {
			d.dropRate = 0
		}
	case 2:
		if nomem {
			d.dropRate = rate()
		} else {
			d.dropRate = 0
			d.dropPacket = 1
		}
	case 3:
		d.dropRate = k.AmDropRate
	}

	toChange := -1
	switch d.secureTCP {
	case 0:
		if d.oldSecureTCP >= 2 {
			toChange = 0
		}
	case 1:
		if nomem {
			if d.oldSecureTCP < 2 {
				toChange = 1
			}
			d.secureTCP = 2
		} else if d.oldSecureTCP >= 2 {
			toChange = 0
		}
	case 2:
		if nomem {
			if d.oldSecureTCP < 2 {
				toChange = 1
			}
		} else {
			if d.oldSecureTCP >= 2 {
				toChange = 0
			}
			d.secureTCP = 1
		}
	case 3:
		if d.oldSecureTCP < 2 {
			toChange = 1
		}
	}
	d.oldSecureTCP = d.secureTCP
	if toChange >= 0 {
		on := d.secureTCP > 1
		secureChanged = on != d.secureOn
		d.secureOn = on
	}
	return secureChanged
}

// defenseState is what the workers read of the defence, once per batch.
type defenseState struct {
	mu sync.Mutex // guards d and the fields below it
	d  defense
	// availmem and thresh are the last update's inputs, for Defense.
	availmem, thresh int

	secure atomic.Bool
	// dropRate is drop_packet's rate; rateGen changes when the workers
	// must restart their drop counters at the rate (the kernel sets
	// drop_counter with drop_rate).
	dropRate atomic.Int64
	rateGen  atomic.Uint64
	// entryGen counts the defence ticks at which drop_entry runs; each
	// worker runs it once per change.
	entryGen atomic.Uint64
	// secureOnCount counts switches to the secure_tcp table.
	secureOnCount atomic.Uint64
}

// updateDefense decides the defence level from the workers' free slots
// and the knobs of the table in force. tick is true for the once-a-second
// run, which also has drop_entry run; a configuration change runs it
// without.
func (e *Engine) updateDefense(tick bool) {
	k := e.table.Load().Knobs
	free := 0
	for _, c := range e.counts {
		free += int(c.free.Load())
	}
	s := &e.defense
	s.mu.Lock()
	defer s.mu.Unlock()
	if !tick && s.d.configured && s.d.cfg == [3]int{k.DropEntry, k.DropPacket, k.SecureTCP} {
		return
	}
	s.availmem, s.thresh = free, k.AmemThresh
	if s.d.update(&k, free) && s.d.secureOn {
		s.secureOnCount.Add(1)
	}
	s.secure.Store(s.d.secureOn)
	s.dropRate.Store(int64(s.d.dropRate))
	if s.d.resetCounter {
		s.rateGen.Add(1)
	}
	if tick && s.d.dropEntryOn {
		s.entryGen.Add(1)
	}
}

// defend runs the defence ticks until ctx is done.
func (e *Engine) defend(done <-chan struct{}) {
	t := time.NewTicker(defenseTick)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			e.updateDefense(true)
		}
	}
}

// DefenseStatus is the defence ladder's state: the current modes (which
// move between 1 and 2 by themselves), what is in force, and the inputs.
type DefenseStatus struct {
	DropEntry, DropPacket, SecureTCP int
	// DropEntryOn: drop_entry runs every second; DropRate: one new
	// connection in DropRate is dropped (0: none); SecureOn: TCP steps
	// through tcp_states_dos.
	DropEntryOn bool
	DropRate    int
	SecureOn    bool
	// Free is the free connection slots over all workers (availmem) and
	// AmemThresh the threshold, at the last decision; Conns and Capacity
	// are the tables' entries and usable slots as the workers last
	// published them.
	Free, AmemThresh int
	Conns, Capacity  int
}

// Defense returns the defence ladder's state.
func (e *Engine) Defense() DefenseStatus {
	var st DefenseStatus
	for _, c := range e.counts {
		st.Conns += int(c.conns.Load())
		st.Capacity += int(c.room.Load())
	}
	s := &e.defense
	s.mu.Lock()
	defer s.mu.Unlock()
	st.DropEntry, st.DropPacket, st.SecureTCP = s.d.dropEntry, s.d.dropPacket, s.d.secureTCP
	st.DropEntryOn, st.DropRate, st.SecureOn = s.d.dropEntryOn, s.d.dropRate, s.d.secureOn
	st.Free, st.AmemThresh = s.availmem, s.thresh
	return st
}

// workerDefense is a worker's side of the defence.
type workerDefense struct {
	rateGen, entryGen uint64
	dropRate          int64
	dropCounter       int64
}

// defend applies the defence to the worker's table between batches: the
// TCP state table, drop_packet's rate, and drop_entry when its tick came;
// then it publishes the table's fill for the next decision.
func (w *worker) defend(s *defenseState, tbl *vs.Table, now conntrack.Tick) {
	if on := s.secure.Load(); on != w.ct.SecureTCP() {
		w.ct.SetSecureTCP(on)
	}
	w.def.dropRate = s.dropRate.Load()
	if g := s.rateGen.Load(); g != w.def.rateGen {
		w.def.rateGen = g
		w.def.dropCounter = w.def.dropRate
	}
	if g := s.entryGen.Load(); g != w.def.entryGen {
		w.def.entryGen = g
		n := w.ct.DropEntry(now, tbl)
		if w.ct6 != nil {
			n += w.ct6.DropEntry(now, tbl) // conntrack/nodest6.go
		}
		w.c.dropEntry.Add(uint64(n))
	}
	w.publishFill()
}

// publishFill stores the table's entries and free slots for the control
// plane.
func (w *worker) publishFill() {
	w.c.conns.Store(int64(w.ct.Len()))
	w.c.free.Store(int64(w.ct.Room()))
}

// todrop is ip_vs_todrop: with a drop rate n in force, every n-th new
// connection is dropped.
func (w *worker) todrop() bool {
	if w.def.dropRate == 0 {
		return false
	}
	w.def.dropCounter--
	if w.def.dropCounter > 0 {
		return false
	}
	w.def.dropCounter = w.def.dropRate
	return true
}
