package conntrack

import (
	"sync"

	"github.com/ulvs/ulvs/vs"
)

// TemplateKey identifies a persistence template as ip_vs_sched_persist
// (ip_vs_core.c) builds it: the protocol (0, IPPROTO_IP, for a fwmark
// service), the client address masked with the service's netmask, the
// virtual address (the mark number, big endian, for a fwmark service) and
// the virtual port (0 for FTP, port-zero and fwmark services). The client
// port is always 0.
//
// An IPv6 service's template keys its addresses in Src6 and Dst6 (the
// client address masked to the service's prefix length) and leaves Src and
// Dst zero.
type TemplateKey struct {
	Src, Dst   [4]byte
	DstPort    uint16
	Proto      uint8
	Src6, Dst6 [16]byte
}

// template is one persistence template. Pointer-free.
type template struct {
	key     TemplateKey
	destID  uint32
	svcID   uint32
	timeout Tick // the service's persistence timeout
	expires Tick
	// controls counts the connections created under this template
	// (n_control); a template never expires while it has any.
	controls int32
	// hashed is false once the template was invalidated: it no longer
	// matches lookups but lives on until its controlled connections end
	// and its timer fires, as an unhashed kernel template does.
	hashed bool
	used   bool
	// inPkts, syncOld and syncEnd are the connection sync master's
	// memory (ForSync, SetSyncState).
	inPkts  uint32
	syncOld uint8
	syncEnd uint32
}

// Templates holds the persistence templates of every worker: the
// connections of one client to a persistent service may hash to different
// workers, so unlike a Table this is shared, under a mutex. It is touched
// only when a connection is created or ends, never per packet of an
// established connection. Safe for concurrent use; create it with
// NewTemplates.
type Templates struct {
	mu    sync.Mutex
	index map[TemplateKey]uint32 // hashed templates by key -> slot ID
	slots []template             // ID i lives at slots[i-1]
	free  []uint32
	// max bounds the live templates (SetMax); 0 is no bound. full
	// counts the templates refused at the bound.
	max  int
	full uint64
}

// SetMax bounds the number of live templates, so a flood of spoofed
// clients of a persistent service cannot grow the table without end: at
// the bound Use creates no template (and returns no dest) until one dies.
// 0 removes the bound. Safe for concurrent use.
func (ts *Templates) SetMax(n int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.max = max(n, 0)
}

// Refused returns how many templates Use refused at the bound.
func (ts *Templates) Refused() uint64 {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.full
}

// Full reports whether the live templates have reached SetMax's bound.
func (ts *Templates) Full() bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.max > 0 && len(ts.slots)-len(ts.free) >= ts.max
}

// ExpireNow makes template id expire at the next Sweep or Use if no
// connection holds it by then (ip_vs_conn_expire_now on cp->control).
func (ts *Templates) ExpireNow(id uint32, now Tick) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if id != 0 && int(id) <= len(ts.slots) {
		if tp := &ts.slots[id-1]; tp.used {
			tp.expires = now
		}
	}
}

// NewTemplates returns an empty template table.
func NewTemplates() *Templates {
	return &Templates{index: make(map[TemplateKey]uint32)}
}

// TemplateCheck decides whether the dest of a found template may still
// take connections (ip_vs_check_template).
type TemplateCheck func(d *vs.Dest) bool

// Use finds the template for k and returns its dest and ID, or creates
// one with pick when there is none or check rejects the dest of the one
// found (which is then invalidated, as ip_vs_check_template does). The
// returned template counts one more controlled connection and its timer
// restarts from now (ip_vs_control_add, ip_vs_conn_put). The caller hands
// the ID to Table.SetTemplate on the new connection, or to Release if it
// could not create one. Use returns (nil, 0) when pick finds no dest, and
// when a new template is needed but SetMax's bound is reached (without
// calling pick; Refused counts it).
//
// A new template binds its dest like a connection template: the dest's
// PersistConns grows by one until the template dies.
func (ts *Templates) Use(k TemplateKey, svcID uint32, timeoutSec uint32, now Tick, dests Dests, check TemplateCheck, pick func() *vs.Dest) (*vs.Dest, uint32) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var d *vs.Dest
	id, ok := ts.index[k]
	if ok {
		tp := &ts.slots[id-1]
		if !now.Before(tp.expires) && tp.controls == 0 {
			ts.kill(id, dests)
			ok = false
		} else if d = dests.Dest(tp.destID); d == nil || d.ID != tp.destID || !check(d) {
			// Invalidate: unhash, keep until its timer and controlled
			// connections are done.
			delete(ts.index, k)
			tp.hashed = false
			ok = false
		}
	}
	if !ok {
		if ts.max > 0 && len(ts.slots)-len(ts.free) >= ts.max {
			ts.full++
			return nil, 0
		}
		d = pick()
		if d == nil {
			return nil, 0
		}
		id = ts.alloc()
		ts.slots[id-1] = template{key: k, destID: d.ID, svcID: svcID, timeout: ticks(timeoutSec), hashed: true, used: true}
		ts.index[k] = id
		d.State.PersistConns.Add(1)
	}
	tp := &ts.slots[id-1]
	tp.controls++
	tp.expires = now + tp.timeout
	return d, id
}

func (ts *Templates) alloc() uint32 {
	if n := len(ts.free); n > 0 {
		id := ts.free[n-1]
		ts.free = ts.free[:n-1]
		return id
	}
	ts.slots = append(ts.slots, template{})
	return uint32(len(ts.slots))
}

// kill removes template id and releases its dest's PersistConns.
func (ts *Templates) kill(id uint32, dests Dests) {
	tp := &ts.slots[id-1]
	if tp.hashed {
		delete(ts.index, tp.key)
	}
	if dests != nil {
		if d := dests.Dest(tp.destID); d != nil && d.ID == tp.destID && d.State != nil {
			d.State.PersistConns.Add(-1)
		}
	}
	*tp = template{}
	ts.free = append(ts.free, id)
}

// Release ends one controlled connection of template id.
func (ts *Templates) Release(id uint32) {
	if id == 0 {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if int(id) <= len(ts.slots) {
		if tp := &ts.slots[id-1]; tp.used && tp.controls > 0 {
			tp.controls--
		}
	}
}

// Sweep expires templates whose timer has run out. A template that still
// controls connections gets its timer restarted for its timeout instead,
// as ip_vs_conn_expire does for a template with n_control > 0.
func (ts *Templates) Sweep(now Tick, dests Dests) (expired int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i := range ts.slots {
		tp := &ts.slots[i]
		if !tp.used || now.Before(tp.expires) {
			continue
		}
		if tp.controls > 0 {
			tp.expires = now + tp.timeout
			continue
		}
		ts.kill(uint32(i+1), dests)
		expired++
	}
	return expired
}

// Flush removes every template, releasing PersistConns.
func (ts *Templates) Flush(dests Dests) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i := range ts.slots {
		if ts.slots[i].used {
			ts.kill(uint32(i+1), dests)
		}
	}
}

// TemplateInfo describes a template for listings (ipvsadm -L -c).
type TemplateInfo struct {
	Key      TemplateKey
	DestID   uint32
	SvcID    uint32
	Expires  Tick
	Controls int32
}

// List copies every live template.
func (ts *Templates) List() []TemplateInfo {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []TemplateInfo
	for _, tp := range ts.slots {
		if tp.used {
			out = append(out, TemplateInfo{Key: tp.key, DestID: tp.destID, SvcID: tp.svcID, Expires: tp.expires, Controls: tp.controls})
		}
	}
	return out
}

// Len is the number of live templates.
func (ts *Templates) Len() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.slots) - len(ts.free)
}
