package lab

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This file runs the scale-out demonstration on a Scale lab: N directors
// behind the router's ECMP route, long-lived downloads and a loop of new
// connections, one director killed and then started again, and what
// happened to the flows (ScaleReport). `ulvs lab scale` prints it; the
// integration test checks its properties.

// Kill modes of ScaleRunConfig.Kill.
const (
	KillSIGKILL = "kill" // the process dies: the kernel closes its BGP session
	KillSIGSTOP = "stop" // the process freezes: only the hold timer notices
	KillSIGTERM = "term" // graceful: ulvsd withdraws, waits, then stops
)

// ScaleRunConfig configures RunScale.
// ScaleControl is what the scale run asks of a director's control
// socket (sock is its path).
type ScaleControl interface {
	// Ping returns nil once the socket answers.
	Ping(sock string) error
	// Established returns the client ports of client's established
	// connections in the director's table.
	Established(sock string, client netip.Addr) ([]uint16, error)
	// StartSync starts a master and a backup sync daemon on ifname
	// (ipvsadm --start-daemon master and backup).
	StartSync(sock, ifname string) error
}

type ScaleRunConfig struct {
	ScaleConfig
	// Exe is the ulvs binary; each director runs `Exe ulvsd -c FILE`.
	Exe string
	// Flows is the number of long-lived downloads; 0 means 24.
	Flows int
	// Phase is how long each phase (before the kill, after it, after
	// the restart) lasts; 0 means 4 s.
	Phase time.Duration
	// Kill is how the last director is taken down: KillSIGKILL (""),
	// KillSIGSTOP or KillSIGTERM.
	Kill string
	// Scheduler is the directors' scheduler: "" (mh, with mh-port) for
	// the demonstration, another (rr, sh with sh-port, ...) to compare.
	Scheduler string
	// NoSloppyTCP turns sloppy_tcp off, to compare.
	NoSloppyTCP bool
	// AddNew starts the last director only once the flows run, a phase
	// in, and counts the flows that move to it (ScaleReport.AddedMoved);
	// it is then killed and started again as without.
	AddNew bool
	// Warmup is the directors' [bgp] warmup (0: none).
	Warmup time.Duration
	// LastByFlags gives the last director (the one killed and started
	// again) its BGP by ulvsd's --bgp-* flags instead of [bgp].
	LastByFlags bool
	// Control talks to a director's control socket. The lab cannot
	// import package ctl itself (ctl's own dependencies' tests build
	// labs), so the caller hands in its client: cmd/ulvs's scaleControl.
	Control ScaleControl
	// Sync runs the IPVS connection sync among the directors: each runs
	// a master and a backup daemon on d-eth0 (ipvsadm --start-daemon
	// master and backup), so every director's connections reach every
	// other over multicast.
	Sync bool
	// After, when set, runs once the demonstration is over, before the
	// teardown, with every director running: sockets[k] is director k's
	// control socket (the packet-rate measurement of `ulvs lab scale
	// --pps` drains and undrains them).
	After func(ctx context.Context, s *Scale, sockets []string) error
	// Progress receives one line per step; nil discards.
	Progress io.Writer
}

// ScaleReport is what RunScale measured.
type ScaleReport struct {
	Prefix    string
	Directors int
	Flows     int
	Kill      string
	// Scheduler and SloppyTCP are the directors' settings.
	Scheduler string
	SloppyTCP bool
	Sync      bool
	HoldTime  time.Duration
	// Converge is from starting the directors to the router's route
	// having all N next hops.
	Converge time.Duration
	// FlowsPerDirector counts the long-lived flows in each director's
	// connection table before the kill.
	FlowsPerDirector []int
	// OnKilled is FlowsPerDirector of the killed director.
	OnKilled int
	// Withdraw is from the kill to the route losing the director.
	Withdraw time.Duration
	// Readd is from starting the director again to the route having it
	// back.
	Readd time.Duration
	// AddedMoved counts, with AddNew, the long-lived flows that changed
	// director (a director that did not hold them holds them) in the
	// phase after the new director joined.
	AddedMoved int
	// RouterMoved counts, with AddNew, the long-lived flows whose next
	// hop in the router's own choice (`ip route get` with the flow's
	// 5-tuple) changed when the new director joined: what the router
	// moved, to compare with AddedMoved, what the directors saw.
	RouterMoved int
	// RouterShare is, with AddNew, the share of RouterSample sampled
	// client ports (the same client, address and VIP port) whose next
	// hop changed when the new director joined: the router's mapping
	// itself, without the sampling noise of Flows flows (1/2 from 2 to
	// 3 next hops by hash-threshold, 1/3 with a resilient group).
	RouterShare float64
	// Moved counts the long-lived flows that changed director in the
	// phase after the restarted director was back.
	Moved int
	// Completed, Reset and Broken count the long-lived downloads: all
	// bytes with the right digest, ended by a reset (ECONNRESET), ended by
	// any other error or a wrong digest.
	Completed, Reset, Broken int
	// ResetByPhase counts the resets seen before the kill, after it,
	// after the restart and while the downloads finished.
	ResetByPhase [4]int
	// FlowErrors are the errors of the flows that did not complete.
	FlowErrors []string
	// NewConns and NewConnFails count the loop's connections, and
	// NewConnFailsByPhase its failures before the kill, after it and
	// after the restart.
	NewConns, NewConnFails int
	NewConnFailsByPhase    [3]int
}

