package engine

import "golang.org/x/net/bpf"

// fanoutProgram builds the classic BPF program that picks a worker for
// every frame (PACKET_FANOUT_CBPF; the kernel takes the result modulo the
// number of sockets). It hashes the client's side of a flow, so both
// directions of a NAT connection reach the worker that owns its entry:
//
//   - IPv4 to a VIP (client to director): the source address and port;
//   - any other IPv4 (a real server's reply to a client, or to a FULLNAT
//     local address): the destination address and port.
//
// Fanout programs see the packet from its network header, not the
// Ethernet header. Frames that are not IPv4 (ARP) go to worker 0; so do
// IPv4 frames without ports (ICMP, later fragments), hashed on the
// address alone. With more VIPs than a classic BPF jump spans, traffic is
// hashed on its source (DR and TUN need nothing more).
func fanoutProgram(vips [][4]byte) []bpf.RawInstruction {
	const maxVIPs = 200
	if len(vips) > maxVIPs {
		vips = vips[:0]
	}
	// Layout:
	//   0 ld proto; 1 jeq IPv4 else ret 0
	//   2 ld [16] (dst); 3.. jeq vip -> src
	//   dst: st M[0]; ldxb ihl; ldh [x+2]; ja hash
	//   src: ld [12]; st M[0]; ldxb ihl; ldh [x+0]
	//   hash: ldx M[0]; xor x; mul golden; rsh 16; ret a
	//   ret0: ret 0
	k := len(vips)
	dstAt := 3 + k
	srcAt := dstAt + 4
	hashAt := srcAt + 4
	ret0 := hashAt + 5
	prog := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtProto},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x0800, SkipFalse: uint8(ret0 - 2)},
		bpf.LoadAbsolute{Off: 16, Size: 4},
	}
	for i, v := range vips {
		ip := uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3])
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: ip, SkipTrue: uint8(srcAt - (3 + i) - 1)})
	}
	prog = append(prog,
		// dst side
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 2, Size: 2},
		bpf.Jump{Skip: uint32(hashAt - (dstAt + 3) - 1)},
		// src side
		bpf.LoadAbsolute{Off: 12, Size: 4},
		bpf.StoreScratch{Src: bpf.RegA, N: 0},
		bpf.LoadMemShift{Off: 0},
		bpf.LoadIndirect{Off: 0, Size: 2},
		// hash
		bpf.LoadScratch{Dst: bpf.RegX, N: 0},
		bpf.ALUOpX{Op: bpf.ALUOpXor},
		bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 0x9e3779b1},
		bpf.ALUOpConstant{Op: bpf.ALUOpShiftRight, Val: 16},
		bpf.RetA{},
		bpf.RetConstant{Val: 0},
	)
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic("engine: fanout program does not assemble: " + err.Error())
	}
	return raw
}
