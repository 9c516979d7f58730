package ipvsadm

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/vs"
)

// Args returns ipvsadm arguments that parse back to c, numeric, in the
// order ipvsadm-save writes them. It covers the rule edits, -Z, -C and
// --set; other ops return just the command option.
func Args(c *config.Command) []string {
	var a []string
	switch c.Op {
	case config.OpAddService:
		a = append(a, "-A")
	case config.OpEditService:
		a = append(a, "-E")
	case config.OpDelService:
		a = append(a, "-D")
	case config.OpClear:
		return []string{"-C"}
	case config.OpAddDest:
		a = append(a, "-a")
	case config.OpEditDest:
		a = append(a, "-e")
	case config.OpDelDest:
		a = append(a, "-d")
	case config.OpZero:
		a = append(a, "-Z")
	case config.OpSetTimeout:
		t := c.Timeouts
		return []string{"--set", u32(t.TCP), u32(t.TCPFin), u32(t.UDP)}
	case config.OpList:
		return []string{"-L"}
	case config.OpSave:
		return []string{"-S"}
	case config.OpRestore:
		return []string{"-R"}
	case config.OpHelp:
		return []string{"-h"}
	case config.OpVersion:
		return []string{"-v"}
	case config.OpStartDaemon:
		return []string{"--start-daemon", c.Daemon.State}
	case config.OpStopDaemon:
		return []string{"--stop-daemon", c.Daemon.State}
	default:
		return nil
	}
	if c.HasService {
		a = append(a, ServiceArgs(&c.Service, c.FwMarkIPv6)...)
	}
	switch c.Op {
	case config.OpAddService, config.OpEditService:
		s := &c.Service
		a = append(a, "-s", s.Scheduler)
		if s.Persistent {
			a = append(a, "-p", u32(s.Timeout))
		}
		if s.Netmask.Is6() {
			a = append(a, "-M", strconv.Itoa(config.MaskBits(s.Netmask, true)))
		} else if s.Netmask.IsValid() {
			a = append(a, "-M", s.Netmask.String())
		}
		if c.PersistenceEngine != "" {
			a = append(a, "--pe", c.PersistenceEngine)
		}
		if s.OnePacket {
			a = append(a, "-o")
		}
		if len(s.SchedFlags) > 0 {
			a = append(a, "-b", strings.Join(s.SchedFlags, ","))
		}
		if len(s.LocalAddrs) > 0 {
			a = append(a, "--laddr", joinAddrs(s.LocalAddrs))
		}
		if s.SynProxy {
			a = append(a, "--synproxy")
		}
	case config.OpAddDest, config.OpEditDest, config.OpDelDest:
		d := &c.Dest
		a = append(a, "-r", addrPortString(d.Addr, d.Port))
		if c.Op == config.OpDelDest {
			break
		}
		switch d.Method {
		case vs.Masq:
			a = append(a, "-m")
		case vs.Tunnel:
			a = append(a, "-i")
		case vs.FullNAT:
			a = append(a, "--fullnat")
		default:
			a = append(a, "-g")
		}
		a = append(a, "-w", strconv.Itoa(int(d.Weight)))
		if d.UThreshold != 0 {
			a = append(a, "-x", u32(d.UThreshold))
		}
		if d.LThreshold != 0 {
			a = append(a, "-y", u32(d.LThreshold))
		}
		if c.Tunnel.Type != "" {
			a = append(a, "--tun-type", c.Tunnel.Type)
		}
		if c.Tunnel.Port != 0 {
			a = append(a, "--tun-port", strconv.Itoa(int(c.Tunnel.Port)))
		}
		if c.Tunnel.Csum != "" {
			a = append(a, "--tun-"+c.Tunnel.Csum)
		}
	}
	return a
}

// joinAddrs writes addresses as --laddr takes them: comma-separated.
func joinAddrs(as []netip.Addr) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return strings.Join(out, ",")
}

// ServiceArgs returns the -t/-u/--sctp-service/-f arguments naming s.
func ServiceArgs(s *config.Service, fwmarkIPv6 bool) []string {
	if s.FwMark != 0 {
		if fwmarkIPv6 || s.IPv6() {
			return []string{"-f", u32(s.FwMark), "-6"}
		}
		return []string{"-f", u32(s.FwMark)}
	}
	opt := "-t"
	switch s.Proto {
	case vs.UDP:
		opt = "-u"
	case config.ProtoSCTP:
		opt = "--sctp-service"
	}
	return []string{opt, addrPortString(s.Addr, s.Port)}
}

func addrPortString(a netip.Addr, port uint16) string {
	if a.Is6() {
		return "[" + a.String() + "]:" + strconv.Itoa(int(port))
	}
	return a.String() + ":" + strconv.Itoa(int(port))
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
