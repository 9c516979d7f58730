package director_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/healthcheck"
	"github.com/ulvs/ulvs/lab"
)

// rsServer is one real server's web server that a test stops and starts,
// as an operator stops nginx on a real server.
type rsServer struct {
	t    *testing.T
	ns   lab.NS
	name string
	port int
	mu   sync.Mutex
	stop context.CancelFunc
	done chan struct{}
}

func (s *rsServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop != nil {
		return
	}
	ln, err := s.ns.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", s.port))
	if err != nil {
		s.t.Fatalf("%s:%d listen: %v", s.name, s.port, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		lab.Serve(ctx, s.name, ln, nil)
	}()
	s.stop, s.done = cancel, done
}

// startRSServers starts a web server answering with its name (rs1, rs2,
// ...) on port of every real server, each stopped at the test's end.
func (e *env) startRSServers(t *testing.T, port int) []*rsServer {
	var servers []*rsServer
	for i, ns := range e.lab.RS {
		s := &rsServer{t: t, ns: ns, name: fmt.Sprintf("rs%d", i+1), port: port}
		s.start()
		t.Cleanup(s.kill)
		servers = append(servers, s)
	}
	return servers
}

// kill stops the server and waits until its port is closed.
func (s *rsServer) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stop == nil {
		return
	}
	s.stop()
	<-s.done
	s.stop = nil
}

// healthConf is a keepalived.conf for the DR lab, as an operator writes it
// after seed 001 (its vrrp_instance names the interface).
const healthConf = `! Configuration File for keepalived
global_defs {
   router_id LVS_LAB
}

vrrp_instance VI_1 {
    state MASTER
    interface d-eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        10.77.0.100
    }
}

virtual_server 10.77.0.100 80 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    sorry_server 10.77.0.13 80

    real_server 10.77.0.11 80 {
        weight 1
        notify_down "/bin/sh -c 'echo down rs1 >> %[1]s'"
        notify_up "/bin/sh -c 'echo up rs1 >> %[1]s'"
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
            connect_port 80
        }
    }
    real_server 10.77.0.12 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
            connect_port 80
        }
    }
}

virtual_server 10.77.0.100 8081 {
    delay_loop 1
    lb_algo rr
    lb_kind DR
    protocol TCP
    quorum 2
    quorum_up "/bin/sh -c 'echo quorum up >> %[1]s'"
    quorum_down "/bin/sh -c 'echo quorum down >> %[1]s'"

    real_server 10.77.0.11 8081 {
        weight 1
        HTTP_GET {
            url {
                path /
                digest %[2]s
            }
            connect_timeout 1
        }
    }
    real_server 10.77.0.12 8081 {
        weight 1
        inhibit_on_failure
        HTTP_GET {
            url {
                path /no-such-page
                status_code 200
            }
            connect_timeout 1
        }
    }
}

virtual_server 10.77.0.100 8082 {
    delay_loop 1
    lb_algo wrr
    lb_kind DR
    protocol TCP

    real_server 10.77.0.11 8082 {
        weight 1
        MISC_CHECK {
            misc_path "/bin/sh -c 'exit 5'"
            misc_dynamic
        }
    }
    real_server 10.77.0.12 8082 {
        weight 1
        MISC_CHECK {
            misc_path "/bin/sh -c 'exit 1'"
        }
    }
}
`

// Detection bound of VS 80's TCP_CHECK: delay_loop + connect_timeout +
// retry × delay_before_retry (a refused connection fails at once, so the
// connect timeout is slack).
const tcpDetectBound = (1 + 1 + 1*1) * time.Second

