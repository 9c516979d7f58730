package healthcheck

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// listenerEnv makes the test binary a plain TCP listener (accept, close)
// for BenchmarkTCPCheckers, so that the server's CPU time is not counted
// as the checkers'.
const listenerEnv = "ULVS_HC_BENCH_LISTENER"

func TestMain(m *testing.M) {
	if os.Getenv(listenerEnv) != "" {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(ln.Addr())
		go acceptAndClose(ln)
		// Serve until the parent closes our stdin.
		bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startListener runs the listener in a child process and returns its
// address.
func startListener(b *testing.B) netip.AddrPort {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), listenerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	ap, err := netip.ParseAddrPort(strings.TrimSpace(line))
	if err != nil {
		b.Fatalf("listener said %q: %v", line, err)
	}
	return ap
}

// cpuTime returns this process's user and system CPU time.
func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// BenchmarkTCPCheckers runs 1,000 TCP_CHECKs at delay_loop 1 s against
// one local listener (in another process) and reports the checkers' CPU
// time per second of wall time (cpu-s/s; 0.01 = 1% of one core). Each
// iteration is one second of wall time.
func BenchmarkTCPCheckers(b *testing.B) {
	const n = 1000
	dst := startListener(b)
	env := &Env{Slots: make(chan struct{}, 128)}
	c := config.Check{Kind: config.CheckTCP, Retry: 1, DelayLoop: time.Second, DelayBeforeRetry: time.Second,
		ConnectTimeout: time.Second, Warmup: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	checkers := make([]*Checker, n)
	for i := range checkers {
		ck, err := NewChecker(c, Target{Addr: dst.Addr(), Port: dst.Port(), Proto: vs.TCP}, env, true, nil)
		if err != nil {
			b.Fatal(err)
		}
		checkers[i] = ck
		wg.Add(1)
		go func() { defer wg.Done(); ck.Run(ctx) }()
	}
	defer func() { cancel(); wg.Wait() }()
	time.Sleep(1500 * time.Millisecond) // every checker past its warmup

	user0, sys0 := cpuTime()
	wall0 := time.Now()
	b.ResetTimer()
	for range b.N {
		time.Sleep(time.Second)
	}
	b.StopTimer()
	user1, sys1 := cpuTime()
	user, sys, wall := user1-user0, sys1-sys0, time.Since(wall0)
	cpu := user + sys

	down := 0
	for _, ck := range checkers {
		if st := ck.Status(); !st.Up || !st.HasRun {
			down++
		}
	}
	if down > 0 {
		b.Errorf("%d of %d checkers are not up", down, n)
	}
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-s/s")
	b.ReportMetric(user.Seconds()/wall.Seconds(), "user-s/s")
	b.ReportMetric(sys.Seconds()/wall.Seconds(), "sys-s/s")
	b.ReportMetric(float64(cpu.Microseconds())/(wall.Seconds()*n), "cpu-µs/probe")
}
