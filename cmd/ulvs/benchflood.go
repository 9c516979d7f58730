package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ulvs/ulvs/bench"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/lab"
)

// floodResult is one packet-rate measurement: the generator's rate over
// the window, the frames it sent in all and those the real servers
// counted, and the delivered rate that makes.
type floodResult struct {
	offered, delivered float64
	sent, got          uint64
	dirCPU             float64 // ulvsd's CPU, in cores; -1 without ulvsd
	// boxCPU is the whole machine's busy CPU over the window, in cores
	// (every process and every softirq: the generator, the lab's
	// bridges, the director, the real servers); -1 when unknown.
	boxCPU  float64
	workers string // ulvsd's workers over the window
}

// loss is the fraction of the frames sent that never reached a real
// server.
func (r floodResult) loss() float64 {
	if r.sent == 0 || r.got >= r.sent {
		return 0
	}
	return 1 - float64(r.got)/float64(r.sent)
}

// flood runs trafgen in the client namespace towards p and counts what
// the client sent and what the real servers received over the middle of
// the run.
func (s *suite) flood(ctx context.Context, round int, p *suitePath, frameLen int) (floodResult, error) {
	l := p.bl.l
	// A tun lab's real servers decapsulate with a tcx program and in
	// user space (this kernel has no ipip): both see each frame before
	// the ingress drop that counts the flood, where a kernel's ipip would
	// decapsulate only after it. Held, a program that leaves every frame
	// alone stands in for the decapsulating one and the capture takes no
	// frame while the flood runs.
	if err := l.HoldDecap(true); err != nil {
		return floodResult{}, err
	}
	defer func() {
		if err := l.HoldDecap(false); err != nil {
			s.logf("%s: resuming the decapsulators: %v", p.name, err)
		}
	}()
	f := bench.UDPFlood{SrcMAC: p.bl.clientMAC, DstMAC: p.dstMAC, Src: l.ClientAddr, Dst: p.dst,
		SrcPort: floodSport, DstPort: floodPort, Flows: floodFlows, FrameLen: frameLen}
	text, err := f.TrafgenConfig()
	if err != nil {
		return floodResult{}, err
	}
	cfgPath := filepath.Join(s.dir, fmt.Sprintf("%s-%s-%d.cfg", l.Prefix, p.name, frameLen))
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		return floodResult{}, err
	}
	txA, err := txPackets(l.Client, "c-eth0")
	if err != nil {
		return floodResult{}, err
	}
	delA, err := delivered(ctx, l)
	if err != nil {
		return floodResult{}, err
	}
	args := append([]string{"netns", "exec", l.Client.Name, "trafgen"}, bench.TrafgenArgs("c-eth0", cfgPath)...)
	gen, err := startGenerator(filepath.Join(s.dir, "trafgen.log"), args)
	if err != nil {
		return floodResult{}, err
	}
	defer gen.stop()
	exited := gen.exited
	// Wait until frames flow, then let the path settle.
	start, err := txPackets(l.Client, "c-eth0")
	if err != nil {
		return floodResult{}, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := txPackets(l.Client, "c-eth0")
		if err != nil {
			return floodResult{}, err
		}
		if n > start+1000 {
			break
		}
		select {
		case <-exited:
			return floodResult{}, gen.failed()
		case <-ctx.Done():
			return floodResult{}, context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return floodResult{}, fmt.Errorf("trafgen sent nothing in 10s: %s", tail(gen.logPath))
		}
	}
	time.Sleep(300 * time.Millisecond)
	// The rate: the client's counter over the window, read in process
	// (no skew from starting a command).
	read := func() (tx uint64, cpu, box float64, t time.Time, err error) {
		tx, err = txPackets(l.Client, "c-eth0")
		t = time.Now()
		cpu, box = s.cpuTimes(p)
		return
	}
	tx0, cpu0, box0, t0, err := read()
	if err != nil {
		return floodResult{}, err
	}
	w0 := s.snapshot(p)
	var prof chan error
	if s.o.profileDir != "" && p.bl.ld != nil && round == 0 {
		prof = make(chan error, 1)
		go func() {
			prof <- s.profile(ctx, p, filepath.Join(s.o.profileDir, fmt.Sprintf("%s-%d.pprof", p.name, frameLen)))
		}()
	}
	select {
	case <-time.After(s.o.ppsDur):
	case <-ctx.Done():
		return floodResult{}, context.Cause(ctx)
	case <-exited:
		return floodResult{}, gen.failed()
	}
	tx1, cpu1, box1, t1, err := read()
	if err != nil {
		return floodResult{}, err
	}
	w1 := s.snapshot(p)
	if prof != nil {
		if err := <-prof; err != nil {
			s.logf("profile of %s: %v", p.name, err)
		}
	}
	gen.stop()
	// The loss: everything sent against everything the real servers
	// counted, once the path has drained.
	time.Sleep(200 * time.Millisecond)
	txB, err := txPackets(l.Client, "c-eth0")
	if err != nil {
		return floodResult{}, err
	}
	delB, err := delivered(ctx, l)
	if err != nil {
		return floodResult{}, err
	}
	dt := t1.Sub(t0).Seconds()
	r := floodResult{offered: float64(tx1-tx0) / dt, dirCPU: -1, boxCPU: -1, sent: txB - txA, got: delB - delA}
	r.delivered = r.offered * (1 - r.loss())
	if cpu0 >= 0 && cpu1 >= 0 {
		r.dirCPU = (cpu1 - cpu0) / dt
	}
	if box0 >= 0 && box1 >= 0 {
		r.boxCPU = (box1 - box0) / dt
	}
	r.workers = workerDeltas(workers(w0), workers(w1), dt)
	if b := blockShare(w0, w1); b != "" {
		r.workers += "; " + b
	}
	return r, nil
}

