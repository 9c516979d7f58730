package bench

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Frame sizes of the packet-rate tests: the whole Ethernet frame without
// its FCS, as trafgen sends it.
const (
	minFrame = 14 + 20 + 8 // Ethernet, IPv4, UDP headers
	// MaxFrame is the largest frame the lab's MTU of 1500 carries.
	MaxFrame = 14 + 1500
)

// UDPFlood describes the frames a packet-rate test sends: UDP from Src to
// Dst:DstPort in Flows flows (source ports SrcPort, SrcPort+1, ...), each
// frame FrameLen bytes long, DF clear (trafgen's default).
type UDPFlood struct {
	SrcMAC, DstMAC net.HardwareAddr
	Src, Dst       netip.Addr
	SrcPort        uint16
	DstPort        uint16
	Flows          int
	FrameLen       int
}

// TrafgenConfig writes the flood as a trafgen(8) packet configuration:
// one packet block per flow, each with its checksums computed once by
// trafgen, sent round robin. Static packets keep the generator's own work
// per frame at a copy.
func (f UDPFlood) TrafgenConfig() (string, error) {
	if f.FrameLen < minFrame+1 || f.FrameLen > MaxFrame {
		return "", fmt.Errorf("bench: frame length %d out of range %d..%d", f.FrameLen, minFrame+1, MaxFrame)
	}
	if f.Flows < 1 || int(f.SrcPort)+f.Flows > 65536 {
		return "", fmt.Errorf("bench: %d flows from source port %d do not fit", f.Flows, f.SrcPort)
	}
	if len(f.SrcMAC) != 6 || len(f.DstMAC) != 6 || !f.Src.Is4() || !f.Dst.Is4() {
		return "", fmt.Errorf("bench: flood needs Ethernet MACs and IPv4 addresses")
	}
	fill := f.FrameLen - minFrame
	var b strings.Builder
	fmt.Fprintf(&b, "/* ulvs bench: %d UDP flows %s -> %s:%d, %d-byte frames */\n", f.Flows, f.Src, f.Dst, f.DstPort, f.FrameLen)
	for i := 0; i < f.Flows; i++ {
		fmt.Fprintf(&b, "{ eth(da=%s, sa=%s, type=0x0800), ipv4(saddr=%s, daddr=%s, ttl=64), udp(sp=%d, dp=%d), fill(0x55, %d) }\n",
			f.DstMAC, f.SrcMAC, f.Src, f.Dst, int(f.SrcPort)+i, f.DstPort, fill)
	}
	return b.String(), nil
}

// TrafgenArgs are trafgen's arguments to send the configuration in file
// on dev as fast as it can from one process: no CPU statistics, no
// changes to the host's socket memory limits or interrupt affinity.
func TrafgenArgs(dev, file string) []string {
	return []string{"--dev", dev, "--conf", file, "--cpus", "1", "--no-sock-mem", "--notouch-irq", "--no-cpu-stats"}
}
