package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/pkt/pkttest"
)

func TestFaultReason(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		events int16
		gone   bool
		why    string
	}{
		{name: "interface down or deleted", err: unix.ENETDOWN, events: unix.POLLERR, gone: true, why: "socket error: network is down"},
		{name: "unbound device on send", err: &OpError{Op: "sendmmsg", Err: unix.ENXIO}, gone: true, why: "socket error: sendmmsg: no such device or address"},
		{name: "no such device", err: fmt.Errorf("write: %w", os.NewSyscallError("write", unix.ENODEV)), gone: true, why: "socket error: write: write: no such device"},
		{name: "other error", err: unix.ENOBUFS, events: unix.POLLERR, why: "socket error: no buffer space available"},
		{name: "no pending error", err: unix.Errno(0), events: unix.POLLERR, why: "socket flagged an error without one pending"},
		{name: "nil error", err: nil, events: unix.POLLHUP, why: "socket flagged an error without one pending"},
		{name: "closed descriptor", err: unix.Errno(0), events: unix.POLLNVAL, why: "socket closed under the worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gone, why := faultReason(tt.err, tt.events)
			if gone != tt.gone || why != tt.why {
				t.Errorf("faultReason(%v, %#x) = %v, %q; want %v, %q", tt.err, tt.events, gone, why, tt.gone, tt.why)
			}
		})
	}
}

// nlMsg builds one netlink message: header, fixed part, attributes.
func nlMsg(typ uint16, fixed []byte, attrs ...[]byte) []byte {
	body := append([]byte(nil), fixed...)
	for _, a := range attrs {
		body = append(body, a...)
	}
	h := make([]byte, unix.SizeofNlMsghdr)
	binary.NativeEndian.PutUint32(h[0:4], uint32(len(h)+len(body)))
	binary.NativeEndian.PutUint16(h[4:6], typ)
	return append(h, body...)
}

// rtAttr builds one route attribute, padded to 4 bytes.
func rtAttr(typ uint16, val []byte) []byte {
	n := unix.SizeofRtAttr + len(val)
	b := make([]byte, (n+3)&^3)
	binary.NativeEndian.PutUint16(b[0:2], uint16(n))
	binary.NativeEndian.PutUint16(b[2:4], typ)
	copy(b[unix.SizeofRtAttr:], val)
	return b
}

func ifInfo(index int32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(b[4:8], uint32(index))
	return b
}