// pprofAddr is where ulvsd serves its profiler in each lab's director
// namespace (--profile).
const pprofAddr = "127.0.0.1:6060"

// profile saves a CPU profile of p's ulvsd over the packet-rate window.
func (s *suite) profile(ctx context.Context, p *suitePath, path string) error {
	c := p.bl.l.Director.HTTPClient()
	c.Timeout = s.o.ppsDur + 10*time.Second
	secs := max(1, int(s.o.ppsDur/time.Second))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", pprofAddr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, resp.Body)
	return errors.Join(err, f.Close())
}

// snapshot reads ulvsd's counters; nil without ulvsd.
func (s *suite) snapshot(p *suitePath) *ctl.Snapshot {
	if p.bl.ld == nil {
		return nil
	}
	c, err := ctl.Dial(p.bl.ld.sock)
	if err != nil {
		return nil
	}
	defer c.Close()
	snap, err := c.Snapshot()
	if err != nil {
		return nil
	}
	return &snap
}

// blockShare says how many of the frames ulvsd received between a and b
// came from its block rings (ulvsd --block-rings); "" when it has none.
func blockShare(a, b *ctl.Snapshot) string {
	if a == nil || b == nil {
		return ""
	}
	if _, ok := b.Engine["rx_block_frames"]; !ok {
		return ""
	}
	rx := b.Engine["rx_frames"] - a.Engine["rx_frames"]
	blk := b.Engine["rx_block_frames"] - a.Engine["rx_block_frames"]
	if rx == 0 {
		return "block rings 0%"
	}
	return fmt.Sprintf("block rings %.0f%%", 100*float64(blk)/float64(rx))
}

// workers is ulvsd's per-worker counters in snap; nil without it.
func workers(snap *ctl.Snapshot) []ctl.WorkerStatus {
	if snap == nil {
		return nil
	}
	return snap.Workers
}

// workerDeltas describes each worker's loop over a window of dt seconds:
// packets per second, average batch, sleeps per second and CPU.
func workerDeltas(a, b []ctl.WorkerStatus, dt float64) string {
	if len(a) != len(b) || len(a) == 0 {
		return ""
	}
	var parts []string
	for i := range a {
		pk := b[i].Packets - a[i].Packets
		bt := b[i].Batches - a[i].Batches
		avg := 0.0
		if bt > 0 {
			avg = float64(pk) / float64(bt)
		}
		parts = append(parts, fmt.Sprintf("w%d %.0fpps batch %.1f polls/s %.0f idle wins/s %.0f ring drops/s %.0f cpu %.0f%%", i, float64(pk)/dt, avg,
			float64(b[i].Polls-a[i].Polls)/dt, float64(b[i].IdleWins-a[i].IdleWins)/dt, float64(b[i].RingDrops-a[i].RingDrops)/dt,
			100*float64(b[i].CPUNanos-a[i].CPUNanos)/1e9/dt))
	}
	return strings.Join(parts, "; ")
}

