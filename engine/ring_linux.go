package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Ring geometry. A TPACKET_V2 slot must hold a whole GSO super-frame (up to
// 64 KiB of IP plus link headers) or the kernel truncates it, so slots are
// 68 KiB: one slot per block, blocks of 17 pages.
const (
	ringFrameSize = 17 * 4096
	ringFrames    = 256
	// ringReserve is headroom the kernel leaves in front of every frame
	// (PACKET_RESERVE), room to prepend headers in place.
	ringReserve = 64

	// A block ring (TPACKET_V3, the companion of a frame ring: see
	// ring.blk) is blockCount blocks of blockSize bytes, each holding
	// any number of frames up to a whole GSO super-frame. The kernel
	// hands a block over when it is full or blockTimeout after its first
	// frame (tp_retire_blk_tov, in milliseconds).
	blockSize    = 128 << 10
	blockCount   = 32
	blockTimeout = 1 // ms

	packetOtherHost = 3 // PACKET_OTHERHOST: not addressed to us (promiscuous)
	packetOutgoing  = 4 // PACKET_OUTGOING, skb->pkt_type of frames we sent
)

// ringConfig describes one AF_PACKET socket.
type ringConfig struct {
	ifindex int
	// fanout puts the socket in a fanout group: with join, group
	// fanoutID; without, a new group whose id the kernel picks among
	// those free in the namespace (PACKET_FANOUT_FLAG_UNIQUEID; 0 is
	// one), recorded in ring.fanoutID for the group's other sockets.
	fanout   bool
	join     bool
	fanoutID uint16
	frames   int // 0 = ringFrames
	filter   []bpf.RawInstruction
	batch    int
	// blocks opens a block ring (TPACKET_V3) instead of a frame ring.
	blocks bool
}

// ring is an AF_PACKET socket with a TPACKET_V2 RX ring, PACKET_VNET_HDR,
// bound to one interface. RX is zero-copy from the ring; TX is sendmmsg
// straight from the ring slots. recv/send/release belong to one worker;
// sendRaw, setFilter, setFanoutProgram and setBlockMode may be called from
// any goroutine.
//
// In block mode a ring has a companion, blk: a second socket of the same
// worker in the same fanout group with a TPACKET_V3 ring of blocks
// (blockrings.go). Which of the two a frame goes to is the fanout
// program's choice (steerFanout), set for the whole group by setBlockMode
// on its first ring: the frame ring wakes the worker for each frame, which
// costs the least latency; the block ring only when a block is full or a
// millisecond has passed, which costs the worker far less per frame
// under a flood (docs/performance.md, "Block rings under
// load"). blk is the worker's: set between batches (worker.adopt).
type ring struct {
	sock     int
	fanoutID uint16 // the socket's fanout group (ringConfig.fanout)
	mem      []byte
	nframes  int // slots, or blocks in a block ring
	head     int // next slot (block) to look at
	taken    int // slots handed out by the last recv, ending before head
	msgs     []unix.Mmsghdr
	iovs     []unix.Iovec
	closed   atomic.Bool

	blk     *ring // the companion block ring; nil: none
	lastBlk int   // frames the last collect took from blk

	// A block ring's reading position: the next frame's index in block
	// head and its offset there, and the blocks whose last frame the
	// last collect handed out (released with it).
	v3            bool
	pkt, poff     int
	relFrom, relN int

	// The fanout group's program, on its first ring: base is the
	// engine's (fanoutProgram), steered to the frame rings or, in block
	// mode, to the block rings of the group's workers.
	fanMu     sync.Mutex
	workers   int
	fanBase   []bpf.RawInstruction
	blockMode bool
}

var _ link = (*ring)(nil)

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// openRing creates the socket. It must run on a thread inside the network
// namespace of the interface.
func openRing(cfg ringConfig) (_ *ring, err error) {
	if cfg.frames == 0 {
		cfg.frames = ringFrames
	}
	if cfg.batch == 0 {
		cfg.batch = batchSize
	}
	// Protocol 0: the socket receives nothing until bind, so no frame
	// slips in before the filter and the ring are in place.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, opErr("socket", err)
	}
	r := &ring{sock: fd, nframes: cfg.frames}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := r.setFilter(cfg.filter); err != nil {
		return nil, err
	}
	version := unix.TPACKET_V2
	if cfg.blocks {
		r.v3, r.nframes, version = true, blockCount, unix.TPACKET_V3
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, version); err != nil {
		return nil, opErr("setsockopt PACKET_VERSION", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return nil, opErr("setsockopt PACKET_VNET_HDR", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, ringReserve); err != nil {
		return nil, opErr("setsockopt PACKET_RESERVE", err)
	}
	req := unix.TpacketReq{
		Block_size: ringFrameSize,
		Block_nr:   uint32(cfg.frames),
		Frame_size: ringFrameSize,
		Frame_nr:   uint32(cfg.frames),
	}
	size := ringFrameSize * cfg.frames
	if cfg.blocks {
		// tp_frame_size only has to be a valid V2-style geometry; V3
		// packs frames of any size into the blocks.
		req3 := unix.TpacketReq3{
			Block_size:     blockSize,
			Block_nr:       blockCount,
			Frame_size:     2048,
			Frame_nr:       blockCount * (blockSize / 2048),
			Retire_blk_tov: blockTimeout,
		}
		if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req3); err != nil {
			return nil, opErr("setsockopt PACKET_RX_RING (TPACKET_V3)", err)
		}
		size = blockSize * blockCount
	} else if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, opErr("setsockopt PACKET_RX_RING", err)
	}
	r.mem, err = unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, opErr("mmap rx ring", err)
	}
	// Our own transmissions come back to packet sockets as outgoing
	// frames; the filter drops them too, for kernels without this option.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil && !errors.Is(err, unix.ENOPROTOOPT) {
		return nil, opErr("setsockopt PACKET_IGNORE_OUTGOING", err)
	}
	// Skip the egress qdisc: measured faster, and the director is the
	// only sender on these frames' path.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1); err != nil {
		return nil, opErr("setsockopt PACKET_QDISC_BYPASS", err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: cfg.ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, opErr("bind", err)
	}
	if cfg.fanout {
		// PACKET_FANOUT_CBPF: the group's program (fanoutProgram) picks
		// the socket; until it is set every frame goes to socket 0.
		// PACKET_FANOUT_FLAG_DEFRAG: the kernel reassembles IPv4
		// fragments first, so a fragmented packet reaches one worker
		// whole, ports and all (what ip_always_defrag gave LVS).
		// A group id of our own choosing could already be taken in the
		// namespace, by another ulvsd or by a group of ours on an
		// interface that was replaced: joining it fails with EINVAL.
		// The kernel's unique id cannot be.
		flags, id := unix.PACKET_FANOUT_CBPF|unix.PACKET_FANOUT_FLAG_DEFRAG, 0
		if cfg.join {
			id = int(cfg.fanoutID)
		} else {
			flags |= unix.PACKET_FANOUT_FLAG_UNIQUEID
		}
		arg := id | flags<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return nil, opErr("setsockopt PACKET_FANOUT", err)
		}
		// Reads back id | type<<16 | flags<<24.
		v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
		if err != nil {
			return nil, opErr("getsockopt PACKET_FANOUT", err)
		}
		r.fanoutID = uint16(v)
	}
	r.msgs = make([]unix.Mmsghdr, cfg.batch)
	r.iovs = make([]unix.Iovec, cfg.batch)
	return r, nil
}

