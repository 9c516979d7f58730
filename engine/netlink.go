package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// nlEvent is one link or address change the kernel announced: the
// interface index, and for link messages its name. all asks for a look at
// every interface (the socket overflowed and events were lost).
type nlEvent struct {
	index int
	name  string
	all   bool
}

// matches reports whether ev may concern ifc: its name (an interface of
// that name appeared, changed or went) or its current index (ours was
// renamed, changed or deleted).
func (ev nlEvent) matches(ifc *iface) bool {
	return (ev.name != "" && ev.name == ifc.name) || (ev.index != 0 && ev.index == ifc.index)
}

// openLinkWatch opens a NETLINK_ROUTE socket subscribed to link and IPv4
// address changes of the calling thread's network namespace. The socket is
// non-blocking, so reads on the returned file go through the runtime's
// poller and Close interrupts them.
func openLinkWatch() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, opErr("netlink socket", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, opErr("netlink bind", err)
	}
	return os.NewFile(uintptr(fd), "netlink-route"), nil
}

// readLinkEvents passes the socket's events to out until ctx is done or
// the file is closed.
func readLinkEvents(ctx context.Context, f *os.File, out chan<- nlEvent) {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		var evs []nlEvent
		switch {
		case errors.Is(err, unix.ENOBUFS):
			evs = []nlEvent{{all: true}} // overrun: events were lost
		case err != nil:
			return // closed
		default:
			evs, err = parseLinkMessages(buf[:n])
			if err != nil {
				evs = []nlEvent{{all: true}}
			}
		}
		for _, ev := range evs {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// Sizes of the rtnetlink headers (include/uapi/linux/rtnetlink.h).
const (
	ifInfoLen = unix.SizeofIfInfomsg // struct ifinfomsg
	ifAddrLen = unix.SizeofIfAddrmsg // struct ifaddrmsg
)

// parseLinkMessages decodes the RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR
// and RTM_DELADDR messages of one netlink datagram; others are skipped.
func parseLinkMessages(b []byte) ([]nlEvent, error) {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil, fmt.Errorf("parse netlink message: %w", err)
	}
	var out []nlEvent
	for _, m := range msgs {
		switch m.Header.Type {
		case unix.RTM_NEWLINK, unix.RTM_DELLINK:
			if len(m.Data) < ifInfoLen {
				return nil, fmt.Errorf("link message of %d bytes", len(m.Data))
			}
			ev := nlEvent{index: int(int32(binary.NativeEndian.Uint32(m.Data[4:8])))}
			attrs, err := syscall.ParseNetlinkRouteAttr(&m)
			if err != nil {
				return nil, fmt.Errorf("parse link attributes: %w", err)
			}
			for _, a := range attrs {
				if a.Attr.Type == unix.IFLA_IFNAME {
					ev.name = cString(a.Value)
				}
			}
			out = append(out, ev)
		case unix.RTM_NEWADDR, unix.RTM_DELADDR:
			if len(m.Data) < ifAddrLen {
				return nil, fmt.Errorf("address message of %d bytes", len(m.Data))
			}
			out = append(out, nlEvent{index: int(binary.NativeEndian.Uint32(m.Data[4:8]))})
		}
	}
	return out, nil
}

// cString returns b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
