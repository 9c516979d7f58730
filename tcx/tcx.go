//go:build linux

package tcx

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// eBPF encoding (include/uapi/linux/bpf.h, bpf_common.h): the opcodes the
// programs of ulvs use.
const (
	LdAbsB  = 0x30 // BPF_LD | BPF_ABS | BPF_B: r0 = skb[imm] (byte)
	LdAbsH  = 0x28 // BPF_LD | BPF_ABS | BPF_H: r0 = ntohs(skb[imm])
	LdAbsW  = 0x20 // BPF_LD | BPF_ABS | BPF_W: r0 = ntohl(skb[imm])
	LdIndH  = 0x48 // BPF_LD | BPF_IND | BPF_H: r0 = ntohs(skb[src+imm])
	LdxB    = 0x71 // BPF_LDX | BPF_MEM | BPF_B: dst = *(u8 *)(src + off)
	LdxH    = 0x69 // BPF_LDX | BPF_MEM | BPF_H: dst = *(u16 *)(src + off)
	LdxW    = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	MovX    = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
	MovK    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	AddK    = 0x07 // BPF_ALU64 | BPF_ADD | BPF_K
	AddX    = 0x0f // BPF_ALU64 | BPF_ADD | BPF_X
	AndK    = 0x57 // BPF_ALU64 | BPF_AND | BPF_K
	OrX     = 0x4f // BPF_ALU64 | BPF_OR | BPF_X
	LshK    = 0x67 // BPF_ALU64 | BPF_LSH | BPF_K
	RshK    = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K
	ToBE    = 0xdc // BPF_ALU | BPF_END | BPF_TO_BE: dst = host to big endian, imm bits
	LdImm64 = 0x18 // BPF_LD | BPF_IMM | BPF_DW: dst = imm64, two slots
	Ja      = 0x05 // BPF_JMP | BPF_JA: always
	JeqX    = 0x1d // BPF_JMP | BPF_JEQ | BPF_X: 64-bit
	JgtX    = 0x2d // BPF_JMP | BPF_JGT | BPF_X: 64-bit, unsigned
	// 32-bit comparisons (BPF_JMP32) of the header's small fields; a
	// 64-bit value is compared with a register (JeqX), since an
	// immediate would be sign-extended.
	Jne32K = 0x56 // BPF_JMP32 | BPF_JNE | BPF_K
	Jeq32K = 0x16 // BPF_JMP32 | BPF_JEQ | BPF_K
	Jlt32K = 0xa6 // BPF_JMP32 | BPF_JLT | BPF_K: unsigned
	Call   = 0x85 // BPF_JMP | BPF_CALL: r0 = helper imm(r1..r5)
	Exit   = 0x95 // BPF_JMP | BPF_EXIT

	// The verdicts of a tcx program.
	Next = -1 // TCX_NEXT: not ours, the next program or the stack decides
	Pass = 0  // TCX_PASS: the stack gets the frame
	Drop = 2  // TCX_DROP

	// attrSize is the length of the union bpf_attr passed to bpf(2):
	// enough for every command used here, the rest zero, as the kernel
	// requires of the bytes it does not know.
	attrSize = 128
)

// Insn is one eBPF instruction.
type Insn struct {
	Code     uint8
	Dst, Src uint8
	Off      int16
	Imm      int32
}

// bigEndian: the host's byte order, which struct bpf_insn and union
// bpf_attr are laid out in.
var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// Encode lays the instructions out as the kernel reads them (struct
// bpf_insn in the host's byte order; the register nibbles' order follows
// the bit fields').
func Encode(p []Insn) []byte {
	b := make([]byte, 8*len(p))
	for i, in := range p {
		o := b[8*i:]
		o[0] = in.Code
		o[1] = in.Dst&0x0f | in.Src<<4
		if bigEndian {
			o[1] = in.Dst<<4 | in.Src&0x0f
		}
		binary.NativeEndian.PutUint16(o[2:], uint16(in.Off))
		binary.NativeEndian.PutUint32(o[4:], uint32(in.Imm))
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

// Load loads p as a tcx ingress program named name (at most 15 bytes,
// shown by bpftool) and returns its file descriptor (close-on-exec, as
// every bpf(2) descriptor). When the verifier refuses it, the error ends
// with the tail of the verifier's log, which says why.
func Load(name string, p []Insn) (int, error) {
	code := Encode(p)
	license := []byte("GPL\x00")
	load := func(log []byte) (int, error) {
		attr := make([]byte, attrSize)
		binary.NativeEndian.PutUint32(attr[0:], unix.BPF_PROG_TYPE_SCHED_CLS)
		binary.NativeEndian.PutUint32(attr[4:], uint32(len(p)))
		binary.NativeEndian.PutUint64(attr[8:], uint64(uintptr(unsafe.Pointer(&code[0]))))
		binary.NativeEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&license[0]))))
		if log != nil {
			binary.NativeEndian.PutUint32(attr[24:], 1) // the verifier's log level
			binary.NativeEndian.PutUint32(attr[28:], uint32(len(log)))
			binary.NativeEndian.PutUint64(attr[32:], uint64(uintptr(unsafe.Pointer(&log[0]))))
		}
		copy(attr[48:63], name)
		binary.NativeEndian.PutUint32(attr[68:], unix.BPF_TCX_INGRESS) // expected_attach_type
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