// setFilter attaches a classic BPF program; the kernel swaps it atomically.
func (r *ring) setFilter(prog []bpf.RawInstruction) error {
	if len(prog) == 0 {
		return nil
	}
	fprog := unix.SockFprog{
		Len:    uint16(len(prog)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0])),
	}
	if err := unix.SetsockoptSockFprog(r.sock, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return opErr("setsockopt SO_ATTACH_FILTER", err)
	}
	return nil
}

// joinUnicast adds mac to the interface's unicast addresses for as long as
// the socket is open (PACKET_ADD_MEMBERSHIP, PACKET_MR_UNICAST).
func (r *ring) joinUnicast(ifindex int, mac [6]byte) error {
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_UNICAST, Alen: 6}
	copy(mreq.Address[:], mac[:])
	if err := unix.SetsockoptPacketMreq(r.sock, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return opErr("setsockopt PACKET_ADD_MEMBERSHIP", err)
	}
	return nil
}

// joinAllMulti makes the interface pass every multicast frame for as long
// as the socket is open (PACKET_MR_ALLMULTI): neighbour solicitations for
// the IPv6 VIPs go to their solicited-node groups, which a NIC with a
// multicast filter would otherwise drop.
func (r *ring) joinAllMulti(ifindex int) error {
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_ALLMULTI}
	if err := unix.SetsockoptPacketMreq(r.sock, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return opErr("setsockopt PACKET_ADD_MEMBERSHIP allmulti", err)
	}
	return nil
}

