package conntrack

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/ulvs/ulvs/vs"
)

// vmRSS returns the resident set size of this process in bytes, from
// /proc/self/status; 0 when unknown.
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// BenchmarkMillionConns measures the memory of a table sized for one
// million connections (issue 14: at most 100 MB resident) holding them:
// it reports the resident growth and the bytes per connection, and
// asserts nothing. Run it alone: go test -run x -bench MillionConns
// -benchtime 1x ./conntrack/. The NAT case also fills the side entries
// (side.go) and the reply-key index (outIndex) that NAT and FULLNAT
// connections keep beside the slots.
func BenchmarkMillionConns(b *testing.B) {
	for _, nat := range []bool{false, true} {
		name := "DR"
		if nat {
			name = "NAT"
		}
		b.Run(name, func(b *testing.B) { benchMillionConns(b, nat) })
	}
}

func benchMillionConns(b *testing.B, nat bool) {
	const n = 1 << 20
	vt := newFixture(b)
	d := vt.Dest(idMasq)
	for b.Loop() {
		// Give back what an earlier table left, so the growth is
		// this table's alone.
		debug.FreeOSMemory()
		before := vmRSS()
		// A table fills to three quarters of its slots, so n
		// connections need 4n/3 of them.
		tb := New(Config{Capacity: (4*n + 2) / 3})
		for i := 0; i < n; i++ {
			k := Key{Src: [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}, Dst: [4]byte{192, 0, 2, 1},
				SrcPort: uint16(1024 + i%60000), DstPort: 80, Proto: uint8(vs.TCP)}
			var c *Conn
			if nat {
				out := Key{Src: [4]byte{10, 0, 1, 11}, Dst: k.Src, SrcPort: 80, DstPort: k.SrcPort, Proto: k.Proto}
				c = tb.InsertNAT(k, out, 1, d, 0)
			} else {
				c = tb.Insert(k, 1, d, 0)
			}
			if c == nil {
				b.Fatalf("insert %d failed", i)
			}
		}
		after := vmRSS()
		b.ReportMetric(float64(after-before)/(1<<20), "MB_resident")
		b.ReportMetric(float64(after-before)/n, "B/conn")
		b.ReportMetric(float64(unsafe.Sizeof(Conn{})), "B/slot")
		b.ReportMetric(float64(len(tb.slots)), "slots")
		runtime.KeepAlive(tb)
	}
}
