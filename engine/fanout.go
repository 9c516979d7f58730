package engine

import (
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/ulvs/ulvs/vs"
)

// fanoutProgram builds the classic BPF program that picks a worker for
// every frame (PACKET_FANOUT_CBPF; the kernel takes the result modulo the
// number of sockets). It hashes the client's side of a flow, so both
// directions of a NAT or FULLNAT connection, and the ICMP errors about
// it, reach the worker that owns its entry:
//
//   - TCP/UDP to a VIP (client to director): source address and port;
//   - other TCP/UDP (a real server's reply to a client, or to a FULLNAT
//     local address): destination address and port;
//   - an ICMP error to a VIP quotes a packet the director sent to the
//     client: the quoted destination address and port; any other ICMP
//     error quotes a packet towards a real server: the quoted source
//     address and port, or, for one of the director's IPIP packets, the
//     source address and port of the client's packet inside (quoted
//     headers with options too).
//
// IPv6 TCP and UDP are hashed the same way on the last 32 bits of the
// client's address and its port, past the extension headers the data
// path skips: the source of traffic to one of vips6, the destination of
// anything else (NAT66 replies, FULLNAT replies to a local address); an
// ICMPv6 error on the client of the packet it quotes, past the quote's
// extension headers too. Other IPv6 (neighbour discovery, fragments,
// which worker 0 reassembles, unknown headers) goes to worker 0, and so
// does all IPv6 with more than maxFanoutVIPs6 IPv6 VIPs.
//
// Fanout programs see the packet from its network header, not the
// Ethernet header. Frames that are neither IPv4 nor IPv6 (ARP) go to
// worker 0. With more VIPs than a classic BPF jump spans, traffic to VIPs
// is hashed like replies; DR and TUN need nothing more.
func fanoutProgram(vips [][4]byte, vips6 ...[16]byte) []bpf.RawInstruction {
	const maxVIPs = 100
	if len(vips) > maxVIPs {
		vips = vips[:0]
	}
	var a asm
	// IPv6 first, by its version nibble: the protocol extension below is
	// the kernel's only (tests run the rest in x/net's VM).
	//
	// X keeps the byte for IPv4's header length (ihl4): a load from a
	// frame whose bytes are in pages (from a packet socket's TX ring, or a
	// NIC's) is a call that copies them, so the byte is loaded once.
	a.emit(bpf.LoadAbsolute{Off: 0, Size: 1})
	a.emit(bpf.TAX{})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	a.jeq(0x60, "ip6", "")
	a.ja("ip4") // beyond a conditional jump's 255 instructions
	a.label("ip6")
	// IPv6: TCP, UDP or ICMPv6 after any extension headers the data path
	// skips (walk6), else worker 0 (fragments, which worker 0
	// reassembles, neighbour discovery's ICMPv6 below).
	if len(vips6) == 0 || len(vips6) > maxFanoutVIPs6 {
		a.ja("ret0")
	} else {
		a.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
		a.walk6(0, "o6", false, "ret0")
		a.jeq(58, "icmp6", "")
		// TCP or UDP, the L4 header at 40+X.
		a.dstIsVIP6(vips6, "src6")
		a.emit(bpf.LoadAbsolute{Off: 36, Size: 4}) // dst side: the client of a reply
		a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
		a.emit(bpf.LoadIndirect{Off: 40 + 2, Size: 2})
		a.ja("hash")
		a.label("src6")
		a.emit(bpf.LoadAbsolute{Off: 20, Size: 4})
		a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
		a.emit(bpf.LoadIndirect{Off: 40, Size: 2})
		a.ja("hash")
		// An ICMPv6 error (types 1-4), its header at 40+X: to a VIP it
		// quotes a reply, whose destination is the client (its
		// address's last word, its port); to anything else (a NAT66
		// client) it quotes a request whose source is the client. The
		// quoted packet's own extension headers are walked as
		// forward.ParseICMPv6Error walks them. Neighbour discovery and
		// the rest go to worker 0.
		a.label("icmp6")
		a.emit(bpf.LoadIndirect{Off: 40, Size: 1})
		a.jeq(0, "icmp6no", "")
		a.jgt(4, "icmp6no", "icmp6err")
		a.label("icmp6no")
		a.ja("ret0")
		a.label("icmp6err")
		a.emit(bpf.StoreScratch{Src: bpf.RegX, N: scratchOuter6})
		a.walk6(40+8, "q6", true, "ret0")
		a.emit(bpf.StoreScratch{Src: bpf.RegX, N: scratchQuote6})
		a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: scratchOuter6})
		a.dstIsVIP6(vips6, "icmpvip6")
		a.emit(bpf.LoadIndirect{Off: 40 + 8 + 20, Size: 4}) // quoted source
		a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
		a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: scratchQuote6})
		a.emit(bpf.LoadIndirect{Off: 40 + 8 + 40, Size: 2})
		a.ja("hash")
		a.label("icmpvip6")
		a.emit(bpf.LoadIndirect{Off: 40 + 8 + 36, Size: 4}) // quoted destination
		a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
		a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: scratchQuote6})
		a.emit(bpf.LoadIndirect{Off: 40 + 8 + 42, Size: 2})
		a.ja("hash")
	}
	a.label("ip4")
	a.ihl4() // X = the header's length, for every IPv4 path below
	a.emit(bpf.LoadExtension{Num: bpf.ExtProto})
	a.jeq(0x0800, "", "ret0")
	a.emit(bpf.LoadAbsolute{Off: 9, Size: 1})
	a.jeq(1, "icmp", "")
	// TCP, UDP and the rest.
	a.emit(bpf.LoadAbsolute{Off: 16, Size: 4})
	for _, v := range vips {
		a.jeq(ip4(v), "src", "")
	}
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0}) // dst side
	a.emit(bpf.LoadIndirect{Off: 2, Size: 2})
	a.ja("hash")
	a.label("src")
	a.emit(bpf.LoadAbsolute{Off: 12, Size: 4})
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.emit(bpf.LoadIndirect{Off: 0, Size: 2})
	a.ja("hash")
	// ICMP: the quoted IPv4 header starts 8 bytes after the outer one.
	a.label("icmp")
	a.emit(bpf.LoadAbsolute{Off: 16, Size: 4})
	for _, v := range vips {
		a.jeq(ip4(v), "icmpvip", "")
	}
	a.emit(bpf.LoadIndirect{Off: 8 + 9, Size: 1}) // quoted protocol
	a.jeq(4, "icmpipip", "")
	a.emit(bpf.LoadIndirect{Off: 8 + 12, Size: 4}) // quoted source
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.skipQuoted4()
	a.emit(bpf.LoadIndirect{Off: 8, Size: 2}) // quoted source port
	a.ja("hash")
	// An error about one of our IPIP packets: the client's packet inside.
	a.label("icmpipip")
	a.skipQuoted4()
	a.emit(bpf.LoadIndirect{Off: 8 + 12, Size: 4}) // inner source
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.skipQuoted4()
	a.emit(bpf.LoadIndirect{Off: 8, Size: 2}) // inner source port
	a.ja("hash")
	a.label("icmpvip")
	a.emit(bpf.LoadIndirect{Off: 8 + 16, Size: 4}) // quoted destination
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.skipQuoted4()
	a.emit(bpf.LoadIndirect{Off: 8 + 2, Size: 2}) // quoted destination port
	a.label("hash")
	a.emit(bpf.LoadScratch{Dst: bpf.RegX, N: 0})
	a.emit(bpf.ALUOpX{Op: bpf.ALUOpXor})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0x9e3779b1})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 16})
	a.emit(bpf.RetA{})
	a.label("ret0")
	a.emit(bpf.RetConstant{Val: 0})
	return a.assemble("fanout")
}

