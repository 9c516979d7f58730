package adm

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/vs"
)

// Names turns addresses and ports into names for listings without -n, as
// ipvsadm's addr_to_host (gethostbyaddr) and port_to_service
// (getservbyport) do.
type Names interface {
	HostName(a netip.Addr) (string, bool)
	ServiceName(port uint16, proto vs.Protocol) (string, bool)
}

// SystemNames resolves with the Go resolver (reverse DNS, /etc/hosts) and
// /etc/services. The zero value is ready to use; safe for concurrent use.
type SystemNames struct {
	once     sync.Once
	services map[servKey]string
}

type servKey struct {
	proto string
	port  uint16
}

// HostName implements Names.
func (n *SystemNames) HostName(a netip.Addr) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err != nil || len(names) == 0 {
		return "", false
	}
	return strings.TrimSuffix(names[0], "."), true
}

// ServiceName implements Names: the first /etc/services entry for the port
// and protocol.
func (n *SystemNames) ServiceName(port uint16, proto vs.Protocol) (string, bool) {
	n.once.Do(func() {
		f, err := os.Open("/etc/services")
		if err != nil {
			return
		}
		defer f.Close()
		n.services = parseServices(f)
	})
	var p string
	switch proto {
	case vs.TCP:
		p = "tcp"
	case vs.UDP:
		p = "udp"
	case config.ProtoSCTP:
		p = "sctp"
	default:
		return "", false
	}
	name, ok := n.services[servKey{p, port}]
	return name, ok
}

// parseServices reads services(5) text: "name port/proto [aliases] [#...]".
func parseServices(r io.Reader) map[servKey]string {
	m := make(map[servKey]string)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		portStr, proto, ok := strings.Cut(f[1], "/")
		if !ok {
			continue
		}
		port, err := strconv.ParseUint(portStr, 10, 16)
		if err != nil {
			continue
		}
		k := servKey{proto, uint16(port)}
		if _, dup := m[k]; !dup {
			m[k] = f[0]
		}
	}
	return m
}

// format holds ipvsadm's FMT_* flags for one listing.
type format struct {
	config.ListOptions
	rule bool // -S
}

type lister struct {
	w     *bufio.Writer
	names Names
	f     format
}

func protoName(p vs.Protocol) string {
	switch p {
	case vs.TCP:
		return "TCP"
	case vs.UDP:
		return "UDP"
	case config.ProtoSCTP:
		return "SCTP"
	}
	return "?"
}