// setFanoutProgram sets the classic BPF program of the socket's fanout
// group, steered to the frame or the block rings as setBlockMode last
// said; r must be the group's first ring.
func (r *ring) setFanoutProgram(prog []bpf.RawInstruction) error {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	r.fanBase = prog
	return r.installFanout()
}

// setBlockMode steers the group's frames to its block rings (on), which
// must have joined it (openBlockRings), or to its frame rings; r must be
// the group's first ring, opened for block rings (openRings' blocks).
func (r *ring) setBlockMode(on bool) error {
	r.fanMu.Lock()
	defer r.fanMu.Unlock()
	if r.workers == 0 || on == r.blockMode || r.fanBase == nil {
		return nil
	}
	r.blockMode = on
	return r.installFanout()
}

// installFanout sets the steered program (r.fanMu held).
func (r *ring) installFanout() error {
	prog := r.fanBase
	if r.workers > 0 {
		off := 0
		if r.blockMode {
			off = r.workers
		}
		prog = steerFanout(prog, r.workers, off)
	}
	return r.setFanoutData(prog)
}

// setFanoutData sets the classic BPF program of the socket's fanout group
// (PACKET_FANOUT_DATA); the kernel swaps it for the whole group.
func (r *ring) setFanoutData(prog []bpf.RawInstruction) error {
	fprog := unix.SockFprog{
		Len:    uint16(len(prog)),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0])),
	}
	_, _, errno := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(r.sock), unix.SOL_PACKET, unix.PACKET_FANOUT_DATA,
		uintptr(unsafe.Pointer(&fprog)), unsafe.Sizeof(fprog), 0)
	if errno != 0 {
		return opErr("setsockopt PACKET_FANOUT_DATA", errno)
	}
	return nil
}

// slot returns the header of ring slot i.
func (r *ring) slot(i int) *unix.Tpacket2Hdr {
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&r.mem[i*ringFrameSize]))
}

func (r *ring) fd() int { return r.sock }

// blockFD is the companion block ring's socket, -1 without one.
func (r *ring) blockFD() int {
	if r.blk == nil {
		return -1
	}
	return r.blk.sock
}

// collect hands out the frames ready now: the frame ring's first, then the
// block ring's. The frame ring's are the older after a switch to block
// mode; after a switch back, frames still in the block ring's open block
// come out when the kernel hands the block over, at most a millisecond
// later, behind newer ones.
func (r *ring) collect(batch []packet) int {
	n := r.collect2(batch)
	r.lastBlk = 0
	if r.blk != nil && n < len(batch) {
		r.lastBlk = r.blk.collect3(batch[n:])
		n += r.lastBlk
	}
	return n
}

// collect2 hands out the consecutive ready slots of a frame ring starting
// at head.
func (r *ring) collect2(batch []packet) int {
	if r.taken > 0 {
		panic("engine: ring collect before release")
	}
	n := 0
	for n < len(batch) {
		h := r.slot(r.head)
		st := atomic.LoadUint32(&h.Status)
		if st&unix.TP_STATUS_USER == 0 {
			break
		}
		base := r.head * ringFrameSize
		p := &batch[n]
		p.buf = r.mem[base : base+ringFrameSize]
		p.off = int(h.Mac)
		p.n = int(h.Snaplen)
		p.status = st
		p.vlanTCI = h.Vlan_tci
		p.vlanTP = h.Vlan_tpid
		if h.Snaplen < h.Len || p.off < vnetHdrLen || p.off+p.n > ringFrameSize {
			p.n = -1 // truncated or impossible: the worker counts it
		}
		r.head++
		if r.head == r.nframes {
			r.head = 0
		}
		n++
	}
	r.taken = n
	return n
}

// Offsets in a TPACKET_V3 block (struct tpacket_block_desc, the
// tpacket_hdr_v1 in it) and frame (struct tpacket3_hdr), from
// include/uapi/linux/if_packet.h.
const (
	blockStatusAt = 8
	blockNumAt    = 12
	blockFirstAt  = 16
	frameNextAt   = 0
	frameSnapAt   = 12
	frameLenAt    = 16
	frameStatusAt = 20
	frameMacAt    = 24
	frameVLANAt   = 32
	frameTPIDAt   = 36
)

