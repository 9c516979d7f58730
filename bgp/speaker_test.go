package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"

	"github.com/ulvs/ulvs/config"
)

// router is an in-process GoBGP standing for a router: it listens on
// addr:port, accepts the speaker's session from 127.0.0.1 and keeps the
// routes it learns.
type router struct {
	srv  *server.BgpServer
	addr netip.Addr
	port uint16
}

// freePort returns a TCP port free on addr now.
func freePort(t *testing.T, addr netip.Addr) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(addr, 0).String())
	if err != nil {
		t.Skipf("cannot listen on %v: %v", addr, err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

func startRouter(t *testing.T, addr netip.Addr, routerID string) *router {
	t.Helper()
	port := freePort(t, addr)
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("router", addr)
	}
	srv := server.NewBgpServer(server.LoggerOption(log, &slog.LevelVar{}))
	go srv.Serve()
	ctx := context.Background()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: 65000, RouterId: routerID, ListenPort: int32(port), ListenAddresses: []string{addr.String()},
	}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(srv) })
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: "127.0.0.1", PeerAsn: 65001},
		Transport: &api.Transport{PassiveMode: true},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: 9, KeepaliveInterval: 3}},
		AfiSafis: []*api.AfiSafi{
			{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
			{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
		},
	}}); err != nil {
		t.Fatal(err)
	}
	return &router{srv: srv, addr: addr, port: port}
}

