package realserver

import (
	"os"
	"testing"
)

func TestParseStartTime(t *testing.T) {
	stat := []byte("1234 (a b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615\n")
	got, err := parseStartTime(stat)
	if err != nil || got != 98765 {
		t.Errorf("got %d, %v, want 98765", got, err)
	}
	if _, err := parseStartTime([]byte("1 (x) S 1")); err == nil {
		t.Errorf("short stat: got nil error")
	}
}

func TestProcessRunning(t *testing.T) {
	self, err := processInfo(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !self.Running() {
		t.Errorf("this process: Running() = false")
	}
	other := *self
	other.StartTime++
	if other.Running() {
		t.Errorf("same PID, other start time: Running() = true")
	}
	other = *self
	other.Cmdline = append([]string{"x"}, self.Cmdline...)
	if other.Running() {
		t.Errorf("same PID, other command line: Running() = true")
	}
}

func TestRouteDev(t *testing.T) {
	for in, want := range map[string]string{
		"default via 10.0.0.1 dev eth0 proto dhcp metric 100\n":   "eth0",
		"default dev wg0 scope link\ndefault via 1.2.3.4 dev x\n": "wg0",
		"":            "",
		"default via": "",
	} {
		if got := routeDev(in); got != want {
			t.Errorf("routeDev(%q): got %q, want %q", in, got, want)
		}
	}
}
