package director_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// pairConf is one director of a pair as seed 001 sets them up, plus
// keepalived's lvs_sync_daemon so that the backup knows the master's
// connections: state and priority differ between the two.
const pairConf = `global_defs {
   router_id %[1]s
   lvs_sync_daemon d-eth0 VI_1 id 7
}
vrrp_instance VI_1 {
    state %[2]s
    interface d-eth0
    virtual_router_id 51
    priority %[3]d
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
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.77.0.11 80 {
        weight 1
    }
    real_server 10.77.0.12 80 {
        weight 1
    }
}
`

// natPairConf is pairConf for the NAT lab: the real servers route through
// a gateway address (10.77.1.254) that floats with the instance, as
// keepalived NAT pairs put it in virtual_ipaddress_excluded.
const natPairConf = `global_defs {
   router_id %[1]s
   lvs_sync_daemon d-eth0 VI_1 id 7
}
vrrp_instance VI_1 {
    state %[2]s
    interface d-eth0
    virtual_router_id 51
    priority %[3]d
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        10.77.0.100
    }
    virtual_ipaddress_excluded {
        10.77.1.254/24 dev d-eth1
    }
}
virtual_server 10.77.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.77.1.11 80 {
        weight 1
    }
    real_server 10.77.1.12 80 {
        weight 1
    }
}
`

// startBackup runs a second ulvsd in the lab's second director with conf
// (written as file) and ulvsd arguments args; the test's cleanup stops it.
func (e *env) startBackup(t *testing.T, file, conf string, args []string) *env {
	t.Helper()
	b := &env{t: t, lab: e.lab, dir: t.TempDir(), ns: e.lab.Backup, log: &bytes.Buffer{}, args: args}
	b.cfg = filepath.Join(b.dir, file)
	b.sock = filepath.Join(b.dir, "ulvsd.sock")
	b.writeConfig(conf)
	b.start()
	t.Cleanup(b.stop)
	return b
}

// routeViaFloatingGateway points the NAT real servers' default route at
// 10.77.1.254, the gateway address that floats with a vrrp_instance.
func routeViaFloatingGateway(t *testing.T, l *lab.Lab) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, rs := range l.RS {
		if out, err := exec.CommandContext(ctx, "ip", "-n", rs.Name, "route", "replace", "default", "via", "10.77.1.254").CombinedOutput(); err != nil {
			t.Fatalf("route via the floating gateway: %v\n%s", err, out)
		}
	}
}

// TestIntegrationFailoverSync: two ulvs directors with VRRP and connection
// sync. The master is killed (SIGKILL) under a slow download and a
// keep-alive client that sends without pause: the backup takes the VIP,
// the download finishes intact, the keep-alive connection is never reset
// and its requests fail only after the kill. Then the old master returns
// and takes the VIP back, and the same connection carries on through it.
//
// nat-synproxy is the NAT pair with DPVS's syn_proxy on the virtual
// server: the connections are the SYN proxy's, and sync must carry their
// sequence number delta and options for the backup to translate them.
func TestIntegrationFailoverSync(t *testing.T) {
	for _, mode := range []string{lab.ModeDR, lab.ModeNAT, "nat-synproxy"} {
		t.Run(mode, func(t *testing.T) { testFailoverSync(t, mode) })
	}
}