// TestIntegrationHealthChecks runs a keepalived.conf with TCP_CHECK,
// HTTP_GET and MISC_CHECK against the DR lab's real servers: a web server
// that stops is removed within the configured bound while a client loop
// runs, and comes back when it starts again; a reload keeps a down server
// out; the sorry server serves when all are down; inhibit_on_failure shows
// weight 0; misc_dynamic sets the weight; notify scripts run.
func TestIntegrationHealthChecks(t *testing.T) {
	skipUnprivileged(t)
	tmp := t.TempDir()
	notify := filepath.Join(tmp, "notify.log")
	sum := md5.Sum([]byte("rs1\n"))
	conf := fmt.Sprintf(healthConf, notify, hex.EncodeToString(sum[:]))
	e := newEnvOpts(t, lab.Config{RealServers: 3}, conf, envOpts{noServers: true, file: "keepalived.conf"})
	var servers []*rsServer
	for i, ns := range e.lab.RS {
		for _, port := range []int{80, 8081} {
			s := &rsServer{t: t, ns: ns, name: fmt.Sprintf("rs%d", i+1), port: port}
			s.start()
			t.Cleanup(s.kill)
			servers = append(servers, s)
		}
	}
	rs1, rs2 := servers[0], servers[2]
	// Alone on its link, the MASTER instance takes the VIP.
	e.waitHA(t, "MASTER", 10*time.Second)

	// The checks settle: VS 8081's rs2 fails its status check and stays
	// with weight 0 (inhibit_on_failure); VS 8082's rs1 gets weight 5-2=3
	// from misc_dynamic and rs2 (exit 1) leaves.
	e.waitTable(t, 10*time.Second, "settled checks",
		`-> 10\.77\.0\.11:8081 +Route +1 `,
		`-> 10\.77\.0\.12:8081 +Route +0 `,
		`-> 10\.77\.0\.11:8082 +Route +3 `,
		`!-> 10\.77\.0\.12:8082 `)
	e.waitReady(2)
	e.waitChecksRun(t, 10*time.Second)
	// VS 8081 starts with both servers (quorum 2 gained), then loses rs2
	// to its status check: quorum lost, without a sorry server the table
	// keeps rs1, and quorum_down runs.
	e.wantLog(t, "Gained quorum 2+0=2 <= 2 for VS [10.77.0.100]:tcp:8081",
		"Lost quorum 2-0=2 > 1 for VS [10.77.0.100]:tcp:8081")
	waitFile(t, notify, "quorum up")
	waitFile(t, notify, "quorum down")

	t.Run("stopped web server leaves within the bound, client loop fails only meanwhile", func(t *testing.T) {
		loop := e.clientLoop(20)
		time.Sleep(time.Second)
		killed := time.Now()
		rs1.kill()
		took := e.waitTable(t, tcpDetectBound+3*time.Second, "rs1 removed", `!-> 10\.77\.0\.11:80 `)
		time.Sleep(time.Second)
		ok, failed := loop.stop()
		t.Logf("TCP_CHECK (delay_loop 1, connect_timeout 1, retry 1, delay_before_retry 1): rs1 removed %.2f s after its web server stopped (bound %.0f s); client loop at 20 req/s: %d answered, %d failed",
			took.Sub(killed).Seconds(), tcpDetectBound.Seconds(), ok, failed)
		if took.Sub(killed) > tcpDetectBound+time.Second {
			t.Errorf("removal took %v, more than the bound %v (+1 s of polling)", took.Sub(killed), tcpDetectBound)
		}
		// Every second request goes to rs1 until it is removed: at 20
		// req/s that is at most 10 failures a second of the window.
		window := took.Sub(killed).Seconds() + 0.5
		if max := int(window*10) + 2; failed > max || failed == 0 {
			t.Errorf("%d failed requests; want 1..%d for a %.1f s window", failed, max, window)
		}
		e.wantLog(t, "TCP_CHECK on service [10.77.0.11]:tcp:80 failed after 1 retries.",
			"Removing service [10.77.0.11]:tcp:80 from VS [10.77.0.100]:tcp:80")
		waitFile(t, notify, "down rs1")
	})

	t.Run("restarted web server is back within one delay_loop", func(t *testing.T) {
		started := time.Now()
		rs1.start()
		took := e.waitTable(t, 5*time.Second, "rs1 back", `-> 10\.77\.0\.11:80 +Route +1 `)
		t.Logf("rs1 back %.2f s after its web server started (delay_loop 1 s)", took.Sub(started).Seconds())
		if took.Sub(started) > 2*time.Second {
			t.Errorf("return took %v, more than delay_loop (1 s) + 1 s", took.Sub(started))
		}
		e.wantLog(t, "TCP connection to [10.77.0.11]:tcp:80 success.",
			"Adding service [10.77.0.11]:tcp:80 to VS [10.77.0.100]:tcp:80")
		waitFile(t, notify, "up rs1")
	})

	t.Run("reload keeps a down server out", func(t *testing.T) {
		rs1.kill()
		e.waitTable(t, tcpDetectBound+3*time.Second, "rs1 removed", `!-> 10\.77\.0\.11:80 `)
		if err := e.daemon.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(1500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if out := e.mustAdm("-L", "-n"); strings.Contains(out, "10.77.0.11:80 ") {
				t.Fatalf("reload re-added the down server:\n%s", out)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rs1.start()
		e.waitTable(t, 5*time.Second, "rs1 back", `-> 10\.77\.0\.11:80 +Route +1 `)
	})

	t.Run("sorry server when all are down", func(t *testing.T) {
		rs1.kill()
		rs2.kill()
		e.waitTable(t, 2*tcpDetectBound+3*time.Second, "sorry server only",
			`-> 10\.77\.0\.13:80 +Route +1 `, `!-> 10\.77\.0\.11:80 `, `!-> 10\.77\.0\.12:80 `)
		if body, err := e.get(e.client(), "/"); err != nil || body != "rs3" {
			t.Errorf("through the VIP: %q, %v; want rs3 (the sorry server)", body, err)
		}
		rs1.start()
		e.waitTable(t, 5*time.Second, "rs1 back, sorry server gone",
			`-> 10\.77\.0\.11:80 +Route +1 `, `!-> 10\.77\.0\.13:80 `)
		e.wantLog(t, "Lost quorum 1-0=1 > 0 for VS [10.77.0.100]:tcp:80",
			"Adding sorry server [10.77.0.13]:tcp:80 to VS [10.77.0.100]:tcp:80",
			"Removing sorry server [10.77.0.13]:tcp:80 from VS [10.77.0.100]:tcp:80")
		rs2.start()
	})

	t.Run("ulvs checks lists every checker", func(t *testing.T) {
		out, err := e.ulvs("checks")
		if err != nil {
			t.Fatalf("ulvs checks: %v\n%s", err, out)
		}
		for _, want := range []string{"VS [10.77.0.100]:tcp:80", "TCP_CHECK", "HTTP_GET", "MISC_CHECK", "down (weight 0)"} {
			if !strings.Contains(out, want) {
				t.Errorf("ulvs checks lacks %q:\n%s", want, out)
			}
		}
	})
}

// waitTable polls ulvsadm -L -n until every pattern matches (a pattern
// starting with "!" must not match) and returns when that happened.
func (e *env) waitTable(t *testing.T, limit time.Duration, what string, patterns ...string) time.Time {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out := e.mustAdm("-L", "-n")
		ok := true
		for _, p := range patterns {
			neg := strings.HasPrefix(p, "!")
			if regexp.MustCompile(strings.TrimPrefix(p, "!")).MatchString(out) == neg {
				ok = false
				break
			}
		}
		if ok {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; table:\n%s\nulvsd log:\n%s", what, limit, out, e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantLog checks that ulvsd logged each of lines (keepalived's text).
func (e *env) wantLog(t *testing.T, lines ...string) {
	t.Helper()
	log := e.logText()
	for _, l := range lines {
		if !strings.Contains(log, l) {
			t.Errorf("ulvsd did not log %q; log:\n%s", l, log)
		}
	}
}

func waitFile(t *testing.T, path, line string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), line+"\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: no line %q (has %q)", path, line, b)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loop is a client sending requests at a steady rate.
type loop struct {
	ok, failed atomic.Int64
	cancel     context.CancelFunc
	done       chan struct{}
}

func (e *env) clientLoop(perSecond int) *loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{cancel: cancel, done: make(chan struct{})}
	c := e.client()
	c.Timeout = time.Second
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if _, err := e.get(c, "/"); err != nil {
					l.failed.Add(1)
				} else {
					l.ok.Add(1)
				}
			}
		}
	}()
	return l
}

