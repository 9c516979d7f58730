package director

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/pulse"
)

func TestPulseRole(t *testing.T) {
	a := netip.MustParseAddr
	p := &config.Pulse{Primary: a("10.0.0.2"), Backup: a("10.0.0.3")}
	for _, tc := range []struct {
		name                string
		local               []netip.Addr
		role                pulse.Role
		self, partner, want string
	}{
		{"primary", []netip.Addr{a("127.0.0.1"), a("10.0.0.2")}, pulse.Primary, "10.0.0.2", "10.0.0.3", ""},
		{"backup", []netip.Addr{a("10.0.0.3")}, pulse.Backup, "10.0.0.3", "10.0.0.2", ""},
		// Both here: the primary wins, as amMaster looks for primary only.
		{"both", []netip.Addr{a("10.0.0.3"), a("10.0.0.2")}, pulse.Primary, "10.0.0.2", "10.0.0.3", ""},
		{"neither", []netip.Addr{a("10.0.0.9")}, 0, "", "", "neither primary 10.0.0.2 nor backup 10.0.0.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, self, partner, err := pulseRole(p, tc.local)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil || role != tc.role || self.String() != tc.self || partner.String() != tc.partner {
				t.Fatalf("pulseRole = %v %v %v %v, want %v %s %s", role, self, partner, err, tc.role, tc.self, tc.partner)
			}
		})
	}
}

func TestNewPulseRefuses(t *testing.T) {
	a := netip.MustParseAddr
	base := config.Pulse{Primary: a("10.0.0.2"), PrimaryPrivate: a("10.0.0.2"), Backup: a("10.0.0.3"),
		BackupPrivate: a("10.0.0.3"), BackupActive: true, VIPs: []config.PulseVIP{{Addr: a("10.0.0.100"), Device: "eth0:1"}}}
	novip := base
	novip.VIPs = nil
	for _, tc := range []struct {
		p    config.Pulse
		want string
	}{
		{novip, "no active virtual server"},
	} {
		h := &haManager{}
		if err := h.newPulse(&tc.p, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newPulse: %v, want %q", err, tc.want)
		}
	}
}

// nopTransport is a pulse transport that sends nowhere.
type nopTransport struct{}

func (nopTransport) Send([]byte) error { return nil }
func (nopTransport) Receive([]byte) (int, netip.Addr, error) {
	select {}
}
func (nopTransport) Close() error { return nil }

// monitor_links follows only the heartbeat addresses' interfaces, and
// refuses one ulvsd does not watch.
func TestPulseLinks(t *testing.T) {
	n, err := pulse.New(pulse.Config{Role: pulse.Primary, Partner: netip.MustParseAddr("10.0.0.3"), BackupActive: true,
		Keepalive: time.Second, Deadtime: 3 * time.Second, MonitorLinks: true, Transport: nopTransport{}})
	if err != nil {
		t.Fatal(err)
	}
	pi := &pulseInstance{links: []string{"eth0", "eth1"}, node: n}
	if pi.setLink("eth9", false) {
		t.Errorf("eth9 is not monitored")
	}
	if !pi.setLink("eth1", false) || !pi.setLink("eth0", false) || !pi.setLink("eth1", true) || !slices.Equal(pi.down, []string{"eth0"}) {
		t.Errorf("down %v, want [eth0]", pi.down)
	}
	h := &haManager{pulse: pi}
	if err := h.checkPulseLinks([]string{"eth0"}); err == nil || !strings.Contains(err.Error(), "interface eth1") {
		t.Errorf("checkPulseLinks: %v, want eth1 refused", err)
	}
	if err := h.checkPulseLinks([]string{"eth1", "eth0"}); err != nil {
		t.Errorf("checkPulseLinks: %v", err)
	}
}
