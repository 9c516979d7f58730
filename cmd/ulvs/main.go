// Command ulvs is the ulvs toolbox. `ulvs lab` builds the network-namespace
// lab (a client, a director and real servers on one bridge) for demos,
// teaching and tests; `ulvs lab demo` runs the seed's DR check end to end.
// The hidden commands `ulvs ulvsd` and `ulvs ulvsadm` run the daemon and the
// admin tool from the same binary, so the lab needs only this one.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/ulvs/ulvs/adm"
	"github.com/ulvs/ulvs/director"
	"github.com/ulvs/ulvs/nfmarks"
)

const usage = `Usage: ulvs COMMAND [ARGS...]

ulvs is LVS (IPVS) in user space. This is its toolbox.

Commands:
  lab      the network-namespace lab: up, down, exec, demo (ulvs help lab)
  bench    measure the director against the kernel: ulvs bench [--quick] [--json]
           [--svg FILE] ... (packets/s and HTTP, every method, in its own labs)
  stats    the director's data-path counters, drops by reason, per-worker loops
  checks   the director's health checks: servers, verdicts, last results
  marks    the iptables/nft MARK rules ulvsd reads here: used or refused, and why
  ha       the director's failover (VRRP) instances: state, priority, master
  bgp      the director's BGP announcements: status, drain, undrain
  trace    what the director decides, packet by packet: ulvs trace [FILTER]
           (tcpdump's or ipvsadm's -t/-u/-r), --json, --write FILE.pcapng
  convert  write a configuration file (keepalived.conf, ulvs.toml) as ulvs.toml:
           ulvs convert FILE [-o OUT] [-i IFACE]
  passwd   set a web console password: ulvs passwd [-role monitor] USER
  sched    print the picks a scheduler makes: ulvs sched -s wrr -r A:4 -r B:3
  realserver  prepare this host as a DR/TUN real server: up, down, status
  install  install ulvsd, ulvsadm and ulvs; --names adds ipvsadm, ipvsadm-save,
           ipvsadm-restore; --systemd and --sysv the units (ulvs install -h)
  ulvsd    run the director daemon (the same as the ulvsd binary)
  ulvsadm  run the ipvsadm-compatible admin tool (the same as ulvsadm)
  help     this text; "ulvs help lab" for the lab
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line (without the program name) and returns the
// exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "lab":
		return labMain(args[1:], stdout, stderr)
	case "bench":
		return benchMain(args[1:], stdout, stderr)
	case "stats":
		return statsMain(args[1:], stdout, stderr)
	case "marks":
		return marksMain(args[1:], stdout, stderr, nfmarks.Exec)
	case "ha":
		return haMain(args[1:], stdout, stderr)
	case "bgp":
		return bgpMain(args[1:], stdout, stderr)
	case "checks":
		return checksMain(args[1:], stdout, stderr)
	case "trace":
		return traceMain(args[1:], stdout, stderr)
	case "convert":
		return convertMain(args[1:], stdout, stderr)
	case "passwd":
		return passwdMain(args[1:], os.Stdin, stdout, stderr)
	case "sched":
		return schedMain(args[1:], stdout, stderr)
	case "realserver":
		return realserverMain(args[1:], stdout, stderr)
	case "install":
		return installMain(args[1:], stdout, stderr)
	case "ulvsd":
		return director.Main(args[1:])
	case "ulvsadm":
		return adm.Main(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[1] == "lab" {
			fmt.Fprint(stdout, labUsage)
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "ulvs: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
