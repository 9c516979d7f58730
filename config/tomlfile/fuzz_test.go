package tomlfile

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// This file holds FuzzParse and what it checks a parsed File with:
// checkFile (the invariants a valid File holds) and encodeFile (a second,
// independent writer for the round trip).

// checkFile verifies, independently of the parser, what every accepted
// File must hold.
func checkFile(f *config.File) error {
	if len(f.Interfaces) == 0 {
		return errors.New("no interfaces")
	}
	for _, name := range f.Interfaces {
		if name == "" || len(name) > 15 {
			return fmt.Errorf("interface %q", name)
		}
	}
	if f.Socket == "" || f.Workers < 0 || f.ConnTableSize < 0 {
		return fmt.Errorf("director: socket %q workers %d conn_table_size %d", f.Socket, f.Workers, f.ConnTableSize)
	}
	const maxTimeout = 86400 * 31
	if f.Timeouts.TCP > maxTimeout || f.Timeouts.TCPFin > maxTimeout || f.Timeouts.UDP > maxTimeout {
		return fmt.Errorf("timeouts %+v", f.Timeouts)
	}
	if err := checkKnobs(f.Knobs); err != nil {
		return err
	}
	for i := range f.VRRP {
		if pr := config.CheckVRRP(&f.VRRP[i]); pr != nil {
			return fmt.Errorf("vrrp_instance %s: %s: %s", f.VRRP[i].Name, pr.Key, pr.Msg)
		}
	}
	if s := f.Sync; s != nil && !slices.ContainsFunc(f.VRRP, func(in config.VRRPInstance) bool { return in.Name == s.Instance }) {
		return fmt.Errorf("sync_daemon follows %q, no such instance", s.Instance)
	}
	if err := checkBGP(f.BGP); err != nil {
		return err
	}
	marks, err := checkMarks(f.Marks)
	if err != nil {
		return err
	}
	keys := map[config.ServiceKey]bool{}
	for i := range f.Rules.Services {
		s := &f.Rules.Services[i]
		if s.FwMark != 0 {
			mk := marks[s.FwMark]
			if mk == nil || s.Proto != vs.TCP || s.Addr.IsValid() || s.Port != 0 {
				return fmt.Errorf("service %d: mark service %d (defined %v) proto %v address %v port %d",
					i, s.FwMark, mk != nil, s.Proto, s.Addr, s.Port)
			}
			if s.OnePacket && !slices.ContainsFunc(mk.Matches, func(m config.MarkMatch) bool { return m.Proto == vs.UDP }) {
				return fmt.Errorf("service %d: one-packet on mark %d without udp", i, s.FwMark)
			}
		} else {
			if s.Proto != vs.TCP && s.Proto != vs.UDP {
				return fmt.Errorf("service %d: protocol %v", i, s.Proto)
			}
			if !s.Addr.Is4() || s.Addr.IsUnspecified() || s.Addr.IsMulticast() {
				return fmt.Errorf("service %d: address %v", i, s.Addr)
			}
			if s.Port == 0 && !s.Persistent {
				return fmt.Errorf("service %d: port 0 without persistence", i)
			}
			if s.OnePacket && s.Proto != vs.UDP {
				return fmt.Errorf("service %d: one-packet on %v", i, s.Proto)
			}
		}
		if s.Persistent != (s.Timeout > 0) || s.Timeout > maxTimeout {
			return fmt.Errorf("service %d: persistent %v timeout %d", i, s.Persistent, s.Timeout)
		}
		if s.Netmask.IsValid() && (!s.Netmask.Is4() || !s.Persistent || s.Netmask == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
			return fmt.Errorf("service %d: netmask %v", i, s.Netmask)
		}
		if !slices.Contains(tomlSchedulers, s.Scheduler) {
			return fmt.Errorf("service %d: scheduler %q", i, s.Scheduler)
		}
		if s.SchedFlags != nil && len(s.SchedFlags) == 0 {
			return fmt.Errorf("service %d: empty, non-nil sched flags", i)
		}
		if keys[s.Key()] {
			return fmt.Errorf("service %d: duplicate %v", i, s.Key())
		}
		keys[s.Key()] = true
		dests := map[netip.AddrPort]bool{}
		for j, d := range s.Dests {
			ap := netip.AddrPortFrom(d.Addr, d.Port)
			if !d.Addr.Is4() || dests[ap] {
				return fmt.Errorf("service %d dest %d: address %v", i, j, ap)
			}
			dests[ap] = true
			if d.Weight < 0 || d.LThreshold > d.UThreshold || d.UThreshold > 1<<31-1 {
				return fmt.Errorf("service %d dest %d: weight %d thresholds %d/%d", i, j, d.Weight, d.LThreshold, d.UThreshold)
			}
			switch d.Method {
			case vs.Route, vs.Tunnel:
				// The port cannot change: the service's, or for a mark
				// service 0 (the packet's).
				if d.Port != s.Port {
					return fmt.Errorf("service %d dest %d: %v on port %d, service port %d", i, j, d.Method, d.Port, s.Port)
				}
			case vs.Masq, vs.FullNAT:
				if d.Port == 0 && s.Port != 0 {
					return fmt.Errorf("service %d dest %d: port 0", i, j)
				}
			default:
				return fmt.Errorf("service %d dest %d: method %v", i, j, d.Method)
			}
		}
	}
	return checkHealth(f)
}

