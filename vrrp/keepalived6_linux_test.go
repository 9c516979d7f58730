//go:build linux

package vrrp

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulvs/ulvs/lab"
)

// The IPv6 interop test: keepalived with a VRRPv3 instance over IPv6
// (native_ipv6, an IPv6 virtual_ipaddress) and a ulvs Router with the
// same instance, on a veth pair whose ends have only the link-local
// addresses fe80::1 (keepalived) and fe80::2 (ulvs).

var (
	kaLL    = netip.MustParseAddr("fe80::1")
	ulvsLL  = netip.MustParseAddr("fe80::2")
	labVIP6 = netip.MustParseAddr("2001:db8:78::100")
)

// vrrpLab6 is vrrpLab with IPv6 link-local addresses only (no automatic
// ones, no duplicate address detection: usable at once).
func vrrpLab6(t *testing.T, tag string) (ka, ul lab.NS) {
	t.Helper()
	ka, ul, run := vethPair(t, tag)
	for _, e := range []struct {
		ns     lab.NS
		ifname string
		ll     netip.Addr
	}{{ka, kaIf, kaLL}, {ul, ulvsIf, ulvsLL}} {
		run("-n", e.ns.Name, "link", "set", e.ifname, "addrgenmode", "none")
		run("-n", e.ns.Name, "addr", "add", e.ll.String()+"/64", "dev", e.ifname, "nodad")
		run("-n", e.ns.Name, "link", "set", e.ifname, "up")
	}
	waitQueues(t, ka, ul)
	return ka, ul
}

func ka6Conf(state string, prio int, adv time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id ulvs_test6\n}\n")
	fmt.Fprintf(&b, "vrrp_instance VI_6 {\n  state %s\n  interface %s\n  virtual_router_id 61\n  priority %d\n", state, kaIf, prio)
	fmt.Fprintf(&b, "  advert_int %s\n  version 3\n  native_ipv6\n", strconv.FormatFloat(adv.Seconds(), 'f', -1, 64))
	fmt.Fprintf(&b, "  virtual_ipaddress {\n    %s/64\n  }\n}\n", labVIP6)
	return b.String()
}

