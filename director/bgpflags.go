package director

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/ulvs/ulvs/bgp"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/engine"
)

// bgpFlags are ulvsd's quick-start BGP flags, the [bgp] table's keys.
type bgpFlags struct {
	as, quorum            uint64
	routerID, next, next6 string
	peers                 []string
	hold, shutdown, warm  time.Duration
	listen                uint64
}

func addBGPFlags(fs *flag.FlagSet) *bgpFlags {
	f := &bgpFlags{}
	fs.Uint64Var(&f.as, "bgp-as", 0, "announce the virtual addresses over BGP from this local `AS` (with --bgp-router-id and --bgp-peer;\nthe file's [bgp] table says the same; docs/scale-out.md)")
	fs.StringVar(&f.routerID, "bgp-router-id", "", "BGP identifier, an IPv4 `address`")
	fs.Func("bgp-peer", "a BGP peer, `AS@ADDRESS[:PORT]` (IPv4, or IPv6 as [ADDRESS]:PORT; prefix passive: to wait for it to connect,\nbfd: to run BFD with it); repeat or separate with commas", func(s string) error {
		for _, p := range strings.Split(s, ",") {
			if _, err := config.ParseBGPPeer(p); err != nil {
				return err
			}
			f.peers = append(f.peers, p)
		}
		return nil
	})
	fs.DurationVar(&f.hold, "bgp-hold-time", config.DefaultBGPHoldTime, "BGP hold time (0, or 3s to 65535s)")
	fs.StringVar(&f.next, "bgp-next-hop", "", "NEXT_HOP of the IPv4 announcements (default: each session's local `address`)")
	fs.StringVar(&f.next6, "bgp-next-hop6", "", "next hop of the IPv6 announcements (default: an IPv6 session's local address, or the global IPv6 `address`\nof the interface an IPv4 session runs on)")
	fs.DurationVar(&f.warm, "bgp-warmup", 0, "announce nothing for this long after starting, unless the connection sync brings the other directors' connections first")
	fs.Uint64Var(&f.quorum, "bgp-quorum", config.DefaultBGPQuorum, "alive weight every service of an address needs for the address to be announced")
	fs.DurationVar(&f.shutdown, "bgp-shutdown-delay", config.DefaultBGPShutdownDelay, "on SIGTERM, keep forwarding this long after withdrawing the routes")
	fs.Uint64Var(&f.listen, "bgp-listen-port", 0, "accept BGP sessions on this TCP `port` (default: 179 when a peer is passive, else none)")
	return f
}

// config returns the BGP configuration: from the flags when --bgp-as is
// given, else the file's [bgp] (nil when neither).
func (f *bgpFlags) config(file *config.File) (*config.BGP, error) {
	if f.as == 0 {
		if f.routerID != "" || len(f.peers) > 0 || f.next != "" || f.next6 != "" || f.warm != 0 {
			return nil, errors.New("--bgp-router-id, --bgp-peer, --bgp-next-hop, --bgp-next-hop6 and --bgp-warmup need --bgp-as")
		}
		if file != nil {
			return file.BGP, nil
		}
		return nil, nil
	}
	if file != nil && file.BGP != nil {
		return nil, fmt.Errorf("%s has a [bgp] table and --bgp-as is given: use one or the other", file.Path)
	}
	if f.as > 1<<32-1 {
		return nil, fmt.Errorf("--bgp-as %d: must be from 1 to 4294967295", f.as)
	}
	if f.quorum == 0 || f.quorum > 1<<32-1 {
		return nil, fmt.Errorf("--bgp-quorum %d: must be from 1 to 4294967295", f.quorum)
	}
	if f.listen > 65535 {
		return nil, fmt.Errorf("--bgp-listen-port %d: must be from 0 to 65535", f.listen)
	}
	if f.shutdown < 0 || f.shutdown > config.MaxBGPShutdownDelay {
		return nil, fmt.Errorf("--bgp-shutdown-delay %v: must be from 0 to %v", f.shutdown, config.MaxBGPShutdownDelay)
	}
	if f.warm < 0 || f.warm > config.MaxBGPWarmup {
		return nil, fmt.Errorf("--bgp-warmup %v: must be from 0 to %v", f.warm, config.MaxBGPWarmup)
	}
	b := &config.BGP{LocalAS: uint32(f.as), HoldTime: f.hold, Quorum: uint32(f.quorum), ShutdownDelay: f.shutdown,
		ListenPort: uint16(f.listen), Warmup: f.warm}
	if msg := config.CheckBGPHoldTime(f.hold); msg != "" {
		return nil, fmt.Errorf("--bgp-hold-time: %s", msg)
	}
	for _, a := range []struct {
		name, s string
		to      *netip.Addr
		check   func(netip.Addr, string) string
	}{{"--bgp-router-id", f.routerID, &b.RouterID, config.CheckBGPAddr}, {"--bgp-next-hop", f.next, &b.NextHop, config.CheckBGPAddr},
		{"--bgp-next-hop6", f.next6, &b.NextHop6, config.CheckBGPAddr6}} {
		if a.s == "" {
			continue
		}
		addr, _ := netip.ParseAddr(a.s)
		if msg := a.check(addr, a.s); msg != "" {
			return nil, fmt.Errorf("%s: %s", a.name, msg)
		}
		*a.to = addr
	}
	for _, s := range f.peers {
		p, err := config.ParseBGPPeer(s)
		if err != nil {
			return nil, err
		}
		b.Peers = append(b.Peers, p)
	}
	if field, msg := config.CheckBGP(b); msg != "" {
		flagName := map[string]string{"local_as": "--bgp-as", "router_id": "--bgp-router-id", "peer": "--bgp-peer"}[field]
		if flagName == "" {
			flagName = "--bgp-peer"
		}
		return nil, fmt.Errorf("%s: %s", flagName, msg)
	}
	return b, nil
}