// MovedFraction is Moved / Flows.
func (r *ScaleReport) MovedFraction() float64 {
	if r.Flows == 0 {
		return 0
	}
	return float64(r.Moved) / float64(r.Flows)
}

// scaleDirector is one ulvsd process of the run.
type scaleDirector struct {
	k         int
	ns        NS
	cfg, sock string
	log       string
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
}

type scaleRun struct {
	cfg   ScaleRunConfig
	s     *Scale
	dirs  []*scaleDirector
	phase atomic.Int32
}

func (r *scaleRun) logf(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

// RunScale builds a scale lab, runs the demonstration and tears the lab
// down. The error is about the lab or the tools; what happened to the
// flows is in the report.
func RunScale(ctx context.Context, cfg ScaleRunConfig) (*ScaleReport, error) {
	if cfg.Exe == "" {
		return nil, errors.New("scale run: no ulvs binary (Exe)")
	}
	if cfg.Control == nil {
		return nil, errors.New("scale run: no control client (Control)")
	}
	if cfg.Flows == 0 {
		cfg.Flows = 24
	}
	if cfg.Phase == 0 {
		cfg.Phase = 4 * time.Second
	}
	if cfg.Kill == "" {
		cfg.Kill = KillSIGKILL
	}
	if !slices.Contains([]string{KillSIGKILL, KillSIGSTOP, KillSIGTERM}, cfg.Kill) {
		return nil, fmt.Errorf("scale run: kill %q: want kill, stop or term", cfg.Kill)
	}
	s, err := ScaleUp(ctx, cfg.ScaleConfig)
	if err != nil {
		return nil, err
	}
	r := &scaleRun{cfg: cfg, s: s}
	rep, err := r.run(ctx)
	r.stopAll()
	if derr := s.Down(); derr != nil {
		err = errors.Join(err, derr)
	}
	return rep, err
}

func (r *scaleRun) run(ctx context.Context) (*ScaleReport, error) {
	s := r.s
	n := len(s.Directors)
	rep := &ScaleReport{Prefix: s.Prefix, Directors: n, Flows: r.cfg.Flows, Kill: r.cfg.Kill, HoldTime: s.HoldTime,
		Scheduler: r.cfg.Scheduler, SloppyTCP: !r.cfg.NoSloppyTCP, Sync: r.cfg.Sync}
	if rep.Scheduler == "" {
		rep.Scheduler = "mh"
	}
	r.logf("scale lab %s: client %v, router %v/%v (BIRD, AS %d, ECMP), %d directors %v (AS %d; scheduler %s, sloppy_tcp %v, sync %v), %d real servers, VIP %v",
		s.Prefix, ScaleClientAddr, ScaleRouterOut, ScaleRouterIn, ScaleRouterAS, n, s.DIPs, ScaleDirectorAS, rep.Scheduler, rep.SloppyTCP, rep.Sync, len(s.RS), ScaleVIP)
	srvCtx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	if err := s.StartServers(srvCtx); err != nil {
		return nil, err
	}
	for k := range s.Directors {
		d := &scaleDirector{k: k, ns: s.Directors[k], cfg: filepath.Join(s.Dir, fmt.Sprintf("d%d.toml", k+1)),
			sock: filepath.Join(s.Dir, fmt.Sprintf("d%d.sock", k+1)), log: filepath.Join(s.Dir, fmt.Sprintf("d%d.log", k+1))}
		if err := os.WriteFile(d.cfg, []byte(s.ScaleDirectorConfig(k, ScaleDirectorOptions{Socket: d.sock,
			Scheduler: r.cfg.Scheduler, NoSloppyTCP: r.cfg.NoSloppyTCP, BGPFlags: r.cfg.LastByFlags && k == len(s.Directors)-1,
			Warmup: r.cfg.Warmup})), 0o644); err != nil {
			return nil, err
		}
		r.dirs = append(r.dirs, d)
	}
	start := time.Now()
	first := n // directors started before the flows
	if r.cfg.AddNew {
		first = n - 1
	}
	for _, d := range r.dirs[:first] {
		if err := r.start(d); err != nil {
			return nil, err
		}
	}
	if err := r.waitHops(ctx, first, 30*time.Second+r.cfg.Warmup); err != nil {
		return nil, err
	}
	rep.Converge = time.Since(start)
	hops, _ := s.Nexthops(ctx)
	r.logf("route to %v has %d next hops %v after %v", ScaleVIP, len(hops), hops, rep.Converge.Round(time.Millisecond))

	flowCtx, stopFlows := context.WithCancel(ctx)
	defer stopFlows()
	finish := make(chan struct{})
	results := make(chan flowResult, r.cfg.Flows)
	ports := make([]uint16, r.cfg.Flows)
	var started sync.WaitGroup
	// Enough to last every phase at scaleFlowRate (one more with
	// AddNew), the waits for the route and a margin: a flow that ended
	// early sends no packet to move (the end is read at full speed).
	phases := time.Duration(4)
	if r.cfg.AddNew {
		phases++
	}
	size := int64(scaleFlowRate) * int64((phases*r.cfg.Phase+r.cfg.Warmup*3)/time.Second+12)
	for i := range r.cfg.Flows {
		started.Add(1)
		go func() {
			results <- r.download(flowCtx, size, &ports[i], &started, finish)
		}()
	}
	started.Wait()
	loopDone := make(chan struct{})
	var newConns, newFails atomic.Int64
	go func() {
		defer close(loopDone)
		r.connLoop(flowCtx, &newConns, &newFails, &rep.NewConnFailsByPhase)
	}()
	r.logf("%d long-lived downloads (%d KiB/s each) and a loop of new connections running", r.cfg.Flows, scaleFlowRate>>10)
	sleep(ctx, r.cfg.Phase)

	victim := n - 1
	if r.cfg.AddNew {
		// A director the router never had: how many flows change
		// director (to it, and between the others as their hash ranges
		// shift).
		before := r.holders(ports)
		sample := sampleSports(ports)
		choiceBefore, err := r.routerChoice(ctx, sample)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		if err := r.start(r.dirs[victim]); err != nil {
			return nil, err
		}
		if err := r.waitHops(ctx, n, 30*time.Second+r.cfg.Warmup); err != nil {
			return nil, err
		}
		r.logf("d%d added (never there before): in the route after %v", victim+1, time.Since(t0).Round(time.Millisecond))
		sleep(ctx, r.cfg.Phase)
		after := r.holders(ports)
		rep.AddedMoved = moved(before, after)
		choiceAfter, err := r.routerChoice(ctx, sample)
		if err != nil {
			return nil, err
		}
		changed := 0
		for _, p := range sample {
			if choiceBefore[p] != choiceAfter[p] {
				changed++
				if slices.Contains(ports, p) {
					rep.RouterMoved++
				}
			}
		}
		// The flows where the directors and the router's choice
		// disagree: each director holding the flow before and after,
		// and the router's next hop before and after.
		for _, p := range ports {
			dirMoved := after[p]&^before[p] != 0
			if routerMoved := choiceBefore[p] != choiceAfter[p]; dirMoved != routerMoved {
				r.logf("  flow :%d: directors %03b then %03b, router's next hop %v then %v", p, before[p], after[p], choiceBefore[p], choiceAfter[p])
			}
		}
		rep.RouterShare = float64(changed) / float64(len(sample))
		if out, err := s.Client.Run(ctx, "nstat", "-az", "TcpExtTcpDuplicateDataRehash", "TcpExtTcpTimeoutRehash"); err == nil {
			r.logf("client's TCP hash changes so far (a policy 1 router would move those flows):\n%s", strings.TrimSpace(string(out)))
		}
		r.logf("the router's own choice (ip route get): %d of the %d long-lived flows changed next hop; of %d sampled client ports, %.3f",
			rep.RouterMoved, r.cfg.Flows, len(sample), rep.RouterShare)
		onNew := 0
		for _, mask := range after {
			if mask&(1<<victim) != 0 {
				onNew++
			}
		}
		r.logf("long-lived flows that changed director: %d of %d (%.2f; 1/N = %.2f), %d of them to the new d%d", rep.AddedMoved, r.cfg.Flows,
			float64(rep.AddedMoved)/float64(r.cfg.Flows), 1/float64(n), onNew, victim+1)
	}
	rep.FlowsPerDirector = r.flowsPerDirector(ports)
	rep.OnKilled = rep.FlowsPerDirector[victim]
	r.logf("long-lived flows per director: %v", rep.FlowsPerDirector)

	r.phase.Store(1)
	t0 := time.Now()
	if err := r.takeDown(r.dirs[victim], r.cfg.Kill); err != nil {
		return nil, err
	}
	if err := r.waitHops(ctx, n-1, s.HoldTime+10*time.Second); err != nil {
		return nil, err
	}
	rep.Withdraw = time.Since(t0)
	r.logf("d%d taken down (%s): route withdrawn after %v (hold time %v)", victim+1, r.cfg.Kill, rep.Withdraw.Round(time.Millisecond), s.HoldTime)
	sleep(ctx, r.cfg.Phase)

	if r.cfg.Kill == KillSIGSTOP {
		r.kill(r.dirs[victim]) // the frozen one goes for good before its successor starts
	}
	r.phase.Store(2)
	beforeRestart := r.holders(ports)
	t0 = time.Now()
	if err := r.start(r.dirs[victim]); err != nil {
		return nil, err
	}
	if err := r.waitHops(ctx, n, 30*time.Second+r.cfg.Warmup); err != nil {
		return nil, err
	}
	rep.Readd = time.Since(t0)
	r.logf("d%d started again: route has it back after %v", victim+1, rep.Readd.Round(time.Millisecond))
	sleep(ctx, r.cfg.Phase)
	rep.Moved = moved(beforeRestart, r.holders(ports))
	r.logf("long-lived flows that changed director: %d of %d (%.2f; 1/N = %.2f)", rep.Moved, r.cfg.Flows, rep.MovedFraction(), 1/float64(n))

	r.phase.Store(3)
	close(finish)
	for range r.cfg.Flows {
		fr := <-results
		switch {
		case fr.err == nil:
			rep.Completed++
		case errors.Is(fr.err, syscall.ECONNRESET):
			rep.Reset++
			rep.ResetByPhase[fr.phase]++
			rep.FlowErrors = append(rep.FlowErrors, fr.err.Error())
		default:
			rep.Broken++
			rep.FlowErrors = append(rep.FlowErrors, fr.err.Error())
		}
	}
	stopFlows()
	<-loopDone
	rep.NewConns, rep.NewConnFails = int(newConns.Load()), int(newFails.Load())
	r.logf("long-lived downloads: %d completed (digest checked), %d reset (seen before the kill %d, after it %d, after the restart %d, at the end %d), %d broken",
		rep.Completed, rep.Reset, rep.ResetByPhase[0], rep.ResetByPhase[1], rep.ResetByPhase[2], rep.ResetByPhase[3], rep.Broken)
	r.logf("new connections: %d, failed %d (before the kill %d, after it %d, after the restart %d)", rep.NewConns, rep.NewConnFails,
		rep.NewConnFailsByPhase[0], rep.NewConnFailsByPhase[1], rep.NewConnFailsByPhase[2])
	if r.cfg.After != nil {
		var socks []string
		for _, d := range r.dirs {
			socks = append(socks, d.sock)
		}
		if err := r.cfg.After(ctx, s, socks); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// scaleFlowRate is the rate at which a long-lived download is read
// (bytes/s) until the end of the run, so that its client keeps sending
// ACKs through the directors all along.
const scaleFlowRate = 64 << 10

// flowResult is how a download ended: err nil when it completed, and
// the run's phase (0 before the kill, 1 after it, 2 after the restart,
// 3 at the end) when it failed.
type flowResult struct {
	err   error
	phase int32
}

// download reads GET /data?size=size from the VIP at scaleFlowRate until
// finish is closed, then at full speed, and checks the digest. It stores
// its local port in *port before started.Done.
func (r *scaleRun) download(ctx context.Context, size int64, port *uint16, started *sync.WaitGroup, finish <-chan struct{}) flowResult {
	fr := r.fetch(ctx, size, port, started, finish)
	if fr.err != nil {
		fr.phase = r.phase.Load()
	}
	return fr
}

func (r *scaleRun) fetch(ctx context.Context, size int64, port *uint16, started *sync.WaitGroup, finish <-chan struct{}) flowResult {
	once := sync.OnceFunc(started.Done)
	defer once()
	c, err := r.s.Client.DialContext(ctx, "tcp4", netip.AddrPortFrom(ScaleVIP, ServerPort).String())
	if err != nil {
		return flowResult{err: err}
	}
	defer c.Close()
	*port = uint16(c.LocalAddr().(*net.TCPAddr).Port)
	once()
	fmt.Fprintf(c, "GET /data?size=%d HTTP/1.1\r\nHost: %v\r\nConnection: close\r\n\r\n", size, ScaleVIP)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return flowResult{err: fmt.Errorf("flow :%d: %w", *port, err)}
	}
	defer resp.Body.Close()
	h := sha256.New()
	buf := make([]byte, scaleFlowRate/20)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var got int64
	slow := true
	for got < size {
		if slow {
			select {
			case <-finish:
				slow = false
			case <-tick.C:
			case <-ctx.Done():
				return flowResult{err: ctx.Err()}
			}
		}
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		chunk := buf
		if !slow {
			chunk = buf[:cap(buf)]
		}
		k, err := io.ReadFull(resp.Body, chunk[:min(int64(len(chunk)), size-got)])
		h.Write(chunk[:k])
		got += int64(k)
		if err != nil {
			return flowResult{err: fmt.Errorf("flow :%d from %s after %d of %d bytes: %w", *port, resp.Header.Get("X-Real-Server"), got, size, err)}
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != DataSHA256(size) {
		return flowResult{err: fmt.Errorf("flow :%d: digest %s, want %s", *port, sum, DataSHA256(size))}
	}
	return flowResult{}
}

// connLoop opens one short connection after another (GET /) until ctx
// ends, counting them and the failures by phase.
func (r *scaleRun) connLoop(ctx context.Context, total, fails *atomic.Int64, byPhase *[3]int) {
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: r.s.Client.DialContext, DisableKeepAlives: true}}
	url := fmt.Sprintf("http://%v:%d/", ScaleVIP, ServerPort)
	for ctx.Err() == nil {
		resp, err := hc.Get(url)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		if ctx.Err() != nil {
			return
		}
		total.Add(1)
		if err != nil {
			fails.Add(1)
			byPhase[min(r.phase.Load(), 2)]++
		}
		sleep(ctx, 20*time.Millisecond)
	}
}

// flowsPerDirector counts, for each director, the long-lived flows (by
// client port) in its connection table; a director that does not answer
// counts 0.
func (r *scaleRun) flowsPerDirector(ports []uint16) []int {
	out := make([]int, len(r.dirs))
	for _, mask := range r.holders(ports) {
		for k := range r.dirs {
			if mask&(1<<k) != 0 {
				out[k]++
			}
		}
	}
	return out
}

// moved counts the flows held by a director now (after) that did not
// hold them before: the flows the router moved. A director keeps the
// entry of a flow that left it until the entry expires, so holders only
// grow.
func moved(before, after map[uint16]uint32) int {
	n := 0
	for port, mask := range after {
		if mask&^before[port] != 0 {
			n++
		}
	}
	return n
}

// RouterSample is how many client ports ScaleReport.RouterShare samples.
const RouterSample = 4096

// sampleSports returns RouterSample client ports from 20000 up, with the
// flows' own ports in place of as many of them.
func sampleSports(ports []uint16) []uint16 {
	out := slices.Clone(ports)
	for p := uint16(20000); len(out) < RouterSample; p++ {
		if !slices.Contains(ports, p) {
			out = append(out, p)
		}
	}
	return out
}

// routerChoice asks the router's kernel which next hop it picks for a
// TCP segment from the client's port p to the VIP's ServerPort, arriving
// on r-c0, for each p (one `ip -batch` of `route get`, which hashes the
// 5-tuple as forwarding does with fib_multipath_hash_policy=1).
func (r *scaleRun) routerChoice(ctx context.Context, ports []uint16) (map[uint16]netip.Addr, error) {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "route get %v from %v iif r-c0 ipproto tcp sport %d dport %d\n", ScaleVIP, ScaleClientAddr, p, ServerPort)
	}
	f := filepath.Join(r.s.Dir, "route-get.batch")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	out, err := r.s.Router.Run(ctx, "ip", "-batch", f)
	if err != nil {
		return nil, err
	}
	var hops []netip.Addr
	for _, l := range strings.Split(string(out), "\n") {
		fs := strings.Fields(l)
		if i := slices.Index(fs, "via"); i >= 0 && i+1 < len(fs) && len(fs) > 0 && fs[0] == ScaleVIP.String() {
			a, err := netip.ParseAddr(fs[i+1])
			if err != nil {
				return nil, fmt.Errorf("route get: %q", l)
			}
			hops = append(hops, a)
		}
	}
	if len(hops) != len(ports) {
		return nil, fmt.Errorf("route get: %d answers for %d ports", len(hops), len(ports))
	}
	m := make(map[uint16]netip.Addr, len(ports))
	for i, p := range ports {
		m[p] = hops[i]
	}
	return m, nil
}