// ihl4 emits X = the IPv4 header's length, from the header's first byte,
// which X holds from the program's start (LoadMemShift would load the
// byte again).
func (a *asm) ihl4() {
	a.emit(bpf.TXA{})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	a.emit(bpf.TAX{})
}

// skipQuoted4 emits X += the length of the IPv4 header at 8+X (a quoted
// header, after the ICMP header; options included, as
// forward.ParseICMPError reads it).
func (a *asm) skipQuoted4() {
	a.emit(bpf.LoadIndirect{Off: 8, Size: 1})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f})
	a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	a.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	a.emit(bpf.TAX{})
}

// The fanout program's scratch words: 0 holds the address hashed; the
// IPv6 walk keeps the next header and a header's length in two more, and
// an ICMPv6 error the lengths of its own and its quote's extension
// headers.
const (
	scratchNext6 = 1 + iota
	scratchLen6
	scratchOuter6
	scratchQuote6
)

// walk6 emits the walk over the extension headers of the IPv6 header at
// off+X (X as the walk starts), as the data path skips them: at most
// maxExt6 hop-by-hop, routing and destination options headers, and in a
// quoted packet (quote) fragment and AH headers too, as
// forward.ParseICMPv6Error. It falls through with the protocol in A
// (TCP, UDP, or ICMPv6 outside a quote) and X advanced past the
// extension headers (the next header at off+40+X); on any other header,
// or too many, it jumps to other.
func (a *asm) walk6(off uint32, name string, quote bool, other string) {
	done := name + "-done"
	a.emit(bpf.LoadIndirect{Off: off + 6, Size: 1})
	for i := 0; i <= maxExt6; i++ {
		l := func(what string) string { return fmt.Sprintf("%s-%s-%d", name, what, i) }
		a.jeq(6, l("hit"), "")
		a.jeq(17, l("hit"), "")
		if !quote {
			a.jeq(58, l("hit"), "")
		}
		if i == maxExt6 {
			a.ja(other)
			a.label(l("hit"))
			a.ja(done)
			break
		}
		a.jeq(0, l("opt"), "")
		a.jeq(43, l("opt"), "")
		a.jeq(60, l("opt"), "")
		if quote {
			a.jeq(44, l("frag"), "")
			a.jeq(51, l("ah"), "")
		}
		a.ja(other)
		a.label(l("hit"))
		a.ja(done)
		// Options and routing headers: (length + 1) * 8 bytes.
		a.label(l("opt"))
		a.emit(bpf.LoadIndirect{Off: off + 40 + 1, Size: 1})
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1})
		a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 3})
		if quote {
			a.ja(l("adv"))
			// AH: (length + 2) * 4 bytes.
			a.label(l("ah"))
			a.emit(bpf.LoadIndirect{Off: off + 40 + 1, Size: 1})
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 2})
			a.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
			a.ja(l("adv"))
			// A fragment header: 8 bytes.
			a.label(l("frag"))
			a.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: 8})
		}
		a.label(l("adv"))
		a.emit(bpf.StoreScratch{Src: bpf.RegA, N: scratchLen6})
		a.emit(bpf.LoadIndirect{Off: off + 40, Size: 1}) // its next header
		a.emit(bpf.StoreScratch{Src: bpf.RegA, N: scratchNext6})
		a.emit(bpf.LoadScratch{Dst: bpf.RegA, N: scratchLen6})
		a.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		a.emit(bpf.TAX{})
		a.emit(bpf.LoadScratch{Dst: bpf.RegA, N: scratchNext6})
	}
	a.label(done)
}