// checkMarks verifies the marks of a File and returns them by number.
func checkMarks(marks []config.Mark) (map[uint32]*config.Mark, error) {
	byNum := make(map[uint32]*config.Mark, len(marks))
	for i := range marks {
		mk := &marks[i]
		if mk.Mark == 0 || byNum[mk.Mark] != nil || len(mk.Matches) == 0 {
			return nil, fmt.Errorf("mark %d: number %d, %d matches", i, mk.Mark, len(mk.Matches))
		}
		byNum[mk.Mark] = mk
		for j, m := range mk.Matches {
			if m.Proto != vs.TCP && m.Proto != vs.UDP {
				return nil, fmt.Errorf("mark %d match %d: protocol %v", i, j, m.Proto)
			}
			a := m.Addr.Addr()
			if !m.Addr.IsValid() || !a.Is4() || m.Addr.Bits() < 1 || m.Addr != m.Addr.Masked() || a.IsMulticast() ||
				m.Addr.Bits() == 32 && (a.IsUnspecified() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
				return nil, fmt.Errorf("mark %d match %d: address %v", i, j, m.Addr)
			}
			if m.Ports != nil && len(m.Ports) == 0 {
				return nil, fmt.Errorf("mark %d match %d: empty, non-nil ports", i, j)
			}
			for k, r := range m.Ports {
				if r.First == 0 || r.First > r.Last || k > 0 && int(r.First) <= int(m.Ports[k-1].Last)+1 {
					return nil, fmt.Errorf("mark %d match %d: ports %v not sorted, merged and above 0", i, j, m.Ports)
				}
			}
		}
	}
	return byNum, nil
}

// checkKnobs verifies the [sysctl] settings of a File.
func checkKnobs(k config.Knobs) error {
	mhSizes := []int{0, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071} // ip_vs_mh.c primes[]
	const maxExpiration = (1<<31 - 1) / 1000
	switch {
	case k.ConnReuseMode < 0 || k.ConnReuseMode > 3 || !k.ConnReuseSet && k.ConnReuseMode != 0:
		return fmt.Errorf("conn_reuse_mode %d (set %v)", k.ConnReuseMode, k.ConnReuseSet)
	case k.LBLCExpiration > maxExpiration || k.LBLCRExpiration > maxExpiration:
		return fmt.Errorf("expirations %d %d", k.LBLCExpiration, k.LBLCRExpiration)
	case !slices.Contains(mhSizes, k.MHTableSize):
		return fmt.Errorf("mh_table_size %d", k.MHTableSize)
	case k.Overhead != "" && k.Overhead != "classic" && k.Overhead != "total":
		return fmt.Errorf("overhead %q", k.Overhead)
	case min(k.DropEntry, k.DropPacket, k.SecureTCP) < 0 || max(k.DropEntry, k.DropPacket, k.SecureTCP) > 3:
		return fmt.Errorf("defence modes %d %d %d", k.DropEntry, k.DropPacket, k.SecureTCP)
	case k.AmemThresh < 0 || !k.AmemThreshSet && k.AmemThresh != 0 || k.AmDropRate < 0 || !k.AmDropRateSet && k.AmDropRate != 0:
		return fmt.Errorf("amemthresh %d (set %v), am_droprate %d (set %v)", k.AmemThresh, k.AmemThreshSet, k.AmDropRate, k.AmDropRateSet)
	}
	return nil
}