func (r *ring) u32(at int) uint32 { return binary.NativeEndian.Uint32(r.mem[at:]) }

// collect3 hands out the frames of a block ring, from the block at head
// on, as long as the kernel has handed the blocks over. A block whose
// last frame it hands out is given back on the next release.
func (r *ring) collect3(batch []packet) int {
	if r.taken > 0 {
		panic("engine: ring collect before release")
	}
	n := 0
	if r.relN == 0 {
		// Blocks finished by a collect that returned no frame (an
		// empty block; the kernel does not hand those over, but) wait
		// for the next release.
		r.relFrom = r.head
	}
	for n < len(batch) {
		base := r.head * blockSize
		st := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.mem[base+blockStatusAt])))
		if st&unix.TP_STATUS_USER == 0 {
			break
		}
		num := int(r.u32(base + blockNumAt))
		if r.pkt == 0 {
			r.poff = int(r.u32(base + blockFirstAt))
		}
		if r.pkt < num {
			n += r.frame3(&batch[n], base)
		}
		if r.pkt >= num {
			r.relN++
			r.pkt = 0
			if r.head++; r.head == r.nframes {
				r.head = 0
			}
		}
	}
	r.taken = n
	return n
}

// frame3 fills p with the frame at r.poff in the block at base and moves
// on to the next. It returns 1. A frame header outside the block, or a
// chain that ends before the block's count, ends the block there (the
// worker counts a frame it cannot place as truncated).
func (r *ring) frame3(p *packet, base int) int {
	const hdrLen = 48 // struct tpacket3_hdr
	at := base + r.poff
	if r.poff < 0 || r.poff+hdrLen > blockSize {
		*p = packet{n: -1}
		r.pkt = int(r.u32(base + blockNumAt))
		return 1
	}
	next := int(r.u32(at + frameNextAt))
	if next == 0 {
		r.pkt = int(r.u32(base+blockNumAt)) - 1 // the last
	}
	end := base + blockSize
	if next != 0 && at+next <= end {
		end = at + next
	}
	p.buf = r.mem[at:end]
	p.off = int(binary.NativeEndian.Uint16(r.mem[at+frameMacAt:]))
	p.n = int(r.u32(at + frameSnapAt))
	p.status = r.u32(at + frameStatusAt)
	p.vlanTCI = uint16(r.u32(at + frameVLANAt))
	p.vlanTP = binary.NativeEndian.Uint16(r.mem[at+frameTPIDAt:])
	if int(r.u32(at+frameLenAt)) > p.n || p.off < vnetHdrLen || p.off+p.n > len(p.buf) {
		p.n = -1 // truncated or impossible: the worker counts it
	}
	r.poff += next
	r.pkt++
	return 1
}

// release hands the frames of the last collect back to the kernel.
func (r *ring) release() {
	if r.v3 {
		r.release3()
		return
	}
	r.release2()
	if r.blk != nil {
		r.blk.release3()
	}
}

// release3 gives back the blocks a block ring's last collect finished.
func (r *ring) release3() {
	i := r.relFrom
	for k := 0; k < r.relN; k++ {
		atomic.StoreUint32((*uint32)(unsafe.Pointer(&r.mem[i*blockSize+blockStatusAt])), unix.TP_STATUS_KERNEL)
		if i++; i == r.nframes {
			i = 0
		}
	}
	r.relN, r.taken = 0, 0
}

func (r *ring) release2() {
	i := r.head
	for k := 0; k < r.taken; k++ {
		i--
		if i < 0 {
			i = r.nframes - 1
		}
		atomic.StoreUint32(&r.slot(i).Status, unix.TP_STATUS_KERNEL)
	}
	r.taken = 0
}

