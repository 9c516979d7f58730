package director

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/ulvs/ulvs/bgp"
	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/engine"
)

// bgpFlags are ulvsd's quick-start BGP flags, the [bgp] table's keys.
type bgpFlags struct {
	as, quorum     uint64
	routerID, next string
	peers          []string
	hold, shutdown time.Duration
	listen         uint64
}

func addBGPFlags(fs *flag.FlagSet) *bgpFlags {
	f := &bgpFlags{}
	fs.Uint64Var(&f.as, "bgp-as", 0, "announce the virtual addresses over BGP from this local `AS` (with --bgp-router-id and --bgp-peer;\nthe file's [bgp] table says the same; docs/scale-out.md)")
	fs.StringVar(&f.routerID, "bgp-router-id", "", "BGP identifier, an IPv4 `address`")
	fs.Func("bgp-peer", "a BGP peer, `AS@ADDRESS[:PORT]` (prefix passive: to wait for it to connect); repeat or separate with commas", func(s string) error {
		for _, p := range strings.Split(s, ",") {
			if _, err := config.ParseBGPPeer(p); err != nil {
				return err
			}
			f.peers = append(f.peers, p)
		}
		return nil
	})
	fs.DurationVar(&f.hold, "bgp-hold-time", config.DefaultBGPHoldTime, "BGP hold time (0, or 3s to 65535s)")
	fs.StringVar(&f.next, "bgp-next-hop", "", "NEXT_HOP of the announcements (default: each session's local `address`)")
	fs.Uint64Var(&f.quorum, "bgp-quorum", config.DefaultBGPQuorum, "alive weight every service of an address needs for the address to be announced")
	fs.DurationVar(&f.shutdown, "bgp-shutdown-delay", config.DefaultBGPShutdownDelay, "on SIGTERM, keep forwarding this long after withdrawing the routes")
	fs.Uint64Var(&f.listen, "bgp-listen-port", 0, "accept BGP sessions on this TCP `port` (default: 179 when a peer is passive, else none)")
	return f
}

// config returns the BGP configuration: from the flags when --bgp-as is
// given, else the file's [bgp] (nil when neither).
func (f *bgpFlags) config(file *config.File) (*config.BGP, error) {
	if f.as == 0 {
		if f.routerID != "" || len(f.peers) > 0 || f.next != "" {
			return nil, errors.New("--bgp-router-id, --bgp-peer and --bgp-next-hop need --bgp-as")
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
	b := &config.BGP{LocalAS: uint32(f.as), HoldTime: f.hold, Quorum: uint32(f.quorum), ShutdownDelay: f.shutdown, ListenPort: uint16(f.listen)}
	if msg := config.CheckBGPHoldTime(f.hold); msg != "" {
		return nil, fmt.Errorf("--bgp-hold-time: %s", msg)
	}
	for _, a := range []struct {
		name, s string
		to      *netip.Addr
	}{{"--bgp-router-id", f.routerID, &b.RouterID}, {"--bgp-next-hop", f.next, &b.NextHop}} {
		if a.s == "" {
			continue
		}
		addr, _ := netip.ParseAddr(a.s)
		if msg := config.CheckBGPAddr(addr, a.s); msg != "" {
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

// startBGP starts the speaker and the manager that feeds it.
func startBGP(b config.BGP, dir *Director, eng *engine.Engine, log *slog.Logger) (*bgpManager, error) {
	sp, err := bgp.Start(bgp.Config{BGP: b, Logger: log})
	if err != nil {
		return nil, err
	}
	links := func() []string {
		var down []string
		for _, l := range eng.Links() {
			if l.State != engine.LinkUp {
				down = append(down, l.Name)
			}
		}
		return down
	}
	return newBGPManager(sp, b, dir, links, log), nil
}

// warnBGPReload logs, loudly, that a reload does not change a running
// speaker: running is the speaker's configuration from the file (nil when
// it came from flags or there is none).
func warnBGPReload(running, reloaded *config.BGP, fromFlags bool, log *slog.Logger) {
	if fromFlags || reflect.DeepEqual(running, reloaded) {
		return
	}
	log.Error("reload: [bgp] changed, but the BGP speaker keeps its running configuration until ulvsd restarts (drain it first: ulvs bgp drain)")
}
