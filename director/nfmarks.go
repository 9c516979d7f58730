package director

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/nfmarks"
)

// NetfilterMarksInterval is how often ulvsd re-reads the prerouting mark
// rules of iptables and nft.
const NetfilterMarksInterval = 2 * time.Second

// SetNetfilterMarks replaces the marks compiled from the namespace's
// iptables/nft rules (package nfmarks), keeping the rules, the file's
// [[fwmark]] marks and the knobs. The file's marks come first; a mark
// number the file defines takes the file's definition and the netfilter
// one is dropped with a warning.
func (d *Director) SetNetfilterMarks(marks []config.Mark) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.nfMarks
	d.nfMarks = marks
	if err := d.install(d.rules); err != nil {
		d.nfMarks = old
		return err
	}
	d.warnShadowed()
	return nil
}

// allMarks are the marks in force: the file's, then the netfilter ones
// whose number the file does not define. d.mu must be held.
func (d *Director) allMarks() []config.Mark {
	if len(d.nfMarks) == 0 {
		return d.marks
	}
	out := slices.Clip(d.marks)
	for _, m := range d.nfMarks {
		if !d.fileDefines(m.Mark) {
			out = append(out, m)
		}
	}
	return out
}

func (d *Director) fileDefines(mark uint32) bool {
	return slices.ContainsFunc(d.marks, func(m config.Mark) bool { return m.Mark == mark })
}

// warnShadowed warns about netfilter marks the file's [[fwmark]] tables
// override. d.mu must be held.
func (d *Director) warnShadowed() {
	var warned []uint32
	for _, m := range d.nfMarks {
		if d.fileDefines(m.Mark) && !slices.Contains(warned, m.Mark) {
			warned = append(warned, m.Mark)
			d.log.Warn("mark defined both by a [[fwmark]] table and by iptables/nft rules: the file's definition is used", "mark", m.Mark)
		}
	}
}

// warnUnmarked warns, once per mark number, about a mark service (ipvsadm
// -f N) whose mark no [[fwmark]] table or iptables/nft rule of its family
// produces (an IPv6 mark service, -f N -6, takes the packets of IPv6
// matches only): no packet can reach it. d.mu must be held.
func (d *Director) warnUnmarked(r *config.Rules, marks []config.Mark) {
	for _, s := range r.Services {
		if s.FwMark == 0 {
			continue
		}
		v6 := s.IPv6()
		defined := slices.ContainsFunc(marks, func(m config.Mark) bool {
			return m.Mark == s.FwMark && slices.ContainsFunc(m.Matches, func(mm config.MarkMatch) bool {
				return (mm.Addr.Addr().Is6() && !mm.Addr.Addr().Is4In6()) == v6
			})
		})
		k := s.Key()
		switch {
		case defined:
			delete(d.unmarkedWarned, k)
		case !d.unmarkedWarned[k]:
			if d.unmarkedWarned == nil {
				d.unmarkedWarned = map[config.ServiceKey]bool{}
			}
			d.unmarkedWarned[k] = true
			family := "ipv4"
			if v6 {
				family = "ipv6"
			}
			d.log.Warn("fwmark service with no mark rule: no iptables/nft MARK rule ulvs can use and no [[fwmark]] match of its family sets this mark, so no packet reaches it",
				"fwmark", s.FwMark, "family", family)
		}
	}
}

// markWatcher re-reads the netfilter mark rules and hands the director
// their marks when they change.
type markWatcher struct {
	dir   *Director
	read  func(context.Context) ([]nfmarks.Rule, error)
	log   *slog.Logger
	rules []nfmarks.Rule // the last rules read
	err   string         // the last read error, logged once
}

// setMarkStatus records a reading of the netfilter mark rules for
// Snapshot: the rules, or the error with the rules read before.
func (d *Director) setMarkStatus(rules []nfmarks.Rule, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := &ctl.MarkRulesStatus{}
	if err != nil {
		if d.markStatus != nil {
			st.Rules = d.markStatus.Rules
		}
		st.Error = err.Error()
	} else {
		for _, r := range rules {
			st.Rules = append(st.Rules, ctl.MarkRuleStatus{Chain: r.Chain, Text: r.Text, Mark: r.Mark, Reason: r.Reason})
		}
	}
	d.markStatus = st
}

// once reads the rules and applies them if they changed.
func (w *markWatcher) once(ctx context.Context) {
	rules, err := w.read(ctx)
	w.dir.setMarkStatus(rules, err)
	if err != nil {
		if msg := err.Error(); msg != w.err {
			w.err = msg
			w.log.Error("iptables/nft marks: cannot read the rules; keeping the marks read before", "err", err)
		}
		return
	}
	w.err = ""
	if slices.EqualFunc(rules, w.rules, sameRule) {
		return
	}
	for _, r := range nfmarks.Refused(rules) {
		w.log.Warn("iptables/nft mark rule REFUSED: ulvs cannot express it, packets it would mark are not marked", "chain", r.Chain, "rule", r.Text, "reason", r.Reason)
	}
	marks := nfmarks.Marks(rules)
	if err := w.dir.SetNetfilterMarks(marks); err != nil {
		w.log.Error("iptables/nft marks: cannot apply them", "err", err)
		return
	}
	w.rules = rules
	used := len(rules) - len(nfmarks.Refused(rules))
	w.log.Info("iptables/nft marks applied", "rules_used", used, "rules_refused", len(rules)-used, "marks", markNumbers(marks))
}

// run calls once every interval until ctx is done.
func (w *markWatcher) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.once(ctx)
		}
	}
}

func sameRule(a, b nfmarks.Rule) bool {
	return a.Chain == b.Chain && a.Text == b.Text && a.Mark == b.Mark && a.Reason == b.Reason &&
		slices.EqualFunc(a.Matches, b.Matches, func(x, y config.MarkMatch) bool {
			return x.Proto == y.Proto && x.Addr == y.Addr && x.Src == y.Src && slices.Equal(x.Ports, y.Ports)
		})
}

func markNumbers(marks []config.Mark) string {
	var nums []string
	for _, m := range marks {
		n := strconv.FormatUint(uint64(m.Mark), 10)
		if !slices.Contains(nums, n) {
			nums = append(nums, n)
		}
	}
	return strings.Join(nums, ",")
}
