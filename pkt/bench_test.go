package pkt_test

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
)

func BenchmarkDecode(b *testing.B) {
	frames := []struct {
		name  string
		frame []byte
	}{
		{"TCP", tcpFrame().Build()},
		{"VLAN_UDP", func() []byte { f := udpFrame(); f.VLAN = 7; return f.Build() }()},
		{"TCP_options_1500", func() []byte {
			f := tcpFrame()
			f.IPOptions = []byte{1, 1, 1, 0}
			f.Payload = make([]byte, 1456)
			return f.Build()
		}()},
	}
	for _, fr := range frames {
		b.Run(fr.name, func(b *testing.B) {
			b.ReportAllocs()
			var p pkt.Parsed
			for b.Loop() {
				sinkResult = p.Decode(fr.frame)
			}
		})
	}
}

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{20, 64, 1500, 9000} {
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i)
		}
		b.Run(itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				sinkU32 = pkt.Sum(buf, 0)
			}
		})
	}
}

func BenchmarkUpdate32(b *testing.B) {
	b.ReportAllocs()
	old, new := client.As4(), rip.As4()
	c := uint16(0x1234)
	for b.Loop() {
		c = pkt.Update32(c, old, new)
	}
	sinkU16 = c
}

func BenchmarkL4ChecksumValid1500(b *testing.B) {
	f := tcpFrame()
	f.Payload = make([]byte, 1460)
	ip := pkt.IPv4(f.Build()[pkt.EtherHeaderLen:])
	b.ReportAllocs()
	b.SetBytes(int64(len(ip)))
	for b.Loop() {
		sinkBool = pkt.L4ChecksumValid(ip)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
