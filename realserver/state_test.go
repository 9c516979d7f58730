package realserver

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sampleState() *State {
	return &State{
		Name: "rs1", Mode: ModeTUN, VIPs: []netip.Addr{vip1, vip2}, Decap: DecapUser,
		Iface: "eth0", Device: "ulvs-tun0", NetNS: 4026531840,
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Changes: []Change{
			{Kind: ChangeTun, Dev: "ulvs-tun0"},
			{Kind: ChangeSysctl, Key: "net/ipv4/conf/all/arp_ignore", Old: "0", New: "1"},
			{Kind: ChangeAddr, Dev: "ulvs-tun0", Addr: netip.MustParsePrefix("10.77.0.100/32")},
			{Kind: ChangeLinkUp, Dev: "lo"},
			{Kind: ChangeLinkAdd, Dev: "tunl0"},
			{Kind: ChangeNftTable, Table: NftTable},
		},
		Process: &Process{PID: 42, StartTime: 777, Cmdline: []string{"ulvs", "realserver", "up", "--mode", "tun"}},
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, st := range []*State{sampleState(), {Name: "dr", Mode: ModeDR, VIPs: []netip.Addr{vip1}}} {
		if err := writeState(dir, st); err != nil {
			t.Fatal(err)
		}
		got, err := ReadState(dir, st.Name)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(st, got, cmpNetip); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	all, err := ListStates(dir)
	if err != nil || len(all) != 2 || all[0].Name != "dr" || all[1].Name != "rs1" {
		t.Errorf("ListStates: %v, %v", all, err)
	}
	if err := createState(dir, sampleState()); !errors.Is(err, ErrAlreadyUp) {
		t.Errorf("createState over an existing file: got %v, want ErrAlreadyUp", err)
	}
	if _, err := ReadState(dir, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing state: got %v, want fs.ErrNotExist", err)
	}
	if st, err := ListStates(dir + "/missing"); err != nil || st != nil {
		t.Errorf("missing dir: %v, %v", st, err)
	}
}

func TestStateRejects(t *testing.T) {
	good, err := os.ReadFile(func() string {
		dir := t.TempDir()
		if err := writeState(dir, sampleState()); err != nil {
			t.Fatal(err)
		}
		return StatePath(dir, "rs1")
	}())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseState(good); err != nil {
		t.Fatalf("good state: %v", err)
	}
	tests := []struct{ name, from, to string }{
		{"sysctl outside /proc/sys/net", `"net/ipv4/conf/all/arp_ignore"`, `"net/../../kernel/core_pattern"`},
		{"sysctl not under net", `"net/ipv4/conf/all/arp_ignore"`, `"kernel/core_pattern"`},
		{"unknown kind", `"kind": "nft-table"`, `"kind": "rm-rf"`},
		{"bad device", `"dev": "lo"`, `"dev": "lo; reboot"`},
		{"bad table", `"table": "ulvs_decap"`, `"table": "x y"`},
		{"bad mode", `"mode": "tun"`, `"mode": "fullnat"`},
		{"bad name", `"name": "rs1"`, `"name": "../x"`},
		{"unknown field", `"name": "rs1"`, `"name": "rs1", "extra": 1`},
		{"process without pid", `"pid": 42`, `"pid": 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := strings.Replace(string(good), tt.from, tt.to, 1)
			if b == string(good) {
				t.Fatalf("test setup: %q not found", tt.from)
			}
			if _, err := parseState([]byte(b)); err == nil {
				t.Errorf("parse: got nil error")
			}
		})
	}
}

func FuzzParseState(f *testing.F) {
	dir := f.TempDir()
	if err := writeState(dir, sampleState()); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(StatePath(dir, "rs1"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseState(b)
		if err != nil {
			return
		}
		for _, c := range st.Changes {
			if c.Kind == ChangeSysctl && !validSysctlKey(c.Key) {
				t.Fatalf("accepted sysctl key %q", c.Key)
			}
		}
	})
}

func TestNftScript(t *testing.T) {
	s := nftDropIPIPScript("ulvs_decap")
	for _, want := range []string{"table ip ulvs_decap", "hook input", "ip protocol { 4, 41 }", "drop", "table ip6 ulvs_decap", "meta l4proto { 4, 41 }"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
