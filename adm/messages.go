package adm

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
)

// Every text ulvsadm shows users lives in this file. Unless marked as a
// ulvs addition, each is ipvsadm 1.31's, byte for byte: ipvsadm.c
// (usage_exit, version, tryhelp_exit, main, print_title, print_service_entry,
// print_conn, list_conn, list_all, list_timeout) and libipvs.c
// (ipvs_strerror).

// Exit statuses, as ipvsadm's.
const (
	exitOK      = 0
	exitList    = 1   // listing failures: exit(1)
	exitFail    = 2   // fail(2, ...): bad arguments, no IPVS
	exitCommand = 255 // process_options returned -1: a command failed
)

// ipvsadmVersion is the ipvsadm release whose behaviour ulvsadm follows.
const ipvsadmVersion = "v1.31 2019/12/24"

// peList is the PE_LIST of ipvsadm's Makefile, shown in the usage text.
const peList = "sip"

// schedulerList is the usage text's list of schedulers: every scheduler
// ulvs has. ipvsadm 1.31 prints its Makefile's SCHEDULERS,
// rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh; ulvs addition: twos (the
// kernel's ip_vs_twos.c, Linux 6.2, newer than ipvsadm 1.31) ends the list.
func schedulerList() string { return strings.Join(config.Schedulers(), "|") }

// versionLine is ipvsadm's version(); ulvs addition: it names ulvsadm and
// says what it is compatible with instead of how it was compiled.
func versionLine(name string) string {
	return fmt.Sprintf("%s %s (ulvs, ipvsadm-compatible, IPVS v%s)\n", name, ipvsadmVersion, ctl.IPVSVersion)
}

// ulvs addition: -R parses all of stdin before applying any of it, and
// names every bad line (ipvsadm prints the bare parse message of the first
// bad line, after applying the lines before it).
const (
	msgRestoreLine    = "%s -R: line %d: %q: %s\n"                 // program, line number, the line, the parse error
	msgRestoreNothing = "%s -R: %d bad line(s), nothing applied\n" // program, how many
)

// msgOutputFailed is a ulvs addition: writing stdout failed (a full disk
// under `ulvsadm -S > rules`); the exit status is then 1.
const msgOutputFailed = "%s: writing standard output: %v\n" // program, error

// tryHelpLine is tryhelp_exit's message.
func tryHelpLine(prog string) string {
	return fmt.Sprintf("Try `%s -h' or '%s --help' for more information.\n", prog, prog)
}