// generator is a running trafgen, in its own process group (it forks
// its sending processes).
type generator struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when cmd.Wait returned
	err     error         // cmd.Wait's result, set before exited closes
	stopped bool
}

func startGenerator(logPath string, args []string) (*generator, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	g := &generator{cmd: exec.Command("ip", args...), logPath: logPath, exited: make(chan struct{})}
	g.cmd.Stdout, g.cmd.Stderr = f, f
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start trafgen: %w", err)
	}
	go func() {
		g.err = g.cmd.Wait()
		close(g.exited)
	}()
	return g, nil
}

// failed describes an early exit.
func (g *generator) failed() error {
	return fmt.Errorf("trafgen exited: %v: %s", g.err, tail(g.logPath))
}

// stop interrupts the generator's process group and waits for it, killing
// it after 5 s.
func (g *generator) stop() {
	if g.stopped {
		return
	}
	g.stopped = true
	pgid := g.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGINT)
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-g.exited
	}
	// Its forked senders may outlive the parent for a moment.
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// txPackets reads an interface's transmitted-packet counter in ns.
func txPackets(ns lab.NS, dev string) (uint64, error) {
	_, tx, err := devPackets(ns, dev)
	return tx, err
}

// devPackets reads an interface's received and transmitted packet
// counters in ns from /proc/thread-self/net/dev on a thread inside it.
func devPackets(ns lab.NS, dev string) (rx, tx uint64, err error) {
	var text []byte
	err = ns.Do(func() error {
		var err error
		text, err = os.ReadFile("/proc/thread-self/net/dev")
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	rx, tx, err = netDevCounters(text, dev)
	if err != nil {
		return 0, 0, fmt.Errorf("%s in %s: %w", dev, ns.Name, err)
	}
	return rx, tx, nil
}

// netDevCounters finds dev's received and transmitted packets in the
// text of /proc/net/dev.
func netDevCounters(text []byte, dev string) (rx, tx uint64, err error) {
	for _, line := range strings.Split(string(text), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != dev {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			break
		}
		rx, err1 := strconv.ParseUint(f[1], 10, 64)
		tx, err2 := strconv.ParseUint(f[9], 10, 64)
		if err1 != nil || err2 != nil {
			break
		}
		return rx, tx, nil
	}
	return 0, 0, fmt.Errorf("no counters in /proc/net/dev")
}

// delivered sums the real servers' flood counters.
func delivered(ctx context.Context, l *lab.Lab) (uint64, error) {
	var sum uint64
	for _, rs := range l.RS {
		out, err := rs.Run(ctx, "nft", "-j", "list", "counter", "netdev", "ulvsbench", "delivered")
		if err != nil {
			return 0, err
		}
		var doc struct {
			Nftables []struct {
				Counter *struct {
					Packets uint64 `json:"packets"`
				} `json:"counter"`
			} `json:"nftables"`
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			return 0, fmt.Errorf("nft counter in %s: %w", rs.Name, err)
		}
		found := false
		for _, o := range doc.Nftables {
			if o.Counter != nil {
				sum += o.Counter.Packets
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("nft counter in %s: none in %.200q", rs.Name, out)
		}
	}
	return sum, nil
}

// procCPU returns the user and system CPU seconds of a process, -1 when
// unknown.
// busyCPU returns the CPU seconds all CPUs spent busy since boot (the
// first line of /proc/stat: user, nice, system, irq and softirq; not
// idle, iowait or the time a hypervisor stole), or -1.
func busyCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return busyOf(line)
}

// busyOf parses /proc/stat's "cpu" line (busyCPU).
func busyOf(line string) float64 {
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	sum := 0.0
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return -1
		}
		sum += float64(v)
	}
	return sum / 100 // USER_HZ
}

// cpuTimes reads the CPU seconds ulvsd has used (-1 on a path without
// one) and the machine's busy CPU seconds (busyCPU).
func (s *suite) cpuTimes(p *suitePath) (director, box float64) {
	director = -1
	if p.bl.ld != nil {
		director = procCPU(p.bl.ld.d.cmd.Process.Pid)
	}
	return director, busyCPU()
}

func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name may hold spaces; fields count from after it.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}
