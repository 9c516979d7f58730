// Package sched holds the IPVS schedulers: the code that picks a real server
// (vs.Dest) for the first packet of a new connection. There is one scheduler
// per file, named and behaving like the kernel's
// net/netfilter/ipvs/ip_vs_<name>.c, and the built-ins are listed in one
// explicit table in this file.
//
// # Who calls what
//
// The control plane calls New for every service of a table it compiles,
// passing the scheduler the service had in the previous table, and stores the
// result in vs.Service.Scheduler. Workers call Schedule once per new
// connection; established connections never reach a scheduler. sched does not
// import conntrack, forward or engine.
//
// # Kernel behaviour across reloads
//
// The kernel keeps one scheduler state per service for the service's whole
// life and tells it about every dest change through the add_dest, upd_dest
// and del_dest hooks (ip_vs_ctl.c: __ip_vs_update_dest, __ip_vs_unlink_dest).
// ulvs instead builds a new immutable table per change, so New takes the old
// scheduler (prev) and replays on its state the hook calls the kernel would
// have made to go from prev's dest list to the new one. Dests are matched by
// vs.Dest.ID. The replay order is fixed and documented on New; it is the
// order in which a reload that removes, edits and then adds dests (as
// keepalived does) calls the kernel.
//
// # Concurrency
//
// A scheduler returned by New is safe for concurrent use. The schedulers
// with state (rr, wrr, lblc, lblcr) keep it behind a sync.Mutex, as the
// kernel keeps it behind svc->sched_lock. Schedule decisions made on prev
// after New has read its state are not carried over (the kernel has no
// such window: it updates the live state under the service mutex). The
// connection-count schedulers (lc, wlc, sed, nq, fo, ovf, twos) keep no
// state: they read the live vs.DestState counters, which other workers
// change concurrently, so a pick reflects the counters at the moment each
// one is read, as in the kernel. The hashing schedulers (dh, sh, mh) build
// their tables in New and only read them.
//
// # Allocation
//
// Schedule does not allocate, with one exception the kernel shares: lblc
// and lblcr allocate (kmalloc in the kernel) when they cache a destination
// address they have not seen and their table has no freed entry to reuse,
// or when an lblcr set grows beyond its capacity. A cached address costs
// nothing.
//
// # Time and randomness
//
// lblc and lblcr age their caches with the clock New gives them
// (time.Now; tests build them with a fake one). twos draws random numbers
// from math/rand/v2 unless a test gives it a fixed source.
package sched

import (
	"errors"
	"fmt"

	"github.com/ulvs/ulvs/vs"
)

// ErrUnknown is returned, wrapped with the name, for a scheduler name the
// kernel does not know either.
var ErrUnknown = errors.New("unknown scheduler")

// ErrNotImplemented is returned, wrapped with the name, for a kernel
// scheduler that ulvs knows by name but does not implement (a builtins row
// with a nil build). Every kernel scheduler is implemented now, so New does
// not return it; it stays for callers that branch on it and for a future
// kernel scheduler added by name first.
var ErrNotImplemented = errors.New("scheduler not implemented")

// builder builds the scheduler state for svc's current dests. prev is the
// service's scheduler in the previous table, nil for a new service. It may
// be of another kind when the service's scheduler was changed. svc has been
// validated by New.
type builder func(svc *vs.Service, prev vs.Scheduler) vs.Scheduler

// builtins lists every scheduler the kernel ships (net/netfilter/ipvs,
// Linux 6.x), in ipvsadm(8)'s order with the newer fo, ovf, mh and twos
// last. A nil build means "known but not implemented yet"; check, when set,
// rejects a service the scheduler cannot be built for (after validate).
var builtins = [...]struct {
	name  string
	build builder
	check func(svc *vs.Service) error
}{
	{"rr", newRR, nil},
	{"wrr", newWRR, nil},
	{"lc", newLC, nil},
	{"wlc", newWLC, nil},
	{"lblc", newLBLC, nil},
	{"lblcr", newLBLCR, nil},
	{"dh", newDH, nil},
	{"sh", newSH, nil},
	{"sed", newSED, nil},
	{"nq", newNQ, nil},
	{"fo", newFO, nil},
	{"ovf", newOVF, nil},
	{"mh", newMH, checkMH},
	{"twos", newTWOS, nil},
}

// Names returns the names of all kernel schedulers, including those New
// does not implement yet. The caller owns the slice.
//
// The kernel's default scheduler is wlc (ipvsadm passes "wlc" when -s is
// absent). New does not apply that default: an empty name is ErrUnknown, and
// callers decide what an absent scheduler means.
func Names() []string {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.name
	}
	return names
}

