package arp

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Neighbour table files, most specific first. /proc/net is a link to
// /proc/self/net, which shows the network namespace of the process's main
// thread; /proc/thread-self/net shows the calling thread's, which is the one
// that matters after setns on a locked OS thread.
var neighbourFiles = [...]string{"/proc/thread-self/net/arp", "/proc/net/arp"}

// atfCom is ATF_COM from include/uapi/linux/if_arp.h: the entry is complete
// (the kernel sets it for NUD_VALID states, net/ipv4/arp.c arp_state_to_flags).
const atfCom = 0x2

// ReadNeighbours returns the complete IPv4 neighbour entries of interface
// iface (all interfaces if iface is empty) from the kernel's ARP table, as
// /proc/net/arp shows it: only entries whose flags have ATF_COM (0x2) set and
// whose MAC is not all zeros.
//
// It reads the table of the calling thread's network namespace, so call it
// on the OS thread that has joined the director's namespace. It returns an
// empty map when the table cannot be read (not Linux, no /proc): the result
// is only a hint that ARP later confirms.
func ReadNeighbours(iface string) map[netip.Addr][6]byte {
	for _, name := range neighbourFiles {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		m := parseNeighbours(f, iface)
		f.Close()
		return m
	}
	return map[netip.Addr][6]byte{}
}

// parseNeighbours parses the text of /proc/net/arp (format from
// net/ipv4/arp.c, arp_seq_show):
//
//	IP address       HW type     Flags       HW address            Mask     Device
//	10.77.0.11       0x1         0x2         02:00:00:00:00:0b     *        d-eth0
//
// Lines that do not parse are skipped.
func parseNeighbours(r io.Reader, iface string) map[netip.Addr][6]byte {
	m := make(map[netip.Addr][6]byte)
	sc := bufio.NewScanner(r)
	first := true
	for sc.Scan() {
		if first { // header line
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) != 6 {
			continue
		}
		if iface != "" && f[5] != iface {
			continue
		}
		addr, err := netip.ParseAddr(f[0])
		if err != nil || !addr.Is4() {
			continue
		}
		flags, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 32)
		if err != nil || flags&atfCom == 0 {
			continue
		}
		hw, err := net.ParseMAC(f[3])
		if err != nil || len(hw) != hwAddrLen {
			continue
		}
		mac := [6]byte(hw)
		if mac == ([6]byte{}) {
			continue
		}
		m[addr] = mac
	}
	return m
}
