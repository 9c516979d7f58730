package realserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/tcx"
)

// IPIP decapsulation in the kernel, without the ipip module: a tcx
// program at the capture interface's ingress (kernel 6.6 and later) takes
// the common case, an IPv4 packet to an IPv4 VIP inside an unfragmented
// IPv4 packet to this host (RFC 2003), strips the outer header
// (bpf_skb_adjust_room) and lets the stack deliver the inner packet, as
// tunl0 would, in the softirq that received it. Everything else (IPv6
// tunnels, outer fragments, IP options, GSO super-frames, malformed
// headers) is left to the userspace decapsulator, whose capture sockets
// are then bound to IPv4 and IPv6 rather than to every protocol: sockets
// bound to a protocol get a frame after the tcx hook, so they see exactly
// what the program left, once.

// struct __sk_buff offsets (include/uapi/linux/bpf.h).
const (
	skbLen      = 0
	skbPktType  = 4
	skbProtocol = 16 // in network order
	skbData     = 76
	skbDataEnd  = 80
	skbGSOSize  = 176
)

// eBPF helpers and flags.
const (
	helperCsumDiff      = 28 // BPF_FUNC_csum_diff
	helperSkbAdjustRoom = 50 // BPF_FUNC_skb_adjust_room
	adjRoomMAC          = 1  // BPF_ADJ_ROOM_MAC: the room is right after the link header
)

// maxTCXAddrs bounds the VIPs and outer destinations the program
// compares (one instruction each); beyond it the userspace decapsulator
// takes all.
const maxTCXAddrs = 1024