// encodeFile writes f as ulvs.toml text, every key spelled out. It is the
// test's inverse of Parse.
func encodeFile(f *config.File) string {
	var b strings.Builder
	q := strconv.Quote
	fmt.Fprintf(&b, "[director]\ninterfaces = [")
	for i, name := range f.Interfaces {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(name))
	}
	fmt.Fprintf(&b, "]\nsocket = %s\nworkers = %d\nconn_table_size = %d\n", q(f.Socket), f.Workers, f.ConnTableSize)
	if f.StateFile != "" {
		fmt.Fprintf(&b, "state_file = %s\n", q(f.StateFile))
	}
	fmt.Fprintf(&b, "[timeouts]\ntcp = %d\ntcpfin = %d\nudp = %d\n", f.Timeouts.TCP, f.Timeouts.TCPFin, f.Timeouts.UDP)
	encodeKnobs(&b, f.Knobs)
	for _, mk := range f.Marks {
		fmt.Fprintf(&b, "[[fwmark]]\nmark = %d\n", mk.Mark)
		for _, m := range mk.Matches {
			addr := m.Addr.String()
			if m.Addr.Bits() == 32 {
				addr = m.Addr.Addr().String()
			}
			fmt.Fprintf(&b, "[[fwmark.match]]\nprotocol = %s\naddress = %s\nports = [", q(strings.ToLower(m.Proto.String())), q(addr))
			for i, r := range m.Ports {
				if i > 0 {
					b.WriteString(", ")
				}
				switch {
				case r.First == r.Last:
					fmt.Fprintf(&b, "%d", r.First)
				case i%2 == 0:
					fmt.Fprintf(&b, "\"%d-%d\"", r.First, r.Last)
				default:
					fmt.Fprintf(&b, "\"%d:%d\"", r.First, r.Last) // iptables' spelling
				}
			}
			b.WriteString("]\n")
		}
	}
	methods := map[vs.Method]string{vs.Route: "dr", vs.Tunnel: "tun", vs.Masq: "nat", vs.FullNAT: "fullnat"}
	for _, s := range f.Rules.Services {
		b.WriteString("[[virtual_server]]\n")
		if s.FwMark != 0 {
			fmt.Fprintf(&b, "fwmark = %d\n", s.FwMark)
		} else {
			fmt.Fprintf(&b, "protocol = %s\naddress = %s\n", q(strings.ToLower(s.Proto.String())), q(netip.AddrPortFrom(s.Addr, s.Port).String()))
		}
		fmt.Fprintf(&b, "scheduler = %s\npersistence_timeout = %d\none_packet = %v\nsynproxy = %v\n", q(s.Scheduler), s.Timeout, s.OnePacket, s.SynProxy)
		if s.Netmask.IsValid() {
			fmt.Fprintf(&b, "persistence_netmask = %s\n", q(s.Netmask.String()))
		}
		b.WriteString("sched_flags = [")
		for i, fl := range s.SchedFlags {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(fl))
		}
		b.WriteString("]\n")
		if len(s.LocalAddrs) > 0 {
			b.WriteString("local_addresses = [")
			for i, a := range s.LocalAddrs {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(q(a.String()))
			}
			b.WriteString("]\n")
		}
		for _, d := range s.Dests {
			fmt.Fprintf(&b, "[[virtual_server.real_server]]\naddress = %s\nweight = %d\nforward = %s\nupper_threshold = %d\nlower_threshold = %d\n",
				q(netip.AddrPortFrom(d.Addr, d.Port).String()), d.Weight, q(methods[d.Method]), d.UThreshold, d.LThreshold)
		}
	}
	return b.String()
}

