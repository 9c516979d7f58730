package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"

	"github.com/ulvs/ulvs/config/lvsdr"
	"github.com/ulvs/ulvs/realserver"
	"github.com/ulvs/ulvs/vs"
)

// rsFromConf fills cfg from the real-server part of an LVS configure-script
// file, as the rc.lvs_* script the configure script wrote did when it ran
// on a real server (the LVS-HOWTO's "Configure tools"): the VIP on
// SERVER_VIP_DEVICE that does not answer ARP (the script used the 2.2/2.4
// kernels' "hidden" flag; arp_ignore=1 and arp_announce=2 are today's
// equivalent), the default route through SERVER_GW on SERVER_NET_DEVICE,
// and for VS_NAT the director's inside address as the gateway.
func rsFromConf(cfg *realserver.Config, path string, stderr io.Writer) error {
	c, err := lvsdr.Load(path)
	if err != nil {
		return err
	}
	rs := c.RealServer
	switch rs.Method {
	case vs.Route:
		cfg.Mode = realserver.ModeDR
	case vs.Tunnel:
		cfg.Mode = realserver.ModeTUN
	case vs.Masq:
		cfg.Mode = realserver.ModeNAT
	default:
		return fmt.Errorf("%s: LVS_TYPE %v has no real-server part", path, rs.Method)
	}
	cfg.NetDevice = rs.NetDevice
	cfg.Gateway = rs.DefaultGW
	switch cfg.Mode {
	case realserver.ModeDR:
		cfg.VIPs = []netip.Addr{rs.VIP}
		cfg.VIPDevice = rs.VIPDevice
		if rs.VIPDevice == "" {
			fmt.Fprintf(stderr, "warning: %s: no SERVER_VIP_DEVICE: the VIP goes on lo\n", path)
		}
	case realserver.ModeTUN:
		cfg.VIPs = []netip.Addr{rs.VIP}
		// tunl0 is the kernel's device; another name is the userspace
		// decapsulator's TUN device.
		if rs.VIPDevice != "" && rs.VIPDevice != realserver.IPIPDevice {
			cfg.VIPDevice = rs.VIPDevice
			cfg.TunName = rs.VIPDevice
		}
	case realserver.ModeNAT:
		if rs.VIPDevice != "" {
			fmt.Fprintf(stderr, "warning: %s: SERVER_VIP_DEVICE=%s: a VS_NAT real server holds no VIP; ignored\n", path, rs.VIPDevice)
		}
		if !cfg.Gateway.IsValid() {
			cfg.Gateway = c.Director.InsideIP
		}
		if !cfg.Gateway.IsValid() {
			return fmt.Errorf("%s: VS_NAT real servers route their replies through the director: set SERVER_GW (or DIRECTOR_INSIDEIP)", path)
		}
	}
	if mine, err := hostHoldsAny(rs.Servers); err == nil && !mine {
		fmt.Fprintf(stderr, "warning: %s: this host has none of the real servers' addresses (%s): preparing it anyway\n", path, joinAddrs(rs.Servers))
	}
	return nil
}

// hostHoldsAny reports whether an interface here carries one of addrs (the
// configure script's test of whether it runs on a real server).
func hostHoldsAny(addrs []netip.Addr) (bool, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return false, err
	}
	for _, x := range ifas {
		if n, ok := x.(*net.IPNet); ok {
			if a, ok := netip.AddrFromSlice(n.IP); ok && slices.Contains(addrs, a.Unmap()) {
				return true, nil
			}
		}
	}
	return false, nil
}

// describeGateway is ", default route via GW" when cfg sets one.
func describeGateway(cfg realserver.Config) string {
	if !cfg.Gateway.IsValid() {
		return ""
	}
	s := ", default route via " + cfg.Gateway.String()
	if cfg.NetDevice != "" {
		s += " dev " + cfg.NetDevice
	}
	return s
}