// usage is usage_exit's text after the version line.
func usage(prog string) string {
	var b strings.Builder
	p := func(format string) { fmt.Fprintf(&b, format, prog) }
	b.WriteString("Usage:\n")
	p("  %s -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n")
	p("  %s -D virtual-service\n")
	p("  %s -C\n")
	p("  %s -R\n")
	p("  %s -S [-n]\n")
	p("  %s -a|e virtual-service -r server-address [options]\n")
	p("  %s -d virtual-service -r server-address\n")
	p("  %s -L|l [virtual-service] [options]\n")
	p("  %s -Z [virtual-service]\n")
	p("  %s --set tcp tcpfin udp\n")
	p("  %s --start-daemon {master|backup} [daemon-options]\n")
	p("  %s --stop-daemon {master|backup}\n")
	p("  %s -h\n\n")
	b.WriteString("Commands:\n" +
		"Either long or short options are allowed.\n" +
		"  --add-service     -A        add virtual service with options\n" +
		"  --edit-service    -E        edit virtual service with options\n" +
		"  --delete-service  -D        delete virtual service\n" +
		"  --clear           -C        clear the whole table\n" +
		"  --restore         -R        restore rules from stdin\n" +
		"  --save            -S        save rules to stdout\n" +
		"  --add-server      -a        add real server with options\n" +
		"  --edit-server     -e        edit real server with options\n" +
		"  --delete-server   -d        delete real server\n" +
		"  --list            -L|-l     list the table\n" +
		"  --zero            -Z        zero counters in a service or all services\n" +
		"  --set tcp tcpfin udp        set connection timeout values\n" +
		"  --start-daemon              start connection sync daemon\n" +
		"  --stop-daemon               stop connection sync daemon\n" +
		"  --help            -h        display this help message\n\n")
	b.WriteString("virtual-service:\n" +
		"  --tcp-service|-t  service-address   service-address is host[:port]\n" +
		"  --udp-service|-u  service-address   service-address is host[:port]\n" +
		"  --sctp-service    service-address   service-address is host[:port]\n" +
		"  --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n" +
		"\n")
	fmt.Fprintf(&b, "Options:\n"+
		"  --ipv6         -6                   fwmark entry uses IPv6\n"+
		"  --scheduler    -s scheduler         one of "+schedulerList()+",\n"+
		"                                      the default scheduler is %s.\n"+
		"  --pe            engine              alternate persistence engine may be "+peList+",\n"+
		"                                      not set by default.\n"+
		"  --persistent   -p [timeout]         persistent service\n"+
		"  --netmask      -M netmask           persistent granularity mask\n"+
		"  --real-server  -r server-address    server-address is host (and port)\n"+
		"  --gatewaying   -g                   gatewaying (direct routing) (default)\n"+
		"  --ipip         -i                   ipip encapsulation (tunneling)\n"+
		"  --masquerading -m                   masquerading (NAT)\n"+
		"  --tun-type      type                one of ipip|gue|gre,\n"+
		"                                      the default tunnel type is %s.\n"+
		"  --tun-port      port                tunnel destination port\n"+
		"  --tun-nocsum                        tunnel encapsulation without checksum\n"+
		"  --tun-csum                          tunnel encapsulation with checksum\n"+
		"  --tun-remcsum                       tunnel encapsulation with remote checksum\n"+
		"  --weight       -w weight            capacity of real server\n"+
		"  --u-threshold  -x uthreshold        upper threshold of connections\n"+
		"  --l-threshold  -y lthreshold        lower threshold of connections\n"+
		"  --connection   -c                   output of current IPVS connections\n"+
		"  --timeout                           output of timeout (tcp tcpfin udp)\n"+
		"  --daemon                            output of daemon information\n"+
		"  --stats                             output of statistics information\n"+
		"  --rate                              output of rate information\n"+
		"  --exact                             expand numbers (display exact values)\n"+
		"  --thresholds                        output of thresholds information\n"+
		"  --persistent-conn                   output of persistent connection info\n"+
		"  --tun-info                          output of tunnel information\n"+
		"  --nosort                            disable sorting output of service/server entries\n"+
		"  --sort                              does nothing, for backwards compatibility\n"+
		"  --ops          -o                   one-packet scheduling\n"+
		"  --numeric      -n                   numeric output of addresses and ports\n"+
		"  --sched-flags  -b flags             scheduler flags (comma-separated)\n",
		config.DefaultScheduler, config.TunnelIPIP)
	b.WriteString("Daemon Options:\n" +
		"  --syncid sid                        syncid for connection sync (default=255)\n" +
		"  --sync-maxlen length                Max sync message length (default=1472)\n" +
		"  --mcast-interface interface         multicast interface for connection sync\n" +
		"  --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n" +
		"  --mcast-port port                   UDP port (default=8848)\n" +
		"  --mcast-ttl ttl                     Multicast TTL (default=1)\n")
	// ulvs addition.
	b.WriteString("ulvs Options:\n" +
		"  --socket path                       ulvsd control socket (default=" + ctl.DefaultSocket + ",\n" +
		"                                      or $" + ctl.EnvSocket + ")\n" +
		"  --json                              listings (-L, -c, --timeout) as JSON\n" +
		"  --save-config [file]                ulvsd writes the live rules to its TOML file\n" +
		"                                      (-c), or to file\n" +
		"  --fullnat                           FULLNAT forwarding (with -a/-e)\n" +
		"  --laddr address[,address...]        FULLNAT local addresses (with -A/-E)\n" +
		"  --synproxy                          answer SYNs with SYN cookies, open the real\n" +
		"                                      server's side after the ACK (with -A/-E;\n" +
		"                                      TCP, NAT and FULLNAT only)\n")
	return b.String()
}

// initFailure is main()'s message when ipvs_init fails; the second line is
// a ulvs addition pointing at the daemon instead of the kernel module.
func initFailure(w io.Writer, reason, socket string) {
	fmt.Fprintf(w, "Can't initialize ipvs: %s\n"+
		"Are you sure that ulvsd is running and listening on %s?\n"+
		"(choose the socket with --socket PATH or the %s environment variable)\n",
		reason, socket, ctl.EnvSocket)
}

// Messages of ipvs_strerror, by the command that failed.
const (
	msgServiceExists  = "Service already exists"
	msgSchedNotFound  = "Scheduler or persistence engine not found"
	msgNoSuchService  = "No such service"
	msgServiceUndef   = "Service not defined"
	msgDestExists     = "Destination already exists"
	msgNoSuchDest     = "No such destination"
	msgDaemonRunning  = "Daemon has already run"
	msgNoDaemon       = "No daemon is running"
	msgPermission     = "Permission denied (you must be root)"
	msgInvalid        = "Invalid operation.  Possibly wrong module version, address not unicast, ..."
	msgNoProto        = "Protocol not available"
	msgAddrFamily     = "Operation not supported with specified address family"
	msgRange          = "Numerical result out of range" // strerror(ERANGE)
	msgNoSuchProcess  = "No such process"               // strerror(ESRCH)
	msgNotSupported   = "Operation not supported"       // strerror(EOPNOTSUPP), as ipvsadm prints a kernel refusal it has no text for
	msgNoSuchFile     = "No such file or directory"
	msgConnRefused    = "Connection refused"
	msgAccessDenied   = "Permission denied"
	msgConnTimeout    = "Connection timed out"
	msgExistsInternal = "File exists" // strerror(EEXIST)

	// msgSynProxyMethod is ulvs's: a DR or TUN real server for a
	// --synproxy service, or --synproxy for a service that has one.
	msgSynProxyMethod = "SYN proxy needs masquerading (NAT) or FULLNAT real servers"
)