// Attach links program prog to ifindex's tcx ingress (in the calling
// thread's namespace) and returns the link's file descriptor: closing it
// detaches the program.
func Attach(prog, ifindex int) (int, error) {
	attr := make([]byte, attrSize)
	binary.NativeEndian.PutUint32(attr[0:], uint32(prog))
	binary.NativeEndian.PutUint32(attr[4:], uint32(ifindex))
	binary.NativeEndian.PutUint32(attr[8:], unix.BPF_TCX_INGRESS)
	fd, err := bpfCall(unix.BPF_LINK_CREATE, attr)
	if err != nil {
		return -1, fmt.Errorf("bpf link create: %w", err)
	}
	return fd, nil
}

// Update swaps link's program for prog, atomically.
func Update(link, prog int) error {
	attr := make([]byte, attrSize)
	binary.NativeEndian.PutUint32(attr[0:], uint32(link))
	binary.NativeEndian.PutUint32(attr[4:], uint32(prog))
	if _, err := bpfCall(unix.BPF_LINK_UPDATE, attr); err != nil {
		return fmt.Errorf("bpf link update: %w", err)
	}
	return nil
}

// IngressCount is the number of programs attached at ifindex's tcx
// ingress (BPF_PROG_QUERY), in the calling thread's namespace.
func IngressCount(ifindex int) (int, error) {
	attr := make([]byte, attrSize)
	binary.NativeEndian.PutUint32(attr[0:], uint32(ifindex))
	binary.NativeEndian.PutUint32(attr[4:], unix.BPF_TCX_INGRESS)
	if _, err := bpfCall(unix.BPF_PROG_QUERY, attr); err != nil {
		return 0, err
	}
	return int(binary.NativeEndian.Uint32(attr[24:])), nil // query.prog_cnt
}

// TestRun runs the loaded program prog once on frame (BPF_PROG_TEST_RUN,
// as tcx would at ingress: the data starts at the Ethernet header, on the
// namespace's loopback device, so a frame to the all-zero MAC address is
// the host's) and returns its verdict and the frame as the program left
// it. For tests.
func TestRun(prog int, frame []byte) (int32, []byte, error) {
	out := make([]byte, len(frame)+256)
	attr := make([]byte, attrSize)
	binary.NativeEndian.PutUint32(attr[0:], uint32(prog))
	binary.NativeEndian.PutUint32(attr[8:], uint32(len(frame)))
	binary.NativeEndian.PutUint32(attr[12:], uint32(len(out)))
	binary.NativeEndian.PutUint64(attr[16:], uint64(uintptr(unsafe.Pointer(&frame[0]))))
	binary.NativeEndian.PutUint64(attr[24:], uint64(uintptr(unsafe.Pointer(&out[0]))))
	binary.NativeEndian.PutUint32(attr[32:], 1) // repeat
	_, err := bpfCall(unix.BPF_PROG_TEST_RUN, attr)
	runtime.KeepAlive(frame)
	runtime.KeepAlive(out)
	if err != nil {
		return 0, nil, fmt.Errorf("bpf prog test run: %w", err)
	}
	n := binary.NativeEndian.Uint32(attr[12:]) // data_size_out
	return int32(binary.NativeEndian.Uint32(attr[4:])), out[:min(int(n), len(out))], nil
}

// Asm assembles a program whose jumps name labels: Insns resolves each
// jump's offset once every label is placed.
type Asm struct {
	p      []Insn
	jumps  map[int]string // instruction index: the label it jumps to
	labels map[string]int
}

// Emit appends instructions.
func (a *Asm) Emit(in ...Insn) { a.p = append(a.p, in...) }

// Jump appends the jump in, to label.
func (a *Asm) Jump(in Insn, label string) {
	if a.jumps == nil {
		a.jumps = map[int]string{}
	}
	a.jumps[len(a.p)] = label
	a.p = append(a.p, in)
}

// Label names the next instruction to be emitted. A name placed twice
// is a bug in the program's builder: Label panics.
func (a *Asm) Label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	if _, dup := a.labels[name]; dup {
		panic("tcx: label placed twice: " + name)
	}
	a.labels[name] = len(a.p)
}

// Insns returns the program with every jump resolved. A jump to a label
// never placed, or farther than a jump reaches (32767 instructions), is a
// bug in the program's builder: Insns panics.
func (a *Asm) Insns() []Insn {
	for at, name := range a.jumps {
		t, ok := a.labels[name]
		if !ok {
			panic("tcx: jump to undefined label " + name)
		}
		off := t - at - 1
		if off < math.MinInt16 || off > math.MaxInt16 {
			panic(fmt.Sprintf("tcx: jump to %s over %d instructions", name, off))
		}
		a.p[at].Off = int16(off)
	}
	return a.p
}