// bgpRunner runs ulvsd's BGP speaker for the daemon's life: started
// with the configuration (the file's [bgp] or the --bgp-* flags),
// changed by reloads (a [bgp] added, removed or changed), stopped last.
type bgpRunner struct {
	dir       *Director
	eng       *engine.Engine
	log       *slog.Logger
	fromFlags bool // the flags configure it: the file's [bgp] is ignored

	mu      sync.Mutex
	ctx     context.Context // set by start; nil before
	m       *bgpManager
	stopRun context.CancelFunc
	runDone chan struct{}
	bg      sync.WaitGroup // managers being stopped
}

// start starts the speaker of b (nothing when nil) with b's warm-up.
func (r *bgpRunner) start(ctx context.Context, b *config.BGP) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctx = ctx
	if b == nil {
		return nil
	}
	return r.startLocked(*b, b.Warmup)
}

// startLocked starts a speaker and its manager. r.mu must be held.
func (r *bgpRunner) startLocked(b config.BGP, warm time.Duration) error {
	sp, err := bgp.Start(bgp.Config{BGP: b, Logger: r.log})
	if err != nil {
		return err
	}
	links := func() []string {
		var down []string
		for _, l := range r.eng.Links() {
			if l.State != engine.LinkUp {
				down = append(down, l.Name)
			}
		}
		return down
	}
	m := newBGPManagerWarm(sp, b, r.dir, links, r.log, warm)
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { m.run(ctx); close(done) }()
	r.m, r.stopRun, r.runDone = m, cancel, done
	return nil
}

// stopLocked withdraws everything, waits shutdown_delay and stops the
// speaker; in the background unless wait. r.mu must be held.
func (r *bgpRunner) stopLocked(wait bool) {
	m, cancel, done := r.m, r.stopRun, r.runDone
	if m == nil {
		return
	}
	r.m = nil
	r.dir.bgp.CompareAndSwap(m, nil)
	r.bg.Add(1)
	stop := func() {
		defer r.bg.Done()
		cancel()
		<-done
		m.wg.Wait()
		m.shutdown(m.config().ShutdownDelay)
	}
	if wait {
		stop()
	} else {
		go stop()
	}
}

// reload applies a reloaded file's [bgp] (b, nil when absent).
func (r *bgpRunner) reload(b *config.BGP) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		return // not started yet: start takes the configuration
	}
	if r.fromFlags {
		if b != nil {
			r.log.Error("reload: the file's [bgp] is ignored: ulvsd's --bgp-* flags configure BGP (restart without them to use the file's)")
		}
		return
	}
	switch {
	case r.m == nil && b == nil:
	case r.m == nil:
		// A director that has been running is warm: no warm-up.
		if err := r.startLocked(*b, 0); err != nil {
			r.log.Error("reload: [bgp] added, but the speaker did not start", "err", err)
		} else {
			r.log.Info("reload: [bgp] added, speaker started")
		}
	case b == nil:
		r.log.Info("reload: [bgp] removed: routes withdrawn, the speaker stops after shutdown_delay")
		r.stopLocked(false)
	case !reflect.DeepEqual(r.m.config(), *b):
		r.m.reconfigure(*b)
	}
}

// shutdown withdraws every route, keeps forwarding for shutdown_delay
// while the routers move the flows, and stops the speaker.
func (r *bgpRunner) shutdown() {
	r.mu.Lock()
	r.stopLocked(true)
	r.mu.Unlock()
	r.bg.Wait()
}
