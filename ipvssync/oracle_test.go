package ipvssync

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// capture is one UDP datagram of an oracle pcap.
type capture struct {
	src, dst netip.AddrPort
	ttl      uint8
	payload  []byte
}

// readPcap reads a classic little-endian microsecond pcap of Ethernet
// frames and returns its IPv4/UDP datagrams.
func readPcap(t testing.TB, path string) []capture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian classic pcap", path)
	}
	if lt := binary.LittleEndian.Uint32(b[20:]); lt != 1 {
		t.Fatalf("%s: link type %d, want 1 (Ethernet)", path, lt)
	}
	var out []capture
	for off := 24; off < len(b); {
		if off+16 > len(b) {
			t.Fatalf("%s: record header cut at %d", path, off)
		}
		incl := int(binary.LittleEndian.Uint32(b[off+8:]))
		frame := b[off+16 : off+16+incl]
		off += 16 + incl
		if binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			t.Fatalf("%s: not IPv4", path)
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[9] != 17 {
			t.Fatalf("%s: not UDP", path)
		}
		total := int(binary.BigEndian.Uint16(ip[2:]))
		udp := ip[ihl:total]
		ulen := int(binary.BigEndian.Uint16(udp[4:]))
		out = append(out, capture{
			src:     netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(udp)),
			dst:     netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(udp[2:])),
			ttl:     ip[8],
			payload: udp[8:ulen],
		})
	}
	return out
}

// oracleMsg is one message of a sync-*.decoded.txt file.
type oracleMsg struct {
	size, version, syncID, nrConns int
	header                         []byte
	entries                        []oracleEntry
}

type oracleEntry struct {
	off      int
	proto    uint8
	flags    Flags
	state    uint16
	c, v, d  netip.AddrPort
	fwmark   uint32
	timeout  uint32
	raw      []byte
	haveV1Tm bool
}

var (
	reMsg   = regexp.MustCompile(`^msg \d+ .* UDP payload (\d+) bytes$`)
	reHdrV1 = regexp.MustCompile(`^v1 header: reserved=0 syncid=(\d+) size=(\d+) nr_conns=(\d+) version=1 spare=0  \[bytes ([0-9a-f ]+)\]$`)
	reHdrV0 = regexp.MustCompile(`^v0 header: nr_conns=(\d+) syncid=(\d+) size=(\d+)  \[bytes ([0-9a-f ]+)\]$`)
	reConn  = regexp.MustCompile(`^conn \d+ @(\d+): (?:type=0 |reserved=0 )(TCP|UDP) (?:ver=0 size=36 )?flags=0x([0-9a-f]+)\([^)]*\) state=(\d+)\([^)]*\)\)? (\S+) -> (\S+) -> (\S+)(?: fwmark=(\d+) timeout=(\d+))?$`)
	reBytes = regexp.MustCompile(`^bytes: ([0-9a-f ]+)$`)
)