// send transmits with sendmmsg straight from the ring slots. A frame the
// kernel refuses is skipped and counted by the caller as the difference.
func (r *ring) send(batch []*packet) (int, error) {
	ok := 0
	for start := 0; start < len(batch); {
		n := len(batch) - start
		if n > len(r.msgs) {
			n = len(r.msgs)
		}
		for i := 0; i < n; i++ {
			w := batch[start+i].wire()
			r.iovs[i].Base = &w[0]
			r.iovs[i].SetLen(len(w))
			r.msgs[i].Hdr = unix.Msghdr{Iov: &r.iovs[i], Iovlen: 1}
		}
		// A raw system call that must not block (see rawPoll for why
		// raw): when the socket's send buffer is full it fails with
		// EAGAIN and the batch goes again as an ordinary, blocking
		// call, which the runtime knows may take long.
		sent, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(r.sock),
			uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
		if errno == unix.EAGAIN {
			sent, _, errno = unix.Syscall6(unix.SYS_SENDMMSG, uintptr(r.sock),
				uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(n), 0, 0, 0)
		}
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			// The first frame failed; skip it and go on.
			start++
		default:
			ok += int(sent)
			start += int(sent)
		}
	}
	return ok, nil
}

// rawPoll is poll(2) as a raw system call, for the worker loop only.
//
// A worker is a goroutine locked to its thread that never parks, so Go's
// monitor thread (sysmon) sees its P run the same goroutine for more than
// 10 ms and, whenever that P is inside a system call made the ordinary
// way, takes the P away and hands it to another thread. Each such retake
// also resets sysmon to its fastest period (a wake-up every 20 us), and
// under a flood the worker is nearly always in sendmmsg or poll: sysmon
// then cost 6 to 14% of ulvsd's CPU and thousands of context switches a
// second (docs/performance.md). Raw calls leave the P running: sysmon
// only preempts the goroutine every 10 ms (a signal, which interrupts the
// poll with EINTR: the worker yields there, then polls again for the rest
// of its timeout) and otherwise sleeps. Other goroutines are not starved
// because the director runs with more Ps than workers (GOMAXPROCS).
func rawPoll(fds []unix.PollFd, timeout time.Duration) (int, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	var p unsafe.Pointer
	if len(fds) > 0 {
		p = unsafe.Pointer(&fds[0])
	}
	n, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(p), uintptr(len(fds)), uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func (r *ring) sendRaw(frame []byte) error {
	buf := make([]byte, vnetHdrLen+len(frame))
	copy(buf[vnetHdrLen:], frame)
	if _, err := unix.Write(r.sock, buf); err != nil {
		return opErr("write", err)
	}
	return nil
}

func (r *ring) close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.blk != nil {
		r.blk.close()
	}
	if r.mem != nil {
		unix.Munmap(r.mem)
	}
	return unix.Close(r.sock)
}

// OpError is a failed system call with the operation that made it.
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string { return fmt.Sprintf("%s: %v", e.Op, e.Err) }
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op string, err error) error { return &OpError{Op: op, Err: err} }

// filterProgram builds the socket filter: drop our own outgoing frames and
// frames for other hosts (a promiscuous interface would otherwise hand us
// our own DR output to forward again); pass ARP, in-frame VLAN tags
// (re-checked in user space), IPv4 to a VIP and IPv4 from a NAT real
// server (its replies). With more addresses than a classic BPF jump can
// span, or when passAll is set, it passes all IPv4; the engine
// re-validates everything anyway.
func filterProgram(vips [][4]byte, passAll bool, rips ...[4]byte) []bpf.RawInstruction {
	return filterProgramICMP(vips, passAll, nil, rips...)
}

// filterProgramICMP is filterProgram that also passes ICMP to own, the
// director's interface addresses: routers report problems with IPIP
// packets there.
func filterProgramICMP(vips [][4]byte, passAll bool, own [][4]byte, rips ...[4]byte) []bpf.RawInstruction {
	return filterProgramVMAC(vips, passAll, own, nil, rips...)
}

// filterProgramVMAC is filterProgramICMP that also passes frames sent to
// one of vmacs, the VRRP virtual MACs of use_vmac instances: the kernel
// marks them PACKET_OTHERHOST (they are not the interface's address), so
// they pass the pkttype test only when their destination is one of them.
func filterProgramVMAC(vips [][4]byte, passAll bool, own [][4]byte, vmacs [][6]byte, rips ...[4]byte) []bpf.RawInstruction {
	return filterProgramAll(vips, passAll, own, vmacs, false, rips...)
}