// holders maps each long-lived flow (by client port) to the directors
// (bit k: director k) holding it as an established connection.
func (r *scaleRun) holders(ports []uint16) map[uint16]uint32 {
	out := map[uint16]uint32{}
	for k, d := range r.dirs {
		held, err := r.cfg.Control.Established(d.sock, ScaleClientAddr)
		if err != nil {
			continue
		}
		for _, p := range held {
			if slices.Contains(ports, p) {
				out[p] |= 1 << k
			}
		}
	}
	return out
}

func (r *scaleRun) start(d *scaleDirector) error {
	logf, err := os.OpenFile(d.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// `ip netns exec` execs ulvsd: the pid is the daemon's.
	args := []string{"netns", "exec", d.ns.Name, r.cfg.Exe, "ulvsd", "-c", d.cfg}
	if r.cfg.LastByFlags && d.k == len(r.dirs)-1 {
		args = append(args, r.s.ScaleBGPFlags(d.k)...)
		if r.cfg.Warmup > 0 {
			args = append(args, "--bgp-warmup", r.cfg.Warmup.String())
		}
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start ulvsd in %s: %w", d.ns.Name, err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()
	// Ready when its control socket answers.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			b, _ := os.ReadFile(d.log)
			return fmt.Errorf("ulvsd in %s exited: %s", d.ns.Name, b)
		default:
		}
		if err := r.cfg.Control.Ping(d.sock); err == nil {
			if !r.cfg.Sync {
				return nil
			}
			if err := r.cfg.Control.StartSync(d.sock, ScaleDirectorIface); err != nil {
				return fmt.Errorf("ulvsd in %s: %w", d.ns.Name, err)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ulvsd in %s: no control socket after 15 s", d.ns.Name)
		}
	}
}

// takeDown signals d's ulvsd as mode says; with KillSIGTERM it does not
// wait for the exit (the daemon withdraws, then keeps forwarding for its
// shutdown delay).
func (r *scaleRun) takeDown(d *scaleDirector, mode string) error {
	d.mu.Lock()
	cmd := d.cmd
	d.mu.Unlock()
	sig := map[string]syscall.Signal{KillSIGKILL: syscall.SIGKILL, KillSIGSTOP: syscall.SIGSTOP, KillSIGTERM: syscall.SIGTERM}[mode]
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal ulvsd in %s: %w", d.ns.Name, err)
	}
	if mode == KillSIGKILL {
		<-d.exited
	}
	return nil
}

