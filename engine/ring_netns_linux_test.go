//go:build linux

package engine

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ulvs/ulvs/lab"
)

// TestFanoutGroupsUnique: every interface's sockets get a fanout group of
// their own, even where a group with the id ulvsd used to compute (from
// its process id and the interface's position) is already taken in the
// namespace by sockets on another interface. Such a clash made ulvsd fail
// to start ("setsockopt PACKET_FANOUT: invalid argument") whenever the
// process id was a multiple of 4096: its two interfaces got group 1 both.
// The groups' program is the widest fanout program, which the kernel must
// take as the tests' BPF interpreter does.
func TestFanoutGroupsUnique(t *testing.T) {
	ns, ip := testNamespace(t, "ulvsfan")
	for _, dev := range []string{"fa", "fb"} {
		ip("-n", ns.Name, "link", "add", dev+"0", "type", "veth", "peer", "name", dev+"1")
		ip("-n", ns.Name, "link", "set", dev+"0", "up")
	}
	err := ns.Do(func() error {
		a, err := net.InterfaceByName("fa0")
		if err != nil {
			return err
		}
		b, err := net.InterfaceByName("fb0")
		if err != nil {
			return err
		}
		// Another program's group on fa0, with the id ulvsd gave its
		// second interface when the process id was a multiple of 4096.
		other, err := openRing(ringConfig{ifindex: a.Index, fanout: true, join: true, fanoutID: 1, frames: 8})
		if err != nil {
			return fmt.Errorf("the other group: %w", err)
		}
		defer other.close()
		if other.fanoutID != 1 {
			return fmt.Errorf("joined group 1, getsockopt says %d", other.fanoutID)
		}
		// What ulvsd met: a group id of its own choosing, taken.
		if r, err := openRing(ringConfig{ifindex: b.Index, fanout: true, join: true, fanoutID: 1, frames: 8}); err == nil {
			r.close()
			return fmt.Errorf("fb0 joined fa0's group 1")
		}
		// The widest fanout program, which the kernel must take too.
		var vips [][4]byte
		for i := range 100 {
			vips = append(vips, [4]byte{10, 0, byte(i >> 8), byte(i)})
		}
		prog := fanoutProgram(vips, make([][16]byte, maxFanoutVIPs6)...)
		groups := map[uint16]string{1: "the other program's"}
		for _, ni := range []*net.Interface{a, b, b} {
			rings, err := openRings(ni.Index, 2, 8, nil, prog, false)
			if err != nil {
				return fmt.Errorf("%s: %w", ni.Name, err)
			}
			defer func() {
				for _, r := range rings {
					r.close()
				}
			}()
			id := rings[0].fanoutID
			if rings[1].fanoutID != id {
				return fmt.Errorf("%s: the workers' sockets are in groups %d and %d", ni.Name, id, rings[1].fanoutID)
			}
			if prev, ok := groups[id]; ok {
				return fmt.Errorf("%s: group %d is already %s", ni.Name, id, prev)
			}
			groups[id] = ni.Name + "'s"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testNamespace creates a network namespace for the test, named prefix
// and the process id, deleted when the test ends, and returns it with a
// function that runs ip(8) and fails the test if it fails. It skips the
// test in -short mode and without root.
func testNamespace(t *testing.T, prefix string) (lab.NS, func(args ...string)) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping network namespace test in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root to create a network namespace")
	}
	ns := lab.NS{Name: fmt.Sprintf("%s%d", prefix, os.Getpid())}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns.Name).Run() })
	return ns, ip
}
