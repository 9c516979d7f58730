package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/vs"
)

// The ingress bypass as a tcx program (kernel 6.6 and later).
//
// The same drop as the nftables table of bypass.go, done by a small eBPF
// program attached at each interface's tcx ingress hook: measured cheaper
// than the nftables chain on the CPU that receives (a veth flood dropped
// at ingress: 323 to 355 kpps with the program against 277 to 329 kpps
// with the chain, three alternated rounds, docs/performance.md), and tied
// to ulvsd's file descriptors, so the kernel removes it when ulvsd exits,
// however it exits. tcx, like the netdev ingress hook, runs after the
// packet taps, so the workers still get every frame. Where the kernel has
// no tcx (or refuses the program), the bypass falls back to nftables.

// eBPF encoding (include/uapi/linux/bpf.h, bpf_common.h).
const (
	bpfLdAbsB  = 0x30 // BPF_LD | BPF_ABS | BPF_B: r0 = skb[imm] (byte)
	bpfLdAbsH  = 0x28 // BPF_LD | BPF_ABS | BPF_H: r0 = ntohs(skb[imm])
	bpfLdAbsW  = 0x20 // BPF_LD | BPF_ABS | BPF_W: r0 = ntohl(skb[imm])
	bpfLdIndH  = 0x48 // BPF_LD | BPF_IND | BPF_H: r0 = ntohs(skb[src+imm])
	bpfMovX    = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
	bpfMovK    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	bpfAndK    = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	bpfOrX     = 0x4f // BPF_ALU64 | BPF_OR | BPF_X
	bpfLdImm64 = 0x18 // BPF_LD | BPF_IMM | BPF_DW: dst = imm64, two slots
	bpfJeqX    = 0x1d // BPF_JMP | BPF_JEQ | BPF_X: 64-bit
	bpfLshK    = 0x67 // BPF_ALU64 | BPF_LSH | BPF_K
	// 32-bit comparisons (BPF_JMP32) of the header's small fields; the
	// 64-bit key is compared with a register (bpfJeqX), since an
	// immediate would be sign-extended.
	bpfJne32K = 0x56 // BPF_JMP32 | BPF_JNE | BPF_K
	bpfJeq32K = 0x16 // BPF_JMP32 | BPF_JEQ | BPF_K
	bpfExit   = 0x95 // BPF_JMP | BPF_EXIT

	tcxNext = -1 // TCX_NEXT: not ours, the next program or the stack decides
	tcxDrop = 2  // TCX_DROP

	// bpfAttrSize is the length of the union bpf_attr passed to bpf(2):
	// enough for every command used here, the rest zero, as the kernel
	// requires of the bytes it does not know.
	bpfAttrSize = 128
)

// bpfInsn is one eBPF instruction.
type bpfInsn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

// maxTCXServices bounds the program, which compares the frame's key with
// each service's in turn: one comparison each, so the kernel's verifier
// walks it in time linear in their number (2.6 ms for 256 services, 37
// ms for 4096 here). With more services the bypass uses nftables' set.
const maxTCXServices = 4096

