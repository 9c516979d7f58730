package director_test

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/lab"
)

// vmac51 is the VRRP virtual MAC of VRID 51 as ip(8) prints it.
const vmac51 = "00:00:5e:00:01:33"

// withVMAC adds use_vmac to the vrrp_instance of a keepalived.conf.
func withVMAC(conf string) string {
	return strings.Replace(conf, "    advert_int 1\n", "    advert_int 1\n    use_vmac\n", 1)
}

// clientNeigh returns the client's ARP entry for the VIP ("" if none).
func clientNeigh(t *testing.T, l *lab.Lab) string {
	t.Helper()
	return clientNeighOf(t, l, "10.77.0.100")
}

// clientNeighOf returns the client's neighbour entry (ARP or neighbour
// discovery) for addr ("" if none).
func clientNeighOf(t *testing.T, l *lab.Lab, addr string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", l.Client.Name, "neigh", "show", addr).CombinedOutput()
	if err != nil {
		t.Fatalf("ip neigh: %v\n%s", err, out)
	}
	f := strings.Fields(string(out))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			return f[i+1]
		}
	}
	return ""
}

// vmacPort returns the switch port the lab's bridge has learnt the
// virtual MAC vmac51 on ("" if none): the director whose adverts and
// gratuitous ARPs come from it.
func vmacPort(t *testing.T, l *lab.Lab) string { return macPort(t, l, vmac51) }

// macPort returns the switch port the lab's bridge has learnt mac on.
func macPort(t *testing.T, l *lab.Lab, mac string) string {
	t.Helper()
	out, err := exec.Command("bridge", "-n", l.Switch.Name, "fdb", "show", "br", "br0").CombinedOutput()
	if err != nil {
		t.Fatalf("bridge fdb: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == mac && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

func waitVMACPort(t *testing.T, l *lab.Lab, port string) { t.Helper(); waitMACPort(t, l, vmac51, port) }

// waitMACPort waits until the lab's bridge has learnt mac on port.
func waitMACPort(t *testing.T, l *lab.Lab, mac, port string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for macPort(t, l, mac) != port {
		if time.Now().After(deadline) {
			t.Fatalf("the bridge learnt %s on %q, want %s", mac, macPort(t, l, mac), port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIntegrationVRRPVMAC: two ulvs directors with use_vmac. The client's
// ARP entry for the VIP is the virtual MAC; the master's adverts and
// gratuitous ARPs come from it (the lab's bridge learns it on the
// master's port). The master is killed: the backup takes over, the
// bridge moves the MAC to the backup's port (its gratuitous ARPs and
// adverts), and the client carries on with the same ARP entry.
func TestIntegrationVRRPVMAC(t *testing.T) {
	o := envOpts{file: "keepalived.conf"}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, withVMAC(fmt.Sprintf(pairConf, "LVS_A", "MASTER", 100)), o)
	b := e.startBackup(t, "keepalived.conf", withVMAC(fmt.Sprintf(pairConf, "LVS_B", "BACKUP", 99)), nil)
	e.waitHA(t, "MASTER", 10*time.Second)
	b.waitHA(t, "BACKUP", 10*time.Second)
	e.waitReady(2)
	if got := clientNeigh(t, e.lab); got != vmac51 {
		t.Fatalf("client's ARP entry for the VIP: %q, want the virtual MAC %s", got, vmac51)
	}
	waitVMACPort(t, e.lab, "sw-d")
	if got := advertSource(t, e.lab); got != vmac51 {
		t.Errorf("the master's adverts come from %s, want the virtual MAC %s", got, vmac51)
	}

	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	b.waitHA(t, "MASTER", 8*time.Second)
	waitVMACPort(t, e.lab, "sw-d2")
	b.waitReady(2)
	if got := advertSource(t, e.lab); got != vmac51 {
		t.Errorf("the new master's adverts come from %s, want the virtual MAC %s", got, vmac51)
	}
	if got := clientNeigh(t, e.lab); got != vmac51 {
		t.Errorf("client's ARP entry after the takeover: %q, want still %s", got, vmac51)
	}
	if out := b.mustAdm("-L", "-n"); !strings.Contains(out, "10.77.0.100:80") {
		t.Errorf("backup table:\n%s", out)
	}
}

// TestIntegrationVRRPVMACWithKeepalived: a ulvs master with use_vmac and
// Debian's keepalived as backup, itself without use_vmac here
// (TestIntegrationVRRPVMACWithKeepalivedIPv6 runs keepalived with its
// macvlan, which this kernel has). keepalived accepts the adverts from the virtual MAC and stays
// BACKUP; when ulvsd is killed it takes over.
func TestIntegrationVRRPVMACWithKeepalived(t *testing.T) {
	skipUnprivileged(t)
	if _, err := exec.LookPath("keepalived"); err != nil {
		t.Skip("keepalived is not installed (scripts/setup-host.sh installs it)")
	}
	e := newEnvOpts(t, lab.Config{RealServers: 2, Backup: true}, withVMAC(haConf), envOpts{file: "keepalived.conf"})
	peer := startBackupKeepalived(t, e)
	e.waitHA(t, "MASTER", 10*time.Second)
	e.waitReady(2)
	waitVMACPort(t, e.lab, "sw-d")
	time.Sleep(3 * time.Second) // more than the master down interval
	if _, ok := peer.Wait("Entering MASTER STATE", 0, 0); ok {
		t.Fatalf("keepalived became MASTER beside a ulvs master sending from the virtual MAC")
	}
	m := peer.Mark()
	e.daemon.Process.Kill()
	e.daemon.Wait()
	e.daemon = nil
	if _, ok := peer.Wait("(VI_1) Entering MASTER STATE", m, 8*time.Second); !ok {
		t.Fatalf("keepalived did not take over after ulvsd was killed")
	}
}

// advertSource captures, in the client's namespace, the next VRRP advert
// (IPv4 protocol 112) on c-eth0 and returns its Ethernet source MAC.
func advertSource(t *testing.T, l *lab.Lab) string {
	t.Helper()
	return advertSourceOf(t, l, false)
}

// advertSourceOf is advertSource for IPv4 or (ipv6) IPv6 adverts (next
// header 112 right after the fixed header).
func advertSourceOf(t *testing.T, l *lab.Lab, ipv6 bool) string {
	t.Helper()
	proto, at, hdr := uint16(unix.ETH_P_IP), 14+9, 14+20 // where the protocol byte is, the headers' length
	if ipv6 {
		proto, at, hdr = unix.ETH_P_IPV6, 14+6, 14+40
	}
	var src string
	err := l.Client.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(proto)))
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifi, err := net.InterfaceByName("c-eth0")
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifi.Index}); err != nil {
			return err
		}
		tv := unix.Timeval{Sec: 1}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil || n < hdr || buf[at] != 112 {
				continue
			}
			src = net.HardwareAddr(buf[6:12]).String()
			return nil
		}
		return errors.New("no VRRP advert seen on c-eth0 within 5 s")
	})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