func TestParseLinkMessages(t *testing.T) {
	ifAddr := make([]byte, unix.SizeofIfAddrmsg)
	binary.NativeEndian.PutUint32(ifAddr[4:8], 9)
	tests := []struct {
		name    string
		in      []byte
		want    []nlEvent
		wantErr bool
	}{
		{name: "new link with name", in: nlMsg(unix.RTM_NEWLINK, ifInfo(7), rtAttr(unix.IFLA_MTU, []byte{0xdc, 5, 0, 0}), rtAttr(unix.IFLA_IFNAME, []byte("d-eth0\x00"))),
			want: []nlEvent{{index: 7, name: "d-eth0"}}},
		{name: "deleted link", in: nlMsg(unix.RTM_DELLINK, ifInfo(7), rtAttr(unix.IFLA_IFNAME, []byte("d-eth0\x00"))),
			want: []nlEvent{{index: 7, name: "d-eth0"}}},
		{name: "address removed", in: nlMsg(unix.RTM_DELADDR, ifAddr), want: []nlEvent{{index: 9}}},
		{name: "two messages, one not about links", in: append(nlMsg(unix.RTM_NEWROUTE, make([]byte, 12)), nlMsg(unix.RTM_NEWLINK, ifInfo(3))...),
			want: []nlEvent{{index: 3}}},
		{name: "short link message", in: nlMsg(unix.RTM_NEWLINK, make([]byte, 8)), wantErr: true},
		{name: "short address message", in: nlMsg(unix.RTM_NEWADDR, make([]byte, 4)), wantErr: true},
		{name: "less than a header", in: []byte{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLinkMessages(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseLinkMessages: err %v, want error %v", err, tt.wantErr)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("parseLinkMessages = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNLEventMatches(t *testing.T) {
	ifc := &iface{name: "d-eth0", index: 4}
	tests := []struct {
		ev   nlEvent
		want bool
	}{
		{nlEvent{index: 4, name: "renamed"}, true}, // ours, renamed away
		{nlEvent{index: 12, name: "d-eth0"}, true}, // a new interface with our name
		{nlEvent{index: 4}, true},                  // our address changed
		{nlEvent{index: 12, name: "other"}, false}, // someone else's
		{nlEvent{index: 0, name: ""}, false},
	}
	for _, tt := range tests {
		if got := tt.ev.matches(ifc); got != tt.want {
			t.Errorf("%+v.matches(d-eth0 #4) = %v, want %v", tt.ev, got, tt.want)
		}
	}
}

// TestAdoptNewMACAndDownLink: a worker adopts a link set with a new MAC
// (ARP answers carry it) and then one with the interface down (nothing is
// polled, frames for it count as link_down).
func TestAdoptNewMACAndDownLink(t *testing.T) {
	tbl := testTable(t)
	w, _ := newTestWorker()
	newMAC := [6]byte{0x02, 0, 0, 0, 0, 0x99}
	l2 := &memLink{}
	w.adopt(&linkSet{ifaces: []linkView{{links: []link{l2}, mac: newMAC, mtu: 1400}}})
	if w.mtus[0] != 1400 {
		t.Errorf("MTU after adopt = %d, want 1400", w.mtus[0])
	}
	req := pkttest.ARPFrame(pkt.ARPRequest, clientMAC, client.As4(), [6]byte{}, vip.As4())
	out := run(w, l2, tbl, 0, req)
	if len(out) != 1 {
		t.Fatalf("ARP who-has VIP after a MAC change: %d frames out, want 1", len(out))
	}
	if a := pkt.ARP(out[0][pkt.EtherHeaderLen:]); a.SHA() != newMAC {
		t.Errorf("ARP reply carries %x, want the new MAC %x", a.SHA(), newMAC)
	}

	// A frame taken before the interface went is sent after: dropped as
	// link_down, not tx_error.
	l2.queue(req)
	n := w.collect()
	if n != 1 {
		t.Fatalf("collect = %d, want 1", n)
	}
	w.adopt(&linkSet{ifaces: []linkView{{mac: newMAC, mtu: 1400}}})
	if _, ok := w.links[0].(downLink); !ok {
		t.Fatalf("link after the interface went = %T, want downLink", w.links[0])
	}
	if w.pfd[0].Fd != -1 {
		t.Errorf("down link polled: fd %d", w.pfd[0].Fd)
	}
	w.tx = append(w.tx[:0], &w.rx[0])
	w.flushTX()
	if got := w.c.drops[ReasonLinkDown].Load(); got != 1 {
		t.Errorf("link_down drops = %d, want 1", got)
	}
	if got := w.c.drops[ReasonTxError].Load(); got != 0 {
		t.Errorf("tx_error drops = %d, want 0", got)
	}
	l2.release()
}

// TestCheckFaults: a socket poll flags is no longer polled and is
// reported once, with its pending error.
func TestCheckFaults(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no UDP socket: %v", err)
	}
	defer unix.Close(fd)
	w, l := newTestWorker()
	faults := make(chan linkFault, 2)
	w.faults = faults
	w.pfd[0] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN, Revents: unix.POLLERR}
	w.checkFaults()
	if w.pfd[0].Fd != -1 {
		t.Errorf("faulty socket still polled (fd %d)", w.pfd[0].Fd)
	}
	select {
	case f := <-faults:
		if f.iface != 0 || f.link != link(l) || !errors.Is(f.err, unix.Errno(0)) || f.events != unix.POLLERR {
			t.Errorf("fault = %+v, want iface 0, the worker's link, no pending error, POLLERR", f)
		}
	default:
		t.Fatal("fault not reported")
	}
	w.checkFaults()
	if len(faults) != 0 {
		t.Errorf("fault reported twice")
	}
}

// TestRecvSleepsWithEveryLinkDown: a worker whose links are all down
// sleeps in poll instead of spinning.
func TestRecvSleepsWithEveryLinkDown(t *testing.T) {
	w, _ := newTestWorker()
	w.blocks = true
	w.adopt(&linkSet{ifaces: []linkView{{mac: dirMAC, mtu: 1500}}})
	start := time.Now()
	const rounds = 3
	for range rounds {
		if n, err := w.recv(20 * time.Millisecond); n != 0 || err != nil {
			t.Fatalf("recv = %d, %v; want 0, nil", n, err)
		}
	}
	if el := time.Since(start); el < rounds*15*time.Millisecond {
		t.Errorf("%d idle receives with every link down took %v: the worker does not sleep", rounds, el)
	}
}

func TestLinkStateString(t *testing.T) {
	for s, want := range map[LinkState]string{LinkUp: "up", LinkAbsent: "absent", LinkDown: "down", LinkBroken: "broken", LinkInvalid: "invalid", 99: "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("LinkState(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestObserve(t *testing.T) {
	all := []net.Interface{
		{Index: 1, Name: "lo", Flags: net.FlagUp | net.FlagLoopback, MTU: 65536},
		{Index: 5, Name: "d-eth0", Flags: net.FlagUp, MTU: 1400, HardwareAddr: net.HardwareAddr{2, 0, 0, 0, 0, 9}},
	}
	if o := observe("gone", all); o.present {
		t.Errorf("observe(gone) = %+v, want absent", o)
	}
	o := observe("d-eth0", all)
	want := observed{present: true, index: 5, up: true, mac: [6]byte{2, 0, 0, 0, 0, 9}, macOK: true, mtu: 1400}
	o.addr = [4]byte{} // Addrs of a made-up interface read the host's
	if o != want {
		t.Errorf("observe(d-eth0) = %+v, want %+v", o, want)
	}
}

// TestFlushToDownLinkAllocs: frames for an interface that is gone are
// counted, without allocating.
func TestFlushToDownLinkAllocs(t *testing.T) {
	w, _ := newTestWorker()
	w.adopt(&linkSet{ifaces: []linkView{{mac: dirMAC, mtu: 1500}}})
	frame := tcpFrame(7000, pkt.TCPAck)
	buf := make([]byte, 256+len(frame))
	copy(buf[256:], frame)
	p := packet{buf: buf, off: 256, n: len(frame)}
	allocs := testing.AllocsPerRun(1000, func() {
		w.tx = append(w.tx[:0], &p)
		w.flushTX()
	})
	if allocs != 0 {
		t.Errorf("flushing to a down link allocates %v times, want 0", allocs)
	}
	if got := w.c.drops[ReasonLinkDown].Load(); got < 1000 {
		t.Errorf("link_down drops = %d, want every frame", got)
	}
}