// bypassProgram is the tcx program that drops IPv4 TCP and UDP frames to
// one of svcs (VIP, protocol, port; port 0: any port) and leaves every
// other frame alone, as bypassRuleset's chain does. A fragment other than
// the first has no ports and is left alone, as nftables' th dport does;
// a frame too short for a load ends the program with 0 (TC_ACT_OK: the
// stack gets it).
//
// The frame's key is address<<32 | protocol<<16 | port in one 64-bit
// register (r7), and the same without the port in another (r8), each
// compared with a 64-bit constant per service: a comparison that fails
// teaches the verifier nothing, so every point of the program is reached
// by one state (comparing address, protocol and port one after another
// made it explore a number of states growing with the square of the
// services: 57 ms for 256 of them).
func bypassProgram(svcs []bypassService) []bpfInsn {
	const pass, drop = -1, -2 // jump targets, resolved below
	type jump struct {
		at     int
		target int
	}
	var p []bpfInsn
	var jumps []jump
	emit := func(i bpfInsn) { p = append(p, i) }
	jumpTo := func(in bpfInsn, target int) {
		jumps = append(jumps, jump{len(p), target})
		emit(in)
	}
	emit(bpfInsn{code: bpfMovX, dst: 6, src: 1}) // r6 = ctx: the loads' skb
	emit(bpfInsn{code: bpfLdAbsH, imm: 12})      // EtherType
	jumpTo(bpfInsn{code: bpfJne32K, imm: 0x0800}, pass)
	emit(bpfInsn{code: bpfLdAbsH, imm: 14 + 6}) // flags and fragment offset
	emit(bpfInsn{code: bpfAndK, imm: 0x1fff})
	jumpTo(bpfInsn{code: bpfJne32K, imm: 0}, pass)
	emit(bpfInsn{code: bpfLdAbsB, imm: 14 + 9}) // protocol
	// Ports only for TCP and UDP (the only protocols in svcs).
	jumpTo(bpfInsn{code: bpfJeq32K, imm: int32(vs.TCP)}, len(p)+2)
	jumpTo(bpfInsn{code: bpfJne32K, imm: int32(vs.UDP)}, pass)
	emit(bpfInsn{code: bpfLshK, imm: 16})
	emit(bpfInsn{code: bpfMovX, dst: 8, src: 0}) // r8 = protocol<<16
	emit(bpfInsn{code: bpfLdAbsW, imm: 14 + 16}) // destination address
	emit(bpfInsn{code: bpfLshK, imm: 32})
	emit(bpfInsn{code: bpfOrX, dst: 8, src: 0}) // r8 |= address<<32
	emit(bpfInsn{code: bpfLdAbsB, imm: 14})     // version and IHL
	emit(bpfInsn{code: bpfAndK, imm: 0x0f})
	emit(bpfInsn{code: bpfLshK, imm: 2})
	emit(bpfInsn{code: bpfMovX, dst: 7, src: 0})
	emit(bpfInsn{code: bpfLdIndH, src: 7, imm: 14 + 2}) // destination port
	emit(bpfInsn{code: bpfMovX, dst: 7, src: 8})
	emit(bpfInsn{code: bpfOrX, dst: 7, src: 0}) // r7 = r8 | port
	for _, s := range svcs {
		key := uint64(binary.BigEndian.Uint32(s.addr[:]))<<32 | uint64(s.proto)<<16 | uint64(s.port)
		reg := uint8(7)
		if s.port == 0 {
			reg = 8
		}
		emit(bpfInsn{code: bpfLdImm64, dst: 1, imm: int32(uint32(key))})
		emit(bpfInsn{imm: int32(uint32(key >> 32))})
		jumpTo(bpfInsn{code: bpfJeqX, dst: reg, src: 1}, drop)
	}
	passAt := len(p)
	emit(bpfInsn{code: bpfMovK, imm: tcxNext})
	emit(bpfInsn{code: bpfExit})
	dropAt := len(p)
	emit(bpfInsn{code: bpfMovK, imm: tcxDrop})
	emit(bpfInsn{code: bpfExit})
	for _, j := range jumps {
		t := j.target
		switch t {
		case pass:
			t = passAt
		case drop:
			t = dropAt
		}
		p[j.at].off = int16(t - j.at - 1)
	}
	return p
}

// encodeBPF lays the instructions out as the kernel reads them.
func encodeBPF(p []bpfInsn) []byte {
	b := make([]byte, 8*len(p))
	for i, in := range p {
		o := b[8*i:]
		o[0] = in.code
		o[1] = in.dst&0x0f | in.src<<4
		binary.LittleEndian.PutUint16(o[2:], uint16(in.off))
		binary.LittleEndian.PutUint32(o[4:], uint32(in.imm))
	}
	return b
}

func bpfCall(cmd int, attr []byte) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	runtime.KeepAlive(attr)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// loadTCX is loadTCXProgram; tests replace it to see the bypass fall
// back to nftables as on a kernel without tcx.
var loadTCX = loadTCXProgram

// loadTCXProgram loads p as a tcx ingress program and returns its file
// descriptor (close-on-exec, as every bpf(2) descriptor).
func loadTCXProgram(p []bpfInsn) (int, error) {
	code := encodeBPF(p)
	license := []byte("GPL\x00")
	load := func(log []byte) (int, error) {
		attr := make([]byte, bpfAttrSize)
		binary.LittleEndian.PutUint32(attr[0:], unix.BPF_PROG_TYPE_SCHED_CLS)
		binary.LittleEndian.PutUint32(attr[4:], uint32(len(p)))
		binary.LittleEndian.PutUint64(attr[8:], uint64(uintptr(unsafe.Pointer(&code[0]))))
		binary.LittleEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&license[0]))))
		if log != nil {
			binary.LittleEndian.PutUint32(attr[24:], 1) // the verifier's log level
			binary.LittleEndian.PutUint32(attr[28:], uint32(len(log)))
			binary.LittleEndian.PutUint64(attr[32:], uint64(uintptr(unsafe.Pointer(&log[0]))))
		}
		copy(attr[48:64], "ulvs_bypass")
		binary.LittleEndian.PutUint32(attr[68:], unix.BPF_TCX_INGRESS) // expected_attach_type
		fd, err := bpfCall(unix.BPF_PROG_LOAD, attr)
		runtime.KeepAlive(code)
		runtime.KeepAlive(license)
		runtime.KeepAlive(log)
		return fd, err
	}
	fd, err := load(nil)
	if err == nil {
		return fd, nil
	}
	// Again with the verifier's log, for the error: its tail says why.
	log := make([]byte, 1<<20)
	if fd, err2 := load(log); err2 == nil {
		return fd, nil
	}
	msg := strings.TrimSpace(string(log[:cstrLen(log)]))
	if i := strings.LastIndexByte(msg, '\n'); i >= 0 && len(msg)-i < 400 {
		msg = msg[max(0, strings.LastIndexByte(msg[:i], '\n')+1):]
	} else if len(msg) > 400 {
		msg = msg[len(msg)-400:]
	}
	return -1, fmt.Errorf("bpf prog load: %w: %s", err, msg)
}

