package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := func(mod func(*Instance)) Instance { return inst(100, mod) }
	tests := []struct {
		name string
		in   Instance
		err  string
	}{
		{"seed 001", ok(func(*Instance) {}), ""},
		{"no name", ok(func(in *Instance) { in.Name = "" }), "no name"},
		{"no interface", ok(func(in *Instance) { in.Interface = "" }), "no interface"},
		{"vrid 0", ok(func(in *Instance) { in.VRID = 0 }), "virtual_router_id"},
		{"state FAULT", ok(func(in *Instance) { in.State = StateFault }), "want MASTER or BACKUP"},
		{"version 4", ok(func(in *Instance) { in.Version = 4 }), "vrrp_version 4"},
		{"v2 half second", ok(func(in *Instance) { in.AdvertInt = 500 * time.Millisecond }), "whole seconds"},
		{"v3 half second", ok(func(in *Instance) {
			in.Version, in.AuthType, in.AuthPass, in.AdvertInt = V3, 0, "", 500*time.Millisecond
		}), ""},
		{"v3 5 ms", ok(func(in *Instance) { in.Version, in.AuthType, in.AuthPass, in.AdvertInt = V3, 0, "", 5*time.Millisecond }), "multiple of 10 ms"},
		{"v3 with auth", ok(func(in *Instance) { in.Version = V3 }), "not part of VRRPv3"},
		{"AH", ok(func(in *Instance) { in.AuthType = AuthAH }), ""},
		{"AH without password", ok(func(in *Instance) { in.AuthType, in.AuthPass = AuthAH, "" }), "1..8 bytes"},
		{"AH v3", ok(func(in *Instance) { in.AuthType, in.Version = AuthAH, V3 }), "not part of VRRPv3"},
		{"long password", ok(func(in *Instance) { in.AuthPass = "123456789" }), "1..8 bytes"},
		{"pass without type", ok(func(in *Instance) { in.AuthType = AuthNone }), "auth_pass without"},
		{"duplicate VIP", ok(func(in *Instance) { in.ExcludedVIPs = in.VIPs }), "listed twice"},
		{"owner with weight", inst(255, func(in *Instance) { in.TrackInterfaces = []TrackInterface{{Name: "eth1", Weight: -10}} }), "address owner"},
		{"script without program", ok(func(in *Instance) { in.TrackScripts = []TrackScript{{Script: Script{Name: "s"}}} }), "no script"},
		{"script weight", ok(func(in *Instance) {
			in.TrackScripts = []TrackScript{{Script: Script{Name: "s", Argv: []string{"x"}}, Weight: 254, HasWeight: true}}
		}), "-253..253"},
		{"multicast peer", ok(func(in *Instance) { in.UnicastPeers = []netip.Addr{MulticastGroup()} }), "unicast_peer"},
		{"check_unicast_src alone", ok(func(in *Instance) { in.CheckUnicastSrc = true }), "without unicast_peer"},
		{"preempt_delay", ok(func(in *Instance) { in.PreemptDelay = 2000 * time.Second }), "preempt_delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want %q", err, tt.err)
			}
		})
	}
	in, err := Instance{Name: "VI", Interface: "eth0", VRID: 1}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if in.State != StateBackup || in.Priority != 100 || in.Version != V2 || in.AdvertInt != time.Second {
		t.Errorf("defaults: %+v", in)
	}
}

func TestStatus(t *testing.T) {
	_, a, b := pair(t, TTL, inst(150), inst(100))
	sa, sb := a.r.Status(), b.r.Status()
	if sa.State != StateMaster || sa.MasterAddr != srcA || sa.MasterPriority != 150 || sa.Counters.BecameMaster != 1 {
		t.Errorf("master status %+v", sa)
	}
	if sb.State != StateBackup || sb.MasterAddr != srcA || sb.Counters.AdvertsReceived == 0 || sb.LastTransition != t0 || sb.Reason != "init" {
		t.Errorf("backup status %+v", sb)
	}
	if sa.Name != "VI_1" || sa.VRID != 51 || sa.Interface != "eth0" || sa.Version != V2 || sa.Priority != 150 {
		t.Errorf("identity %+v", sa)
	}
}

func TestStateText(t *testing.T) {
	for _, s := range []State{StateInit, StateBackup, StateMaster, StateFault, StateStop} {
		b, _ := s.MarshalText()
		var got State
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("%v: round trip gave %v, %v", s, got, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("SLAVE")); err == nil {
		t.Errorf("UnmarshalText(SLAVE) accepted")
	}
}
