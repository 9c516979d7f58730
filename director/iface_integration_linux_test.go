package director_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mdarp "github.com/mdlayher/arp"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationInterfaceLoss deletes the director's interface under a
// running ulvsd, takes it down, and changes its MAC: ulvsd must notice,
// go idle instead of spinning, keep answering ulvsadm, and forward again
// by itself once the interface is back (issue 20).
func TestIntegrationInterfaceLoss(t *testing.T) {
	e := newEnv(t, lab.Config{RealServers: 2}, fmt.Sprintf(drConfig, realServers("10.77.0.11", "10.77.0.12")))
	e.waitReady(2)
	pid := e.daemon.Process.Pid
	ifname := e.lab.DirectorIface
	idle := cpuShare(t, pid, 2*time.Second)
	t.Logf("ulvsd CPU, idle: %.1f%% of a core", idle*100)

	// The steps share one director, so they are not subtests: the env's
	// helpers fail the whole test.
	t.Log("step: the interface is deleted, then made again")
	{
		e.ip("-n", e.lab.Director.Name, "link", "del", ifname)
		gone := cpuShare(t, pid, 3*time.Second)
		t.Logf("ulvsd CPU, interface gone: %.1f%% of a core", gone*100)
		if gone > 0.10 {
			t.Errorf("ulvsd uses %.0f%% of a core with its interface gone, want < 10%%", gone*100)
		}
		e.waitLog(`msg="interface lost`, "interface="+ifname)
		e.waitInterface(ifname, "absent")
		e.stillAdministrable()
		// The same interface again: a veth into the switch, same name and
		// address.
		sw, dir := e.lab.Switch.Name, e.lab.Director.Name
		e.ip("-n", sw, "link", "add", "sw-d", "type", "veth", "peer", "name", ifname, "netns", dir)
		e.ip("-n", sw, "link", "set", "sw-d", "master", "br0", "up")
		e.ip("-n", dir, "addr", "add", netip.PrefixFrom(e.lab.DIP, 24).String(), "dev", ifname)
		e.ip("-n", dir, "link", "set", ifname, "up")
		e.waitForwarding(5 * time.Second)
		e.waitLog(`msg="interface back`, "interface="+ifname)
	}

	t.Log("step: the interface goes down and up")
	{
		e.ip("-n", e.lab.Director.Name, "link", "set", ifname, "down")
		down := cpuShare(t, pid, 2*time.Second)
		t.Logf("ulvsd CPU, interface down: %.1f%% of a core", down*100)
		if down > 0.10 {
			t.Errorf("ulvsd uses %.0f%% of a core with its interface down, want < 10%%", down*100)
		}
		e.waitInterface(ifname, "down")
		e.stillAdministrable()
		e.ip("-n", e.lab.Director.Name, "link", "set", ifname, "up")
		e.waitForwarding(5 * time.Second)
	}

	t.Log("step: the interface is renamed away and back")
	{
		dir := e.lab.Director.Name
		e.ip("-n", dir, "link", "set", ifname, "down")
		e.ip("-n", dir, "link", "set", ifname, "name", "d-away")
		e.waitInterface(ifname, "absent")
		e.ip("-n", dir, "link", "set", "d-away", "name", ifname)
		e.ip("-n", dir, "link", "set", ifname, "up")
		e.waitForwarding(5 * time.Second)
	}

	t.Log("step: the interface gets a new MAC")
	{
		mac := net.HardwareAddr{0x02, 0x00, 0x00, 0x77, 0x00, 0x01}
		e.ip("-n", e.lab.Director.Name, "link", "set", ifname, "address", mac.String())
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := e.arpVIP()
			if err == nil && bytes.Equal(got, mac) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("ARP for the VIP answers %v (err %v), want the new MAC %v\nulvsd log:\n%s", got, err, mac, e.logText())
			}
			time.Sleep(100 * time.Millisecond)
		}
		e.waitForwarding(5 * time.Second)
	}

	t.Log("step: the interface gets a new MTU")
	e.ip("-n", e.lab.Director.Name, "link", "set", ifname, "mtu", "1400")
	e.waitLog(`msg="interface changed"`, "mtu=1400")
	if got := e.snapshot().Interfaces; len(got) != 1 || got[0].MTU != 1400 {
		t.Errorf("interfaces after the MTU change = %+v, want MTU 1400", got)
	}
	e.waitForwarding(5 * time.Second)

	if testing.Verbose() {
		t.Logf("ulvsd log:\n%s", e.logText())
	}
	snap := e.snapshot()
	if len(snap.Interfaces) != 1 || snap.Interfaces[0].State != "up" || snap.Interfaces[0].Losses != 3 {
		t.Errorf("interfaces at the end = %+v, want %s up after 3 losses", snap.Interfaces, ifname)
	}
	if n := strings.Count(e.logText(), `msg="interface lost`); n != 3 {
		t.Errorf("logged %d losses, want one per loss (3)\n%s", n, e.logText())
	}
}

// TestIntegrationInsideInterfaceLoss: a NAT director loses its inside
// interface (the real servers' side) and gets it back; replies through
// it flow again.
func TestIntegrationInsideInterfaceLoss(t *testing.T) {
	e := newNATDemo(t)
	inside := e.lab.DirectorInsideIface
	sw, dir := e.lab.Switch.Name, e.lab.Director.Name
	e.ip("-n", dir, "link", "del", inside)
	e.waitLog(`msg="interface lost`, "interface="+inside)
	snap := e.snapshot()
	states := map[string]string{}
	for _, i := range snap.Interfaces {
		states[i.Name] = i.State
	}
	if states[e.lab.DirectorIface] != "up" || states[inside] != "absent" {
		t.Errorf("interface states = %v, want %s up and %s absent", states, e.lab.DirectorIface, inside)
	}
	e.stillAdministrable()
	e.ip("-n", sw, "link", "add", "sw-d1", "type", "veth", "peer", "name", inside, "netns", dir)
	e.ip("-n", sw, "link", "set", "sw-d1", "master", "br1", "up")
	e.ip("-n", dir, "addr", "add", netip.PrefixFrom(e.lab.InsideDIP, 24).String(), "dev", inside)
	e.ip("-n", dir, "link", "set", inside, "up")
	e.waitForwarding(5 * time.Second)
}

