package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/ulvs/ulvs/realserver"
)

// DecapConfig returns the realserver configuration of real server i
// (0-based) of a tun lab: mode tun, the lab's VIP, capture on RSIface(i),
// the state named after the real server's namespace in realserver's default
// directory (so `ulvs lab exec rs1 ulvs realserver status` finds it), the
// decapsulation chosen automatically (the userspace decapsulator where the
// kernel has no ipip). `ulvs lab up --mode tun` passes the same as flags to
// `ulvs realserver up`.
func (l *Lab) DecapConfig(i int) realserver.Config {
	vips := []netip.Addr{l.VIP}
	if l.VIP6.IsValid() {
		vips = append(vips, l.VIP6) // a dual-stack lab: ip6ip6 and the mixed tunnels too
	}
	return realserver.Config{
		Mode:  realserver.ModeTUN,
		VIPs:  vips,
		Decap: realserver.DecapAuto,
		Iface: RSIface(i),
		Name:  l.RS[i].Name,
	}
}

// startDecap prepares every real server of a tun lab for IPIP in this
// process: realserver.Up inside each real server's namespace. The
// decapsulators run until Down.
func (l *Lab) startDecap(ctx context.Context) error {
	for i, rs := range l.RS {
		cfg := l.DecapConfig(i)
		cfg.Logger = l.logger()
		var srv *realserver.Server
		// realserver.Up acts on the calling thread's namespace; the
		// decapsulator goroutine it starts uses only the sockets and the
		// TUN device opened there.
		err := rs.Do(func() error {
			var err error
			srv, err = realserver.Up(ctx, cfg)
			return err
		})
		if err != nil {
			return fmt.Errorf("rs%d: %w", i+1, err)
		}
		l.mu.Lock()
		l.decaps = append(l.decaps, decap{rs: rs, srv: srv})
		l.mu.Unlock()
		l.logger().Debug("decapsulator up", "netns", rs.Name, "decap", srv.State().Decap, "device", srv.State().Device)
	}
	return nil
}

// Decapsulators returns the state of each in-process decapsulator (tun mode
// without Config.ExternalDecap), in real-server order; nil otherwise.
func (l *Lab) Decapsulators() []realserver.State {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []realserver.State
	for _, d := range l.decaps {
		out = append(out, d.srv.State())
	}
	return out
}

// HoldDecap holds (on) or resumes (off) the in-process decapsulators'
// capture and tcx program (realserver.Server.Hold): ulvs bench holds them
// while it floods a tun lab.
func (l *Lab) HoldDecap(on bool) error {
	l.mu.Lock()
	ds := slices.Clone(l.decaps)
	l.mu.Unlock()
	var errs []error
	for _, d := range ds {
		if err := d.srv.Hold(on); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.rs.Name, err))
		}
	}
	return errors.Join(errs...)
}

// stopDecap stops the in-process decapsulators and reverts their changes,
// each inside its namespace.
func (l *Lab) stopDecap() error {
	l.mu.Lock()
	ds := l.decaps
	l.decaps = nil
	l.mu.Unlock()
	var errs []error
	for _, d := range ds {
		if !d.rs.Exists() {
			continue // nothing left to revert; removeDecapStates takes the file
		}
		if err := d.rs.Do(func() error { return d.srv.Down(context.Background()) }); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeDecapStates removes realserver state files named after the lab's
// real servers once their namespaces are gone: what they record went with
// the namespace. A file whose decapsulator process still runs (and is not
// this process) is left alone.
func (l *Lab) removeDecapStates() {
	for _, rs := range l.RS {
		if rs.Exists() {
			continue
		}
		dir := realserver.DefaultStateDir
		st, err := realserver.ReadState(dir, rs.Name)
		if err != nil {
			continue
		}
		if p := st.Process; p != nil && p.PID != os.Getpid() && p.Running() {
			continue
		}
		os.Remove(realserver.StatePath(dir, rs.Name))
		// The counters file `ulvs realserver up` keeps while it runs.
		os.Remove(filepath.Join(dir, rs.Name+".stats"))
		l.logger().Debug("stale realserver state removed", "name", rs.Name)
	}
}