// routes returns the router's routes, prefix to next hop.
func (r *router) routes(t *testing.T) map[netip.Prefix]netip.Addr {
	t.Helper()
	out := map[netip.Prefix]netip.Addr{}
	for _, fam := range []bgp.Family{bgp.RF_IPv4_UC, bgp.RF_IPv6_UC} {
		err := r.srv.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: fam},
			func(n bgp.NLRI, paths []*apiutil.Path) {
				p, err := netip.ParsePrefix(n.String())
				if err != nil {
					t.Errorf("router: prefix %q: %v", n.String(), err)
					return
				}
				for _, path := range paths {
					for _, a := range path.Attrs {
						switch a := a.(type) {
						case *bgp.PathAttributeNextHop:
							out[p] = a.Value
						case *bgp.PathAttributeMpReachNLRI:
							out[p] = a.Nexthop
						}
					}
				}
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// session returns the state and uptime of the router's session with the
// speaker.
func (r *router) session(t *testing.T) (string, time.Time) {
	t.Helper()
	state, up := "idle", time.Time{}
	err := r.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		state = sessionState(p.GetState().GetSessionState())
		if ts := p.GetTimers().GetState(); ts != nil && ts.GetUptime() != nil {
			up = ts.GetUptime().AsTime()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return state, up
}

// waitFor polls cond until it returns "" or the deadline (a bound on a
// broken run, not a measured time) passes.
func waitFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func wantRoutes(t *testing.T, r *router, want map[netip.Prefix]netip.Addr) func() string {
	return func() string {
		got := r.routes(t)
		if len(got) != len(want) {
			return fmt.Sprintf("router %v has %v, want %v", r.addr, got, want)
		}
		for p, nh := range want {
			if got[p] != nh {
				return fmt.Sprintf("router %v has %v, want %v", r.addr, got, want)
			}
		}
		return ""
	}
}

// The speaker against in-process GoBGP routers: IPv4 and IPv6 host
// routes (the /128 over the IPv4 session, MP-BGP with next_hop6), then
// reloads: a peer added (the first session untouched), a new next hop (no
// session reset), a peer removed, a new router id (a restart: sessions
// again, routes again).
func TestSpeakerReconfigure(t *testing.T) {
	a := startRouter(t, netip.MustParseAddr("127.0.0.1"), "10.0.0.1")
	b := startRouter(t, netip.MustParseAddr("127.0.0.2"), "10.0.0.3")
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("speaker", "ulvs")
	}
	peerA := config.BGPPeer{Address: a.addr, AS: 65000, Port: a.port}
	peerB := config.BGPPeer{Address: b.addr, AS: 65000, Port: b.port}
	nh6 := netip.MustParseAddr("2001:db8::2")
	cfg := config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), HoldTime: 9 * time.Second,
		NextHop6: nh6, Quorum: 1, Peers: []config.BGPPeer{peerA}}
	sp, err := Start(Config{BGP: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop(context.Background())
	v4, v6 := netip.MustParsePrefix("10.79.0.100/32"), netip.MustParsePrefix("2001:db8:79::100/128")
	if err := sp.SetAnnounced([]netip.Prefix{v4, v6}); err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1") // the sessions' local address
	waitFor(t, "announced to A", wantRoutes(t, a, map[netip.Prefix]netip.Addr{v4: lo, v6: nh6}))
	_, upA := a.session(t)

	// The same configuration again: nothing is sent, nothing reset.
	sent := sp.Peers()[0].UpdatesSent
	if err := sp.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let an UPDATE, if any were sent, be counted
	if st, up := a.session(t); st != "established" || !up.Equal(upA) || sp.Peers()[0].UpdatesSent != sent {
		t.Fatalf("an unchanged reload disturbed A: %s since %v (was since %v), updates sent %d (were %d)", st, up, upA, sp.Peers()[0].UpdatesSent, sent)
	}

	// A second peer: B gets the routes, A's session stays.
	two := cfg
	two.Peers = []config.BGPPeer{peerA, peerB}
	if err := sp.Reconfigure(two); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "announced to B", wantRoutes(t, b, map[netip.Prefix]netip.Addr{v4: lo, v6: nh6}))
	if st, up := a.session(t); st != "established" || !up.Equal(upA) {
		t.Fatalf("adding B touched A's session: %s since %v (was since %v)", st, up, upA)
	}

	// A new IPv6 next hop and an IPv4 one: the routes change, the
	// sessions stay.
	nh := two
	nh.NextHop6 = netip.MustParseAddr("2001:db8::3")
	nh.NextHop = netip.MustParseAddr("10.77.0.2")
	if err := sp.Reconfigure(nh); err != nil {
		t.Fatal(err)
	}
	newRoutes := map[netip.Prefix]netip.Addr{v4: nh.NextHop, v6: nh.NextHop6}
	waitFor(t, "new next hops at A", wantRoutes(t, a, newRoutes))
	waitFor(t, "new next hops at B", wantRoutes(t, b, newRoutes))
	if st, up := a.session(t); st != "established" || !up.Equal(upA) {
		t.Fatalf("a new next hop reset A's session: %s since %v (was since %v)", st, up, upA)
	}
	_, upB := b.session(t)

	// A removed: its session closes, B's stays.
	onlyB := nh
	onlyB.Peers = []config.BGPPeer{peerB}
	if err := sp.Reconfigure(onlyB); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A's session closed", func() string {
		if st, _ := a.session(t); st == "established" {
			return "A still established"
		}
		return ""
	})
	waitFor(t, "A lost the routes", wantRoutes(t, a, map[netip.Prefix]netip.Addr{}))
	if st, up := b.session(t); st != "established" || !up.Equal(upB) {
		t.Fatalf("removing A touched B's session: %s since %v (was since %v)", st, up, upB)
	}
	if ps := sp.Peers(); len(ps) != 1 || ps[0].Address != b.addr {
		t.Fatalf("peers %+v", ps)
	}

	// A changed hold time resets B's session (the OPEN carries it).
	hold := onlyB
	hold.HoldTime = 6 * time.Second
	if err := sp.Reconfigure(hold); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B's session again with the new hold time", func() string {
		ps := sp.Peers()
		if len(ps) != 1 || ps[0].State != "established" || ps[0].HoldTime != 6*time.Second {
			return fmt.Sprintf("peers %+v", ps)
		}
		return ""
	})

	// A new router id: NeedsRestart, and Reconfigure restarts the
	// speaker with nothing announced; announcing again reaches B.
	id := hold
	id.RouterID = netip.MustParseAddr("10.0.0.9")
	if !NeedsRestart(hold, id) || NeedsRestart(two, nh) {
		t.Fatal("NeedsRestart")
	}
	if err := sp.SetAnnounced(nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "withdrawn from B", wantRoutes(t, b, map[netip.Prefix]netip.Addr{}))
	if err := sp.Reconfigure(id); err != nil {
		t.Fatal(err)
	}
	if err := sp.SetAnnounced([]netip.Prefix{v4, v6}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "announced again to B by the new speaker", wantRoutes(t, b, newRoutes))
	var rid string
	b.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) { rid = p.GetState().GetRouterId() })
	if rid != "10.0.0.9" {
		t.Errorf("B sees router id %q, want 10.0.0.9", rid)
	}
	if got := sp.Announced(); len(got) != 2 {
		t.Errorf("Announced() = %v", got)
	}
}

