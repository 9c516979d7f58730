package realserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Decapsulator sizing.
const (
	// recvBatch frames per recvmmsg.
	recvBatch = 16
	// recvBufLen holds a virtio_net_hdr, a link header and a whole GSO
	// super-frame (64 KiB of IP), with slack so truncation is detectable.
	recvBufLen = vnetHdrLen + 64 + 65536
	// addrRefresh is how often the host's addresses are re-read.
	addrRefresh = 2 * time.Second
	// tunMTU: inner packets are at most the capture MTU minus 20.
	tunMTU = 1500
)

// Classic BPF for the capture socket: IPv4 with protocol 4 or 41, IPv6
// with next header 4 or 41 (the tunnels the director sends: IPIP, IPv6 in
// IPv4, IPv4 in IPv6, ip6ip6). Loads at SKF_NET_OFF are relative to the
// network header, whatever the link header is.
const skfNetOff = 0xfff00000 // uint32(-0x100000)

func ipipFilter() []unix.SockFilter {
	const (
		ldb = unix.BPF_LD | unix.BPF_B | unix.BPF_ABS
		and = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	const ja = unix.BPF_JMP | unix.BPF_JA
	return []unix.SockFilter{
		{Code: ldb, K: skfNetOff + 0},    // 0: A = version/IHL
		{Code: and, K: 0xf0},             // 1
		{Code: jeq, K: 0x40, Jf: 2},      // 2: version 4? else -> 5
		{Code: ldb, K: skfNetOff + 9},    // 3: A = protocol
		{Code: ja, K: 2},                 // 4: -> 7
		{Code: jeq, K: 0x60, Jf: 4},      // 5: version 6? else -> 10
		{Code: ldb, K: skfNetOff + 6},    // 6: A = next header
		{Code: jeq, K: 4, Jt: 1},         // 7: 4 (IPv4 inside)? -> 9
		{Code: jeq, K: protoIPv6, Jf: 1}, // 8: 41 (IPv6 inside)? else -> 10
		{Code: ret, K: 0x40000},          // 9: accept whole frame
		{Code: ret, K: 0},                // 10: drop
	}
}

// decapsulator is the userspace IPIP decapsulator: a capture socket, a TUN
// device, a netlink socket for the host's addresses and an eventfd to stop
// the loop. All are opened in the caller's network namespace; the loop
// goroutine touches nothing else.
type decapsulator struct {
	capFd, tunFd, nlFd, evFd int
	// capFd6 is the second capture socket, bound to IPv6, when tcx
	// decapsulates (capFd is then bound to IPv4); -1 otherwise.
	capFd6  int
	tcx     *tcxDecap    // nil: the capture takes every tunnel packet
	log     *slog.Logger // set by arm, before run
	tunName string
	nlSeq   uint32
	f       filter
	stats   Stats

	bufs  [][]byte
	iovs  []unix.Iovec
	names []unix.RawSockaddrLinklayer
	msgs  []unix.Mmsghdr

	stopOnce sync.Once
	done     chan struct{}
	err      error // set before done is closed
}

// openDecap opens the TUN device tunName and the capture socket on iface,
// and with withTCX attaches the tcx decapsulation program there
// (tcxdecap_linux.go; an error matching ErrNotSupported when that cannot
// be done). It must run on a thread in the real server's network
// namespace.
func openDecap(iface, tunName string, vips []netip.Addr, withTCX bool) (_ *decapsulator, err error) {
	d := &decapsulator{capFd: -1, capFd6: -1, tunFd: -1, nlFd: -1, evFd: -1, tunName: tunName, done: make(chan struct{})}
	for _, v := range vips {
		if v.Is4() {
			d.f.vips = append(d.f.vips, v.As4())
		} else {
			d.f.vips6 = append(d.f.vips6, v.As16())
		}
	}
	defer func() {
		if err != nil {
			d.closeFds()
		}
	}()
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("capture interface %s: %w", iface, err)
	}
	if d.nlFd, err = openNetlink(); err != nil {
		return nil, err
	}
	d.nlSeq++
	if d.f.local, d.f.local6, err = localAddrs(d.nlFd, d.nlSeq); err != nil {
		return nil, err
	}
	if d.evFd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	if d.tunFd, err = openTun(tunName); err != nil {
		return nil, err
	}
	if withTCX {
		if d.tcx, err = openTCXDecap(ifi.Index, d.f.vips, d.f.local); err != nil {
			return nil, err
		}
		if d.capFd, err = openCapture(ifi.Index, unix.ETH_P_IP); err != nil {
			return nil, err
		}
		if d.capFd6, err = openCapture(ifi.Index, unix.ETH_P_IPV6); err != nil {
			return nil, err
		}
	} else if d.capFd, err = openCapture(ifi.Index, unix.ETH_P_ALL); err != nil {
		return nil, err
	}
	d.bufs = make([][]byte, recvBatch)
	d.iovs = make([]unix.Iovec, recvBatch)
	d.names = make([]unix.RawSockaddrLinklayer, recvBatch)
	d.msgs = make([]unix.Mmsghdr, recvBatch)
	for i := range d.bufs {
		d.bufs[i] = make([]byte, recvBufLen)
		d.iovs[i].Base = &d.bufs[i][0]
		d.msgs[i].Hdr.Iov = &d.iovs[i]
		d.msgs[i].Hdr.Iovlen = 1
		d.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&d.names[i]))
	}
	return d, nil
}

