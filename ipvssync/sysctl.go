package ipvssync

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SysctlNames returns the names of the sysctls Sysctls holds, as in
// /proc/sys/net/ipv4/vs/.
func SysctlNames() []string {
	return []string{
		"sync_threshold", "sync_refresh_period", "sync_retries", "sync_persist_mode",
		"sync_qlen_max", "sync_sock_size", "sync_ports", "sync_version",
	}
}

// intField returns the int a sysctl other than sync_threshold,
// sync_refresh_period and sync_persist_mode lives in.
func (s *Sysctls) intField(name string) *int {
	switch name {
	case "sync_retries":
		return &s.SyncRetries
	case "sync_qlen_max":
		return &s.SyncQlenMax
	case "sync_sock_size":
		return &s.SyncSockSize
	case "sync_ports":
		return &s.SyncPorts
	case "sync_version":
		return &s.SyncVersion
	}
	return nil
}

// Get returns a sysctl's value as /proc shows it: sync_threshold as
// "3\t50", sync_refresh_period in seconds, sync_persist_mode as 0 or 1.
func (s Sysctls) Get(name string) (string, error) {
	switch name {
	case "sync_threshold":
		return fmt.Sprintf("%d\t%d", s.SyncThreshold, s.SyncPeriod), nil
	case "sync_refresh_period":
		return strconv.FormatInt(int64(s.SyncRefreshPeriod/time.Second), 10), nil
	case "sync_persist_mode":
		if s.SyncPersistMode {
			return "1", nil
		}
		return "0", nil
	}
	if p := s.intField(name); p != nil {
		return strconv.Itoa(*p), nil
	}
	return "", fmt.Errorf("unknown sync sysctl %q", name)
}

// Set sets a sysctl from the text one would write to /proc (sync_threshold
// takes two numbers), refusing what the kernel refuses (see Validate); on
// error s is unchanged.
func (s *Sysctls) Set(name, value string) error {
	n := *s
	fields := strings.Fields(value)
	want := 1
	if name == "sync_threshold" {
		want = 2
	}
	if len(fields) != want {
		return fmt.Errorf("set %s to %q: want %d number(s)", name, value, want)
	}
	var v [2]int
	for i, f := range fields {
		x, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("set %s to %q: %w", name, value, err)
		}
		v[i] = x
	}
	switch name {
	case "sync_threshold":
		n.SyncThreshold, n.SyncPeriod = v[0], v[1]
	case "sync_refresh_period":
		n.SyncRefreshPeriod = time.Duration(v[0]) * time.Second
	case "sync_persist_mode":
		n.SyncPersistMode = v[0] != 0
	default:
		p := n.intField(name)
		if p == nil {
			return fmt.Errorf("unknown sync sysctl %q", name)
		}
		*p = v[0]
	}
	if err := n.Validate(); err != nil {
		return fmt.Errorf("set %s to %q: %w", name, value, err)
	}
	*s = n
	return nil
}
