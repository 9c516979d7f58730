package ipvssync

import (
	"testing"
	"time"
)

// TestSysctlText: the defaults read as the oracle's transcript shows them,
// and Set takes what /proc takes.
func TestSysctlText(t *testing.T) {
	s := DefaultSysctls()
	want := map[string]string{
		"sync_threshold": "3\t50", "sync_refresh_period": "0", "sync_retries": "0",
		"sync_persist_mode": "0", "sync_qlen_max": "22465", "sync_sock_size": "0",
		"sync_ports": "1", "sync_version": "1",
	}
	for _, name := range SysctlNames() {
		got, err := s.Get(name)
		if err != nil || got != want[name] {
			t.Errorf("Get(%s) = %q, %v; want %q", name, got, err, want[name])
		}
	}
	if len(SysctlNames()) != len(want) {
		t.Errorf("%d names, want %d", len(SysctlNames()), len(want))
	}
	tests := []struct {
		name, value string
		ok          bool
		check       func(Sysctls) bool
	}{
		{"sync_threshold", "5 100", true, func(s Sysctls) bool { return s.SyncThreshold == 5 && s.SyncPeriod == 100 }},
		{"sync_threshold", "3\t0", true, func(s Sysctls) bool { return s.SyncPeriod == 0 }},
		{"sync_threshold", "50 50", false, nil},
		{"sync_threshold", "3", false, nil},
		{"sync_refresh_period", "30", true, func(s Sysctls) bool { return s.SyncRefreshPeriod == 30*time.Second }},
		{"sync_retries", "3", true, func(s Sysctls) bool { return s.SyncRetries == 3 }},
		{"sync_retries", "4", false, nil},
		{"sync_persist_mode", "1", true, func(s Sysctls) bool { return s.SyncPersistMode }},
		{"sync_ports", "4", true, func(s Sysctls) bool { return s.SyncPorts == 4 }},
		{"sync_ports", "6", false, nil},
		{"sync_version", "0", true, func(s Sysctls) bool { return s.SyncVersion == 0 }},
		{"sync_version", "x", false, nil},
		{"sync_sock_size", "65536", true, func(s Sysctls) bool { return s.SyncSockSize == 65536 }},
		{"sync_qlen_max", "100", true, func(s Sysctls) bool { return s.SyncQlenMax == 100 }},
		{"conntrack", "1", false, nil},
	}
	for _, tt := range tests {
		s := DefaultSysctls()
		err := s.Set(tt.name, tt.value)
		if (err == nil) != tt.ok {
			t.Errorf("Set(%s, %q) = %v, want ok %v", tt.name, tt.value, err, tt.ok)
			continue
		}
		if !tt.ok && s != DefaultSysctls() {
			t.Errorf("Set(%s, %q) failed but changed %+v", tt.name, tt.value, s)
		}
		if tt.ok && !tt.check(s) {
			t.Errorf("Set(%s, %q) gave %+v", tt.name, tt.value, s)
		}
	}
}
