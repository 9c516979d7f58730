package engine

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ulvs/ulvs/vs"
)

// The ingress bypass keeps the director's own IP stack away from the
// frames ulvs forwards.
//
// The workers' AF_PACKET sockets are taps: the kernel hands them a copy of
// every frame and then goes on to deliver the frame to its own IPv4 stack.
// The director's kernel owns no VIP and does not forward (DESIGN.md), so
// every client packet to a service is looked up in the routing table, gets
// a throw-away route (rt_dst_alloc), fails as unreachable (ip_error) and
// is freed through RCU: measured at about an eighth of the CPU the
// receiving side spends on each frame (docs/performance.md). Taps run
// before the ingress hooks (__netif_receive_skb_core), so a drop there of
// IPv4 frames to a service's VIP, protocol and port leaves ulvs its copy
// and spares the stack. Nothing else is dropped: ARP, VRRP, health-check
// replies, ICMP and traffic to other ports of a VIP still reach the
// kernel. Replies from NAT real servers (to client addresses) still go
// through the stack: telling them from the director's own traffic would
// take its addresses, which change.
//
// The drop is a tcx program where the kernel takes one (bypass_tcx.go:
// cheaper than the nftables chain, and gone with ulvsd's process however
// it ends), else, or beyond maxTCXServices, an nftables netdev table
// named bypassTable in the engine's namespace, which ulvsd replaces whole
// (one nft transaction) when the services or the interfaces change and
// deletes when the engine stops. Without either, the bypass is off and
// the log says so; forwarding is the same either way.
const bypassTable = "ulvs_bypass"

// bypassService is one service the bypass drops at ingress: VIP, protocol
// and port (0: every port, a port-0 service).
type bypassService struct {
	addr  [4]byte
	proto vs.Protocol
	port  uint16
}

// bypassServices lists t's IPv4 address services, sorted, without
// duplicates. Firewall-mark services are left out (their packets are
// chosen by mark rules, not by address).
func bypassServices(t *vs.Table) []bypassService {
	var out []bypassService
	for _, s := range t.Services {
		if s.FwMark != 0 || !s.Addr.Is4() || (s.Proto != vs.TCP && s.Proto != vs.UDP) {
			continue
		}
		out = append(out, bypassService{addr: s.Addr.As4(), proto: s.Proto, port: s.Port})
	}
	slices.SortFunc(out, func(a, b bypassService) int {
		if c := bytes.Compare(a.addr[:], b.addr[:]); c != 0 {
			return c
		}
		if a.proto != b.proto {
			return int(a.proto) - int(b.proto)
		}
		return int(a.port) - int(b.port)
	})
	return slices.Compact(out)
}