// decapProgram builds the tcx program: IPIP to one of the IPv4 vips, sent
// to one of dsts (the host's IPv4 addresses), loses its outer header and
// goes on (TCX_NEXT, so that tc filters and programs after it see the
// inner packet, as they would tunl0's); every other frame is left alone.
// The checks are the userspace decapsulator's (decap): an Ethernet frame
// for this host's link address, the outer header 20 bytes with a valid
// checksum, no fragment, a total length that holds the inner packet and
// fits the frame, the inner header IPv4. The stack checks the inner
// header's checksum as it does tunl0's packets, and trims what follows
// the inner packet.
func decapProgram(vips, dsts [][4]byte) []tcx.Insn {
	type I = tcx.Insn
	ne := binary.NativeEndian
	// Loads from the packet read its bytes in host order.
	u16 := func(b0, b1 byte) int32 { return int32(ne.Uint16([]byte{b0, b1})) }
	u32 := func(a [4]byte) int32 { return int32(ne.Uint32(a[:])) }
	const eth, outer, inner = 14, 14, 14 + 20
	var a tcx.Asm
	a.Emit(
		I{Code: tcx.MovX, Dst: 6, Src: 1}, // r6 = ctx
		I{Code: tcx.LdxW, Dst: 0, Src: 6, Off: skbPktType},
	)
	a.Jump(I{Code: tcx.Jne32K, Imm: unix.PACKET_HOST}, "next")
	a.Emit(I{Code: tcx.LdxW, Dst: 0, Src: 6, Off: skbGSOSize})
	a.Jump(I{Code: tcx.Jne32K, Imm: 0}, "next") // a super-frame: user space
	a.Emit(I{Code: tcx.LdxW, Dst: 0, Src: 6, Off: skbProtocol})
	a.Jump(I{Code: tcx.Jne32K, Imm: u16(0x08, 0x00)}, "next") // IPv4
	a.Emit(
		I{Code: tcx.LdxW, Dst: 7, Src: 6, Off: skbData}, // r7 = the frame
		I{Code: tcx.LdxW, Dst: 8, Src: 6, Off: skbDataEnd},
		I{Code: tcx.MovX, Dst: 1, Src: 7},
		I{Code: tcx.AddK, Dst: 1, Imm: inner + 20},
	)
	a.Jump(I{Code: tcx.JgtX, Dst: 1, Src: 8}, "next") // shorter than the headers
	a.Emit(I{Code: tcx.LdxH, Dst: 0, Src: 7, Off: 12})
	a.Jump(I{Code: tcx.Jne32K, Imm: u16(0x08, 0x00)}, "next") // EtherType IPv4
	a.Emit(I{Code: tcx.LdxB, Dst: 0, Src: 7, Off: outer})
	a.Jump(I{Code: tcx.Jne32K, Imm: 0x45}, "next") // version 4, no options
	a.Emit(
		I{Code: tcx.LdxH, Dst: 0, Src: 7, Off: outer + 6},
		I{Code: tcx.AndK, Imm: u16(0x3f, 0xff)}, // more fragments, offset
	)
	a.Jump(I{Code: tcx.Jne32K, Imm: 0}, "next")
	a.Emit(I{Code: tcx.LdxB, Dst: 0, Src: 7, Off: outer + 9})
	a.Jump(I{Code: tcx.Jne32K, Imm: 4}, "next") // protocol IPIP
	// The outer total length (r9) holds both headers and fits the frame
	// (link padding may follow it).
	a.Emit(
		I{Code: tcx.LdxH, Dst: 0, Src: 7, Off: outer + 2},
		I{Code: tcx.ToBE, Imm: 16},
	)
	a.Jump(I{Code: tcx.Jlt32K, Imm: 40}, "next")
	a.Emit(
		I{Code: tcx.MovX, Dst: 9, Src: 0},
		I{Code: tcx.AddK, Imm: eth},
		I{Code: tcx.LdxW, Dst: 1, Src: 6, Off: skbLen},
	)
	a.Jump(I{Code: tcx.JgtX, Dst: 0, Src: 1}, "next")
	// The inner header: version 4, at least 20 bytes, its total length
	// within the outer packet.
	a.Emit(
		I{Code: tcx.LdxB, Dst: 0, Src: 7, Off: inner},
		I{Code: tcx.MovX, Dst: 1, Src: 0},
		I{Code: tcx.AndK, Dst: 1, Imm: 0xf0},
	)
	a.Jump(I{Code: tcx.Jne32K, Dst: 1, Imm: 0x40}, "next")
	a.Emit(I{Code: tcx.AndK, Imm: 0x0f})
	a.Jump(I{Code: tcx.Jlt32K, Imm: 5}, "next")
	a.Emit(
		I{Code: tcx.LdxH, Dst: 0, Src: 7, Off: inner + 2},
		I{Code: tcx.ToBE, Imm: 16},
		I{Code: tcx.AddK, Imm: 20},
	)
	a.Jump(I{Code: tcx.JgtX, Dst: 0, Src: 9}, "next")
	// The inner destination is a VIP, the outer one this host.
	a.Emit(I{Code: tcx.LdxW, Dst: 0, Src: 7, Off: inner + 16})
	for _, v := range vips {
		a.Jump(I{Code: tcx.Jeq32K, Imm: u32(v)}, "vip")
	}
	a.Jump(I{Code: tcx.Ja}, "next")
	a.Label("vip")
	a.Emit(I{Code: tcx.LdxW, Dst: 0, Src: 7, Off: outer + 16})
	for _, d := range dsts {
		a.Jump(I{Code: tcx.Jeq32K, Imm: u32(d)}, "local")
	}
	a.Jump(I{Code: tcx.Ja}, "next")
	a.Label("local")
	// The outer header's checksum: its 16-bit one's complement sum
	// (csum_diff from nothing to the header, folded) is all ones.
	a.Emit(
		I{Code: tcx.MovK, Dst: 1, Imm: 0},
		I{Code: tcx.MovK, Dst: 2, Imm: 0},
		I{Code: tcx.MovX, Dst: 3, Src: 7},
		I{Code: tcx.AddK, Dst: 3, Imm: outer},
		I{Code: tcx.MovK, Dst: 4, Imm: 20},
		I{Code: tcx.MovK, Dst: 5, Imm: 0},
		I{Code: tcx.Call, Imm: helperCsumDiff},
	)
	for range 2 {
		a.Emit(
			I{Code: tcx.MovX, Dst: 1, Src: 0},
			I{Code: tcx.RshK, Dst: 1, Imm: 16},
			I{Code: tcx.AndK, Imm: 0xffff},
			I{Code: tcx.AddX, Dst: 0, Src: 1},
		)
	}
	a.Jump(I{Code: tcx.Jne32K, Imm: 0xffff}, "next")
	// Strip the outer header: the 20 bytes after the link header go.
	a.Emit(
		I{Code: tcx.MovX, Dst: 1, Src: 6},
		I{Code: tcx.MovK, Dst: 2, Imm: -20},
		I{Code: tcx.MovK, Dst: 3, Imm: adjRoomMAC},
		I{Code: tcx.MovK, Dst: 4, Imm: 0},
		I{Code: tcx.Call, Imm: helperSkbAdjustRoom},
	)
	a.Label("next")
	a.Emit(I{Code: tcx.MovK, Imm: tcx.Next}, I{Code: tcx.Exit})
	return a.Insns()
}

// errTCXProgram: the kernel takes tcx programs but refused the
// decapsulation program, a bug in decapProgram rather than a missing
// feature.
var errTCXProgram = errors.New("the kernel refused the tcx decapsulation program")

