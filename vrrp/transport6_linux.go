package vrrp

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// open6 opens the sockets of an IPv6 transport as keepalived opens them
// for an IPv6 instance (vrrp.c, open_vrrp_send_socket and
// open_vrrp_read_socket with AF_INET6): raw IPv6 sockets for protocol 112
// bound to the interface; the send socket bound to the interface's
// link-local address (RFC 5798 section 5.1.2.1: the source of an IPv6
// advert is the link-local address) or to unicast_src_ip (Source, global
// or link-local), hop limit 255 for unicast and multicast, traffic class
// 0xc0 (keepalived's if_setsockopt_priority), multicast loop off, out of
// the interface; unicast adverts go to each unicast_peer (a link-local
// peer on this interface); the receive socket
// joined to ff02::12 there, reporting each packet's hop limit and
// destination (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO). The checksum is
// computed and verified in user space (Append, VerifyChecksum), so a bad
// one is counted rather than dropped unseen by the kernel.
func (t *RawTransport) open6(ifi *net.Interface, cfg TransportConfig) error {
	if cfg.AH {
		return fmt.Errorf("auth_type AH over IPv6: VRRPv3 has no authentication (RFC 5798)")
	}
	t.src = cfg.Source
	if !t.src.IsValid() {
		addrs, err := ifi.Addrs()
		if err != nil {
			return fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Is6() && !ip.Is4In6() && ip.IsLinkLocalUnicast() {
					t.src = ip
					break
				}
			}
		}
		if !t.src.IsValid() {
			return fmt.Errorf("interface %s has no IPv6 link-local address", ifi.Name)
		}
	}
	sfd, err := rawSocket6(ifi.Name)
	if err != nil {
		return err
	}
	t.send = os.NewFile(uintptr(sfd), "vrrp6-send")
	if err := setInts(sfd, unix.IPPROTO_IPV6, []sockOpt{{"IPV6_UNICAST_HOPS", unix.IPV6_UNICAST_HOPS, TTL},
		{"IPV6_MULTICAST_HOPS", unix.IPV6_MULTICAST_HOPS, TTL}, {"IPV6_MULTICAST_LOOP", unix.IPV6_MULTICAST_LOOP, 0},
		{"IPV6_MULTICAST_IF", unix.IPV6_MULTICAST_IF, ifi.Index}, {"IPV6_TCLASS", unix.IPV6_TCLASS, 0xc0}}); err != nil {
		return err
	}
	sa := &unix.SockaddrInet6{Addr: t.src.As16()}
	if t.src.IsLinkLocalUnicast() {
		sa.ZoneId = uint32(ifi.Index)
	}
	if err := unix.Bind(sfd, sa); err != nil {
		return os.NewSyscallError("bind "+t.src.String(), err)
	}
	rfd, err := rawSocket6(ifi.Name)
	if err != nil {
		return err
	}
	t.recv = os.NewFile(uintptr(rfd), "vrrp6-recv")
	if err := setInts(rfd, unix.IPPROTO_IPV6, []sockOpt{{"IPV6_RECVHOPLIMIT", unix.IPV6_RECVHOPLIMIT, 1},
		{"IPV6_RECVPKTINFO", unix.IPV6_RECVPKTINFO, 1}}); err != nil {
		return err
	}
	mreq := &unix.IPv6Mreq{Multiaddr: MulticastGroup6().As16(), Interface: uint32(ifi.Index)}
	if err := unix.SetsockoptIPv6Mreq(rfd, unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP, mreq); err != nil {
		return os.NewSyscallError("setsockopt IPV6_JOIN_GROUP", err)
	}
	if t.sendRC, err = t.send.SyscallConn(); err != nil {
		return err
	}
	t.recvRC, err = t.recv.SyscallConn()
	return err
}

// rawSocket6 opens a non-blocking raw IPv6 socket for VRRP bound to the
// device.
func rawSocket6(ifname string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, Protocol)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_BINDTODEVICE", err)
	}
	return fd, nil
}

// receive6 reads one VRRP message into buf after room for an IPv6 header,
// then writes there the header the packet had as far as the socket tells
// (source, destination, hop limit, payload length): the router checks
// one packet shape (ParseIPv6). It returns the whole length and the hop
// limit (-1 when the socket did not report it).
func (t *RawTransport) receive6(buf []byte) (int, int, error) {
	if len(buf) < IPv6HeaderLen {
		return 0, -1, fmt.Errorf("vrrp: receive buffer of %d bytes", len(buf))
	}
	var oob [128]byte
	var n, oobn int
	var from unix.Sockaddr
	var rerr error
	err := t.recvRC.Read(func(fd uintptr) bool {
		n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf[IPv6HeaderLen:], oob[:], 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, -1, &net.OpError{Op: "recvmsg", Net: "ip6:112", Err: err}
	}
	var src, dst [16]byte
	if sa, ok := from.(*unix.SockaddrInet6); ok {
		src = sa.Addr
	}
	hops := -1
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			switch {
			case m.Header.Level != unix.IPPROTO_IPV6:
			case m.Header.Type == unix.IPV6_HOPLIMIT && len(m.Data) >= 4:
				hops = int(binary.NativeEndian.Uint32(m.Data))
			case m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= 16:
				copy(dst[:], m.Data[:16])
			}
		}
	}
	h := buf[:IPv6HeaderLen]
	h[0], h[1], h[2], h[3] = 0x60, 0, 0, 0
	binary.BigEndian.PutUint16(h[4:], uint16(n))
	h[6] = Protocol
	h[7] = uint8(max(hops, 0))
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
	return IPv6HeaderLen + n, hops, nil
}
