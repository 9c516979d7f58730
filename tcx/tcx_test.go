//go:build linux

package tcx

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestEncode(t *testing.T) {
	got := Encode([]Insn{{Code: MovK, Dst: 1, Imm: -1}, {Code: LdxW, Dst: 7, Src: 6, Off: 76}, {Code: Exit}})
	want := []byte{
		0xb7, 0x01, 0, 0, 0xff, 0xff, 0xff, 0xff,
		0x61, 0x67, 76, 0, 0, 0, 0, 0,
		0x95, 0, 0, 0, 0, 0, 0, 0,
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Encode:\n got %x\nwant %x", got, want)
	}
}

// TestAsm: jumps forwards and backwards get the offset to their label.
func TestAsm(t *testing.T) {
	var a Asm
	a.Label("top")
	a.Emit(Insn{Code: MovK, Imm: 1})
	a.Jump(Insn{Code: Jeq32K, Imm: 2}, "end")
	a.Jump(Insn{Code: Ja}, "top")
	a.Emit(Insn{Code: MovK, Imm: 3})
	a.Label("end")
	a.Emit(Insn{Code: Exit})
	p := a.Insns()
	if p[1].Off != 2 || p[2].Off != -3 {
		t.Errorf("offsets %d and %d, want 2 and -3", p[1].Off, p[2].Off)
	}
	defer func() {
		if recover() == nil {
			t.Error("a jump to an undefined label did not panic")
		}
	}()
	var b Asm
	b.Jump(Insn{Code: Ja}, "nowhere")
	b.Insns()
}

// TestLoadAndRun loads a program the verifier takes and runs it, and one it
// refuses, whose error carries the verifier's reason.
func TestLoadAndRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: loading a BPF program needs root")
	}
	prog, err := Load("tcx_test", []Insn{{Code: MovK, Imm: Drop}, {Code: Exit}})
	if err != nil {
		t.Skipf("this kernel takes no tcx program: %v", err)
	}
	defer unix.Close(prog)
	frame := make([]byte, 64)
	v, out, err := TestRun(prog, frame)
	if err != nil || v != Drop || !bytes.Equal(out, frame) {
		t.Errorf("TestRun: verdict %d, frame %x, err %v; want %d and the frame unchanged", v, out, err, Drop)
	}
	// r0 is never written: the verifier refuses to return it.
	if fd, err := Load("tcx_test", []Insn{{Code: Exit}}); err == nil {
		unix.Close(fd)
		t.Error("the verifier took a program returning an unset r0")
	} else if !strings.Contains(err.Error(), "R0") {
		t.Errorf("error %q does not carry the verifier's reason", err)
	}
}