// TestIntegrationExitOnInterfaceLoss: with the flag, ulvsd exits with
// status 1 and says why when its interface goes.
func TestIntegrationExitOnInterfaceLoss(t *testing.T) {
	skipUnprivileged(t)
	l, err := lab.Up(t.Context(), lab.Config{RealServers: 1})
	if err != nil {
		t.Fatalf("lab up: %v", err)
	}
	t.Cleanup(func() { l.Down() })
	sock := filepath.Join(t.TempDir(), "ulvsd.sock")
	var out bytes.Buffer
	cmd := exec.Command("ip", "netns", "exec", l.Director.Name, filepath.Join(binDir, "ulvsd"),
		"-i", l.DirectorIface, "--socket", sock, "--exit-on-interface-loss")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("ulvsd did not come up:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if o, err := exec.Command("ip", "-n", l.Director.Name, "link", "del", l.DirectorIface).CombinedOutput(); err != nil {
		t.Fatalf("ip link del: %v\n%s", err, o)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("ulvsd exited with %v, want status 1", err)
		}
		if testing.Verbose() {
			t.Logf("ulvsd output:\n%s", out.String())
		}
		if want := "ulvsd: interface " + l.DirectorIface + " lost"; !strings.Contains(out.String(), want) {
			t.Errorf("ulvsd's output lacks %q:\n%s", want, out.String())
		}
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("ulvsd still runs 5s after its interface went:\n%s", out.String())
	}
}

// cpuShare measures the CPU time process pid uses over d, as a share of
// one core, from utime and stime in /proc/PID/stat (clock ticks of
// 1/100 s, USER_HZ on Linux).
func cpuShare(t *testing.T, pid int, d time.Duration) float64 {
	t.Helper()
	ticks := func() int64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("read stat: %v", err)
		}
		// Fields after the command, which is in parentheses and may
		// hold spaces: state is field 3, utime 14 and stime 15.
		rest := string(b[bytes.LastIndexByte(b, ')')+2:])
		f := strings.Fields(rest)
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("parse stat %q", rest)
		}
		return u + s
	}
	start, t0 := ticks(), time.Now()
	time.Sleep(d)
	used := ticks() - start
	return float64(used) / 100 / time.Since(t0).Seconds()
}

func (e *env) ip(args ...string) {
	e.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		e.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitLog waits until one line of ulvsd's log holds every part.
func (e *env) waitLog(parts ...string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(e.logText(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no log line with %q; log:\n%s", parts, e.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitInterface waits until the snapshot and `ulvs stats` show the
// interface in state.
func (e *env) waitInterface(name, state string) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		snap := e.snapshot()
		if len(snap.Interfaces) == 1 && snap.Interfaces[0].Name == name && snap.Interfaces[0].State == state {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("interfaces = %+v, want %s %s", snap.Interfaces, name, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := exec.Command(filepath.Join(binDir, "ulvs"), "stats", "--socket", e.sock).CombinedOutput()
	if err != nil {
		e.t.Fatalf("ulvs stats: %v\n%s", err, out)
	}
	if want := "interface " + name + " " + state + " since="; !strings.Contains(string(out), want) {
		e.t.Errorf("ulvs stats lacks %q:\n%s", want, out)
	}
}

// stillAdministrable checks that the control socket answers listings and
// takes edits while the interface is away.
func (e *env) stillAdministrable() {
	e.t.Helper()
	if out := e.mustAdm("-L", "-n"); !strings.Contains(out, "10.77.0.100:80") {
		e.t.Errorf("ulvsadm -L -n lost the service:\n%s", out)
	}
	e.mustAdm("-A", "-t", "10.77.0.200:80", "-s", "wlc")
	if out := e.mustAdm("-L", "-n"); !strings.Contains(out, "TCP  10.77.0.200:80 wlc") {
		e.t.Errorf("service added while the interface is away not listed:\n%s", out)
	}
	e.mustAdm("-D", "-t", "10.77.0.200:80")
}

// waitForwarding waits until requests through the VIP succeed again, then
// checks that a few more do.
func (e *env) waitForwarding(within time.Duration) {
	e.t.Helper()
	c := e.client()
	c.Timeout = time.Second
	start := time.Now()
	for {
		_, err := e.get(c, "/")
		if err == nil {
			break
		}
		if time.Since(start) > within {
			e.t.Fatalf("no answer through the VIP %v after the interface came back: %v\nulvsd log:\n%s", within, err, e.logText())
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Logf("forwarding again %v after the interface came back", time.Since(start).Round(time.Millisecond))
	for i := range 4 {
		if _, err := e.get(c, "/"); err != nil {
			e.t.Fatalf("request %d after recovery: %v", i, err)
		}
	}
}

// arpVIP asks for the VIP's MAC from the client namespace.
func (e *env) arpVIP() (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := e.lab.Client.Do(func() error {
		ifi, err := net.InterfaceByName("c-eth0")
		if err != nil {
			return err
		}
		c, err := mdarp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
			return err
		}
		mac, err = c.Resolve(e.lab.VIP)
		return err
	})
	return mac, err
}
