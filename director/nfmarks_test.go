package director

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/nfmarks"
	"github.com/ulvs/ulvs/vs"
)

// syncBuffer is a log sink safe for the watcher and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func markTo(mark uint32, addr string, port uint16) config.Mark {
	return config.Mark{Mark: mark, Matches: []config.MarkMatch{{
		Proto: vs.TCP, Addr: netip.MustParsePrefix(addr), Ports: []config.PortRange{{First: port, Last: port}},
	}}}
}

func TestNetfilterMarks(t *testing.T) {
	var logs syncBuffer
	fe := &fakeEngine{}
	d, err := New(Config{Engine: fe, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var rules config.Rules
	for i, m := range []uint32{21, 22} {
		rules.Services = append(rules.Services, config.Service{FwMark: m, Scheduler: "rr", Dests: []config.Dest{
			{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(11 + i)}), Method: vs.Route, Weight: 1},
		}})
	}
	vip := [4]byte{10, 0, 0, 100}
	mark := func(port uint16) uint32 { return fe.Table().Mark(vs.TCP, vip, port) }

	// The file defines 21 (port 21); netfilter defines 21 (port 2121) and
	// 22 (port 22).
	if err := d.SetConfig(rules, []config.Mark{markTo(21, "10.0.0.100/32", 21)}, config.Knobs{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "fwmark service with no mark rule") || !strings.Contains(logs.String(), "fwmark=22") {
		t.Errorf("no warning about mark 22:\n%s", logs.String())
	}
	if err := d.SetNetfilterMarks([]config.Mark{markTo(21, "10.0.0.100/32", 2121), markTo(22, "10.0.0.100/32", 22)}); err != nil {
		t.Fatal(err)
	}
	if mark(21) != 21 || mark(22) != 22 || mark(2121) != 0 {
		t.Errorf("marks of ports 21, 22, 2121: %d %d %d; want 21 (file), 22 (netfilter), 0 (the file's 21 wins)", mark(21), mark(22), mark(2121))
	}
	if !strings.Contains(logs.String(), "defined both by a [[fwmark]] table and by iptables/nft rules") {
		t.Errorf("no warning about mark 21 defined twice:\n%s", logs.String())
	}
	// A file reload keeps the netfilter marks.
	if err := d.SetConfig(rules, nil, config.Knobs{}); err != nil {
		t.Fatal(err)
	}
	if mark(22) != 22 || mark(2121) != 21 {
		t.Errorf("after a reload without [[fwmark]]: ports 22, 2121 give %d %d, want 22 21", mark(22), mark(2121))
	}
	if strings.Count(logs.String(), "fwmark=22") != 1 {
		t.Errorf("mark 22 warned about more than once:\n%s", logs.String())
	}
}

func TestMarkWatcher(t *testing.T) {
	var logs syncBuffer
	fe := &fakeEngine{}
	log := slog.New(slog.NewTextHandler(&logs, nil))
	d, err := New(Config{Engine: fe, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rule := func(line string) nfmarks.Rule {
		return nfmarks.ParseIptablesSave("*mangle\n" + line + "\n")[0]
	}
	var read []nfmarks.Rule
	var readErr error
	w := &markWatcher{dir: d, log: log, read: func(context.Context) ([]nfmarks.Rule, error) { return read, readErr }}
	vip := [4]byte{10, 0, 0, 100}

	read = []nfmarks.Rule{
		rule("-A PREROUTING -d 10.0.0.100/32 -p tcp -m tcp --dport 21 -j MARK --set-xmark 0x15/0xffffffff"),
		rule("-A PREROUTING -i eth0 -d 10.0.0.100/32 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x16/0xffffffff"),
	}
	w.once(context.Background())
	if got := fe.Table().Mark(vs.TCP, vip, 21); got != 21 {
		t.Errorf("mark of port 21: %d, want 21", got)
	}
	if got := fe.Table().Mark(vs.TCP, vip, 80); got != 0 {
		t.Errorf("mark of port 80 (refused rule): %d, want 0", got)
	}
	if st := d.Snapshot().MarkRules; st == nil || len(st.Rules) != 2 || st.Rules[0].Mark != 21 || st.Rules[1].Reason == "" || st.Error != "" {
		t.Errorf("Snapshot().MarkRules = %+v, want rule 1 used (mark 21), rule 2 refused", st)
	}
	w.once(context.Background()) // unchanged: logged once
	if n := strings.Count(logs.String(), "REFUSED"); n != 1 {
		t.Errorf("%d REFUSED lines, want 1:\n%s", n, logs.String())
	}
	readErr = errors.New("nft: not found")
	w.once(context.Background())
	w.once(context.Background())
	if n := strings.Count(logs.String(), "cannot read the rules"); n != 1 {
		t.Errorf("%d read errors logged, want 1:\n%s", n, logs.String())
	}
	if st := d.Snapshot().MarkRules; st == nil || len(st.Rules) != 2 || st.Error != "nft: not found" {
		t.Errorf("after a failed read, Snapshot().MarkRules = %+v, want the 2 rules read before and the error", st)
	}
	if got := fe.Table().Mark(vs.TCP, vip, 21); got != 21 {
		t.Errorf("after a failed read, mark of port 21: %d, want 21 (kept)", got)
	}
	read, readErr = nil, nil
	w.once(context.Background())
	if got := fe.Table().Mark(vs.TCP, vip, 21); got != 0 {
		t.Errorf("after the rules went, mark of port 21: %d, want 0", got)
	}
}
