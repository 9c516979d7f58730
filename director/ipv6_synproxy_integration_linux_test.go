package director_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationIPv6SynProxy runs the SYN proxy on IPv6 services, NAT66
// and FULLNAT (the IPv4 services beside them proxied too): requests
// split by rr, a 4 MiB download and a 4 MiB upload intact through the
// cookies and the translation of every segment, curl -6 answered, and the
// proxy's counters show every connection opened through it.
func TestIntegrationIPv6SynProxy(t *testing.T) {
	skipUnprivileged(t)
	for _, mode := range []string{lab.ModeNAT, lab.ModeFullNAT} {
		t.Run(mode, func(t *testing.T) {
			cfg := lab.Config{RealServers: 2, IPv6: true, Mode: mode}
			e := newEnvLab(t, cfg, func(l *lab.Lab) string {
				c := v6Config(l, "nat")
				if mode == lab.ModeFullNAT {
					c = v6FullNATConfig(l)
				}
				return strings.ReplaceAll(c, "scheduler = \"rr\"\n", "scheduler = \"rr\"\nsynproxy = true\n")
			})
			e.waitReady6(2)
			if out := e.mustAdm("-S", "-n"); !strings.Contains(out, fmt.Sprintf("-A -t [%s]:80 -s rr", e.lab.VIP6)) || strings.Count(out, "--synproxy") != 2 {
				t.Fatalf("-S does not show the IPv6 service with the SYN proxy:\n%s", out)
			}
			before := e.snapshot().Engine["synproxy_opened"]
			splitRR6(t, e, 20)
			curlAndDownload6(t, e)
			e.uploadTo(t, fmt.Sprintf("http://[%s]/upload", e.lab.VIP6), 4<<20)
			eng := e.snapshot().Engine
			// 20 requests, curl, the download and the upload.
			if eng["synproxy_opened"]-before < 23 || eng["synproxy_cookies_sent"] < 23 || eng["synproxy_acks_valid"] < 23 {
				t.Errorf("proxy counters after 23 IPv6 connections: %v (opened before: %d)", proxyCounters(eng), before)
			}
			t.Logf("proxy counters: %v", proxyCounters(eng))
		})
	}
}
