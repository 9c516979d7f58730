package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// RawTransport is the Linux Transport: raw IPv4 sockets for protocol 112
// bound to one interface, as keepalived opens them (vrrp.c
// open_vrrp_send_socket / open_vrrp_read_socket). The send socket is bound
// to the source address, sends with TTL 255 (IP_TTL and IP_MULTICAST_TTL),
// TOS 0xc0, multicast loop off, out of the interface (IP_MULTICAST_IF,
// SO_BINDTODEVICE). The receive socket is joined to 224.0.0.18 on the
// interface and reports each packet's TTL (IP_RECVTTL). Safe for one
// sender and one receiver at a time; Close unblocks Receive.
type RawTransport struct {
	ifname string
	ah     bool
	v6     bool
	ifidx  int
	src    netip.Addr
	send   *os.File
	recv   *os.File
	sendRC syscall.RawConn
	recvRC syscall.RawConn
}

var _ Transport = (*RawTransport)(nil)

// TransportConfig says where to open a RawTransport.
type TransportConfig struct {
	// Interface is the instance's interface.
	Interface string
	// Source is unicast_src_ip; invalid = the interface's primary IPv4
	// address (its first).
	Source netip.Addr
	// InNamespace, when set, runs the function that opens the sockets and
	// looks the interface up inside the right network namespace (on a
	// thread switched with setns, e.g. the lab's NS.Do). Sockets keep the
	// namespace they were created in. nil = the caller's namespace.
	InNamespace func(open func() error) error
	// AH opens the sockets for auth_type AH: IP protocol 51, and the send
	// socket builds its own IPv4 headers (IP_HDRINCL: the ICV covers the
	// header), so Send takes whole packets (AppendAHPacket).
	AH bool
	// IPv6 opens raw IPv6 sockets for VRRPv3 over IPv6 (open6).
	IPv6 bool
}

// Listen opens the sockets of a RawTransport. It needs CAP_NET_RAW.
func Listen(cfg TransportConfig) (*RawTransport, error) {
	t := &RawTransport{ifname: cfg.Interface, ah: cfg.AH, v6: cfg.IPv6}
	open := func() error { return t.open(cfg) }
	var err error
	if cfg.InNamespace != nil {
		err = cfg.InNamespace(open)
	} else {
		err = open()
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("vrrp: open raw sockets on %s: %w", cfg.Interface, err)
	}
	return t, nil
}

func (t *RawTransport) open(cfg TransportConfig) error {
	ifi, err := net.InterfaceByName(cfg.Interface)
	if err != nil {
		return err
	}
	t.ifidx = ifi.Index
	if cfg.IPv6 {
		return t.open6(ifi, cfg)
	}
	t.src = cfg.Source
	if !t.src.IsValid() {
		addrs, err := ifi.Addrs()
		if err != nil {
			return fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
					t.src = ip.Unmap()
					break
				}
			}
		}
		if !t.src.IsValid() {
			return fmt.Errorf("interface %s has no IPv4 address", ifi.Name)
		}
	}
	mreq := &unix.IPMreqn{Multiaddr: MulticastGroup().As4(), Address: t.src.As4(), Ifindex: int32(ifi.Index)}

	proto := Protocol
	if cfg.AH {
		proto = ProtocolAH
	}
	sfd, err := rawSocket(ifi.Name, proto)
	if err != nil {
		return err
	}
	t.send = os.NewFile(uintptr(sfd), "vrrp-send")
	if err := setInts(sfd, unix.IPPROTO_IP, []sockOpt{{"IP_TTL", unix.IP_TTL, TTL}, {"IP_MULTICAST_TTL", unix.IP_MULTICAST_TTL, TTL},
		{"IP_MULTICAST_LOOP", unix.IP_MULTICAST_LOOP, 0}, {"IP_TOS", unix.IP_TOS, 0xc0}}); err != nil {
		return err
	}
	if err := unix.SetsockoptIPMreqn(sfd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, mreq); err != nil {
		return os.NewSyscallError("setsockopt IP_MULTICAST_IF", err)
	}
	if err := unix.Bind(sfd, &unix.SockaddrInet4{Addr: t.src.As4()}); err != nil {
		return os.NewSyscallError("bind "+t.src.String(), err)
	}

	if cfg.AH {
		if err := unix.SetsockoptInt(sfd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return os.NewSyscallError("setsockopt IP_HDRINCL", err)
		}
	}
	rfd, err := rawSocket(ifi.Name, proto)
	if err != nil {
		return err
	}
	t.recv = os.NewFile(uintptr(rfd), "vrrp-recv")
	if err := unix.SetsockoptInt(rfd, unix.IPPROTO_IP, unix.IP_RECVTTL, 1); err != nil {
		return os.NewSyscallError("setsockopt IP_RECVTTL", err)
	}
	if err := unix.SetsockoptIPMreqn(rfd, unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP, mreq); err != nil {
		return os.NewSyscallError("setsockopt IP_ADD_MEMBERSHIP", err)
	}
	if t.sendRC, err = t.send.SyscallConn(); err != nil {
		return err
	}
	if t.recvRC, err = t.recv.SyscallConn(); err != nil {
		return err
	}
	return nil
}

// sockOpt is an integer socket option to set.
type sockOpt struct {
	name string
	opt  int
	val  int
}

// setInts sets the options at level on fd.
func setInts(fd, level int, opts []sockOpt) error {
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, level, o.opt, o.val); err != nil {
			return os.NewSyscallError("setsockopt "+o.name, err)
		}
	}
	return nil
}

// rawSocket opens a non-blocking raw IPv4 socket for proto (112, or 51
// for AH) bound to the device.
func rawSocket(ifname string, proto int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
	}
	return fd, nil
}

// Source returns the address adverts are sent from.
func (t *RawTransport) Source() netip.Addr { return t.src }

// Send sends one VRRP message to dst (with TransportConfig.AH, one whole
// IPv4 packet).
func (t *RawTransport) Send(msg []byte, dst netip.Addr) error {
	var serr error
	var to unix.Sockaddr
	if t.v6 {
		to = &unix.SockaddrInet6{Addr: dst.As16(), ZoneId: uint32(t.ifidx)}
	} else {
		to = &unix.SockaddrInet4{Addr: dst.As4()}
	}
	err := t.sendRC.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), msg, 0, to)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return &net.OpError{Op: "sendto", Net: "ip4:112", Addr: &net.IPAddr{IP: dst.AsSlice()}, Err: err}
	}
	return nil
}

// Receive reads one IPv4 packet and the TTL it arrived with. On an IPv6
// transport it reads the VRRP message after a rebuilt IPv6 header
// (receive6).
func (t *RawTransport) Receive(buf []byte) (int, int, error) {
	if t.v6 {
		return t.receive6(buf)
	}
	var oob [64]byte
	var n, oobn int
	var rerr error
	err := t.recvRC.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob[:], 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, -1, &net.OpError{Op: "recvmsg", Net: "ip4:112", Err: err}
	}
	return n, recvTTL(oob[:oobn]), nil
}

// recvTTL returns the IP_TTL control message's value, or -1.
func recvTTL(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return -1
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_TTL && len(m.Data) >= 4 {
			return int(binary.NativeEndian.Uint32(m.Data))
		}
	}
	return -1
}

// Close closes both sockets.
func (t *RawTransport) Close() error {
	var errs []error
	for _, f := range []*os.File{t.send, t.recv} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}