// addrPort is addrport_to_anyname: at most 59 bytes (its buffer is 60).
func (l *lister) addrPort(a netip.Addr, port uint16, proto vs.Protocol) string {
	var host, serv string
	if !l.f.Numeric && l.names != nil {
		if n, ok := l.names.HostName(a); ok {
			host = n
		}
		if n, ok := l.names.ServiceName(port, proto); ok {
			serv = n
		}
	}
	if host == "" {
		host = a.String()
	}
	if serv == "" {
		serv = strconv.Itoa(int(port))
	}
	s := host + ":" + serv
	if a.Is6() {
		s = "[" + host + "]:" + serv
	}
	return cut(s, 59)
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (l *lister) title() {
	f := l.f
	switch {
	case f.Stats:
		fmt.Fprintf(l.w, fmtTitleStats, titleLocal, "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	case f.Rate:
		fmt.Fprintf(l.w, fmtTitleStats, titleLocal, "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")
	case f.Thresholds:
		fmt.Fprintf(l.w, fmtTitleColumns4, titleLocal, "Uthreshold", "Lthreshold", "ActiveConn", "InActConn")
	case f.PersistConn:
		fmt.Fprintf(l.w, fmtTitlePersist, titleLocal, "Weight", "PersistConn", "ActiveConn", "InActConn")
	case f.TunInfo:
		l.w.WriteString(titleTunInfo)
	case !f.rule:
		l.w.WriteString(titleDefault)
	}
}

// largenum is print_largenum.
func (l *lister) largenum(i uint64) {
	if l.f.Exact {
		s := strconv.FormatUint(i, 10)
		width := len(s) + 1
		if len(s) <= 8 {
			width = 9
		}
		fmt.Fprintf(l.w, "%*d", width, i)
		return
	}
	switch {
	case i < 100000000:
		fmt.Fprintf(l.w, "%9d", i)
	case i < 1000000000:
		fmt.Fprintf(l.w, "%8dK", i/1000)
	case i < 100000000000:
		fmt.Fprintf(l.w, "%8dM", i/1000000)
	case i < 100000000000000:
		fmt.Fprintf(l.w, "%8dG", i/1000000000)
	default:
		fmt.Fprintf(l.w, "%8dT", i/1000000000000)
	}
}

// schedFlags is print_sched_flags: the set flags, comma-separated; for sh
// and mh only their two named flags.
func schedFlags(s *ctl.ServiceStatus) string {
	bits := config.SchedFlagBits(s.SchedFlags)
	var out []string
	switch s.Scheduler {
	case "sh", "mh":
		if bits&vs.SvcSchedFlag1 != 0 {
			out = append(out, s.Scheduler+"-fallback")
		}
		if bits&vs.SvcSchedFlag2 != 0 {
			out = append(out, s.Scheduler+"-port")
		}
	default:
		for i, b := range []vs.ServiceFlags{vs.SvcSchedFlag1, vs.SvcSchedFlag2, vs.SvcSchedFlag3} {
			if bits&b != 0 {
				out = append(out, "flag-"+strconv.Itoa(i+1))
			}
		}
	}
	return strings.Join(out, ",")
}

func fwdName(m vs.Method) string {
	return m.String() // Masq, Local, Tunnel, Route (and ulvs's FullNat)
}

func fwdSwitch(m vs.Method) string {
	switch m {
	case vs.Masq:
		return "-m"
	case vs.Tunnel:
		return "-i"
	case vs.FullNAT:
		return "--fullnat" // ulvs addition, read back by -R
	}
	return "-g"
}

// service is print_service_entry.
func (l *lister) service(s *ctl.ServiceStatus) {
	f := l.f
	w := l.w
	var name string
	if s.FwMark != 0 {
		// print_service_entry: "-f N -6" and "FWM  N IPv6" for an
		// IPv6 fwmark service.
		if f.rule {
			name = "-f " + strconv.FormatUint(uint64(s.FwMark), 10)
		} else {
			name = "FWM  " + strconv.FormatUint(uint64(s.FwMark), 10)
		}
		if s.IPv6() {
			if f.rule {
				name += " -6"
			} else {
				name += " IPv6"
			}
		}
	} else {
		vname := l.addrPort(s.Addr, s.Port, s.Proto)
		if f.rule {
			opt := "--xxx-service"
			switch s.Proto {
			case vs.TCP:
				opt = "-t"
			case vs.UDP:
				opt = "-u"
			case config.ProtoSCTP:
				opt = "--sctp-service"
			}
			name = opt + " " + vname
		} else {
			name = fmt.Sprintf("%-4s %s", protoName(s.Proto), vname)
			if !s.Addr.Is6() {
				name = cut(name, 33)
			}
		}
	}
	sched := s.Scheduler
	if sched == "" {
		sched = config.DefaultScheduler
	}
	flags := schedFlags(s)
	mask := ""
	switch {
	case s.IPv6():
		// print_service_entry: an IPv6 netmask is a prefix length,
		// printed unless 128.
		if n := config.MaskBits(s.Netmask, true); n != 128 {
			mask = strconv.Itoa(n)
		}
	case s.Netmask.IsValid() && s.Netmask != netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		mask = s.Netmask.String()
	}
	switch {
	case f.rule:
		fmt.Fprintf(w, "-A %s -s %s", name, sched)
		if s.Persistent {
			fmt.Fprintf(w, " -p %d", s.Timeout)
			if mask != "" {
				fmt.Fprintf(w, " -M %s", mask)
			}
		}
		if s.OnePacket {
			w.WriteString(" -o")
		}
		if len(s.SchedFlags) > 0 && config.SchedFlagBits(s.SchedFlags) != 0 {
			w.WriteString(" -b " + flags)
		}
		for i, a := range s.LocalAddrs { // ulvs addition: --laddr for FULLNAT
			if i == 0 {
				w.WriteString(" --laddr ")
			} else {
				w.WriteString(",")
			}
			w.WriteString(a.String())
		}
		if s.SynProxy { // ulvs addition
			w.WriteString(" --synproxy")
		}
	case f.Stats:
		fmt.Fprintf(w, fmtServiceName, name)
		st := s.Stats
		for _, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes} {
			l.largenum(v)
		}
	case f.Rate:
		fmt.Fprintf(w, fmtServiceName, name)
		st := s.Stats
		for _, v := range []uint64{st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS} {
			l.largenum(v)
		}
	default:
		fmt.Fprintf(w, "%s %s", name, sched)
		if config.SchedFlagBits(s.SchedFlags) != 0 {
			fmt.Fprintf(w, " (%s)", flags)
		}
		if s.Persistent {
			fmt.Fprintf(w, " persistent %d", s.Timeout)
			if mask != "" {
				fmt.Fprintf(w, " mask %s", mask)
			}
		}
		if s.OnePacket {
			w.WriteString(" ops")
		}
		if s.SynProxy { // ulvs addition
			w.WriteString(" synproxy")
		}
	}
	w.WriteString("\n")

	dests := s.Dests
	if !f.NoSort {
		dests = append([]ctl.DestStatus(nil), dests...)
		msort(dests, cmpDests)
	}
	for i := range dests {
		l.dest(s, &dests[i], name)
	}
}

func (l *lister) dest(s *ctl.ServiceStatus, d *ctl.DestStatus, svcName string) {
	f := l.f
	w := l.w
	dname := l.addrPort(d.Addr, d.Port, s.Proto)
	if !f.rule && !d.Addr.Is6() {
		dname = cut(dname, 28)
	}
	switch {
	case f.rule:
		fmt.Fprintf(w, "-a %s -r %s %s -w %d", svcName, dname, fwdSwitch(d.Method), d.Weight)
		if d.Method == vs.Tunnel {
			w.WriteString(" --tun-type " + config.TunnelIPIP)
		}
		w.WriteString("\n")
	case f.Stats:
		fmt.Fprintf(w, fmtDestName, dname)
		st := d.Stats
		for _, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes} {
			l.largenum(v)
		}
		w.WriteString("\n")
	case f.Rate:
		st := d.Stats
		fmt.Fprintf(w, fmtDestRate, dname, st.CPS, st.InPPS, st.OutPPS)
		l.largenum(st.InBPS)
		l.largenum(st.OutBPS)
		w.WriteString("\n")
	case f.Thresholds:
		fmt.Fprintf(w, fmtDestThresh, dname, d.UThreshold, d.LThreshold, uint32(d.ActiveConns), uint32(d.InactConns))
	case f.PersistConn:
		fmt.Fprintf(w, fmtDestPersist, dname, uint32(d.Weight), uint32(d.PersistConns), uint32(d.ActiveConns), uint32(d.InactConns))
	case f.TunInfo:
		ti := tunInfoNA
		if d.Method == vs.Tunnel {
			ti = config.TunnelIPIP
		}
		fmt.Fprintf(w, fmtDestTunInfo, dname, fwdName(d.Method), ti, d.Weight, uint32(d.ActiveConns), uint32(d.InactConns))
	default:
		fmt.Fprintf(w, fmtDestDefault, dname, fwdName(d.Method), d.Weight, uint32(d.ActiveConns), uint32(d.InactConns))
	}
}

