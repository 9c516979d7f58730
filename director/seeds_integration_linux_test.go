package director_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// listing renders an ipvsadm -ln listing of one TCP service, in ipvsadm
// 1.31's format (print_title, print_service_entry).
func listing(svc string, dests ...string) string {
	var b strings.Builder
	b.WriteString("IP Virtual Server version 1.2.1 (size=4096)\n" +
		"Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
	b.WriteString(svc + "\n")
	for _, d := range dests {
		f := strings.Fields(d) // addr:port forward weight
		fmt.Fprintf(&b, "  -> %-28s %-7s %-6s %-10d %-10d\n", f[0], f[1], f[2], 0, 0)
	}
	return b.String()
}

// TestIntegrationSeedSequences types the seeds' NAT and TUN ipvsadm lines
// to ulvsadm against ulvsd started empty (-i), as their users type them to
// ipvsadm: the listings are ipvsadm's, byte for byte, and the same lines on
// the lab's addresses give working services whose answers alternate.
func TestIntegrationSeedSequences(t *testing.T) {
	for _, tc := range []struct {
		mode, flag, forward string
		seed                []string // the seed's commands
		want                string   // the listing ipvsadm printed for them
		rips                []string
		timeouts            string // ipvsadm -L --timeout afterwards, if checked
	}{
		{
			mode: lab.ModeNAT, flag: "-m", forward: "Masq",
			// seed 002, NAT: ipvsadm -A ... -s rr; -a ... -r RIP:80 -m
			seed: []string{"-A -t 172.25.254.100:80 -s rr", "-a -t 172.25.254.100:80 -r 172.25.7.3:80 -m", "-a -t 172.25.254.100:80 -r 172.25.7.4:80 -m"},
			want: listing("TCP  172.25.254.100:80 rr", "172.25.7.3:80 Masq 1", "172.25.7.4:80 Masq 1"),
			rips: []string{"10.77.1.11:80", "10.77.1.12:80"},
		},
		{
			mode: lab.ModeNAT, flag: "-m", forward: "Masq",
			// seed 001, LVS-NAT with weights, then -E/-e as it shows.
			seed: []string{"-A -t 192.168.50.200:80 -s rr", "-a -t 192.168.50.200:80 -r 192.168.58.2 -m -w 1", "-a -t 192.168.50.200:80 -r 192.168.58.3 -m -w 2",
				"-E -t 192.168.50.200:80 -s wlc", "-e -t 192.168.50.200:80 -r 192.168.58.3 -m -w 5"},
			want: listing("TCP  192.168.50.200:80 wlc", "192.168.58.2:80 Masq 1", "192.168.58.3:80 Masq 5"),
			rips: []string{"10.77.1.11:80", "10.77.1.12:80"},
		},
		{
			mode: lab.ModeDR, flag: "-g", forward: "Route",
			// seed 001, LVS-DR: -g with weights 1 and 2.
			seed: []string{"-A -t 192.168.58.200:80 -s rr", "-a -t 192.168.58.200:80 -r 192.168.58.3 -g -w 1", "-a -t 192.168.58.200:80 -r 192.168.58.2 -g -w 2"},
			want: listing("TCP  192.168.58.200:80 rr", "192.168.58.2:80 Route 2", "192.168.58.3:80 Route 1"),
			rips: []string{"10.77.0.11:80", "10.77.0.12:80"},
		},
		{
			mode: lab.ModeDR, flag: "-g", forward: "Route",
			// seed 001, the lvs-dr.sh script of its keepalived section:
			// --set 30 5 60, a persistent wrr service, two -g dests.
			seed:     []string{"--set 30 5 60", "-A -t 61.164.122.8:80 -s wrr -p 3", "-a -t 61.164.122.8:80 -r 61.164.122.9:80 -g -w 1", "-a -t 61.164.122.8:80 -r 61.164.122.10:80 -g -w 1"},
			want:     listing("TCP  61.164.122.8:80 wrr persistent 3", "61.164.122.9:80 Route 1", "61.164.122.10:80 Route 1"),
			rips:     []string{"10.77.0.11:80", "10.77.0.12:80"},
			timeouts: "Timeout (tcp tcpfin udp): 30 5 60\n",
		},
		{
			mode: lab.ModeTUN, flag: "-i", forward: "Tunnel",
			// seed 002, TUN: -a ... -i
			seed: []string{"-A -t 172.25.254.100:80 -s rr", "-a -t 172.25.254.100:80 -r 172.25.7.3:80 -i", "-a -t 172.25.254.100:80 -r 172.25.7.4:80 -i"},
			want: listing("TCP  172.25.254.100:80 rr", "172.25.7.3:80 Tunnel 1", "172.25.7.4:80 Tunnel 1"),
			rips: []string{"10.77.0.11:80", "10.77.0.12:80"},
		},
	} {
		t.Run(tc.mode+" "+tc.seed[0], func(t *testing.T) {
			skipUnprivileged(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l, err := lab.Up(ctx, lab.Config{RealServers: 2, Mode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Down() })
			srv, stop := context.WithCancel(context.Background())
			t.Cleanup(stop)
			if err := l.StartServers(srv); err != nil {
				t.Fatal(err)
			}
			ifaces := l.DirectorIface
			if l.DirectorInsideIface != "" {
				ifaces += "," + l.DirectorInsideIface
			}
			d := startDaemon(t, l, filepath.Join(t.TempDir(), "ulvsd.sock"), "-i", ifaces)
			for _, c := range tc.seed {
				d.mustAdm(strings.Fields(c)...)
			}
			if got := d.mustAdm("-ln"); got != tc.want {
				t.Errorf("ulvsadm -ln after the seed's lines:\n%s\nwant (ipvsadm's):\n%s", got, tc.want)
			}
			if tc.timeouts != "" {
				if got := d.mustAdm("-L", "--timeout"); got != tc.timeouts {
					t.Errorf("ulvsadm -L --timeout = %q, want %q", got, tc.timeouts)
				}
			}
			d.mustAdm("-C")

			// The same lines on the lab's addresses carry traffic.
			d.mustAdm("-A", "-t", "10.77.0.100:80", "-s", "rr")
			for _, r := range tc.rips {
				d.mustAdm("-a", "-t", "10.77.0.100:80", "-r", r, tc.flag)
			}
			c := l.Client.HTTPClient()
			c.Timeout = 5 * time.Second
			seen := map[string]int{}
			deadline := time.Now().Add(15 * time.Second)
			for len(seen) < 2 {
				resp, err := c.Get("http://10.77.0.100/")
				if err == nil {
					var body [16]byte
					n, _ := resp.Body.Read(body[:])
					resp.Body.Close()
					seen[strings.TrimSpace(string(body[:n]))]++
					continue
				}
				if time.Now().After(deadline) {
					t.Fatalf("the VIP never answered from both real servers: %v (saw %v)\n%s", err, seen, d.logText())
				}
				time.Sleep(100 * time.Millisecond)
			}
			var answers []string
			for i := 0; i < 6; i++ {
				resp, err := c.Get("http://10.77.0.100/")
				if err != nil {
					t.Fatal(err)
				}
				var body [16]byte
				n, _ := resp.Body.Read(body[:])
				resp.Body.Close()
				answers = append(answers, strings.TrimSpace(string(body[:n])))
			}
			for i := 1; i < len(answers); i++ {
				if answers[i] == answers[i-1] {
					t.Errorf("answers do not alternate: %v", answers)
					break
				}
			}
			if out := d.mustAdm("-ln"); strings.Count(out, tc.forward) != 2 {
				t.Errorf("listing:\n%s", out)
			}
		})
	}
}
