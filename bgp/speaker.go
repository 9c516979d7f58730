package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"

	"github.com/ulvs/ulvs/config"
)

// Config configures a Speaker. Its BGP is a validated [bgp] table
// (config.CheckBGP).
type Config struct {
	BGP    config.BGP
	Logger *slog.Logger // nil: discard
}

// Speaker runs one BGP speaker. The zero value is not usable: call Start.
type Speaker struct {
	log *slog.Logger

	mu        sync.Mutex
	srv       *server.BgpServer
	cfg       config.BGP
	announced map[netip.Prefix]announcement
	stopped   bool
}

// announcement is one prefix handed to GoBGP: its path's id and the next
// hop it carries (0.0.0.0 or :: for each session's own address).
type announcement struct {
	id      uuid.UUID
	nextHop netip.Addr
}

// Start starts the speaker and its sessions with every peer. It must run
// in the network namespace the sessions belong to (the sockets are opened
// there as the sessions connect).
func Start(cfg Config) (*Speaker, error) {
	b := cfg.BGP
	if field, msg := config.CheckBGP(&b); msg != "" {
		return nil, fmt.Errorf("bgp: %s: %s", field, msg)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv, err := startServer(b, log)
	if err != nil {
		return nil, err
	}
	return &Speaker{srv: srv, cfg: b, log: log, announced: map[netip.Prefix]announcement{}}, nil
}

// listenPort is the port GoBGP listens on for b: -1 (none) unless a peer
// is passive or listen_port is set.
func listenPort(b config.BGP) int32 {
	if b.ListenPort != 0 {
		return int32(b.ListenPort)
	} else if slices.ContainsFunc(b.Peers, func(p config.BGPPeer) bool { return p.Passive }) {
		return config.DefaultBGPPort
	}
	return -1
}

// startServer starts a GoBGP server with b's global settings, the import
// policy and every peer.
func startServer(b config.BGP, log *slog.Logger) (*server.BgpServer, error) {
	// GoBGP's own messages (sessions up and down, errors) go to the
	// daemon's log, marked part=gobgp; the level variable is only what
	// GoBGP's SetLogLevel API would change.
	lvl := &slog.LevelVar{}
	srv := server.NewBgpServer(server.LoggerOption(log.With("part", "gobgp"), lvl))
	go srv.Serve()
	ctx := context.Background()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: b.LocalAS, RouterId: b.RouterID.String(), ListenPort: listenPort(b),
	}}); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: start: %w", err)
	}
	// Routes the routers send are of no use to a director: refuse them
	// all. The global import policy also sees the director's own paths,
	// so it rejects only those learned over eBGP.
	refuse := &api.Policy{Name: "ulvs-refuse-learned", Statements: []*api.Statement{{
		Name:       "ulvs-refuse-learned",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_EXTERNAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_REJECT},
	}}}
	err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: refuse})
	if err == nil {
		err = srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
			Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_IMPORT,
			Policies: []*api.Policy{{Name: refuse.Name}}, DefaultAction: api.RouteAction_ROUTE_ACTION_ACCEPT,
		}})
	}
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: import policy: %w", err)
	}
	for _, p := range b.Peers {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(p, b.HoldTime)}); err != nil {
			srv.Stop()
			return nil, fmt.Errorf("bgp: peer %v: %w", p.Address, err)
		}
	}
	log.Info("bgp speaker started", "local_as", b.LocalAS, "router_id", b.RouterID, "peers", len(b.Peers), "hold_time", b.HoldTime)
	return srv, nil
}

// peerConf is p as GoBGP takes it: IPv4 and IPv6 unicast over an IPv4
// session, IPv6 unicast over an IPv6 one (IPv4 routes over IPv6 would
// need RFC 8950's extended next hop), the hold time offered and a
// keepalive of a third of it (RFC 4271 section 10), and BFD when asked.
func peerConf(p config.BGPPeer, hold time.Duration) *api.Peer {
	port := uint32(p.Port)
	if port == 0 {
		port = config.DefaultBGPPort
	}
	h := uint64(hold / time.Second)
	fams := []*api.AfiSafi{{Config: &api.AfiSafiConfig{
		Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}, Enabled: true,
	}}}
	if p.Address.Is4() {
		fams = append([]*api.AfiSafi{{Config: &api.AfiSafiConfig{
			Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true,
		}}}, fams...)
	}
	peer := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.AS},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: h, KeepaliveInterval: h / 3, ConnectRetry: 5}},
		Transport: &api.Transport{RemotePort: port, PassiveMode: p.Passive},
		AfiSafis:  fams,
	}
	if p.BFD {
		us := uint32(p.BFDInterval / time.Microsecond)
		peer.Bfd = &api.BfdPeerConfig{Enabled: true, Port: server.BfdServerPort,
			DesiredMinimumTxInterval: us, RequiredMinimumReceive: us, DetectionMultiplier: uint32(p.BFDMultiplier)}
	}
	return peer
}