// strerror returns ipvsadm's message for err from the command op, as
// ipvs_strerror maps (function, errno) pairs, falling back to strerror.
func strerror(op config.Op, err error) string {
	switch {
	case errors.Is(err, config.ErrServiceExists):
		if op == config.OpAddService {
			return msgServiceExists
		}
		return msgExistsInternal
	case errors.Is(err, config.ErrSchedulerNotFound):
		return msgSchedNotFound
	case errors.Is(err, config.ErrNoService):
		switch op {
		case config.OpAddDest, config.OpEditDest, config.OpDelDest:
			return msgServiceUndef
		case config.OpEditService, config.OpDelService, config.OpZero, config.OpList:
			return msgNoSuchService
		}
		return msgNoSuchProcess
	case errors.Is(err, config.ErrDestExists):
		return msgDestExists
	case errors.Is(err, config.ErrNoDest):
		return msgNoSuchDest
	case errors.Is(err, config.ErrNoDaemon):
		return msgNoDaemon
	case errors.Is(err, config.ErrDaemonRunning):
		return msgDaemonRunning
	case errors.Is(err, ctl.ErrPermission):
		return msgPermission
	case errors.Is(err, config.ErrInvalid):
		return msgInvalid
	case errors.Is(err, config.ErrProtocol):
		return msgNoProto
	case errors.Is(err, config.ErrAddrFamily):
		return msgAddrFamily
	case errors.Is(err, config.ErrRange):
		return msgRange
	case errors.Is(err, config.ErrIPv6NotYet):
		// ulvs's: say what is missing, not only "Operation not supported".
		var re *ctl.RemoteError
		if errors.As(err, &re) {
			return re.Message
		}
		return err.Error()
	case errors.Is(err, config.ErrNotSupported):
		return msgNotSupported
	case errors.Is(err, config.ErrSynProxyMethod):
		return msgSynProxyMethod
	}
	return sysMessage(err)
}

// sysMessage renders a transport error the way strerror would.
func sysMessage(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "no such file or directory"):
		return msgNoSuchFile
	case strings.Contains(s, "connection refused"):
		return msgConnRefused
	case strings.Contains(s, "permission denied"):
		return msgAccessDenied
	case strings.Contains(s, "i/o timeout"):
		return msgConnTimeout
	}
	return s
}

// ulvs additions: messages of --json and --save-config.
const (
	msgJSONListOnly     = "--json applies to listings only (-L/-l, with -c, --timeout, ...)"
	msgSaveConfigAlone  = "--save-config takes only a file name (and --socket)"
	msgSaveConfigFailed = "Can't save the configuration: %s\n"
)

// Listing texts (print_title, list_all, list_conn, list_timeout).
const (
	fmtVersionHeader = "IP Virtual Server version %s (size=%d)\n"
	titleDefault     = "Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
	titleTunInfo = "Prot LocalAddress:Port Scheduler Flags\n" +
		"  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
	fmtTitleStats    = "%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n"
	fmtTitleColumns4 = "%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n"
	fmtTitlePersist  = "%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n"
	titleLocal       = "Prot LocalAddress:Port"

	fmtDestDefault = "  -> %-28s %-7s %-6d %-10d %-10d\n"
	fmtDestTunInfo = "  -> %-28s %-7s %-13s %-6d %-10d %-10d\n"
	fmtDestThresh  = "  -> %-28s %-10d %-10d %-10d %-10d\n"
	fmtDestPersist = "  -> %-28s %-9d %-11d %-10d %-10d\n"
	fmtDestName    = "  -> %-28s"
	fmtDestRate    = "  -> %-28s %8d %8d %8d"
	fmtServiceName = "%-33s"

	fmtConnTitle        = "IPVS connection entries\npro expire %-11s %-18s %-18s %s\n"
	fmtConnTitlePersist = "IPVS connection entries\npro expire %-11s %-18s %-18s %-18s %-16s %s\n"
	fmtConn             = "%-3s %-6s %-11s %-18s %-18s %s\n"
	fmtConnPersist      = "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n"

	fmtTimeouts = "Timeout (tcp tcpfin udp): %d %d %d\n"
	// fmtDaemon is a line of list_daemon (ipvsadm.c), which prints every
	// field the kernel fills.
	fmtDaemon = "%s sync daemon (mcast=%s, syncid=%d, maxlen=%d, group=%s, port=%d, ttl=%d)\n"

	tunInfoNA = "n/a"
)