// listAll is list_all: the version line (not for -S), the title, every
// service sorted unless --nosort.
func (l *lister) listAll(snap *ctl.Snapshot) {
	if !l.f.rule {
		info := snap.Info()
		fmt.Fprintf(l.w, fmtVersionHeader, info.Version, info.ConnTableSize)
	}
	svcs := snap.Services
	if !l.f.NoSort {
		svcs = append([]ctl.ServiceStatus(nil), svcs...)
		msort(svcs, cmpServices)
	}
	l.title()
	for i := range svcs {
		l.service(&svcs[i])
	}
}

// conns is list_conn.
func (l *lister) conns(conns []ctl.ConnStatus) {
	persist := l.f.PersistConn
	if persist {
		fmt.Fprintf(l.w, fmtConnTitlePersist, "state", "source", "virtual", "destination", "pe name", "pe_data")
	} else {
		fmt.Fprintf(l.w, fmtConnTitle, "state", "source", "virtual", "destination")
	}
	for _, c := range conns {
		proto := "IP"
		if c.Proto != 0 {
			proto = protoName(c.Proto)
		}
		cname := l.addrPort(c.Client.Addr(), c.Client.Port(), c.Proto)
		vname := l.addrPort(c.Virtual.Addr(), c.Virtual.Port(), c.Proto)
		dname := l.addrPort(c.Dest.Addr(), c.Dest.Port(), c.Proto)
		expire := fmt.Sprintf("%02d:%02d", c.Expires/60, c.Expires%60)
		state := c.State
		if state == "" {
			state = "NONE"
		}
		if persist && c.PEName != "" {
			fmt.Fprintf(l.w, fmtConnPersist, proto, expire, state, cname, vname, dname, c.PEName, c.PEData)
		} else {
			fmt.Fprintf(l.w, fmtConn, proto, expire, state, cname, vname, dname)
		}
	}
}