// maxExt6 is how many extension headers walk6 passes, as many as the
// data path's decoder and forward.ParseICMPv6Error.
const maxExt6 = 8

// maxFanoutVIPs6 is how many IPv6 VIPs fanoutProgram compares (twice 8
// instructions each, within a classic BPF jump's reach); with more, all
// IPv6 goes to worker 0.
const maxFanoutVIPs6 = 8

// all6On0 reports whether the fanout program of table t sends all IPv6 to
// worker 0: beyond maxFanoutVIPs6 IPv6 VIPs, or with an IPv6 mark rule
// wider than the VIP list (the engine then gives the program no IPv6
// VIPs).
func all6On0(t *vs.Table) bool { return t.NumVIPs6() > maxFanoutVIPs6 || t.WideVIPs6() }

func ip4(v [4]byte) uint32 {
	return uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
}

// asm is a small classic BPF assembler with forward labels.
type asm struct {
	prog   []bpf.Instruction
	labels map[string]int
	fixes  []asmFix
}

type asmFix struct {
	at          int
	ifTrue, els string // JumpIf targets ("" falls through)
	ja          string // Jump target
}

func (a *asm) emit(i bpf.Instruction) { a.prog = append(a.prog, i) }

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.prog)
}

func (a *asm) jeq(val uint32, ifTrue, els string) {
	a.fixes = append(a.fixes, asmFix{at: len(a.prog), ifTrue: ifTrue, els: els})
	a.emit(bpf.JumpIf{Cond: bpf.JumpEqual, Val: val})
}