// filterProgramAll is filterProgramVMAC that, with ipv6, also passes every
// IPv6 frame not excluded by the packet type tests (the IPv6 data path
// re-validates each in user space: neighbour solicitations for the VIPs,
// traffic to them, NAT66 replies).
func filterProgramAll(vips [][4]byte, passAll bool, own [][4]byte, vmacs [][6]byte, ipv6 bool, rips ...[4]byte) []bpf.RawInstruction {
	const maxAddrs = 200
	if len(vips)+len(rips) > maxAddrs {
		passAll = true
	}
	if passAll {
		vips, rips = nil, nil
	}
	// Jumps are resolved once the drop and accept positions are known.
	type fix struct {
		at           int
		toTrue, to   int // 1: accept, 2: drop, 0: fall through
		isJump, isJA bool
	}
	var prog []bpf.Instruction
	var fixes []fix
	const accept, drop = 1, 2
	jeq := func(val uint32, ifTrue, ifFalse int) {
		fixes = append(fixes, fix{at: len(prog), toTrue: ifTrue, to: ifFalse, isJump: true})
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: val})
	}
	prog = append(prog, bpf.LoadExtension{Num: bpf.ExtType})
	jeq(packetOutgoing, drop, 0)
	if n := len(vmacs); n == 0 || n > maxAddrs {
		jeq(packetOtherHost, drop, 0)
	} else {
		// Not OTHERHOST: skip the block. OTHERHOST: destination bytes
		// 2..5 must be one of the VMACs' (then bytes 0..1, all 00:00
		// in 00:00:5e:00:01:VRID, must match too), else drop.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOtherHost, SkipFalse: uint8(n + 4)})
		prog = append(prog, bpf.LoadAbsolute{Off: 2, Size: 4})
		for k, m := range vmacs {
			lo := uint32(m[2])<<24 | uint32(m[3])<<16 | uint32(m[4])<<8 | uint32(m[5])
			prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo, SkipTrue: uint8(n - k)})
		}
		fixes = append(fixes, fix{at: len(prog), to: drop, isJA: true})
		prog = append(prog, bpf.Jump{})
		prog = append(prog, bpf.LoadAbsolute{Off: 0, Size: 2})
		jeq(uint32(vmacs[0][0])<<8|uint32(vmacs[0][1]), 0, drop)
	}
	prog = append(prog, bpf.LoadAbsolute{Off: 12, Size: 2})
	jeq(0x0806, accept, 0)
	if ipv6 {
		jeq(0x86dd, accept, 0)
	}
	jeq(0x8100, accept, 0)
	jeq(0x0800, 0, drop)
	if passAll {
		fixes = append(fixes, fix{at: len(prog), to: accept, isJA: true})
		prog = append(prog, bpf.Jump{})
	}
	ip := func(v [4]byte) uint32 { return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3]) }
	if len(vips) > 0 {
		prog = append(prog, bpf.LoadAbsolute{Off: 14 + 16, Size: 4})
		for _, v := range vips {
			jeq(ip(v), accept, 0)
		}
	}
	if len(rips) > 0 {
		prog = append(prog, bpf.LoadAbsolute{Off: 14 + 12, Size: 4})
		for _, v := range rips {
			jeq(ip(v), accept, 0)
		}
	}
	if len(own) > 0 {
		// ICMP to one of our addresses (protocol byte, then destination).
		prog = append(prog, bpf.LoadAbsolute{Off: 14 + 9, Size: 1})
		fixes = append(fixes, fix{at: len(prog), to: drop, isJump: true})
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1})
		prog = append(prog, bpf.LoadAbsolute{Off: 14 + 16, Size: 4})
		for _, v := range own {
			jeq(ip(v), accept, 0)
		}
	}
	dropAt := len(prog)
	prog = append(prog, bpf.RetConstant{Val: 0})
	acceptAt := len(prog)
	prog = append(prog, bpf.RetConstant{Val: 0x40000})
	target := func(t int) int {
		if t == accept {
			return acceptAt
		}
		return dropAt
	}
	for _, f := range fixes {
		switch {
		case f.isJA:
			prog[f.at] = bpf.Jump{Skip: uint32(target(f.to) - f.at - 1)}
		case f.isJump:
			j := prog[f.at].(bpf.JumpIf)
			if f.toTrue != 0 {
				j.SkipTrue = uint8(target(f.toTrue) - f.at - 1)
			}
			if f.to != 0 {
				j.SkipFalse = uint8(target(f.to) - f.at - 1)
			}
			prog[f.at] = j
		}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("engine: socket filter does not assemble: " + err.Error())
	}
	return raw
}