// tcxDecap is the program attached at one interface's tcx ingress. The
// decapsulator's loop reloads it (setLocal) while Server.Hold may swap it
// out: mu orders them. Both work on the link's descriptor alone
// (BPF_LINK_UPDATE), so neither depends on the calling thread's network
// namespace; only the first attach does.
type tcxDecap struct {
	mu   sync.Mutex
	vips [][4]byte
	dsts [][4]byte // the outer destinations prog takes: the VIPs and the host's addresses
	prog int       // the decapsulation program
	pass int       // a program that leaves every frame alone (TCX_NEXT)
	link int
	held bool // pass is in the link rather than prog
}

// openTCXDecap loads the program for vips and the host's addresses local
// and attaches it, held (arm puts it to work), to ifindex's tcx ingress;
// it must run on a thread in ifindex's namespace. Where the kernel takes
// no tcx program, or the interface is not Ethernet, its error matches
// ErrNotSupported: the caller may go on with the userspace decapsulator
// alone.
func openTCXDecap(ifindex int, vips, local [][4]byte) (_ *tcxDecap, err error) {
	if len(vips) == 0 {
		return nil, fmt.Errorf("tcx decapsulation: %w: no IPv4 VIP", ErrNotSupported)
	}
	if err := checkEthernet(ifindex); err != nil {
		return nil, err
	}
	t := &tcxDecap{vips: vips, prog: -1, pass: -1, link: -1, held: true}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if t.pass, err = tcx.Load("ulvs_decap_held", []tcx.Insn{{Code: tcx.MovK, Imm: tcx.Next}, {Code: tcx.Exit}}); err != nil {
		return nil, fmt.Errorf("tcx decapsulation: %w: %v", ErrNotSupported, err)
	}
	if err := t.load(local); err != nil {
		return nil, err
	}
	if t.link, err = tcx.Attach(t.pass, ifindex); err != nil {
		return nil, fmt.Errorf("tcx decapsulation: %w: %v", ErrNotSupported, err)
	}
	return t, nil
}

// checkEthernet refuses an interface that is not Ethernet: the program
// reads the frame from a 14-byte link header.
func checkEthernet(ifindex int) error {
	ifi, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(ifi.Name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return fmt.Errorf("%s: %w", ifi.Name, os.NewSyscallError("ioctl SIOCGIFHWADDR", err))
	}
	if t := ifr.Uint16(); t != unix.ARPHRD_ETHER {
		return fmt.Errorf("tcx decapsulation: %w: %s is not Ethernet (link type %d)", ErrNotSupported, ifi.Name, t)
	}
	return nil
}

// outerDsts is the outer destinations the program takes: the VIPs (the
// kernel's ipip takes any local address, and they are local) and the
// host's addresses local, each once, so that the program keeps its size
// when the VIPs appear among the host's addresses.
func outerDsts(vips, local [][4]byte) [][4]byte {
	dsts := slices.Clone(vips)
	for _, a := range local {
		if !slices.Contains(dsts, a) {
			dsts = append(dsts, a)
		}
	}
	return dsts
}

// load builds and loads the program for the host's addresses local,
// putting it in the link in place of the old one unless held.
func (t *tcxDecap) load(local [][4]byte) error {
	dsts := outerDsts(t.vips, local)
	if len(t.vips)+len(dsts) > maxTCXAddrs {
		return fmt.Errorf("tcx decapsulation: %w: %d VIPs and %d addresses, more than %d", ErrNotSupported, len(t.vips), len(dsts), maxTCXAddrs)
	}
	prog, err := tcx.Load("ulvs_decap", decapProgram(t.vips, dsts))
	if err != nil {
		return fmt.Errorf("%w: %v", errTCXProgram, err)
	}
	if t.link >= 0 && !t.held {
		if err := tcx.Update(t.link, prog); err != nil {
			unix.Close(prog)
			return fmt.Errorf("tcx decapsulation: %w", err)
		}
	}
	if t.prog >= 0 {
		unix.Close(t.prog)
	}
	t.prog, t.dsts = prog, dsts
	return nil
}

// setLocal reloads the program when the host's addresses changed. On an
// error the program in place stays: frames to an address it does not know
// are the userspace decapsulator's, so nothing is lost but speed, and the
// next refresh tries again.
func (t *tcxDecap) setLocal(local [][4]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if slices.Equal(outerDsts(t.vips, local), t.dsts) {
		return nil
	}
	return t.load(local)
}

// hold puts the program that leaves every frame alone in the link (on),
// or the decapsulation program back (off).
func (t *tcxDecap) hold(on bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if on == t.held {
		return nil
	}
	prog := t.prog
	if on {
		prog = t.pass
	}
	if err := tcx.Update(t.link, prog); err != nil {
		return fmt.Errorf("tcx decapsulation: %w", err)
	}
	t.held = on
	return nil
}

// close detaches and unloads the programs.
func (t *tcxDecap) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, fd := range []*int{&t.link, &t.prog, &t.pass} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}
