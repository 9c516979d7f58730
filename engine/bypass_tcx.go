package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/ulvs/ulvs/tcx"
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

// maxTCXServices bounds the program, which compares the frame's key with
// each service's in turn: one comparison each, so the kernel's verifier
// walks it in time linear in their number (2.6 ms for 256 services, 37
// ms for 4096 here). With more services the bypass uses nftables' set.
const maxTCXServices = 4096

const (
	// bypassHdr is how much of the frame the program copies at once: a
	// 20-byte IPv4 header and the ports after it.
	bypassHdr = 24
	// helperSkbLoadBytes is BPF_FUNC_skb_load_bytes.
	helperSkbLoadBytes = 26
)

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
func bypassProgram(svcs []bypassService) []tcx.Insn {
	var a tcx.Asm
	a.Emit(
		tcx.Insn{Code: tcx.MovX, Dst: 6, Src: 1}, // r6 = ctx: the loads' skb
		tcx.Insn{Code: tcx.LdAbsH, Imm: 12},      // EtherType
	)
	a.Jump(tcx.Insn{Code: tcx.Jne32K, Imm: 0x0800}, "pass")
	// The IPv4 header and the four bytes after it, onto the stack in one
	// call: frames from a packet socket's TX ring, or built from pages,
	// hold everything past the Ethernet header outside the skb's linear
	// part, where each absolute load is a call that copies its bytes
	// (skb_copy_bits). A frame shorter than that takes the loads below,
	// one field at a time, as before.
	a.Emit(
		tcx.Insn{Code: tcx.MovX, Dst: 1, Src: 6},
		tcx.Insn{Code: tcx.MovK, Dst: 2, Imm: 14},
		tcx.Insn{Code: tcx.MovX, Dst: 3, Src: 10},
		tcx.Insn{Code: tcx.AddK, Dst: 3, Imm: -bypassHdr},
		tcx.Insn{Code: tcx.MovK, Dst: 4, Imm: bypassHdr},
		tcx.Insn{Code: tcx.Call, Imm: helperSkbLoadBytes},
	)
	a.Jump(tcx.Insn{Code: tcx.Jne32K, Imm: 0}, "fields")
	const at = -bypassHdr // the header's first byte, from r10
	bypassHeader(&a, "stack",
		[]tcx.Insn{{Code: tcx.LdxH, Src: 10, Off: at + 6}, {Code: tcx.ToBE, Imm: 16}},
		[]tcx.Insn{{Code: tcx.LdxB, Src: 10, Off: at + 9}},
		[]tcx.Insn{{Code: tcx.LdxW, Src: 10, Off: at + 16}, {Code: tcx.ToBE, Imm: 32}},
		[]tcx.Insn{{Code: tcx.LdxB, Src: 10, Off: at}})
	// With options the port lies past the bytes copied.
	a.Jump(tcx.Insn{Code: tcx.Jne32K, Imm: 5}, "options")
	a.Emit(
		tcx.Insn{Code: tcx.LdxH, Src: 10, Off: at + 22}, // destination port
		tcx.Insn{Code: tcx.ToBE, Imm: 16},
	)
	a.Jump(tcx.Insn{Code: tcx.Ja}, "key")
	a.Label("fields")
	bypassHeader(&a, "skb",
		[]tcx.Insn{{Code: tcx.LdAbsH, Imm: 14 + 6}},
		[]tcx.Insn{{Code: tcx.LdAbsB, Imm: 14 + 9}},
		[]tcx.Insn{{Code: tcx.LdAbsW, Imm: 14 + 16}},
		[]tcx.Insn{{Code: tcx.LdAbsB, Imm: 14}})
	a.Label("options")
	a.Emit(
		tcx.Insn{Code: tcx.LshK, Imm: 2},
		tcx.Insn{Code: tcx.MovX, Dst: 7, Src: 0},
		tcx.Insn{Code: tcx.LdIndH, Src: 7, Imm: 14 + 2}, // destination port
	)
	a.Label("key")
	a.Emit(
		tcx.Insn{Code: tcx.MovX, Dst: 7, Src: 8},
		tcx.Insn{Code: tcx.OrX, Dst: 7, Src: 0}, // r7 = r8 | port
	)
	for _, s := range svcs {
		key := uint64(binary.BigEndian.Uint32(s.addr[:]))<<32 | uint64(s.proto)<<16 | uint64(s.port)
		reg := uint8(7)
		if s.port == 0 {
			reg = 8
		}
		a.Emit(
			tcx.Insn{Code: tcx.LdImm64, Dst: 1, Imm: int32(uint32(key))},
			tcx.Insn{Imm: int32(uint32(key >> 32))},
		)
		a.Jump(tcx.Insn{Code: tcx.JeqX, Dst: reg, Src: 1}, "drop")
	}
	a.Label("pass")
	a.Emit(tcx.Insn{Code: tcx.MovK, Imm: tcx.Next}, tcx.Insn{Code: tcx.Exit})
	a.Label("drop")
	a.Emit(tcx.Insn{Code: tcx.MovK, Imm: tcx.Drop}, tcx.Insn{Code: tcx.Exit})
	return a.Insns()
}

// bypassHeader emits the checks and the key's parts common to both ways
// of reading the IPv4 header: each argument loads a field into r0 (the
// flags and fragment offset, the protocol, the destination address, the
// version and header length byte). A fragment other than the first, or a
// protocol other than TCP and UDP (the only ones in services), jumps to
// "pass"; then r8 = address<<32 | protocol<<16 and r0 = the header
// length in words.
func bypassHeader(a *tcx.Asm, name string, frag, proto, addr, ihl []tcx.Insn) {
	a.Emit(frag...)
	a.Emit(tcx.Insn{Code: tcx.AndK, Imm: 0x1fff})
	a.Jump(tcx.Insn{Code: tcx.Jne32K, Imm: 0}, "pass")
	a.Emit(proto...)
	a.Jump(tcx.Insn{Code: tcx.Jeq32K, Imm: int32(vs.TCP)}, name+" ports")
	a.Jump(tcx.Insn{Code: tcx.Jne32K, Imm: int32(vs.UDP)}, "pass")
	a.Label(name + " ports")
	a.Emit(
		tcx.Insn{Code: tcx.LshK, Imm: 16},
		tcx.Insn{Code: tcx.MovX, Dst: 8, Src: 0}, // r8 = protocol<<16
	)
	a.Emit(addr...)
	a.Emit(
		tcx.Insn{Code: tcx.LshK, Imm: 32},
		tcx.Insn{Code: tcx.OrX, Dst: 8, Src: 0}, // r8 |= address<<32
	)
	a.Emit(ihl...)
	a.Emit(tcx.Insn{Code: tcx.AndK, Imm: 0x0f})
}

// loadTCX loads a bypass program; tests replace it to see the bypass
// fall back to nftables as on a kernel without tcx.
var loadTCX = func(p []tcx.Insn) (int, error) { return tcx.Load("ulvs_bypass", p) }

// TCXIngressPrograms is the number of programs attached at the tcx
// ingress of interface name, in the calling thread's namespace: 1 where
// ulvsd's bypass is in place (and no other program uses tcx), 0 once it
// has gone. For tests and diagnostics.
func TCXIngressPrograms(name string) (int, error) {
	ni, err := net.InterfaceByName(name)
	if err != nil {
		return 0, err
	}
	return tcx.IngressCount(ni.Index)
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
			if err := tcx.Update(l.fd, prog); err != nil {
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
		fd, err := tcx.Attach(t.prog, ni.Index)
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