// dstIsVIP6 emits the comparison of the IPv6 destination address with
// each of vips6, jumping to match on one; it falls through on none.
func (a *asm) dstIsVIP6(vips6 [][16]byte, match string) {
	for i, v := range vips6 {
		next := fmt.Sprintf("%s-not-%d", match, i+1)
		for w := range 4 {
			a.emit(bpf.LoadAbsolute{Off: uint32(24 + 4*w), Size: 4})
			if w < 3 {
				a.jeq(ip4([4]byte(v[4*w:4*w+4])), "", next)
			} else {
				a.jeq(ip4([4]byte(v[4*w:4*w+4])), match, next)
			}
		}
		a.label(next)
	}
}

func (a *asm) jgt(val uint32, ifTrue, els string) {
	a.fixes = append(a.fixes, asmFix{at: len(a.prog), ifTrue: ifTrue, els: els})
	a.emit(bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: val})
}

func (a *asm) ja(target string) {
	a.fixes = append(a.fixes, asmFix{at: len(a.prog), ja: target})
	a.emit(bpf.Jump{})
}

// assemble resolves the jumps (all forward) and assembles the program.
func (a *asm) assemble(what string) []bpf.RawInstruction {
	skip := func(from int, name string) int {
		to, ok := a.labels[name]
		if !ok || to <= from {
			panic("engine: " + what + " program: bad label " + name)
		}
		return to - from - 1
	}
	for _, f := range a.fixes {
		if f.ja != "" {
			a.prog[f.at] = bpf.Jump{Skip: uint32(skip(f.at, f.ja))}
			continue
		}
		j := a.prog[f.at].(bpf.JumpIf)
		short := func(name string) uint8 {
			n := skip(f.at, name)
			if n > 255 {
				panic("engine: " + what + " program: a conditional jump to " + name + " is too long")
			}
			return uint8(n)
		}
		if f.ifTrue != "" {
			j.SkipTrue = short(f.ifTrue)
		}
		if f.els != "" {
			j.SkipFalse = short(f.els)
		}
		a.prog[f.at] = j
	}
	raw, err := bpf.Assemble(a.prog)
	if err != nil {
		panic("engine: " + what + " program does not assemble: " + err.Error())
	}
	return raw
}

// steerFanout returns prog with its results mapped to the sockets off to
// off+workers-1 of a fanout group that holds 2*workers sockets: every
// worker's frame ring, then every worker's block ring (ring.blk). Each
// RET A becomes a jump to a tail that takes A modulo workers and adds
// off, each RET k returns k modulo workers plus off: what the kernel's own
// modulo of the group's size did when the group held one socket a worker.
func steerFanout(prog []bpf.RawInstruction, workers, off int) []bpf.RawInstruction {
	retA, _ := bpf.RetA{}.Assemble()
	retK, _ := bpf.RetConstant{}.Assemble()
	out := make([]bpf.RawInstruction, 0, len(prog)+3)
	for i, ins := range prog {
		switch {
		case ins == retA:
			ins, _ = bpf.Jump{Skip: uint32(len(prog) - i - 1)}.Assemble()
		case ins.Op == retK.Op:
			ins.K = ins.K%uint32(workers) + uint32(off)
		}
		out = append(out, ins)
	}
	for _, tail := range []bpf.Instruction{
		bpf.ALUOpConstant{Op: bpf.ALUOpMod, Val: uint32(workers)},
		bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: uint32(off)},
		bpf.RetA{},
	} {
		ins, _ := tail.Assemble()
		out = append(out, ins)
	}
	return out
}
