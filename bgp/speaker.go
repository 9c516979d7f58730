package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	srv *server.BgpServer
	cfg config.BGP
	log *slog.Logger

	mu        sync.Mutex
	announced map[netip.Prefix]uuid.UUID
	stopped   bool
}

// ErrIPv6 is the refusal of an IPv6 prefix (issue #17).
var ErrIPv6 = errors.New("IPv6 virtual addresses are not announced by ulvs's BGP yet (issue #17)")

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
	// GoBGP's own messages (sessions up and down, errors) go to the
	// daemon's log, marked part=gobgp; the level variable is only what
	// GoBGP's SetLogLevel API would change.
	lvl := &slog.LevelVar{}
	srv := server.NewBgpServer(server.LoggerOption(log.With("part", "gobgp"), lvl))
	go srv.Serve()
	s := &Speaker{srv: srv, cfg: b, log: log, announced: map[netip.Prefix]uuid.UUID{}}
	listen := int32(-1) // no listening socket unless a peer is passive
	if b.ListenPort != 0 {
		listen = int32(b.ListenPort)
	} else if slices.ContainsFunc(b.Peers, func(p config.BGPPeer) bool { return p.Passive }) {
		listen = config.DefaultBGPPort
	}
	ctx := context.Background()
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: b.LocalAS, RouterId: b.RouterID.String(), ListenPort: listen,
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
	return s, nil
}

// peerConf is p as GoBGP takes it: IPv4 unicast only, the hold time
// offered and a keepalive of a third of it (RFC 4271 section 10).
func peerConf(p config.BGPPeer, hold time.Duration) *api.Peer {
	port := uint32(p.Port)
	if port == 0 {
		port = config.DefaultBGPPort
	}
	h := uint64(hold / time.Second)
	return &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.AS},
		Timers:    &api.Timers{Config: &api.TimersConfig{HoldTime: h, KeepaliveInterval: h / 3, ConnectRetry: 5}},
		Transport: &api.Transport{RemotePort: port, PassiveMode: p.Passive},
		AfiSafis: []*api.AfiSafi{{Config: &api.AfiSafiConfig{
			Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true,
		}}},
	}
}

// SetAnnounced makes the announced prefixes exactly want: new ones are
// announced, the others withdrawn. Every prefix must be an IPv4 host
// route (/32); nothing changes when one is not.
func (s *Speaker) SetAnnounced(want []netip.Prefix) error {
	for _, p := range want {
		if !p.Addr().Is4() {
			return fmt.Errorf("bgp: %v: %w", p, ErrIPv6)
		}
		if p.Bits() != 32 {
			return fmt.Errorf("bgp: %v: only host routes (/32) are announced", p)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("bgp: speaker stopped")
	}
	var errs []error
	var gone []uuid.UUID
	var goneP []netip.Prefix
	for p, id := range s.announced {
		if !slices.Contains(want, p) {
			gone = append(gone, id)
			goneP = append(goneP, p)
		}
	}
	if len(gone) > 0 {
		if err := s.srv.DeletePath(apiutil.DeletePathRequest{UUIDs: gone}); err != nil {
			errs = append(errs, fmt.Errorf("bgp: withdraw %v: %w", goneP, err))
		} else {
			for _, p := range goneP {
				delete(s.announced, p)
				s.log.Info("bgp: withdrawn", "prefix", p)
			}
		}
	}
	for _, p := range want {
		if _, ok := s.announced[p]; ok {
			continue
		}
		id, err := s.add(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: announce %v: %w", p, err))
			continue
		}
		s.announced[p] = id
		s.log.Info("bgp: announced", "prefix", p)
	}
	return errors.Join(errs...)
}

// add originates p: ORIGIN IGP and NEXT_HOP the configured one, or
// 0.0.0.0, which GoBGP replaces with each eBGP session's local address.
func (s *Speaker) add(p netip.Prefix) (uuid.UUID, error) {
	nlri, err := bgp.NewIPAddrPrefix(p)
	if err != nil {
		return uuid.UUID{}, err
	}
	nh := s.cfg.NextHop
	if !nh.IsValid() {
		nh = netip.IPv4Unspecified()
	}
	nhAttr, err := bgp.NewPathAttributeNextHop(nh)
	if err != nil {
		return uuid.UUID{}, err
	}
	resp, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{{
		Family: bgp.RF_IPv4_UC,
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
}

// Peers returns the sessions' states, in the configuration's order.
func (s *Speaker) Peers() []PeerStatus {
	byAddr := map[string]*api.Peer{}
	_ = s.srv.ListPeer(context.Background(), &api.ListPeerRequest{}, func(p *api.Peer) {
		if p.GetConf() != nil {
			byAddr[p.GetConf().GetNeighborAddress()] = p
		}
	})
	out := make([]PeerStatus, 0, len(s.cfg.Peers))
	for _, c := range s.cfg.Peers {
		ps := PeerStatus{Address: c.Address, AS: c.AS, State: "idle"}
		if p := byAddr[c.Address.String()]; p != nil {
			st := p.GetState()
			ps.State = sessionState(st.GetSessionState())
			ps.Flops = st.GetFlops()
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
	done := make(chan error, 1)
	go func() {
		done <- s.srv.StopBgp(context.Background(), &api.StopBgpRequest{})
		s.srv.Stop()
	}()
	select {
	case e := <-done:
		return errors.Join(err, e)
	case <-ctx.Done():
		return errors.Join(err, fmt.Errorf("bgp: stop: %w", ctx.Err()))
	}
}
