package realserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// fakeHost is an in-memory host: sysctls, links with addresses, nftables
// tables. Per-device sysctls exist while the device does. Not safe for
// concurrent use (the tests drive it from one goroutine).
type fakeHost struct {
	sysctl map[string]string
	links  map[string]*fakeLink
	nft    map[string]bool
	// ipip: the kernel has ipip (addIPIPLink works). autoload: it has it
	// as a module that creates tunl0 on load, so adding tunl0 fails.
	ipip, autoload bool
	defIface       string
	// the default route (defDev empty: none); dummy: the kernel has the
	// dummy module.
	defVia netip.Addr
	defDev string
	dummy  bool
	fail   map[string]error // op -> injected error
	ops    []string
}

type fakeLink struct {
	up     bool
	addrs  []netip.Prefix
	labels map[netip.Prefix]string
}

func newFakeHost() *fakeHost {
	h := &fakeHost{
		sysctl: map[string]string{}, links: map[string]*fakeLink{}, nft: map[string]bool{},
		fail: map[string]error{}, defIface: "eth0",
	}
	for _, dev := range []string{"all", "default"} {
		for _, k := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			h.sysctl[confKey(dev, k)] = "0"
		}
	}
	h.sysctl[confKey("default", "rp_filter")] = "1"
	h.addLink("lo")
	h.links["lo"].addrs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}
	h.addLink("eth0")
	h.links["eth0"].up = true
	return h
}

// addLink creates a device and its conf keys from conf/default.
func (h *fakeHost) addLink(name string) {
	h.links[name] = &fakeLink{}
	for _, k := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
		h.sysctl[confKey(name, k)] = h.sysctl[confKey("default", k)]
	}
}

func (h *fakeHost) removeLink(name string) {
	delete(h.links, name)
	for k := range h.sysctl {
		if strings.HasPrefix(k, "net/ipv4/conf/"+name+"/") {
			delete(h.sysctl, k)
		}
	}
}

// snapshot returns the host's state as comparable text.
func (h *fakeHost) snapshot() []string {
	var out []string
	for k, v := range h.sysctl {
		out = append(out, "sysctl "+k+"="+v)
	}
	for n, l := range h.links {
		out = append(out, fmt.Sprintf("link %s up=%v addrs=%v labels=%v", n, l.up, l.addrs, l.labels))
	}
	if h.defDev != "" {
		out = append(out, "default "+routeText(h.defVia, h.defDev))
	}
	for t := range h.nft {
		out = append(out, "nft "+t)
	}
	slices.Sort(out)
	return out
}

func (h *fakeHost) op(name string) error {
	h.ops = append(h.ops, name)
	return h.fail[name]
}

func (h *fakeHost) readSysctl(key string) (string, error) {
	if err := h.op("readSysctl"); err != nil {
		return "", err
	}
	v, ok := h.sysctl[key]
	if !ok {
		return "", fmt.Errorf("read sysctl %s: %w", key, fs.ErrNotExist)
	}
	return v, nil
}

func (h *fakeHost) writeSysctl(key, value string) error {
	if err := h.op("writeSysctl"); err != nil {
		return err
	}
	if _, ok := h.sysctl[key]; !ok {
		return fmt.Errorf("write sysctl %s: %w", key, fs.ErrNotExist)
	}
	h.sysctl[key] = value
	return nil
}

func (h *fakeHost) link(name string) (bool, bool, error) {
	if err := h.op("link"); err != nil {
		return false, false, err
	}
	l, ok := h.links[name]
	return ok, ok && l.up, nil
}

func (h *fakeHost) setLinkUp(_ context.Context, name string, up bool) error {
	if err := h.op("setLinkUp"); err != nil {
		return err
	}
	l, ok := h.links[name]
	if !ok {
		return fmt.Errorf("no link %s", name)
	}
	l.up = up
	return nil
}

func (h *fakeHost) addIPIPLink(_ context.Context, name string) error {
	if err := h.op("addIPIPLink"); err != nil {
		return err
	}
	if !h.ipip {
		return errors.New("Error: Unknown device type.")
	}
	if h.autoload {
		if _, ok := h.links[IPIPDevice]; !ok {
			h.addLink(IPIPDevice)
		}
		if name == IPIPDevice {
			return errors.New("RTNETLINK answers: File exists")
		}
	}
	if _, ok := h.links[name]; ok {
		return errors.New("RTNETLINK answers: File exists")
	}
	h.addLink(name)
	return nil
}

func (h *fakeHost) addDummyLink(_ context.Context, name string) error {
	if err := h.op("addDummyLink"); err != nil {
		return err
	}
	if !h.dummy {
		return errors.New("Error: Unknown device type.")
	}
	if _, ok := h.links[name]; ok {
		return errors.New("RTNETLINK answers: File exists")
	}
	h.addLink(name)
	return nil
}

func (h *fakeHost) defaultRoute(context.Context) (netip.Addr, string, error) {
	if err := h.op("defaultRoute"); err != nil {
		return netip.Addr{}, "", err
	}
	return h.defVia, h.defDev, nil
}

func (h *fakeHost) setDefaultRoute(_ context.Context, via netip.Addr, dev string) error {
	if err := h.op("setDefaultRoute"); err != nil {
		return err
	}
	if dev == "" {
		dev = h.defIface
	}
	if _, ok := h.links[dev]; !ok {
		return fmt.Errorf("no link %s", dev)
	}
	h.defVia, h.defDev = via, dev
	return nil
}