// kill ends d's ulvsd (continuing it first if it was stopped) and waits.
func (r *scaleRun) kill(d *scaleDirector) {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Process.Signal(syscall.SIGCONT)
	<-exited
}

// stopAll stops every director: SIGTERM, then SIGKILL after 5 s.
func (r *scaleRun) stopAll() {
	var wg sync.WaitGroup
	for _, d := range r.dirs {
		d.mu.Lock()
		cmd, exited := d.cmd, d.exited
		d.mu.Unlock()
		if cmd == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				r.kill(d)
			}
		}()
	}
	wg.Wait()
}

// waitHops waits until the router's route to the VIP has n next hops.
func (r *scaleRun) waitHops(ctx context.Context, n int, limit time.Duration) error {
	return r.s.WaitNexthops(ctx, n, limit)
}

// WaitNexthops waits until the router's route to the VIP has n next hops
// (n = 1 shows as a plain "via" route), at most limit.
func (s *Scale) WaitNexthops(ctx context.Context, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		hops, err := s.Nexthops(ctx)
		if err == nil && len(hops) == n {
			return nil
		}
		if time.Now().After(deadline) {
			out, _ := s.Birdc(ctx, "show", "protocols")
			return fmt.Errorf("route to %v: %d next hops %v after %v, want %d (err %v); BIRD:\n%s", ScaleVIP, len(hops), hops, limit, n, err, out)
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