// New builds the scheduler called name for svc's current dests.
//
// prev is the scheduler svc had in the previous table:
//
//   - nil: the service is new. The result is the state the kernel reaches
//     when the service is added with no dests (ip_vs_add_service binds the
//     scheduler to an empty list: init_service) and then the dests are added
//     one at a time, oldest first (the last of svc.Dests first), each
//     through ip_vs_add_dest and the scheduler's add_dest hook.
//   - a scheduler of the same kind: svc's dests changed. New replays, on
//     prev's state, the hook calls the kernel would make: first del_dest for
//     each of prev's dests that is gone (or that must have been removed and
//     re-added because it moved to the head of the list), in prev's list
//     order; then upd_dest for each remaining dest whose weight, thresholds
//     or forwarding method changed, in list order; then add_dest for each
//     new dest, oldest first. When nothing changed, prev's state is copied.
//   - a scheduler of another kind: the service's scheduler was changed
//     (ipvsadm -E -s). ip_vs_edit_service binds the new scheduler to the
//     service's current list (init_service), without replaying any adds.
//
// The schedulers without kernel state or hooks (lc, wlc, sed, nq, fo, ovf,
// twos) ignore prev: their picks depend only on the current dests and
// counters. dh and sh rebuild their whole table from the current list on
// every hook call, so they ignore prev too; mh does the same but takes
// each dest's last non-zero weight from prev. lblc and lblcr have no dest
// hooks and keep their cache across dest changes: they copy prev's.
//
// Dests are matched by ID. A dest removed and re-added in one reload is only
// recognised as such when it moved towards the head; one that ends up where
// it was (already first) looks unchanged, as nothing tells the two apart.
//
// svc.Dests must be newest first, as the kernel keeps svc->destinations,
// with distinct IDs and a non-nil State each. New does not keep prev, and
// only reads svc.Dests; Schedule uses the dest list New saw.
func New(name string, svc *vs.Service, prev vs.Scheduler) (vs.Scheduler, error) {
	for _, b := range builtins {
		if b.name != name {
			continue
		}
		if b.build == nil {
			return nil, fmt.Errorf("%w: %q", ErrNotImplemented, name)
		}
		if err := validate(svc); err != nil {
			return nil, fmt.Errorf("scheduler %s: %w", name, err)
		}
		if b.check != nil {
			if err := b.check(svc); err != nil {
				return nil, fmt.Errorf("scheduler %s: %w", name, err)
			}
		}
		return b.build(svc, prev), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknown, name)
}

// validate rejects what Schedule could not run on without panicking.
func validate(svc *vs.Service) error {
	if svc == nil {
		return errors.New("nil service")
	}
	if svc.Params.Overhead > vs.OverheadTotal {
		return fmt.Errorf("unknown overhead formula %d", svc.Params.Overhead)
	}
	if svc.Params.LBLCExpiration < 0 || svc.Params.LBLCRExpiration < 0 {
		return errors.New("negative lblc/lblcr expiration")
	}
	seen := make(map[uint32]struct{}, len(svc.Dests))
	for i, d := range svc.Dests {
		if d == nil {
			return fmt.Errorf("dest %d is nil", i)
		}
		if d.State == nil {
			return fmt.Errorf("dest %d (ID %d) has no State", i, d.ID)
		}
		if _, dup := seen[d.ID]; dup {
			return fmt.Errorf("dest ID %d appears twice", d.ID)
		}
		seen[d.ID] = struct{}{}
	}
	return nil
}

// destDiff is how the kernel's destination list went from old to cur,
// explained as the fewest ip_vs_del_dest and ip_vs_add_dest calls.
//
// The kernel inserts at the head (list_add_rcu in __ip_vs_update_dest) and
// never reorders, so the dests that stayed linked keep their relative order
// and form a tail of the new list; everything before that tail was added,
// some of it after being removed (a dest taken back from the trash keeps its
// identity but goes to the head). stayFrom is where that tail starts in cur.
type destDiff struct {
	old, cur []*vs.Dest
	stayFrom int
	// curOf[j] is the index in cur of old[j] if it stayed linked, else -1.
	curOf []int
	// oldOf[i] is the index in old of cur[i] for i >= stayFrom.
	oldOf []int
}

func diffDests(old, cur []*vs.Dest) destDiff {
	oldIdx := make(map[uint32]int, len(old))
	for j, d := range old {
		oldIdx[d.ID] = j
	}
	dd := destDiff{
		old:      old,
		cur:      cur,
		stayFrom: len(cur),
		curOf:    make([]int, len(old)),
		oldOf:    make([]int, len(cur)),
	}
	for j := range dd.curOf {
		dd.curOf[j] = -1
	}
	for i := range dd.oldOf {
		dd.oldOf[i] = -1
	}
	// Walk from the tail: a dest stayed if it was in old, before every
	// dest already known to have stayed.
	limit := len(old)
	for i := len(cur) - 1; i >= 0; i-- {
		j, ok := oldIdx[cur[i].ID]
		if !ok || j >= limit {
			break
		}
		limit = j
		dd.stayFrom = i
		dd.curOf[j] = i
		dd.oldOf[i] = j
	}
	return dd
}

// edited reports whether the kernel would have called upd_dest for a dest
// that stayed: ipvsadm -e changed something the dest carries.
func edited(old, cur *vs.Dest) bool {
	return old.Weight != cur.Weight ||
		old.UThreshold != cur.UThreshold ||
		old.LThreshold != cur.LThreshold ||
		old.Method != cur.Method
}

// unchanged reports whether the diff needs no hook call at all.
func (dd *destDiff) unchanged() bool {
	if len(dd.old) != len(dd.cur) || dd.stayFrom != 0 {
		return false
	}
	for i, d := range dd.cur {
		if edited(dd.old[dd.oldOf[i]], d) {
			return false
		}
	}
	return true
}