func cstrLen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// attachTCX links program prog to ifindex's tcx ingress (in the calling
// thread's namespace) and returns the link's file descriptor: closing it
// detaches the program.
func attachTCX(prog, ifindex int) (int, error) {
	attr := make([]byte, bpfAttrSize)
	binary.LittleEndian.PutUint32(attr[0:], uint32(prog))
	binary.LittleEndian.PutUint32(attr[4:], uint32(ifindex))
	binary.LittleEndian.PutUint32(attr[8:], unix.BPF_TCX_INGRESS)
	fd, err := bpfCall(unix.BPF_LINK_CREATE, attr)
	if err != nil {
		return -1, fmt.Errorf("bpf link create: %w", err)
	}
	return fd, nil
}

// updateTCX swaps link's program for prog, atomically.
func updateTCX(link, prog int) error {
	attr := make([]byte, bpfAttrSize)
	binary.LittleEndian.PutUint32(attr[0:], uint32(link))
	binary.LittleEndian.PutUint32(attr[4:], uint32(prog))
	if _, err := bpfCall(unix.BPF_LINK_UPDATE, attr); err != nil {
		return fmt.Errorf("bpf link update: %w", err)
	}
	return nil
}

// TCXIngressPrograms is the number of programs attached at the tcx
// ingress of interface name, in the calling thread's namespace: 1 where
// ulvsd's bypass is in place (and no other program uses tcx), 0 once it
// has gone. For tests and diagnostics.
func TCXIngressPrograms(name string) (int, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return tcxIngressCount(ni.Index)
}

// tcxIngressCount is the number of programs attached at ifindex's tcx
// ingress (BPF_PROG_QUERY).
func tcxIngressCount(ifindex int) (int, error) {
	attr := make([]byte, bpfAttrSize)
	binary.LittleEndian.PutUint32(attr[0:], uint32(ifindex))
	binary.LittleEndian.PutUint32(attr[4:], unix.BPF_TCX_INGRESS)
	if _, err := bpfCall(unix.BPF_PROG_QUERY, attr); err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint32(attr[24:])), nil // query.prog_cnt
}

// tcxLink is the bypass attached to one interface.
type tcxLink struct {
	ifindex int
	fd      int
}

// tcxBypass is the tcx form of the bypass: the program for the current
// services and its link on each interface. The bypass goroutine's own.
type tcxBypass struct {
	prog  int    // -1: none loaded
	svcs  string // the services prog was built for
	links map[string]tcxLink
}

func newTCXBypass() *tcxBypass { return &tcxBypass{prog: -1, links: map[string]tcxLink{}} }

// apply brings the program and the links in line with svcs and the
// interfaces names; it must run on a thread in the engine's namespace.
// With no service or no interface it detaches everything. An interface
// that is not there (gone, being replaced) is skipped: the next apply,
// when it is back, attaches it.
func (t *tcxBypass) apply(names []string, svcs []bypassService) error {
	if len(names) == 0 || len(svcs) == 0 {
		t.close()
		return nil
	}
	if len(svcs) > maxTCXServices {
		return fmt.Errorf("%d services, more than the program's %d", len(svcs), maxTCXServices)
	}
	if key := fmt.Sprint(svcs); t.prog < 0 || key != t.svcs {
		prog, err := loadTCX(bypassProgram(svcs))
		if err != nil {
			return err
		}
		for name, l := range t.links {
			if err := updateTCX(l.fd, prog); err != nil {
				// A link whose device went away cannot be updated:
				// drop it, the loop below attaches afresh.
				unix.Close(l.fd)
				delete(t.links, name)
			}
		}
		if t.prog >= 0 {
			unix.Close(t.prog)
		}
		t.prog, t.svcs = prog, key
	}
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
		ni, err := net.InterfaceByName(name)
		if err != nil {
			if l, ok := t.links[name]; ok {
				unix.Close(l.fd)
				delete(t.links, name)
			}
			continue
		}
		if l, ok := t.links[name]; ok {
			if l.ifindex == ni.Index {
				continue
			}
			unix.Close(l.fd) // the interface was replaced
			delete(t.links, name)
		}
		fd, err := attachTCX(t.prog, ni.Index)
		if errors.Is(err, unix.ENODEV) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		t.links[name] = tcxLink{ifindex: ni.Index, fd: fd}
	}
	for name, l := range t.links {
		if !want[name] {
			unix.Close(l.fd)
			delete(t.links, name)
		}
	}
	return nil
}

// close detaches the program from every interface and unloads it.
func (t *tcxBypass) close() {
	for name, l := range t.links {
		unix.Close(l.fd)
		delete(t.links, name)
	}
	if t.prog >= 0 {
		unix.Close(t.prog)
		t.prog, t.svcs = -1, ""
	}
}
