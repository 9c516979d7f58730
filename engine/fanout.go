package engine

import "golang.org/x/net/bpf"

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
//     headers without options are assumed).
//
// Fanout programs see the packet from its network header, not the
// Ethernet header. Frames that are not IPv4 (ARP) go to worker 0. With
// more VIPs than a classic BPF jump spans, traffic to VIPs is hashed like
// replies; DR and TUN need nothing more.
func fanoutProgram(vips [][4]byte) []bpf.RawInstruction {
	const maxVIPs = 100
	if len(vips) > maxVIPs {
		vips = vips[:0]
	}
	var a asm
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
	a.emit(bpf.LoadMemShift{Off: 0})
	a.emit(bpf.LoadIndirect{Off: 2, Size: 2})
	a.ja("hash")
	a.label("src")
	a.emit(bpf.LoadAbsolute{Off: 12, Size: 4})
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.emit(bpf.LoadMemShift{Off: 0})
	a.emit(bpf.LoadIndirect{Off: 0, Size: 2})
	a.ja("hash")
	// ICMP: the quoted IPv4 header starts 8 bytes after the outer one.
	a.label("icmp")
	a.emit(bpf.LoadMemShift{Off: 0})
	a.emit(bpf.LoadAbsolute{Off: 16, Size: 4})
	for _, v := range vips {
		a.jeq(ip4(v), "icmpvip", "")
	}
	a.emit(bpf.LoadIndirect{Off: 8 + 9, Size: 1}) // quoted protocol
	a.jeq(4, "icmpipip", "")
	a.emit(bpf.LoadIndirect{Off: 8 + 12, Size: 4}) // quoted source
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.emit(bpf.LoadIndirect{Off: 8 + 20, Size: 2}) // quoted source port
	a.ja("hash")
	// An error about one of our IPIP packets: the client's packet inside.
	a.label("icmpipip")
	a.emit(bpf.LoadIndirect{Off: 8 + 20 + 12, Size: 4}) // inner source
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.emit(bpf.LoadIndirect{Off: 8 + 20 + 20, Size: 2}) // inner source port
	a.ja("hash")
	a.label("icmpvip")
	a.emit(bpf.LoadIndirect{Off: 8 + 16, Size: 4}) // quoted destination
	a.emit(bpf.StoreScratch{Src: bpf.RegA, N: 0})
	a.emit(bpf.LoadIndirect{Off: 8 + 22, Size: 2}) // quoted destination port
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
		if f.ifTrue != "" {
			j.SkipTrue = uint8(skip(f.at, f.ifTrue))
		}
		if f.els != "" {
			j.SkipFalse = uint8(skip(f.at, f.els))
		}
		a.prog[f.at] = j
	}
	raw, err := bpf.Assemble(a.prog)
	if err != nil {
		panic("engine: " + what + " program does not assemble: " + err.Error())
	}
	return raw
}
