package ipvssync

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

const msgTrunc = unix.MSG_TRUNC

// sockOpt is one setsockopt call, named for errors.
type sockOpt struct {
	name  string
	level int
	opt   int
	val   int
}

func setOpts(fd int, opts []sockOpt) error {
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return os.NewSyscallError("setsockopt "+o.name, err)
		}
	}
	return nil
}

// udpSocket creates a non-blocking UDP socket and hands it, once set up by
// setup, to the Go runtime's poller as a *net.UDPConn.
func udpSocket(name string, setup func(fd int) error) (*net.UDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := setup(fd); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close() // FileConn duplicates the descriptor
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c.(*net.UDPConn), nil
}

func sockaddr(a [4]byte, port uint16) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Addr: a, Port: int(port)}
}

// firstIPv4 returns the interface's first IPv4 address (the kernel's
// inet_select_addr with universe scope picks the primary one).
func firstIPv4(ifi *net.Interface) ([4]byte, bool) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return [4]byte{}, false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if v4 := n.IP.To4(); v4 != nil && !v4.IsLoopback() {
				return [4]byte(v4), true
			}
		}
	}
	return [4]byte{}, false
}

func openSender(cfg SenderConfig) (*net.UDPConn, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, err
	}
	src, ok := firstIPv4(ifi)
	if !ok {
		// The kernel logs and binds to 0.0.0.0 in this case.
		cfg.Logger.Warn("sync interface has no IPv4 address; messages leave with the routing's source address", "interface", cfg.Interface)
	}
	return udpSocket("ipvssync-sender", func(fd int) error {
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)}); err != nil {
			return os.NewSyscallError("setsockopt IP_MULTICAST_IF", err)
		}
		opts := []sockOpt{
			{"IP_MULTICAST_LOOP", unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, 0},
			{"IP_MULTICAST_TTL", unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, int(cfg.TTL)},
			{"IP_MTU_DISCOVER", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT},
		}
		if cfg.SockSize > 0 {
			opts = append(opts, sockOpt{"SO_SNDBUF", unix.SOL_SOCKET, unix.SO_SNDBUF, cfg.SockSize})
		}
		if err := setOpts(fd, opts); err != nil {
			return err
		}
		if err := unix.Bind(fd, sockaddr(src, 0)); err != nil {
			return os.NewSyscallError("bind", err)
		}
		if err := unix.Connect(fd, sockaddr(cfg.Group.As4(), cfg.Port)); err != nil {
			return os.NewSyscallError("connect", err)
		}
		return nil
	})
}

func openReceiver(cfg ReceiverConfig) (*net.UDPConn, int, error) {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, 0, err
	}
	maxLen := cfg.MaxLen
	switch {
	case maxLen == 0:
		maxLen = min(max(ifi.MTU, 1500), 65535) - udpIPv4Overhead
	case maxLen < 1024:
		maxLen = 1024 // the kernel's floor for a backup
	}
	conn, err := udpSocket("ipvssync-receiver", func(fd int) error {
		opts := []sockOpt{{"SO_REUSEADDR", unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}}
		if cfg.SockSize > 0 {
			opts = append(opts, sockOpt{"SO_RCVBUF", unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.SockSize})
		}
		if err := setOpts(fd, opts); err != nil {
			return err
		}
		if err := unix.BindToDevice(fd, cfg.Interface); err != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
		}
		if err := unix.Bind(fd, sockaddr(cfg.Group.As4(), cfg.Port)); err != nil {
			return os.NewSyscallError("bind", err)
		}
		mreq := &unix.IPMreqn{Multiaddr: cfg.Group.As4(), Ifindex: int32(ifi.Index)}
		if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return os.NewSyscallError("setsockopt IP_ADD_MEMBERSHIP", err)
		}
		return nil
	})
	return conn, maxLen, err
}