// bypassRuleset is the nft script that replaces the bypass table: one
// ingress chain per interface. With no service or no interface it only
// deletes the table.
func bypassRuleset(ifaces []string, svcs []bypassService) string {
	var b strings.Builder
	// "add" then "delete" removes a table left by an earlier run
	// whether or not there is one, in the same transaction.
	fmt.Fprintf(&b, "add table netdev %s\ndelete table netdev %s\n", bypassTable, bypassTable)
	if len(ifaces) == 0 || len(svcs) == 0 {
		return b.String()
	}
	var ports, whole []string
	for _, s := range svcs {
		a := fmt.Sprintf("%d.%d.%d.%d", s.addr[0], s.addr[1], s.addr[2], s.addr[3])
		proto := "tcp"
		if s.proto == vs.UDP {
			proto = "udp"
		}
		if s.port == 0 {
			whole = append(whole, a+" . "+proto)
		} else {
			ports = append(ports, fmt.Sprintf("%s . %s . %d", a, proto, s.port))
		}
	}
	fmt.Fprintf(&b, "table netdev %s {\n", bypassTable)
	if len(ports) > 0 {
		fmt.Fprintf(&b, "\tset svc { type ipv4_addr . inet_proto . inet_service; elements = { %s } }\n", strings.Join(ports, ", "))
	}
	if len(whole) > 0 {
		fmt.Fprintf(&b, "\tset vip { type ipv4_addr . inet_proto; elements = { %s } }\n", strings.Join(whole, ", "))
	}
	for i, name := range ifaces {
		fmt.Fprintf(&b, "\tchain in%d {\n\t\ttype filter hook ingress device %q priority 0; policy accept;\n", i, name)
		if len(ports) > 0 {
			b.WriteString("\t\tip daddr . meta l4proto . th dport @svc drop\n")
		}
		if len(whole) > 0 {
			b.WriteString("\t\tip daddr . meta l4proto @vip drop\n")
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// bypassState is what the bypass goroutine last applied.
type bypassState struct {
	applied string // the nft ruleset in force; "" before the first
	off     bool   // nft missing or failing: said once in the log
	// tcx is the bypass as a tcx program (bypass_tcx.go), tried first;
	// tcxOff once the kernel refused it: nftables from then on.
	tcx    *tcxBypass
	tcxOff bool
	tcxOn  bool // tcx in place: said once in the log
}

// kickBypass asks the bypass goroutine to bring the table up to date.
func (e *Engine) kickBypass() {
	select {
	case e.bypassKick <- struct{}{}:
	default:
	}
}

// runBypass keeps the bypass (the tcx program, else the nftables table)
// in line with the services and the interfaces until ctx ends, then
// removes it.
func (e *Engine) runBypass(ctx context.Context) {
	st := bypassState{tcx: newTCXBypass()}
	defer st.tcx.close()
	for {
		select {
		case <-ctx.Done():
			if st.applied != "" {
				e.applyBypass(&st, bypassRuleset(nil, nil))
			}
			return
		case <-e.bypassKick:
		}
		e.linkMu.Lock()
		var names []string
		for _, ifc := range e.ifaces {
			names = append(names, ifc.name)
		}
		e.linkMu.Unlock()
		svcs := bypassServices(e.table.Load())
		force := e.bypassForce.Swap(false)
		if !st.tcxOff && len(svcs) <= maxTCXServices {
			if e.applyTCX(&st, names, svcs) {
				// Our table from a time with more services goes.
				if st.applied != "" && st.applied != bypassRuleset(nil, nil) {
					e.applyBypass(&st, bypassRuleset(nil, nil))
				}
				continue
			}
		} else if st.tcx.prog >= 0 {
			st.tcx.close() // too many services for the program: nftables
			st.tcxOn = false
		}
		text := bypassRuleset(names, svcs)
		switch {
		case text == bypassRuleset(nil, nil) && st.applied == "":
			// Nothing to drop and nothing of ours in place: leave
			// nftables alone (an engine without interfaces may run in
			// a namespace that is not a director's).
		case text != st.applied || force:
			e.applyBypass(&st, text)
		}
	}
}

// applyTCX brings the tcx bypass in line with the interfaces and the
// services, and reports whether it is in charge. When the kernel refuses
// it (no tcx before 6.6, no BPF), the log says so once and the bypass
// falls back to nftables for the engine's life.
func (e *Engine) applyTCX(st *bypassState, names []string, svcs []bypassService) bool {
	err := e.inNamespace(func() error { return st.tcx.apply(names, svcs) })
	if err != nil {
		st.tcx.close()
		st.tcxOff = true
		e.log.Info("ingress bypass: tcx program refused, using nftables", "err", err)
		return false
	}
	if !st.tcxOn && len(st.tcx.links) > 0 {
		st.tcxOn = true
		e.log.Info("ingress bypass on (tcx)", "interfaces", len(st.tcx.links), "services", len(svcs))
		// A table an earlier ulvsd left, killed before it could delete
		// it, would go on dropping at ingress what tcx now drops; only
		// when nft is there to ask.
		if _, err := exec.LookPath("nft"); err == nil {
			e.runNft(bypassRuleset(nil, nil))
		}
	}
	return true
}

// inNamespace runs f on a thread in the engine's namespace.
func (e *Engine) inNamespace(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread may have changed namespace: it dies with the
		// goroutine (no UnlockOSThread).
		if e.nsFD >= 0 {
			if err := e.enterNamespace(); err != nil {
				errc <- err
				return
			}
		}
		errc <- f()
	}()
	return <-errc
}

// applyBypass runs nft with text in the engine's namespace.
func (e *Engine) applyBypass(st *bypassState, text string) {
	err := e.runNft(text)
	if err != nil {
		if !st.off {
			e.log.Warn("ingress bypass off: the kernel's IP stack also sees the forwarded frames", "err", err)
		}
		st.off = true
		return
	}
	if st.off {
		e.log.Info("ingress bypass on")
	}
	st.off = false
	st.applied = text
}

// runNft feeds text to nft -f - on a thread in the engine's namespace (the
// child inherits it).
func (e *Engine) runNft(text string) error {
	path, err := exec.LookPath("nft")
	if err != nil {
		return err
	}
	return e.inNamespace(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "-f", "-")
		cmd.Stdin = strings.NewReader(text)
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("nft: %v: %s", err, bytes.TrimSpace(out))
		}
		return err
	})
}