// encodeKnobs writes k as a [sysctl] table, leaving out the keys whose
// zero value stands for the default.
func encodeKnobs(b *strings.Builder, k config.Knobs) {
	b01 := map[bool]int{false: 0, true: 1}
	fmt.Fprintf(b, "[sysctl]\nexpire_nodest_conn = %d\nexpire_quiescent_template = %v\nsloppy_tcp = %d\n",
		b01[k.ExpireNodestConn], k.ExpireQuiescentTemplate, b01[k.SloppyTCP])
	if k.ConnReuseSet {
		fmt.Fprintf(b, "conn_reuse_mode = %d\n", k.ConnReuseMode)
	}
	if k.LBLCExpiration != 0 {
		fmt.Fprintf(b, "lblc_expiration = %d\n", k.LBLCExpiration)
	}
	if k.LBLCRExpiration != 0 {
		fmt.Fprintf(b, "lblcr_expiration = %d\n", k.LBLCRExpiration)
	}
	if k.MHTableSize != 0 {
		fmt.Fprintf(b, "mh_table_size = %d\n", k.MHTableSize)
	}
	if k.Overhead != "" {
		fmt.Fprintf(b, "overhead = %q\n", k.Overhead)
	}
	fmt.Fprintf(b, "drop_entry = %d\ndrop_packet = %d\nsecure_tcp = %d\n", k.DropEntry, k.DropPacket, k.SecureTCP)
	if k.AmemThreshSet {
		fmt.Fprintf(b, "amemthresh = %d\n", k.AmemThresh)
	}
	if k.AmDropRateSet {
		fmt.Fprintf(b, "am_droprate = %d\n", k.AmDropRate)
	}
	for _, sc := range k.Sync {
		v := sc.Value
		if sc.Name == "sync_threshold" {
			v = "[" + strings.ReplaceAll(v, " ", ",") + "]"
		}
		fmt.Fprintf(b, "%s = %s\n", sc.Name, v)
	}
}

// assertFileRoundTrip checks that f written out and parsed again is f.
func assertFileRoundTrip(t *testing.T, f *config.File) {
	t.Helper()
	text := encodeFile(f)
	again, err := Parse(f.Path, []byte(text))
	if err != nil {
		t.Fatalf("re-parse of the encoded file: %v\n%s", err, text)
	}
	// encodeFile does not write health checks, the failover tables nor
	// [bgp]: assertMarshalRoundTrip, health_test.go, vrrp_test.go and
	// bgp_test.go cover them.
	if diff := cmp.Diff(f, again, fileCmpAddr, cmpopts.IgnoreFields(config.File{}, "Health", "VRRP", "VRRPSyncGroups", "Sync", "BGP")); diff != "" {
		t.Errorf("encode/parse round trip mismatch (-want +got):\n%s\n%s", diff, text)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	seeds = append(seeds, "../../examples/ulvs.toml", "../../examples/ftp.toml", "../../examples/health.toml")
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(fileHead + "[[virtual_server]]\naddress = \"10.0.0.1:80\"\nreal_server = [{address = \"10.1.0.1\"}]\n"))
	f.Add([]byte("virtual_server = [{ address = \"1.2.3.4:5\", real_server = [{}] }]\n"))
	f.Add([]byte(fileHead + "[[vrrp_instance]]\nname = \"A\"\ninterface = \"eth0\"\nvirtual_router_id = 1\nuse_vmac = true\n" +
		"[[vrrp_instance]]\nname = \"B\"\ninterface = \"eth0\"\nvirtual_router_id = 2\nuse_vmac = true\nvmac_xmit_base = true\n" +
		"[[vrrp_sync_group]]\nname = \"G\"\ngroup = [\"A\", \"B\"]\nnotify = \"/bin/n\"\n"))
	f.Add([]byte(fileHead + "[[vrrp_instance]]\nname = \"V6\"\ninterface = \"eth0\"\nvirtual_router_id = 61\nversion = 3\nnative_ipv6 = true\n" +
		"unicast_src_ip = \"2001:db8::1\"\nunicast_peer = [\"2001:db8::2\", \"fe80::3\"]\ncheck_unicast_src = true\nuse_vmac = true\n"))
	for _, tt := range bgpParseTests {
		f.Add([]byte(fileHead + tt.text))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.toml", data)
		if err != nil {
			var fe *config.Error
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, want *Error: %v", err, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is more than one line: %q", err.Error())
			}
			if fe.Line < 0 || fe.Line > strings.Count(string(data), "\n")+1 {
				t.Fatalf("error line %d outside the file: %v", fe.Line, err)
			}
			return
		}
		if err := checkFile(file); err != nil {
			t.Fatalf("accepted an invalid file: %v\n%s", err, data)
		}
		assertFileRoundTrip(t, file)
		assertMarshalRoundTrip(t, file)
	})
}