// TestIntegrationVRRPKeepalivedIPv6: keepalived (Debian's) and ulvs as
// VRRPv3 peers over IPv6. keepalived with the higher priority is master
// and ulvs backup, accepting its adverts (no checksum or TTL errors, the
// master seen is keepalived's link-local address); keepalived stopped,
// ulvs becomes master; keepalived back with a lower priority stays
// backup, accepting ulvs's adverts; ulvs stopped, keepalived becomes
// master on its priority-0 advert.
func TestIntegrationVRRPKeepalivedIPv6(t *testing.T) {
	skipNoKeepalived(t)
	const adv = 500 * time.Millisecond
	kaNS, ulNS := vrrpLab6(t, "v6")
	instance := func(name string, prio uint8) Instance {
		return Instance{Name: name, Interface: ulvsIf, VRID: 61, Priority: prio, Version: V3, IPv6: true, AdvertInt: adv,
			VIPs: []VIP{{Prefix: netip.PrefixFrom(labVIP6, 64)}}}
	}
	down := func(prio int) time.Duration { return 3*adv + time.Duration(256-prio)*adv/256 }

	// 1. keepalived (150) master, ulvs (100) backup.
	k := startKeepalivedConf(t, kaNS, ka6Conf("MASTER", 150, adv))
	k.mustWait("(VI_6) Entering MASTER STATE", 0, startup)
	u := startULVS(t, ulNS, instance("U1", 100))
	u.waitState(StateBackup, time.Second)
	u.noTransition(down(100) + adv)
	st := u.r.Status()
	if st.MasterAddr != kaLL || st.MasterPriority != 150 || st.Counters.AdvertsReceived == 0 {
		t.Errorf("ulvs sees master %v prio %d after %d adverts; log:\n%s", st.MasterAddr, st.MasterPriority, st.Counters.AdvertsReceived, u.log.String())
	}
	if st.Counters.Errors != ([NumReasons]uint64{}) {
		t.Errorf("ulvs refused keepalived's adverts: %v; log:\n%s", st.Counters.Errors, u.log.String())
	}
	// What the transport reported of keepalived's last advert: to
	// ff02::12 from its link-local address, hop limit 255, a valid
	// checksum over the IPv6 pseudo-header, the VIP inside.
	u.tap.mu.Lock()
	last := append([]byte(nil), u.tap.lastPkt[kaLL]...)
	u.tap.mu.Unlock()
	p, err := ParseIPv6(last)
	if err != nil {
		t.Fatalf("keepalived's advert as received: %v (%x)", err, last)
	}
	a, err := Parse6(p.Payload)
	t.Logf("keepalived's advert: %x", p.Payload)
	if err != nil || p.Dst != MulticastGroup6() || p.TTL != TTL || !VerifyChecksum(p.Payload, V3, p.Src, p.Dst) ||
		len(a.Addrs) != 1 || a.Addrs[0] != labVIP6 || a.VRID != 61 || a.Interval != 50 {
		t.Errorf("keepalived's advert: %+v to %v hop limit %d: %v", a, p.Dst, p.TTL, err)
	}

	// 2. keepalived stops (SIGTERM, priority 0): ulvs master.
	k.stop(syscall.SIGTERM)
	tr := u.waitState(StateMaster, down(100)+time.Second)
	if !strings.Contains(tr.Reason, "master down timer") {
		t.Errorf("reason %q", tr.Reason)
	}

	// 3. keepalived returns with priority 50: it hears ulvs (100) and
	// stays backup.
	k = startKeepalivedConf(t, kaNS, ka6Conf("BACKUP", 50, adv))
	k.mustWait("(VI_6) Entering BACKUP STATE", 0, startup)
	if _, ok := k.wait("Entering MASTER STATE", 0, down(50)+2*adv); ok {
		t.Fatalf("keepalived became MASTER beside ulvs (100); log:\n%s", k.log())
	}
	for _, bad := range []string{"checksum", "invalid", "ttl", "TTL"} {
		if strings.Contains(k.log(), bad) {
			t.Errorf("keepalived logged %q about ulvs's adverts; log:\n%s", bad, k.log())
		}
	}
	if st := u.r.Status(); st.State != StateMaster || st.Counters.AdvertsSent == 0 {
		t.Errorf("ulvs %v, %d adverts sent", st.State, st.Counters.AdvertsSent)
	}
	t.Logf("keepalived (50) beside ulvs (100):\n%s", k.log())

	// 4. ulvs stops: keepalived master.
	m := k.mark()
	u.stop()
	k.mustWait("(VI_6) Entering MASTER STATE", m, down(50)+time.Second)
	k.stop(syscall.SIGTERM)
}

// TestIntegrationVRRPKeepalivedIPv6Unicast: keepalived and ulvs as
// VRRPv3 peers over IPv6 with unicast_peer (and check_unicast_src on both
// sides), once with global unicast_src_ip addresses and once with the
// default source, the interface's link-local address, and link-local
// peers. ulvs master (150): keepalived (100) accepts its unicast adverts
// and stays BACKUP; ulvs stops: keepalived takes over on the priority-0
// advert; ulvs (50) returns as backup and accepts keepalived's unicast
// adverts (to its own address, a valid checksum over that destination);
// keepalived stops: ulvs takes over.
func TestIntegrationVRRPKeepalivedIPv6Unicast(t *testing.T) {
	skipNoKeepalived(t)
	for _, tc := range []struct {
		name          string
		ka, ul        netip.Addr // each side's advert source
		unicastSrcIPs bool
	}{
		{"global", netip.MustParseAddr("2001:db8:78::1"), netip.MustParseAddr("2001:db8:78::2"), true},
		{"link-local", kaLL, ulvsLL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			unicast6(t, tc.ka, tc.ul, tc.unicastSrcIPs)
		})
	}
}