func (l *loop) stop() (ok, failed int) {
	l.cancel()
	<-l.done
	return int(l.ok.Load()), int(l.failed.Load())
}

// ulvs runs the ulvs toolbox against the director.
func (e *env) ulvs(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "ulvs"), append(args, "--socket", e.sock)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestIntegrationSeed001Keepalived runs seed 001's keepalived.conf as
// typed (line breaks restored, the lab's addresses and interface name;
// its vrrp_instance, alone on the link, becomes master): a persistent DR
// service whose TCP_CHECKs take a stopped real server out, after which
// the client's persistence template moves to the other server.
func TestIntegrationSeed001Keepalived(t *testing.T) {
	skipUnprivileged(t)
	conf, err := os.ReadFile(filepath.Join("..", "config", "keepalived", "testdata", "seed001-lab.conf"))
	if err != nil {
		t.Fatal(err)
	}
	// The lab's director interface is d-eth0 where the seed's is eth0.
	text := strings.Replace(string(conf), "interface eth0", "interface d-eth0", 1)
	e := newEnvOpts(t, lab.Config{RealServers: 2}, text, envOpts{noServers: true, file: "keepalived.conf"})
	servers := e.startRSServers(t, 80)
	out := e.mustAdm("-L", "-n")
	for _, want := range []string{"TCP  10.77.0.100:80 wrr persistent 60", "-> 10.77.0.11:80", "-> 10.77.0.12:80"} {
		if !strings.Contains(out, want) {
			t.Fatalf("table lacks %q:\n%s", want, out)
		}
	}
	// Persistence: every request of this client reaches one server.
	c := e.client()
	var first string
	deadline := time.Now().Add(15 * time.Second)
	for first == "" {
		if b, err := e.get(c, "/"); err == nil {
			first = b
		} else if time.Now().After(deadline) {
			t.Fatalf("VIP never answered: %v\n%s", err, e.logText())
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	for i := 0; i < 5; i++ {
		if b, err := e.get(c, "/"); err != nil || b != first {
			t.Fatalf("request %d: %q, %v; want %q (persistence_timeout 60)", i, b, err, first)
		}
	}
	// Stop that server once its checker has run (a first check that fails
	// removes at once, as keepalived's does): delay_loop 6, nb_get_retry
	// 3, delay_before_retry 3.
	e.waitChecksRun(t, 15*time.Second)
	victim := servers[0]
	other := "rs2"
	if first == "rs2" {
		victim, other = servers[1], "rs1"
	}
	killed := time.Now()
	victim.kill()
	gone := e.waitTable(t, 30*time.Second, first+" removed", fmt.Sprintf(`!-> 10\.77\.0\.1%s:80 `, first[2:]))
	t.Logf("seed 001 TCP_CHECK (delay_loop 6, nb_get_retry 3, delay_before_retry 3): %s removed %.1f s after its web server stopped",
		first, gone.Sub(killed).Seconds())
	if b, err := e.get(c, "/"); err != nil || b != other {
		t.Errorf("after the removal: %q, %v; want %s", b, err, other)
	}
}

// waitChecksRun waits until every checker has run at least once.
func (e *env) waitChecksRun(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, err := e.ulvs("checks", "--json")
		var vss []healthcheck.VirtualStatus
		if err == nil {
			err = json.Unmarshal([]byte(out), &vss)
		}
		all := err == nil && len(vss) > 0
		for _, v := range vss {
			for _, r := range v.Reals {
				for _, c := range r.Checks {
					all = all && c.HasRun
				}
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkers did not all run within %v (%v):\n%s", limit, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