// openTun creates the TUN device: IFF_TUN (IP packets, no link header),
// IFF_NO_PI (no packet information prefix), IFF_VNET_HDR (a
// virtio_net_hdr in front of each packet). The device lives as long as the
// descriptor.
func openTun(name string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUN device %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("create TUN device %s: %w", name, os.NewSyscallError("TUNSETIFF", err))
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("TUN device %s: %w", name, os.NewSyscallError("TUNSETVNETHDRSZ", err))
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openCapture opens the AF_PACKET socket for the tunnel packets (of both
// families, ipipFilter) on ifindex with PACKET_VNET_HDR.
func openCapture(ifindex int, proto uint16) (int, error) {
	// Protocol 0 until bind: nothing arrives before the filter is set.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket AF_PACKET", err)
	}
	fail := func(op string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("capture socket: %w", os.NewSyscallError(op, err))
	}
	prog := ipipFilter()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("setsockopt SO_ATTACH_FILTER", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("setsockopt PACKET_VNET_HDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		return fail("setsockopt PACKET_IGNORE_OUTGOING", err)
	}
	// Best effort: a bigger queue absorbs bursts while we write to the TUN.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	return fd, nil
}

// run is the decapsulator loop; it returns when stop is called or on a
// fatal error, which it records.
func (d *decapsulator) run() {
	defer close(d.done)
	pfd := []unix.PollFd{{Fd: int32(d.evFd), Events: unix.POLLIN}, {Fd: int32(d.capFd), Events: unix.POLLIN}}
	if d.capFd6 >= 0 {
		pfd = append(pfd, unix.PollFd{Fd: int32(d.capFd6), Events: unix.POLLIN})
	}
	next := time.Now().Add(addrRefresh)
	for {
		wait := time.Until(next)
		if wait < 0 {
			wait = 0
		}
		_, err := unix.Poll(pfd, int(wait/time.Millisecond)+1)
		if err != nil && err != unix.EINTR {
			d.err = os.NewSyscallError("poll", err)
			return
		}
		if pfd[0].Revents != 0 {
			return
		}
		for _, p := range pfd[1:] {
			if p.Revents != 0 {
				if err := d.recvBatch(int(p.Fd)); err != nil {
					d.err = err
					return
				}
			}
		}
		if now := time.Now(); !now.Before(next) {
			// Keep the old addresses if the dump fails; the next try may work.
			d.nlSeq++
			if a, a6, err := localAddrs(d.nlFd, d.nlSeq); err == nil {
				d.f.local, d.f.local6 = a, a6
				if d.tcx != nil {
					// On an error the old program stays, and what it
					// does not take is captured: slower, not lost.
					if err := d.tcx.setLocal(a); err != nil && d.log != nil {
						d.log.Warn("the host's addresses changed: the tcx program keeps the old ones", "err", err)
					}
				}
			}
			next = now.Add(addrRefresh)
		}
	}
}

// recvBatch reads the frames ready on capture socket fd and writes the
// inner packets to the TUN device.
func (d *decapsulator) recvBatch(fd int) error {
	for i := range d.msgs {
		d.iovs[i].SetLen(recvBufLen)
		d.msgs[i].Hdr.Namelen = unix.SizeofSockaddrLinklayer
		d.msgs[i].Hdr.Flags = 0
		d.msgs[i].Len = 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&d.msgs[0])),
		uintptr(len(d.msgs)), unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	if e != 0 {
		switch e {
		case unix.EAGAIN, unix.EINTR, unix.ENETDOWN:
			return nil
		}
		return os.NewSyscallError("recvmmsg", e)
	}
	for i := 0; i < int(r); i++ {
		m := &d.msgs[i]
		n := int(m.Len)
		if n > recvBufLen || m.Hdr.Flags&unix.MSG_TRUNC != 0 {
			d.stats.add(DropTruncated)
			continue
		}
		sll := &d.names[i]
		linkLen := 0
		if sll.Hatype == unix.ARPHRD_ETHER || sll.Hatype == unix.ARPHRD_LOOPBACK {
			linkLen = etherHeaderLen
		}
		out, v := d.f.decap(d.bufs[i][:n], linkLen, sll.Pkttype)
		if v == Decapsulated {
			if _, err := unix.Write(d.tunFd, out); err != nil {
				v = DropWrite
			}
		}
		d.stats.add(v)
	}
	return nil
}

// stop ends the loop and waits for it, if it was started.
func (d *decapsulator) stop(started bool) {
	d.stopOnce.Do(func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1) // the eventfd counter
		unix.Write(d.evFd, one[:])
	})
	if started {
		<-d.done
	}
}