func unicast6(t *testing.T, kaSrc, ulSrc netip.Addr, setSrc bool) {
	const adv = 500 * time.Millisecond
	tag := "u6l"
	if setSrc {
		tag = "u6g"
	}
	kaNS, ulNS := vrrpLab6(t, tag)
	if setSrc {
		for _, e := range []struct {
			ns     lab.NS
			ifname string
			a      netip.Addr
		}{{kaNS, kaIf, kaSrc}, {ulNS, ulvsIf, ulSrc}} {
			if out, err := exec.Command("ip", "-n", e.ns.Name, "addr", "add", e.a.String()+"/64", "dev", e.ifname, "nodad").CombinedOutput(); err != nil {
				t.Fatalf("ip addr add: %v: %s", err, out)
			}
		}
	}
	instance := func(name string, prio uint8) Instance {
		in := Instance{Name: name, Interface: ulvsIf, VRID: 61, Priority: prio, Version: V3, IPv6: true, AdvertInt: adv,
			VIPs: []VIP{{Prefix: netip.PrefixFrom(labVIP6, 64)}}, UnicastPeers: []netip.Addr{kaSrc}, CheckUnicastSrc: true}
		if setSrc {
			in.UnicastSrc = ulSrc
		}
		return in
	}
	conf := func(state string, prio int) string {
		c := ka6Conf(state, prio, adv)
		uc := fmt.Sprintf("  check_unicast_src\n  unicast_peer {\n    %s\n  }\n", ulSrc)
		if setSrc {
			uc = fmt.Sprintf("  unicast_src_ip %s\n", kaSrc) + uc
		}
		return strings.Replace(c, "  virtual_ipaddress {", uc+"  virtual_ipaddress {", 1)
	}
	down := func(prio int) time.Duration { return 3*adv + time.Duration(256-prio)*adv/256 }

	// 1. ulvs master (150), keepalived backup (100).
	u := startULVS(t, ulNS, instance("U1", 150))
	u.waitState(StateMaster, down(150)+time.Second)
	k := startKeepalivedConf(t, kaNS, conf("BACKUP", 100))
	k.mustWait("(VI_6) Entering BACKUP STATE", 0, startup)
	if _, ok := k.wait("Entering MASTER STATE", 0, down(100)+2*adv); ok {
		t.Fatalf("keepalived became MASTER beside ulvs (150); log:\n%s", k.log())
	}
	for _, bad := range []string{"checksum", "invalid", "unicast source", "not a unicast peer", "Expected"} {
		if strings.Contains(k.log(), bad) {
			t.Errorf("keepalived logged %q about ulvs's unicast adverts; log:\n%s", bad, k.log())
		}
	}

	// 2. ulvs stops: keepalived master on the priority-0 advert.
	m := k.mark()
	u.stop()
	k.mustWait("(VI_6) Entering MASTER STATE", m, adv+time.Second)

	// 3. ulvs (50) returns as backup and follows keepalived.
	u = startULVS(t, ulNS, instance("U2", 50))
	u.waitState(StateBackup, time.Second)
	u.noTransition(down(50) + adv)
	st := u.r.Status()
	if st.MasterAddr != kaSrc || st.MasterPriority != 100 || st.Counters.AdvertsReceived == 0 || st.Counters.Errors != ([NumReasons]uint64{}) {
		t.Errorf("ulvs sees master %v prio %d after %d adverts, errors %v; log:\n%s", st.MasterAddr, st.MasterPriority,
			st.Counters.AdvertsReceived, st.Counters.Errors, u.log.String())
	}
	u.tap.mu.Lock()
	last := append([]byte(nil), u.tap.lastPkt[kaSrc]...)
	u.tap.mu.Unlock()
	p, err := ParseIPv6(last)
	if err != nil {
		t.Fatalf("keepalived's advert as received: %v (%x)", err, last)
	}
	if a, err := Parse6(p.Payload); err != nil || p.Dst != ulSrc || p.Src != kaSrc || !VerifyChecksum(p.Payload, V3, p.Src, p.Dst) || a.Priority != 100 {
		t.Errorf("keepalived's unicast advert %v -> %v: %+v %v", p.Src, p.Dst, a, err)
	}

	// 4. keepalived stops: ulvs master.
	k.stop(syscall.SIGTERM)
	u.waitState(StateMaster, adv+time.Second)
	u.stop()
}