func readDecoded(t *testing.T, path string) []oracleMsg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []oracleMsg
	sc := bufio.NewScanner(f)
	atoi := func(s string) int {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return n
	}
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return b
	}
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := reMsg.FindStringSubmatch(line); m != nil {
			msgs = append(msgs, oracleMsg{size: atoi(m[1])})
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		cur := &msgs[len(msgs)-1]
		switch {
		case reHdrV1.MatchString(line):
			m := reHdrV1.FindStringSubmatch(line)
			cur.version, cur.syncID, cur.nrConns, cur.header = 1, atoi(m[1]), atoi(m[3]), unhex(m[4])
			if atoi(m[2]) != cur.size {
				t.Fatalf("%s: header size %s, payload %d", path, m[2], cur.size)
			}
		case reHdrV0.MatchString(line):
			m := reHdrV0.FindStringSubmatch(line)
			cur.version, cur.nrConns, cur.syncID, cur.header = 0, atoi(m[1]), atoi(m[2]), unhex(m[4])
		case reConn.MatchString(line):
			m := reConn.FindStringSubmatch(line)
			fl, _ := strconv.ParseUint(m[3], 16, 32)
			e := oracleEntry{
				off: atoi(m[1]), flags: Flags(fl), state: uint16(atoi(m[4])),
				c: netip.MustParseAddrPort(m[5]), v: netip.MustParseAddrPort(m[6]), d: netip.MustParseAddrPort(m[7]),
				proto: ProtoTCP,
			}
			if m[2] == "UDP" {
				e.proto = ProtoUDP
			}
			if m[8] != "" {
				e.haveV1Tm = true
				e.fwmark, e.timeout = uint32(atoi(m[8])), uint32(atoi(m[9]))
			}
			cur.entries = append(cur.entries, e)
		case reBytes.MatchString(line):
			cur.entries[len(cur.entries)-1].raw = unhex(reBytes.FindStringSubmatch(line)[1])
		case strings.HasPrefix(line, "conn "):
			t.Fatalf("%s: unparsed entry line %q", path, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestOracleCaptures decodes every message the kernel sent in the oracle
// recordings, compares each field with the oracle's decoded text and
// re-encodes the message, which must give the captured payload byte for
// byte.
func TestOracleCaptures(t *testing.T) {
	pcaps, err := filepath.Glob("testdata/*.pcap")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/run1/*.pcap")
	pcaps = append(pcaps, more...)
	if len(pcaps) != 8 {
		t.Fatalf("found %d pcaps, want 8", len(pcaps))
	}
	total := 0
	for _, p := range pcaps {
		t.Run(p, func(t *testing.T) {
			caps := readPcap(t, p)
			want := readDecoded(t, strings.TrimSuffix(p, ".pcap")+".decoded.txt")
			if len(caps) != len(want) || len(caps) == 0 {
				t.Fatalf("%d datagrams, %d decoded messages", len(caps), len(want))
			}
			for i, c := range caps {
				total++
				checkOracleMsg(t, fmt.Sprintf("msg %d", i+1), c, want[i])
			}
		})
	}
	if total != 12 {
		t.Errorf("checked %d messages, want 12", total)
	}
}

func checkOracleMsg(t *testing.T, name string, c capture, want oracleMsg) {
	t.Helper()
	if c.dst != netip.AddrPortFrom(DefaultGroup(), DefaultPort) || c.ttl != DefaultTTL {
		t.Errorf("%s: sent to %s ttl %d", name, c.dst, c.ttl)
	}
	if len(c.payload) != want.size || !bytes.Equal(c.payload[:len(want.header)], want.header) {
		t.Fatalf("%s: payload %d bytes starting % x, oracle %d bytes, header % x", name, len(c.payload), c.payload[:8], want.size, want.header)
	}
	m, err := Decode(c.payload)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if int(m.Version) != want.version || int(m.SyncID) != want.syncID || len(m.Entries) != want.nrConns || len(m.Skipped) != 0 {
		t.Fatalf("%s: version %d syncid %d %d entries (%d skipped), want version %d syncid %d %d entries",
			name, m.Version, m.SyncID, len(m.Entries), len(m.Skipped), want.version, want.syncID, want.nrConns)
	}
	for j, e := range m.Entries {
		w := want.entries[j]
		got := oracleEntry{off: w.off, proto: e.Proto, flags: e.Flags, state: e.State,
			c: e.Client(), v: e.Virtual(), d: e.Dest(), raw: w.raw, haveV1Tm: w.haveV1Tm}
		if w.haveV1Tm {
			got.fwmark, got.timeout = e.FwMark, e.Timeout
		} else if e.FwMark != 0 || e.Timeout != 0 {
			t.Errorf("%s entry %d: v0 entry with fwmark %d timeout %d", name, j, e.FwMark, e.Timeout)
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s entry %d:\n got %+v\nwant %+v", name, j, got, w)
		}
		if !bytes.Equal(c.payload[w.off:w.off+len(w.raw)], w.raw) {
			t.Errorf("%s entry %d: oracle bytes are not at offset %d", name, j, w.off)
		}
		if e.HasSeq || e.HasLocal || e.PEDataLen != 0 {
			t.Errorf("%s entry %d: options decoded where none were sent: %v", name, j, &e)
		}
	}
	var re []byte
	if m.Version == 1 {
		re = AppendMessageV1(nil, m.SyncID, m.Entries)
	} else {
		re = AppendMessageV0(nil, m.SyncID, m.Entries)
	}
	if !bytes.Equal(re, c.payload) {
		t.Errorf("%s: re-encoded message differs\n got % x\nwant % x", name, re, c.payload)
	}
}

// TestOracleSyncID replays the syncid phases: the idmis message (syncid 7)
// was ignored by a backup with syncid 9, the idzero one taken by a backup
// with syncid 0, and the v1 phase's by the backup with syncid 7.
func TestOracleSyncID(t *testing.T) {
	tests := []struct {
		pcap   string
		backup uint8
		want   bool
	}{
		{"testdata/sync-idmis.pcap", 9, false},
		{"testdata/run1/sync-idmis.pcap", 9, false},
		{"testdata/sync-idzero.pcap", 0, true},
		{"testdata/sync-v1.pcap", 7, true},
		{"testdata/sync-v0.pcap", 7, true},
	}
	for _, tt := range tests {
		for _, c := range readPcap(t, tt.pcap) {
			m, err := Decode(c.payload)
			if err != nil {
				t.Fatal(err)
			}
			if got := Accept(tt.backup, m.SyncID); got != tt.want {
				t.Errorf("%s: backup syncid %d, message %d: Accept = %v, want %v", tt.pcap, tt.backup, m.SyncID, got, tt.want)
			}
		}
	}
}