// closeFds closes every descriptor; closing the TUN descriptor deletes the
// device, closing the tcx link detaches the program.
func (d *decapsulator) closeFds() {
	if d.tcx != nil {
		d.tcx.close()
		d.tcx = nil
	}
	for _, fd := range []*int{&d.capFd, &d.capFd6, &d.tunFd, &d.nlFd, &d.evFd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// openNetlink opens a NETLINK_ROUTE socket in the calling thread's network
// namespace, with a receive timeout so a lost reply cannot hang the loop.
func openNetlink() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, os.NewSyscallError("socket AF_NETLINK", err)
	}
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("bind netlink", err)
	}
	return fd, nil
}

// localAddrs dumps the IPv4 and IPv6 addresses of the namespace
// (RTM_GETADDR) over the netlink socket fd; seq tells this dump's replies
// from stale ones.
func localAddrs(fd int, seq uint32) (v4 [][4]byte, v6 [][16]byte, err error) {
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfAddrmsg)
	h := (*unix.NlMsghdr)(unsafe.Pointer(&req[0]))
	h.Len = uint32(len(req))
	h.Type = unix.RTM_GETADDR
	h.Flags = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
	h.Seq = seq
	req[unix.NLMSG_HDRLEN] = unix.AF_UNSPEC
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, nil, os.NewSyscallError("netlink send RTM_GETADDR", err)
	}
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, nil, os.NewSyscallError("netlink recv", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, nil, fmt.Errorf("parse netlink: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return v4, v6, nil
			case unix.NLMSG_ERROR:
				return nil, nil, errors.New("netlink RTM_GETADDR: error reply")
			case unix.RTM_NEWADDR:
				attrs, err := syscall.ParseNetlinkRouteAttr(&m)
				if err != nil {
					continue
				}
				var local, addr []byte
				for _, a := range attrs {
					switch a.Attr.Type {
					case unix.IFA_LOCAL:
						local = a.Value
					case unix.IFA_ADDRESS:
						addr = a.Value
					}
				}
				if local == nil {
					local = addr
				}
				switch len(local) {
				case 4:
					v4 = append(v4, [4]byte(local))
				case 16:
					v6 = append(v6, [16]byte(local))
				}
			}
		}
	}
}
