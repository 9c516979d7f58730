package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// NS is a named network namespace, as `ip netns` knows it (a bind mount
// under /run/netns). The zero value names no namespace. NS is a plain value:
// copy it freely; its methods are safe for concurrent use.
type NS struct {
	Name string
}

// String returns the namespace name.
func (n NS) String() string { return n.Name }

// Path returns the namespace's bind mount, /run/netns/NAME.
func (n NS) Path() string { return netnsDir + "/" + n.Name }

// netnsDir is where `ip netns` keeps its namespaces.
const netnsDir = "/run/netns"

// Run runs `ip netns exec n.Name name args...` and returns its combined
// output. On failure the error carries the command line and the output.
func (n NS) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	return runCmd(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Listen opens a listener whose socket lives in the namespace; see
// net.Listen. addr must be an IP literal (or empty host): names are not
// resolved inside the namespace.
func (n NS) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", n.Name, err)
	}
	return ln, nil
}

// ListenPacket opens a packet socket in the namespace; see net.ListenPacket.
// addr must be an IP literal (or empty host).
func (n NS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", n.Name, err)
	}
	return pc, nil
}

// DialContext connects from a socket created in the namespace. addr must be
// an IP literal and port: a host name would be resolved by goroutines
// outside the namespace.
func (n NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		// A negative FallbackDelay keeps the dial serial, on this
		// goroutine and so on this thread (no Happy Eyeballs racers).
		d := net.Dialer{FallbackDelay: -1}
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", n.Name, err)
	}
	return c, nil
}

// HTTPClient returns an HTTP client whose connections start in the
// namespace. Keep-alives are disabled, so every request is a new TCP
// connection, like curl run in a loop; a test that wants one connection for
// several requests builds its own http.Transport with DialContext set to
// n.DialContext. The client never uses a proxy.
func (n NS) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:       n.DialContext,
		DisableKeepAlives: true,
	}}
}

// runCmd runs name with args and returns the combined output; the error
// carries the command line and the output.
func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err,
			strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// MarshalText returns the namespace name, so that NS reads as a plain string
// in a state file.
func (n NS) MarshalText() ([]byte, error) { return []byte(n.Name), nil }

// UnmarshalText sets the namespace name.
func (n *NS) UnmarshalText(b []byte) error {
	n.Name = string(b)
	return nil
}

// WaitQueue waits, up to timeout, until interface ifname in n is up with
// its queue active. The kernel activates a veth's queue in its link-watch
// work, up to a second after the carrier comes up (longer on a loaded
// machine), and until then drops what is sent (the noop qdisc): a test's
// first packet on a new link can vanish without this wait.
func (n NS) WaitQueue(ifname string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := exec.Command("ip", "-n", n.Name, "-o", "link", "show", ifname).CombinedOutput()
		if err == nil && strings.Contains(string(out), "state UP") && !strings.Contains(string(out), "qdisc noop") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s in %s: not up with an active queue after %v: %s", ifname, n.Name, timeout, strings.TrimSpace(string(out)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