func testFailoverSync(t *testing.T, mode string) {
	conf, o := pairConf, envOpts{file: "keepalived.conf"}
	proxy := mode == "nat-synproxy"
	if proxy {
		mode = lab.ModeNAT
		conf = strings.Replace(natPairConf, "    protocol TCP\n", "    protocol TCP\n    syn_proxy\n", 1)
	}
	if mode == lab.ModeNAT {
		if !proxy {
			conf = natPairConf
		}
		o.args = []string{"-i", "d-eth0,d-eth1"}
	}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true, Mode: mode}, fmt.Sprintf(conf, "LVS_A", "MASTER", 100), o)
	if mode == lab.ModeNAT {
		routeViaFloatingGateway(t, e.lab)
	}
	b := e.startBackup(t, "keepalived.conf", fmt.Sprintf(conf, "LVS_B", "BACKUP", 99), o.args)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)

	// A download read slowly (2 MiB at about 512 KiB/s), so that it spans
	// the takeover, and a keep-alive client.
	dl := e.slowDownload("http://10.77.0.100", 2<<20)
	ctx, stop := context.WithCancel(context.Background())
	kc, done := e.keepAliveLoop(ctx, "http://10.77.0.100/")
	ok, failed, newConns, firstFail, lastFail := &kc.ok, &kc.failed, &kc.newConns, &kc.firstFail, &kc.lastFail

	// Let the connections reach the backup (a lone sync entry leaves the
	// master after 2 to 3 s), then kill the master.
	time.Sleep(3500 * time.Millisecond)
	if opened := e.snapshot().Engine["synproxy_opened"]; proxy && opened < 2 {
		t.Fatalf("%d connections went through the SYN proxy, want the download's and the keep-alive client's", opened)
	}
	killed := time.Now()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	b.waitHA(t, "MASTER", 8*time.Second)
	tookOver := time.Now()

	if err := <-dl; err != nil {
		t.Errorf("download across the takeover: %v", err)
	}
	okAtTakeover, failedAtTakeover := ok.Load(), failed.Load()

	// Fail back: the old master returns (its sync daemon starts as backup
	// and learns the connections), preempts with priority 100, and the
	// keep-alive connection carries on through it.
	e.start()
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 5*time.Second)
	time.Sleep(3 * time.Second)
	stop()
	<-done
	t.Logf("%s: takeover: backup MASTER %.2f s after the master was killed (3 x advert_int + skew = 3.61 s); keep-alive client: %d answered, %d failed by then; after the fail back: %d answered, %d failed; %d connections opened in all", mode,
		tookOver.Sub(killed).Seconds(), okAtTakeover, failedAtTakeover, ok.Load()-okAtTakeover, failed.Load()-failedAtTakeover, newConns.Load())
	if ok.Load() == okAtTakeover {
		t.Errorf("no keep-alive request answered after the fail back")
	}
	if n := newConns.Load(); n != 1 {
		t.Errorf("the keep-alive client opened %d connections, want 1 (never reset)", n)
	}
	if f := failed.Load(); f > 0 {
		first, last := time.Unix(0, firstFail.Load()), time.Unix(0, lastFail.Load())
		if first.Before(killed) {
			t.Errorf("keep-alive requests failed from %v to %v, outside the takeover window %v..%v", first, last, killed, tookOver)
		}
	}
	if out := b.mustAdm("-L", "-n"); !strings.Contains(out, "10.77.0.100:80") {
		t.Errorf("backup table:\n%s", out)
	}
}

// slowDownload fetches base/data?size=size through the client, read
// slowly (about 512 KiB/s) so that it spans a takeover, and reports
// whether it arrived whole (its SHA-256).
func (e *env) slowDownload(base string, size int) <-chan error {
	dl := make(chan error, 1)
	go func() {
		resp, err := e.client().Get(fmt.Sprintf("%s/data?size=%d", base, size))
		if err != nil {
			dl <- err
			return
		}
		defer resp.Body.Close()
		h := sha256.New()
		buf := make([]byte, 32<<10)
		var n int64
		for {
			k, err := resp.Body.Read(buf)
			h.Write(buf[:k])
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				dl <- fmt.Errorf("after %d bytes: %w", n, err)
				return
			}
			time.Sleep(60 * time.Millisecond)
		}
		if n != int64(size) || hex.EncodeToString(h.Sum(nil)) != lab.DataSHA256(int64(size)) {
			dl <- fmt.Errorf("got %d bytes sha256 %x, want %d bytes sha256 %s", n, h.Sum(nil), size, lab.DataSHA256(int64(size)))
			return
		}
		dl <- nil
	}()
	return dl
}

// keepAliveCounts are what keepAliveLoop saw.
type keepAliveCounts struct {
	ok, failed, newConns atomic.Int64
	// firstFail and lastFail are the times (Unix ns) of the first and
	// last failed request; 0 when none failed.
	firstFail, lastFail atomic.Int64
}

// keepAliveLoop requests url over one keep-alive connection without pause
// (20 ms between answers) until ctx ends; done is closed then.
func (e *env) keepAliveLoop(ctx context.Context, url string) (c *keepAliveCounts, done <-chan struct{}) {
	c = &keepAliveCounts{}
	ka := e.keepAlive()
	d := make(chan struct{})
	go func() {
		defer close(d)
		for ctx.Err() == nil {
			trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
				if !ci.Reused {
					c.newConns.Add(1)
				}
			}}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), "GET", url, nil)
			resp, err := ka.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				now := time.Now().UnixNano()
				c.firstFail.CompareAndSwap(0, now)
				c.lastFail.Store(now)
				c.failed.Add(1)
				continue
			}
			c.ok.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return c, d
}