func (h *fakeHost) delDefaultRoute(context.Context) error {
	if err := h.op("delDefaultRoute"); err != nil {
		return err
	}
	h.defVia, h.defDev = netip.Addr{}, ""
	return nil
}

func (h *fakeHost) delLink(_ context.Context, name string) error {
	if err := h.op("delLink"); err != nil {
		return err
	}
	h.removeLink(name)
	return nil
}

func (h *fakeHost) hasAddr(dev string, a netip.Addr) (bool, error) {
	if err := h.op("hasAddr"); err != nil {
		return false, err
	}
	l, ok := h.links[dev]
	if !ok {
		return false, nil
	}
	return slices.ContainsFunc(l.addrs, func(p netip.Prefix) bool { return p.Addr() == a }), nil
}

func (h *fakeHost) addAddr(_ context.Context, dev string, p netip.Prefix, label string) error {
	if err := h.op("addAddr"); err != nil {
		return err
	}
	l, ok := h.links[dev]
	if !ok {
		return fmt.Errorf("no link %s", dev)
	}
	l.addrs = append(l.addrs, p)
	if label != "" {
		if l.labels == nil {
			l.labels = map[netip.Prefix]string{}
		}
		l.labels[p] = label
	}
	return nil
}

func (h *fakeHost) delAddr(_ context.Context, dev string, p netip.Prefix) error {
	if err := h.op("delAddr"); err != nil {
		return err
	}
	if l, ok := h.links[dev]; ok {
		l.addrs = slices.DeleteFunc(l.addrs, func(x netip.Prefix) bool { return x.Addr() == p.Addr() })
		delete(l.labels, p)
		if len(l.labels) == 0 {
			l.labels = nil
		}
	}
	return nil
}

func (h *fakeHost) defaultIface(context.Context) (string, error) {
	if err := h.op("defaultIface"); err != nil {
		return "", err
	}
	return h.defIface, nil
}

func (h *fakeHost) nftTableExists(_ context.Context, table string) (bool, error) {
	if err := h.op("nftTableExists"); err != nil {
		return false, err
	}
	return h.nft[table], nil
}

func (h *fakeHost) addNftDropIPIP(_ context.Context, table string) error {
	if err := h.op("addNftDropIPIP"); err != nil {
		return err
	}
	h.nft[table] = true
	return nil
}

func (h *fakeHost) delNftTable(_ context.Context, table string) error {
	if err := h.op("delNftTable"); err != nil {
		return err
	}
	delete(h.nft, table)
	return nil
}

// fakeDecap stands in for the decapsulator: it creates the TUN link on the
// fake host and removes it when closed, as the kernel does with a TUN
// descriptor.
type fakeDecap struct {
	h      *fakeHost
	name   string
	iface  string
	vips   []netip.Addr
	tcx    bool // opened with the tcx program
	armed  bool
	stats  Stats
	done   chan struct{}
	ran    bool
	closed bool
	held   bool
}

func (d *fakeDecap) run()                    { d.ran = true; <-d.done }
func (d *fakeDecap) stop(bool)               { close(d.done) }
func (d *fakeDecap) closeFds()               { d.closed = true; d.h.removeLink(d.name) }
func (d *fakeDecap) statsRef() *Stats        { return &d.stats }
func (d *fakeDecap) doneCh() <-chan struct{} { return d.done }
func (d *fakeDecap) runErr() error           { return nil }
func (d *fakeDecap) arm(*slog.Logger) error {
	d.armed = true
	return nil
}

func (d *fakeDecap) hold(on bool) error { d.held = on; return nil }

// fakeEnv is the environment of the unit tests: the fake host, a fake
// decapsulator, netns 1234 named "testns", this process as PID 100.
type fakeEnv struct {
	h       *fakeHost
	decaps  []*fakeDecap
	stopped []*Process
	// onStop runs when Down stops a recorded process.
	onStop func(*Process)
	// noTCX: the kernel takes no tcx program.
	noTCX bool
}

func (f *fakeEnv) env() env {
	return env{
		h: f.h,
		openDecap: func(iface, tun string, vips []netip.Addr, withTCX bool) (decapRunner, error) {
			if err := f.h.op("openDecap"); err != nil {
				return nil, err
			}
			if withTCX && f.noTCX {
				return nil, fmt.Errorf("tcx decapsulation: %w: bpf link create: invalid argument", ErrNotSupported)
			}
			f.h.addLink(tun)
			d := &fakeDecap{h: f.h, name: tun, iface: iface, vips: vips, tcx: withTCX, done: make(chan struct{})}
			f.decaps = append(f.decaps, d)
			return d, nil
		},
		netnsID:   func() (uint64, error) { return 1234, nil },
		netnsName: func() string { return "testns" },
		self: func() (*Process, error) {
			return &Process{PID: 100, StartTime: 5, Cmdline: []string{"ulvs", "realserver", "up"}}, nil
		},
		stopProcess: func(p *Process, _ time.Duration, _ *slog.Logger) error {
			f.stopped = append(f.stopped, p)
			if f.onStop != nil {
				f.onStop(p)
			}
			return nil
		},
	}
}

// otherProcess is the env of a second process (PID 200) on the same host.
func (f *fakeEnv) otherProcess() env {
	e := f.env()
	e.self = func() (*Process, error) { return &Process{PID: 200, StartTime: 9, Cmdline: []string{"ulvs"}}, nil }
	return e
}