// An IPv6 route to an IPv4 peer needs an IPv6 next hop on the peer's
// link: without next_hop6 and without a global IPv6 address there (the
// loopback has none), it is refused with what to do.
func TestSpeakerIPv6NextHopRequired(t *testing.T) {
	a := startRouter(t, netip.MustParseAddr("127.0.0.1"), "10.0.0.1")
	sp, err := Start(Config{BGP: config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), HoldTime: 9 * time.Second,
		Quorum: 1, Peers: []config.BGPPeer{{Address: a.addr, AS: 65000, Port: a.port}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop(context.Background())
	v4, v6 := netip.MustParsePrefix("10.79.0.100/32"), netip.MustParsePrefix("2001:db8:79::100/128")
	err = sp.SetAnnounced([]netip.Prefix{v4, v6})
	if err == nil || !strings.Contains(err.Error(), "no global IPv6 address") || !strings.Contains(err.Error(), "next_hop6") {
		t.Fatalf("SetAnnounced: %v, want the IPv6 next hop refused", err)
	}
	if got := sp.Announced(); len(got) != 1 || got[0] != v4 {
		t.Fatalf("announced %v, want only %v", got, v4)
	}
	if err := sp.SetAnnounced([]netip.Prefix{netip.MustParsePrefix("10.79.0.0/24")}); err == nil {
		t.Fatal("a /24 was accepted")
	}
}

// A restart that fails (the new listening port is taken) leaves no
// speaker: announcing fails and says so; the next reload that works
// starts one again.
func TestSpeakerFailedRestart(t *testing.T) {
	a := startRouter(t, netip.MustParseAddr("127.0.0.1"), "10.0.0.1")
	cfg := config.BGP{LocalAS: 65001, RouterID: netip.MustParseAddr("10.0.0.2"), HoldTime: 9 * time.Second,
		Quorum: 1, Peers: []config.BGPPeer{{Address: a.addr, AS: 65000, Port: a.port}}}
	sp, err := Start(Config{BGP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Stop(context.Background())
	taken := cfg
	taken.ListenPort = a.port // the router listens there
	if !NeedsRestart(cfg, taken) {
		t.Fatal("a new listening port does not need a restart")
	}
	if err := sp.Reconfigure(taken); err == nil {
		t.Fatal("a restart on a taken port succeeded")
	}
	v4 := netip.MustParsePrefix("10.79.0.100/32")
	if err := sp.SetAnnounced([]netip.Prefix{v4}); err == nil || !strings.Contains(err.Error(), "no speaker") {
		t.Fatalf("SetAnnounced without a speaker: %v", err)
	}
	if ps := sp.Peers(); len(ps) != 1 || ps[0].State != "idle" {
		t.Fatalf("peers without a speaker: %+v", ps)
	}
	if err := sp.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	if err := sp.SetAnnounced([]netip.Prefix{v4}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "announced after the reload that works", wantRoutes(t, a, map[netip.Prefix]netip.Addr{v4: a.addr}))
}