// NeedsRestart says whether going from old to new needs a new speaker: a
// change of local AS, router id or listening port (GoBGP's global
// settings). Other changes apply to a running one (Reconfigure).
func NeedsRestart(old, new config.BGP) bool {
	return old.LocalAS != new.LocalAS || old.RouterID != new.RouterID || listenPort(old) != listenPort(new)
}

// Reconfigure applies b: peers removed are closed (a Cease), peers added
// are started, peers changed (AS, port, passive, BFD, or the hold time)
// are closed and started again, the others are not touched; a new next
// hop re-announces the prefixes with it (an implicit withdraw, no gap).
// When NeedsRestart, the speaker is stopped and started again with b,
// announcing nothing: the caller withdraws first and announces again.
func (s *Speaker) Reconfigure(b config.BGP) error {
	if field, msg := config.CheckBGP(&b); msg != "" {
		return fmt.Errorf("bgp: %s: %s", field, msg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("bgp: speaker stopped")
	}
	old := s.cfg
	if s.srv == nil || NeedsRestart(old, b) {
		var errs []error
		if len(s.announced) > 0 {
			errs = append(errs, s.withdraw(slices.Collect(maps.Keys(s.announced))))
		}
		if s.srv != nil {
			stopServer(s.srv)
		}
		srv, err := startServer(b, s.log)
		if err != nil {
			// No speaker left: nothing is announced, SetAnnounced
			// fails, and the next reload tries again.
			s.srv, s.cfg = nil, b
			return errors.Join(append(errs, err)...)
		}
		s.srv, s.cfg = srv, b
		s.log.Info("bgp: speaker restarted with the new configuration", "local_as", b.LocalAS, "router_id", b.RouterID)
		return errors.Join(errs...)
	}
	ctx := context.Background()
	var errs []error
	oldPeers := map[netip.Addr]config.BGPPeer{}
	for _, p := range old.Peers {
		oldPeers[p.Address] = p
	}
	newPeers := map[netip.Addr]bool{}
	for _, p := range b.Peers {
		newPeers[p.Address] = true
	}
	for _, p := range old.Peers {
		was, still := oldPeers[p.Address], newPeers[p.Address]
		np, _ := findPeer(b.Peers, p.Address)
		if !still || np != was || old.HoldTime != b.HoldTime {
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: p.Address.String()}); err != nil {
				errs = append(errs, fmt.Errorf("bgp: remove peer %v: %w", p.Address, err))
			} else if !still {
				s.log.Info("bgp: peer removed", "peer", p.Address)
			}
		}
	}
	for _, p := range b.Peers {
		was, had := oldPeers[p.Address]
		if had && was == p && old.HoldTime == b.HoldTime {
			continue
		}
		if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConf(p, b.HoldTime)}); err != nil {
			errs = append(errs, fmt.Errorf("bgp: peer %v: %w", p.Address, err))
			continue
		}
		if had {
			s.log.Info("bgp: peer changed, session started again", "peer", p.Address, "as", p.AS)
		} else {
			s.log.Info("bgp: peer added", "peer", p.Address, "as", p.AS)
		}
	}
	s.cfg = b
	// The next hops may differ now (next_hop, next_hop6, or the peers
	// an IPv6 next hop is found from): announce again what changed.
	for p, a := range s.announced {
		nh, err := s.nextHop(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: announce %v: %w", p, err))
			continue
		} else if nh == a.nextHop {
			continue
		}
		if err := s.announce(p, nh, "bgp: announced with a new next hop"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func findPeer(peers []config.BGPPeer, a netip.Addr) (config.BGPPeer, bool) {
	for _, p := range peers {
		if p.Address == a {
			return p, true
		}
	}
	return config.BGPPeer{}, false
}

// Config returns the speaker's configuration.
func (s *Speaker) Config() config.BGP {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// SetAnnounced makes the announced prefixes exactly want: new ones are
// announced, the others withdrawn. Every prefix must be a host route
// (/32 or /128); nothing changes when one is not.
func (s *Speaker) SetAnnounced(want []netip.Prefix) error {
	for _, p := range want {
		if p.Bits() != p.Addr().BitLen() || p.Addr().Is4In6() {
			return fmt.Errorf("bgp: %v: only host routes (/32, /128) are announced", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("bgp: speaker stopped")
	}
	if s.srv == nil {
		return errors.New("bgp: no speaker: it failed to start again with the reloaded [bgp] (see the log; a reload that works starts it)")
	}
	var errs []error
	var goneP []netip.Prefix
	for p := range s.announced {
		if !slices.Contains(want, p) {
			goneP = append(goneP, p)
		}
	}
	if len(goneP) > 0 {
		if err := s.withdraw(goneP); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range want {
		if _, ok := s.announced[p]; ok {
			continue
		}
		nh, err := s.nextHop(p)
		if err == nil {
			err = s.announce(p, nh, "bgp: announced")
		} else {
			err = fmt.Errorf("bgp: announce %v: %w", p, err)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// announce originates p with next hop nh and records it, logging msg.
// s.mu must be held.
func (s *Speaker) announce(p netip.Prefix, nh netip.Addr, msg string) error {
	id, err := s.add(p, nh)
	if err != nil {
		return fmt.Errorf("bgp: announce %v: %w", p, err)
	}
	s.announced[p] = announcement{id: id, nextHop: nh}
	s.log.Info(msg, "prefix", p, "next_hop", nh)
	return nil
}

// withdraw withdraws the announced prefixes ps. s.mu must be held.
func (s *Speaker) withdraw(ps []netip.Prefix) error {
	ids := make([]uuid.UUID, 0, len(ps))
	for _, p := range ps {
		ids = append(ids, s.announced[p].id)
	}
	if err := s.srv.DeletePath(apiutil.DeletePathRequest{UUIDs: ids}); err != nil {
		return fmt.Errorf("bgp: withdraw %v: %w", ps, err)
	}
	for _, p := range ps {
		delete(s.announced, p)
		s.log.Info("bgp: withdrawn", "prefix", p)
	}
	return nil
}

// nextHop returns the next hop to announce p with. IPv4: next_hop, or
// 0.0.0.0, which GoBGP replaces with each eBGP session's local address.
// IPv6: next_hop6; else, when a peer is IPv4 (whose local address cannot
// be an IPv6 next hop), the global IPv6 address of the interface that
// reaches the first IPv4 peer, as BIRD does for IPv6 over an IPv4
// session; else ::, each IPv6 session's local address. s.mu must be
// held.
func (s *Speaker) nextHop(p netip.Prefix) (netip.Addr, error) {
	if p.Addr().Is4() {
		if s.cfg.NextHop.IsValid() {
			return s.cfg.NextHop, nil
		}
		return netip.IPv4Unspecified(), nil
	}
	if s.cfg.NextHop6.IsValid() {
		return s.cfg.NextHop6, nil
	}
	for _, peer := range s.cfg.Peers {
		if peer.Address.Is4() {
			return linkIPv6For(peer.Address)
		}
	}
	return netip.IPv6Unspecified(), nil
}

// add originates p: ORIGIN IGP and the next hop nh (NEXT_HOP for IPv4,
// MP_REACH_NLRI's for IPv6, RFC 4760). Adding a prefix again replaces its
// path (GoBGP keys local paths by prefix): the new UUID is the one.
func (s *Speaker) add(p netip.Prefix, nh netip.Addr) (uuid.UUID, error) {
	nlri, err := bgp.NewIPAddrPrefix(p)
	if err != nil {
		return uuid.UUID{}, err
	}
	fam := bgp.RF_IPv4_UC
	var nhAttr bgp.PathAttributeInterface
	if p.Addr().Is4() {
		nhAttr, err = bgp.NewPathAttributeNextHop(nh)
	} else {
		fam = bgp.RF_IPv6_UC
		nhAttr, err = bgp.NewPathAttributeMpReachNLRI(fam, []bgp.PathNLRI{{NLRI: nlri}}, nh)
	}
	if err != nil {
		return uuid.UUID{}, err
	}
	resp, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{{
		Family: fam,
		Nlri:   nlri,
		Attrs:  []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(0), nhAttr},
	}}})
	if err != nil {
		return uuid.UUID{}, err
	}
	if len(resp) != 1 {
		return uuid.UUID{}, fmt.Errorf("gobgp returned %d answers for one path", len(resp))
	}
	return resp[0].UUID, resp[0].Error
}

// Announced returns the prefixes announced now, sorted.
func (s *Speaker) Announced() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.Prefix, 0, len(s.announced))
	for p := range s.announced {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// PeerStatus is one session's state.
type PeerStatus struct {
	Address netip.Addr
	AS      uint32
	// State is the session's FSM state, RFC 4271 section 8: "idle",
	// "connect", "active", "opensent", "openconfirm", "established".
	State string
	// HoldTime is the negotiated hold time (0 before OPEN).
	HoldTime time.Duration
	// Since is when the session was last established (State
	// "established") or went down (otherwise); zero when never.
	Since time.Time
	// Sent and Received count UPDATE messages.
	UpdatesSent, UpdatesReceived uint64
	// Flops counts the times the session went down.
	Flops uint32
	// BFD is the BFD session's state (RFC 5880 section 4.1: "admindown",
	// "down", "init", "up"); "" without BFD.
	BFD string
}

// Peers returns the sessions' states, in the configuration's order.
func (s *Speaker) Peers() []PeerStatus {
	s.mu.Lock()
	srv, cfg := s.srv, s.cfg
	s.mu.Unlock()
	byAddr := map[string]*api.Peer{}
	if srv != nil {
		_ = srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
			if p.GetConf() != nil {
				byAddr[p.GetConf().GetNeighborAddress()] = p
			}
		})
	}
	out := make([]PeerStatus, 0, len(cfg.Peers))
	for _, c := range cfg.Peers {
		ps := PeerStatus{Address: c.Address, AS: c.AS, State: "idle"}
		if p := byAddr[c.Address.String()]; p != nil {
			st := p.GetState()
			ps.State = sessionState(st.GetSessionState())
			ps.Flops = st.GetFlops()
			if c.BFD {
				ps.BFD = bfdState(st.GetBfdState().GetSessionState())
			}
			if m := st.GetMessages(); m != nil {
				ps.UpdatesSent = m.GetSent().GetUpdate()
				ps.UpdatesReceived = m.GetReceived().GetUpdate()
			}
			if ts := p.GetTimers().GetState(); ts != nil {
				ps.HoldTime = time.Duration(ts.GetNegotiatedHoldTime()) * time.Second
				if ps.State == "established" && ts.GetUptime() != nil {
					ps.Since = ts.GetUptime().AsTime()
				} else if ts.GetDowntime() != nil {
					ps.Since = ts.GetDowntime().AsTime()
				}
			}
		}
		out = append(out, ps)
	}
	return out
}

func bfdState(st api.BfdSessionState) string {
	switch st {
	case api.BfdSessionState_BFD_SESSION_STATE_ADMIN_DOWN:
		return "admindown"
	case api.BfdSessionState_BFD_SESSION_STATE_DOWN:
		return "down"
	case api.BfdSessionState_BFD_SESSION_STATE_INIT:
		return "init"
	case api.BfdSessionState_BFD_SESSION_STATE_UP:
		return "up"
	}
	return "down"
}

func sessionState(st api.PeerState_SessionState) string {
	switch st {
	case api.PeerState_SESSION_STATE_IDLE:
		return "idle"
	case api.PeerState_SESSION_STATE_CONNECT:
		return "connect"
	case api.PeerState_SESSION_STATE_ACTIVE:
		return "active"
	case api.PeerState_SESSION_STATE_OPENSENT:
		return "opensent"
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return "openconfirm"
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return "established"
	}
	return "unknown"
}

// Stop withdraws everything, closes the sessions (a Cease NOTIFICATION
// to each peer) and stops the speaker. ctx bounds the wait for GoBGP.
func (s *Speaker) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	err := s.SetAnnounced(nil)
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil // a failed restart left nothing to stop
	}
	done := make(chan error, 1)
	go func() { done <- stopServer(srv) }()
	select {
	case e := <-done:
		return errors.Join(err, e)
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("bgp: stop: %w", ctx.Err()))
	}
}

// stopServer closes srv's sessions (a Cease to each peer) and stops it.
func stopServer(srv *server.BgpServer) error {
	err := srv.StopBgp(context.Background(), &api.StopBgpRequest{})
	srv.Stop()
	return err
}

// linkIPv6For returns the global IPv6 address of the interface whose
// IPv4 subnet holds peer (the link the session runs on): the next hop a
// router on that link can install for an IPv6 route learned over IPv4.
func linkIPv6For(peer netip.Addr) (netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		on := false
		var v6 netip.Addr
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			pfx, err := netip.ParsePrefix(n.String())
			if err != nil {
				continue
			}
			switch ip := pfx.Addr(); {
			case ip.Is4() && pfx.Contains(peer):
				on = true
			case ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast() && !v6.IsValid():
				v6 = ip
			}
		}
		if on && v6.IsValid() {
			return v6, nil
		}
		if on {
			return netip.Addr{}, fmt.Errorf("interface %s, on which peer %v is, has no global IPv6 address for the next hop of IPv6 routes: add one, or set next_hop6", ifc.Name, peer)
		}
	}
	return netip.Addr{}, fmt.Errorf("no interface is on the subnet of peer %v, so no IPv6 next hop could be found for IPv6 routes: set next_hop6", peer)
}