// cmpServices is libipvs's ipvs_cmp_services: fwmark, family, protocol,
// address, port, with its C int arithmetic (differences wrap).
func cmpServices(a, b *ctl.ServiceStatus) int {
	if r := int32(a.FwMark - b.FwMark); r != 0 {
		return int(r)
	}
	if r := family(a.Addr, a.FwMark) - family(b.Addr, b.FwMark); r != 0 {
		return r
	}
	if r := int(a.Proto) - int(b.Proto); r != 0 {
		return r
	}
	if r := cmpAddr(a.Addr, b.Addr); r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

// cmpDests is ipvs_cmp_dests: address, then port.
func cmpDests(a, b *ctl.DestStatus) int {
	r := 0
	if a.Addr.Is4() == b.Addr.Is4() {
		r = cmpAddr(a.Addr, b.Addr)
	} else {
		r = cmpMixed(a.Addr, b.Addr)
	}
	if r != 0 {
		return r
	}
	return int(a.Port) - int(b.Port)
}

// cmpMixed compares an IPv4 and an IPv6 real server of one service (a
// tunnel across families) as ipvs_cmp_dests reads its union
// nf_inet_addr: an IPv4 address is the first 32-bit word, the others 0;
// an IPv6 first entry compares all four words, an IPv4 one the first
// only, each difference a wrapping C int.
func cmpMixed(a, b netip.Addr) int {
	words := func(x netip.Addr) (w [4]uint32) {
		if x.Is4() {
			v := x.As4()
			w[0] = uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
			return w
		}
		v := x.As16()
		for i := range w {
			w[i] = uint32(v[4*i])<<24 | uint32(v[4*i+1])<<16 | uint32(v[4*i+2])<<8 | uint32(v[4*i+3])
		}
		return w
	}
	x, y := words(a), words(b)
	n := 1
	if a.Is6() {
		n = 4
	}
	for i := range n {
		if r := int32(x[i] - y[i]); r != 0 {
			return int(r)
		}
	}
	return 0
}

func family(a netip.Addr, fwmark uint32) int {
	if a.Is6() {
		return 10 // AF_INET6
	}
	return 2 // AF_INET
}

// cmpAddr compares addresses 32 bits at a time as ntohl(x) - ntohl(y) in a
// C int: a difference over 2^31 wraps, as in libipvs.
func cmpAddr(a, b netip.Addr) int {
	x, y := a.As16(), b.As16()
	words := 4
	start := 0
	if a.Is4() || b.Is4() {
		start = 3
		words = 1
		if !a.IsValid() {
			x = [16]byte{}
		}
		if !b.IsValid() {
			y = [16]byte{}
		}
	}
	for i := start; i < start+words; i++ {
		xv := uint32(x[4*i])<<24 | uint32(x[4*i+1])<<16 | uint32(x[4*i+2])<<8 | uint32(x[4*i+3])
		yv := uint32(y[4*i])<<24 | uint32(y[4*i+1])<<16 | uint32(y[4*i+2])<<8 | uint32(y[4*i+3])
		if r := int32(xv - yv); r != 0 {
			return int(r)
		}
	}
	return 0
}

// msort sorts s as glibc's qsort does for small arrays (msort_with_tmp, a
// top-down merge sort that keeps the left element on ties), so that even
// libipvs's wrapping comparators order entries as ipvsadm prints them.
func msort[T any](s []T, cmp func(a, b *T) int) {
	if len(s) < 2 {
		return
	}
	tmp := make([]T, len(s))
	msortRec(s, tmp, cmp)
}

func msortRec[T any](s, tmp []T, cmp func(a, b *T) int) {
	n := len(s)
	if n <= 1 {
		return
	}
	n1 := n / 2
	b1, b2 := s[:n1], s[n1:]
	msortRec(b1, tmp, cmp)
	msortRec(b2, tmp, cmp)
	i, j, k := 0, 0, 0
	for i < len(b1) && j < len(b2) {
		if cmp(&b1[i], &b2[j]) <= 0 {
			tmp[k] = b1[i]
			i++
		} else {
			tmp[k] = b2[j]
			j++
		}
		k++
	}
	k += copy(tmp[k:], b1[i:])
	copy(s, tmp[:k])
}

// List writes snap as `ulvsadm -L` with opts prints it (opts.Numeric: -n;
// names are not looked up in any case), for other front ends of the daemon
// such as the web console. It returns the first write error.
func List(w io.Writer, snap *ctl.Snapshot, opts config.ListOptions) error {
	opts.Numeric = true
	bw := bufio.NewWriter(w)
	l := &lister{w: bw, f: format{ListOptions: opts}}
	l.listAll(snap)
	return bw.Flush()
}

// ListConns writes conns as `ulvsadm -L -n -c` prints them.
func ListConns(w io.Writer, conns []ctl.ConnStatus) error {
	bw := bufio.NewWriter(w)
	l := &lister{w: bw, f: format{ListOptions: config.ListOptions{Numeric: true, Conn: true}}}
	l.conns(conns)
	return bw.Flush()
}
