package realserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ipHost is the Linux host: /proc/sys for sysctls, the net package (netlink
// on the calling thread) to read links and addresses, `ip` and `nft` to
// change them. Commands run from the calling thread and so inherit its
// network namespace.
type ipHost struct{}

var _ host = ipHost{}

func (ipHost) readSysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (ipHost) writeSysctl(key, value string) error {
	f, err := os.OpenFile(filepath.Join("/proc/sys", key), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write sysctl %s: %w", key, err)
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// errNoSuchLink matches the net package's error for a missing interface.
func isNoSuchLink(err error) bool {
	var ae *net.OpError
	if errors.As(err, &ae) {
		return strings.Contains(ae.Err.Error(), "no such network interface")
	}
	return err != nil && strings.Contains(err.Error(), "no such network interface")
}

func (ipHost) link(name string) (bool, bool, error) {
	ifi, err := net.InterfaceByName(name)
	if isNoSuchLink(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("look up link %s: %w", name, err)
	}
	return true, ifi.Flags&net.FlagUp != 0, nil
}

func (ipHost) setLinkUp(ctx context.Context, name string, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	_, err := run(ctx, nil, "ip", "link", "set", "dev", name, state)
	return err
}

func (ipHost) addIPIPLink(ctx context.Context, name string) error {
	_, err := run(ctx, nil, "ip", "link", "add", "name", name, "type", "ipip")
	return err
}

func (ipHost) addDummyLink(ctx context.Context, name string) error {
	_, err := run(ctx, nil, "ip", "link", "add", "name", name, "type", "dummy")
	return err
}

func (h ipHost) delLink(ctx context.Context, name string) error {
	if ok, _, err := h.link(name); err != nil || !ok {
		return err
	}
	_, err := run(ctx, nil, "ip", "link", "del", "dev", name)
	return err
}

func (ipHost) hasAddr(dev string, a netip.Addr) (bool, error) {
	ifi, err := net.InterfaceByName(dev)
	if isNoSuchLink(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up link %s: %w", dev, err)
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return false, fmt.Errorf("addresses of %s: %w", dev, err)
	}
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok {
			if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == a {
				return true, nil
			}
		}
	}
	return false, nil
}

func (ipHost) addAddr(ctx context.Context, dev string, p netip.Prefix, label string) error {
	args := []string{"addr", "add", p.String(), "dev", dev}
	if label != "" {
		args = append(args, "label", label)
	}
	_, err := run(ctx, nil, "ip", args...)
	return err
}

func (ipHost) defaultRoute(ctx context.Context) (netip.Addr, string, error) {
	out, err := run(ctx, nil, "ip", "-4", "-o", "route", "show", "default")
	if err != nil {
		return netip.Addr{}, "", err
	}
	via, dev := routeVia(string(out)), routeDev(string(out))
	return via, dev, nil
}

func (ipHost) setDefaultRoute(ctx context.Context, via netip.Addr, dev string) error {
	args := []string{"-4", "route", "replace", "default"}
	if via.IsValid() {
		args = append(args, "via", via.String())
	}
	if dev != "" {
		args = append(args, "dev", dev)
	}
	_, err := run(ctx, nil, "ip", args...)
	return err
}

func (h ipHost) delDefaultRoute(ctx context.Context) error {
	if _, dev, err := h.defaultRoute(ctx); err != nil || dev == "" {
		return err
	}
	_, err := run(ctx, nil, "ip", "-4", "route", "del", "default")
	return err
}

func (h ipHost) delAddr(ctx context.Context, dev string, p netip.Prefix) error {
	if ok, err := h.hasAddr(dev, p.Addr()); err != nil || !ok {
		return err
	}
	_, err := run(ctx, nil, "ip", "addr", "del", p.String(), "dev", dev)
	return err
}

func (ipHost) defaultIface(ctx context.Context) (string, error) {
	out, err := run(ctx, nil, "ip", "-4", "-o", "route", "show", "default")
	if err != nil {
		return "", err
	}
	if dev := routeDev(string(out)); dev != "" {
		return dev, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	var cand []string
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback == 0 {
			cand = append(cand, ifi.Name)
		}
	}
	if len(cand) != 1 {
		return "", fmt.Errorf("no default route and %d interfaces besides lo (%s): choose one", len(cand), strings.Join(cand, ", "))
	}
	return cand[0], nil
}

// routeDev returns the word after "dev" on the first line of `ip -o route`
// output, or "".
func routeDev(out string) string {
	line, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			return f[i+1]
		}
	}
	return ""
}

// routeVia returns the address after "via" on the first line of `ip -o
// route` output, or the zero Addr.
func routeVia(out string) netip.Addr {
	line, _, _ := strings.Cut(out, "\n")
	f := strings.Fields(line)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "via" {
			a, _ := netip.ParseAddr(f[i+1])
			return a
		}
	}
	return netip.Addr{}
}

func (ipHost) nftTableExists(ctx context.Context, table string) (bool, error) {
	out, err := run(ctx, nil, "nft", "list", "tables", "ip")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "table" && f[1] == "ip" && f[2] == table {
			return true, nil
		}
	}
	return false, nil
}

func (ipHost) addNftDropIPIP(ctx context.Context, table string) error {
	_, err := run(ctx, strings.NewReader(nftDropIPIPScript(table)), "nft", "-f", "-")
	return err
}

func (h ipHost) delNftTable(ctx context.Context, table string) error {
	if ok, err := h.nftTableExists(ctx, table); err != nil || !ok {
		return err
	}
	if _, err := run(ctx, nil, "nft", "delete", "table", "ip", table); err != nil {
		return err
	}
	// The ip6 table of the same name (nftDropIPIPScript); an older
	// decapsulator made none.
	out, err := run(ctx, nil, "nft", "list", "tables", "ip6")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "table" && f[1] == "ip6" && f[2] == table {
			_, err = run(ctx, nil, "nft", "delete", "table", "ip6", table)
			return err
		}
	}
	return nil
}

// run runs a command with stdin and returns its standard output; the error
// carries the command line and its standard error.
func run(ctx context.Context, stdin *strings.Reader, name string, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}
