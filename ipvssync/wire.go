package ipvssync

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// DefaultGroup returns the kernel's multicast group, 224.0.0.81
// (IP_VS_SYNC_GROUP).
func DefaultGroup() netip.Addr { return netip.AddrFrom4([4]byte{224, 0, 0, 81}) }

// Defaults of the kernel's sync daemon (ip_vs_sync.c, start_sync_thread).
const (
	// DefaultPort is the UDP port, IP_VS_SYNC_PORT. With sync_ports N the
	// kernel uses ports DefaultPort .. DefaultPort+N-1.
	DefaultPort = 8848
	// DefaultTTL is the multicast TTL the kernel uses when none is given.
	DefaultTTL = 1
	// DefaultMaxLen is the master's message size limit when --sync-maxlen
	// is not given: a 1500-byte MTU minus the IPv4 and UDP headers. The
	// kernel uses 1500 for the master whatever the interface's MTU is.
	DefaultMaxLen = 1500 - udpIPv4Overhead
	// MaxMaxLen is the largest --sync-maxlen the kernel accepts.
	MaxMaxLen = 65535 - udpIPv4Overhead

	udpIPv4Overhead = 20 + 8
)

// Flags are the IP_VS_CONN_F_* connection flags of include/uapi/linux/ip_vs.h
// as they travel in a sync entry (32 bits in v1, the low 16 bits in v0).
type Flags uint32

// The IP_VS_CONN_F_* flags. The low three bits are the forwarding method.
const (
	FlagFwdMask   Flags = 0x0007 // IP_VS_CONN_F_FWD_MASK
	FlagMasq      Flags = 0x0000 // IP_VS_CONN_F_MASQ: NAT
	FlagLocalNode Flags = 0x0001 // IP_VS_CONN_F_LOCALNODE
	FlagTunnel    Flags = 0x0002 // IP_VS_CONN_F_TUNNEL: IPIP
	FlagDRoute    Flags = 0x0003 // IP_VS_CONN_F_DROUTE: direct routing
	FlagBypass    Flags = 0x0004 // IP_VS_CONN_F_BYPASS
	// FlagFullNAT is ulvs's FULLNAT forwarding method. The stock kernel
	// defines no method 5; the value is the one Alibaba's FULLNAT LVS
	// patches used (IP_VS_CONN_F_FULLNAT). A stock kernel backup keeps it
	// (it is inside IP_VS_CONN_F_FWD_MASK) but has no transmitter for it.
	FlagFullNAT   Flags = 0x0005
	FlagSync      Flags = 0x0020  // IP_VS_CONN_F_SYNC: entry created by sync (set by the backup)
	FlagHashed    Flags = 0x0040  // IP_VS_CONN_F_HASHED: kernel-internal, cleared before sending
	FlagNoOutput  Flags = 0x0080  // IP_VS_CONN_F_NOOUTPUT: DR/TUN, the director sees no replies
	FlagInactive  Flags = 0x0100  // IP_VS_CONN_F_INACTIVE: not established
	FlagOutSeq    Flags = 0x0200  // IP_VS_CONN_F_OUT_SEQ: output sequence adjust
	FlagInSeq     Flags = 0x0400  // IP_VS_CONN_F_IN_SEQ: input sequence adjust
	FlagSeqMask   Flags = 0x0600  // IP_VS_CONN_F_SEQ_MASK
	FlagNoCPort   Flags = 0x0800  // IP_VS_CONN_F_NO_CPORT: client port not set yet
	FlagTemplate  Flags = 0x1000  // IP_VS_CONN_F_TEMPLATE: persistence template
	FlagOnePacket Flags = 0x2000  // IP_VS_CONN_F_ONE_PACKET: never synced
	FlagNFCT      Flags = 1 << 16 // IP_VS_CONN_F_NFCT: use netfilter conntrack

	// BackupMask are the flags a kernel backup keeps from a v1 entry
	// (IP_VS_CONN_F_BACKUP_MASK); it then adds FlagSync.
	BackupMask = FlagFwdMask | FlagNoOutput | FlagInactive | FlagSeqMask | FlagNoCPort | FlagTemplate
	// BackupUpdMask are the flags a kernel backup updates on an existing
	// connection (IP_VS_CONN_F_BACKUP_UPD_MASK).
	BackupUpdMask = FlagInactive | FlagSeqMask
)

var fwdNames = [...]string{"MASQ", "LOCALNODE", "TUNNEL", "DROUTE", "BYPASS", "FULLNAT", "FWD6", "FWD7"}

var flagNames = []struct {
	f    Flags
	name string
}{
	{FlagSync, "SYNC"}, {FlagHashed, "HASHED"}, {FlagNoOutput, "NOOUTPUT"},
	{FlagInactive, "INACTIVE"}, {FlagOutSeq, "OUT_SEQ"}, {FlagInSeq, "IN_SEQ"},
	{FlagNoCPort, "NO_CPORT"}, {FlagTemplate, "TEMPLATE"}, {FlagOnePacket, "ONE_PACKET"},
	{FlagNFCT, "NFCT"},
}

// String returns the forwarding method and the set flags joined by "|",
// e.g. "DROUTE|NOOUTPUT|INACTIVE"; unnamed bits are shown in hex.
func (f Flags) String() string {
	var b strings.Builder
	b.WriteString(fwdNames[f&FlagFwdMask])
	rest := f &^ FlagFwdMask
	for _, n := range flagNames {
		if rest&n.f != 0 {
			b.WriteString("|" + n.name)
			rest &^= n.f
		}
	}
	if rest != 0 {
		fmt.Fprintf(&b, "|0x%x", uint32(rest))
	}
	return b.String()
}

// Protocol numbers an entry may carry.
const (
	ProtoTCP = 6
	ProtoUDP = 17
)

// TCP connection states as IPVS numbers them (IP_VS_TCP_S_*,
// ip_vs_proto_tcp.c); an entry's State uses these for TCP connections.
const (
	TCPNone        = 0
	TCPEstablished = 1
	TCPSynSent     = 2
	TCPSynRecv     = 3
	TCPFinWait     = 4
	TCPTimeWait    = 5
	TCPClose       = 6
	TCPCloseWait   = 7
	TCPLastAck     = 8
	TCPListen      = 9
	TCPSynAck      = 10
	tcpStates      = 11 // IP_VS_TCP_S_LAST
	udpStates      = 1  // IP_VS_UDP_S_LAST: UDP has the one state 0
)

// Template states (IP_VS_CTPL_S_*): a persistence template's State.
const (
	TemplateNone    = 0
	TemplateAssured = 1
)

// Seq is the kernel's struct ip_vs_seq: TCP sequence adjustment of a
// connection whose payload an application helper (FTP) resized.
type Seq struct {
	InitSeq       uint32 // add Delta to sequence numbers after this one
	Delta         uint32 // delta in the sequence numbers after InitSeq
	PreviousDelta uint32 // delta in the sequence numbers before InitSeq
}

// Option types of a v1 entry (IPVS_OPT_*, ip_vs_sync.c).
const (
	OptSeqData = 1 // IPVS_OPT_SEQ_DATA: in_seq and out_seq, 24 bytes
	OptPEData  = 2 // IPVS_OPT_PE_DATA: persistence engine data, 1..255 bytes
	OptPEName  = 3 // IPVS_OPT_PE_NAME: persistence engine name, 1..16 bytes
	// OptFlagParam (IPVS_OPT_F_PARAM) marks an option as optional: a
	// kernel backup skips an unknown option with this bit and drops the
	// entry for an unknown option without it.
	OptFlagParam = 1 << 6
	// OptULVSLocal is the ulvs option carrying a FULLNAT connection's local
	// address and port (4 + 2 bytes, network order). Its type is
	// OptFlagParam|4: 4 is no kernel option, and the OptFlagParam bit makes
	// a kernel backup (every version since v1 sync, 2.6.39) skip it and
	// keep the entry, so it can be sent to any peer.
	OptULVSLocal = OptFlagParam | 4
	// OptULVSSynProxy is the ulvs option carrying the rest of a SYN
	// proxy connection's state (Proxy: 9 bytes), beside the sequence
	// number delta that IPVS_OPT_SEQ_DATA carries. Optional like
	// OptULVSLocal: a kernel backup skips it.
	OptULVSSynProxy = OptFlagParam | 5
	// OptULVSLocal6 is OptULVSLocal for an IPv6 FULLNAT connection: its
	// local IPv6 address and port (16 + 2 bytes, network order), on an
	// IPv6 entry only. Optional like OptULVSLocal: a kernel backup skips
	// it.
	OptULVSLocal6 = OptFlagParam | 6
	// OptULVSNeigh is the ulvs option carrying where a NAT66 or
	// IPv6 FULLNAT connection's client packets came from: the neighbour's MAC (the
	// client or its router) and the index of the director's interface
	// (6 + 1 bytes). The replies of such a connection go back to
	// that neighbour (no route lookup), and a backup or a restarted
	// ulvsd that did not see the client would otherwise drop them until
	// the client's next packet. Optional like OptULVSLocal: a kernel
	// backup skips it.
	OptULVSNeigh = OptFlagParam | 8
)

// Proxy is what a SYN proxy connection needs beyond its sequence number
// delta to be translated on another director (synproxy.Conn): the offset
// of the real server's timestamps from the proxy's, the client's MSS, the
// options negotiated (synproxy.Opt*) and both sides' window scales.
type Proxy struct {
	TSOff              uint32
	MSS                uint16
	Opts               uint8
	ClientWS, ServerWS uint8
}

// Maximum lengths of the persistence engine options (IP_VS_PEDATA_MAXLEN,
// IP_VS_PENAME_MAXLEN).
const (
	MaxPEData = 255
	MaxPEName = 16
)

// Entry is one connection (or persistence template) in a sync message. It
// is a pointer-free value: copy it freely. Addresses are in network order
// (IPv4 in CAddr, VAddr, DAddr; IPv6 in CAddr6, VAddr6, DAddr6 when IPv6
// is set); ports are host integers. The zero value is a valid (if
// useless) TCP-less IPv4 entry.
type Entry struct {
	Proto uint8  // IP protocol: ProtoTCP or ProtoUDP
	Flags Flags  // IP_VS_CONN_F_*; the low 3 bits are the forwarding method
	State uint16 // TCP* for TCP, 0 for UDP, Template* for templates

	CAddr [4]byte // client
	VAddr [4]byte // virtual service
	DAddr [4]byte // real server (destination)
	// IPv6 says the entry is an IPv6 connection or template (struct
	// ip_vs_sync_v6, entry type STYPE_F_INET6, v1 only): its addresses
	// are CAddr6, VAddr6 and DAddr6, and CAddr, VAddr and DAddr are zero.
	// The kernel syncs no mixed-family connection (the real server is of
	// the service's family), nor does ulvs.
	IPv6                   bool
	CAddr6, VAddr6, DAddr6 [16]byte
	CPort                  uint16
	VPort                  uint16
	DPort                  uint16

	FwMark  uint32 // v1 only: the fwmark of a fwmark service
	Timeout uint32 // v1 only: seconds; 0 from v0, where the backup uses its own

	// HasSeq says InSeq and OutSeq are set (IPVS_OPT_SEQ_DATA in v1, the
	// 24 option bytes of v0, which follow when Flags has FlagSeqMask bits).
	HasSeq bool
	InSeq  Seq
	OutSeq Seq

	// Persistence engine (IPVS_OPT_PE_DATA and IPVS_OPT_PE_NAME, v1 only).
	PEDataLen uint8
	PENameLen uint8
	PEData    [MaxPEData]byte
	PEName    [MaxPEName]byte

	// HasLocal says LAddr (LAddr6 for an IPv6 entry) and LPort, the
	// FULLNAT local address and port the connection is SNATed to, are set
	// (the OptULVSLocal option, OptULVSLocal6 for IPv6).
	HasLocal bool
	LAddr    [4]byte
	LAddr6   [16]byte
	LPort    uint16

	// HasNeigh says NeighMAC and NeighLink, a NAT66 or IPv6 FULLNAT connection's client
	// neighbour and interface index, are set (the OptULVSNeigh option).
	HasNeigh  bool
	NeighMAC  [6]byte
	NeighLink uint8

	// HasProxy says Proxy is set (the OptULVSSynProxy option): the
	// connection is a SYN proxy's, its sequence number delta in OutSeq.
	HasProxy bool
	Proxy    Proxy
}

// Client returns the client's address and port.
func (e *Entry) Client() netip.AddrPort {
	if e.IPv6 {
		return netip.AddrPortFrom(netip.AddrFrom16(e.CAddr6), e.CPort)
	}
	return addrPort(e.CAddr, e.CPort)
}

// Virtual returns the virtual service's address and port.
func (e *Entry) Virtual() netip.AddrPort {
	if e.IPv6 {
		return netip.AddrPortFrom(netip.AddrFrom16(e.VAddr6), e.VPort)
	}
	return addrPort(e.VAddr, e.VPort)
}

// Dest returns the real server's address and port.
func (e *Entry) Dest() netip.AddrPort {
	if e.IPv6 {
		return netip.AddrPortFrom(netip.AddrFrom16(e.DAddr6), e.DPort)
	}
	return addrPort(e.DAddr, e.DPort)
}

// Local returns the FULLNAT local address and port, and whether it is set.
func (e *Entry) Local() (netip.AddrPort, bool) {
	if e.IPv6 {
		return netip.AddrPortFrom(netip.AddrFrom16(e.LAddr6), e.LPort), e.HasLocal
	}
	return addrPort(e.LAddr, e.LPort), e.HasLocal
}

// PE returns the persistence engine name and data; both are empty when the
// entry carries none. The data aliases the entry.
func (e *Entry) PE() (name string, data []byte) {
	return string(e.PEName[:e.PENameLen]), e.PEData[:e.PEDataLen]
}

// SetPE sets the persistence engine name and data. It fails when either is
// longer than the kernel allows, or data is given without a name (the
// kernel backup drops such an entry).
func (e *Entry) SetPE(name string, data []byte) error {
	switch {
	case len(name) > MaxPEName:
		return fmt.Errorf("persistence engine name %q: longer than %d bytes", name, MaxPEName)
	case len(data) > MaxPEData:
		return fmt.Errorf("persistence engine data: %d bytes, at most %d", len(data), MaxPEData)
	case len(data) > 0 && name == "":
		return errors.New("persistence engine data without an engine name")
	case len(data) == 0 && name != "":
		return errors.New("persistence engine name without data: the kernel sends the name only with data")
	}
	e.PENameLen = uint8(copy(e.PEName[:], name))
	e.PEDataLen = uint8(copy(e.PEData[:], data))
	return nil
}

// IsTemplate reports whether the entry is a persistence template.
func (e *Entry) IsTemplate() bool { return e.Flags&FlagTemplate != 0 }

func addrPort(a [4]byte, p uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(a), p)
}

// String describes the entry the way the oracle's decoder does:
// "TCP MASQ|INACTIVE state=5 10.0.1.2:41001 -> 10.0.0.100:80 -> 10.0.0.12:8080 timeout=120".
func (e *Entry) String() string {
	var b strings.Builder
	switch e.Proto {
	case ProtoTCP:
		b.WriteString("TCP")
	case ProtoUDP:
		b.WriteString("UDP")
	default:
		fmt.Fprintf(&b, "proto%d", e.Proto)
	}
	fmt.Fprintf(&b, " %s state=%d %s -> %s -> %s fwmark=%d timeout=%d",
		e.Flags, e.State, e.Client(), e.Virtual(), e.Dest(), e.FwMark, e.Timeout)
	if e.HasSeq {
		fmt.Fprintf(&b, " in_seq=%+v out_seq=%+v", e.InSeq, e.OutSeq)
	}
	if e.PEDataLen > 0 {
		name, data := e.PE()
		fmt.Fprintf(&b, " pe=%s:%x", name, data)
	}
	if l, ok := e.Local(); ok {
		fmt.Fprintf(&b, " local=%s", l)
	}
	if e.HasNeigh {
		fmt.Fprintf(&b, " neigh=%x@%d", e.NeighMAC, e.NeighLink)
	}
	return b.String()
}

// Wire sizes.
const (
	HeaderLenV0 = 4  // struct ip_vs_sync_mesg_v0
	HeaderLenV1 = 8  // struct ip_vs_sync_mesg
	EntryLenV0  = 24 // struct ip_vs_sync_conn_v0
	SeqOptLen   = 24 // struct ip_vs_sync_conn_options: in_seq, out_seq
	EntryLenV4  = 36 // struct ip_vs_sync_v4
	EntryLenV6  = 72 // struct ip_vs_sync_v6: the 24 bytes before the addresses, then three in6_addr
	localOptLen = 6
	local6Len   = 18
	proxyOptLen = 9
	neighOptLen = 7

	typeInet6   = 1      // STYPE_F_INET6
	verShift    = 12     // SVER_SHIFT
	sizeMask    = 0x0fff // SVER_MASK
	protoVerV1  = 1      // SYNC_PROTO_VER
	maxEntries  = 255    // nr_conns is one byte
	maxMsgBytes = 65535  // size is 16 bits
)

// EncodedLenV1 returns the bytes e takes in a v1 message, options included,
// padding to the next entry excluded (the entry's own size field).
func EncodedLenV1(e *Entry) int {
	n := EntryLenV4
	if e.IPv6 {
		n = EntryLenV6
	}
	if e.HasSeq {
		n += 2 + SeqOptLen
	}
	if e.PEDataLen > 0 {
		n += 2 + int(e.PEDataLen)
		if e.PENameLen > 0 {
			n += 2 + int(e.PENameLen)
		}
	}
	if e.HasLocal && e.IPv6 {
		n += 2 + local6Len
	} else if e.HasLocal {
		n += 2 + localOptLen
	}
	if e.HasProxy {
		n += 2 + proxyOptLen
	}
	if e.HasNeigh {
		n += 2 + neighOptLen
	}
	return n
}

// EncodedLenV0 returns the bytes e takes in a v0 message: 24, or 48 when
// its flags ask for sequence adjustment.
func EncodedLenV0(e *Entry) int {
	if e.Flags&FlagSeqMask != 0 {
		return EntryLenV0 + SeqOptLen
	}
	return EntryLenV0
}

// CheckV0 reports an error when e carries something a v0 message cannot:
// a timeout and fwmark are simply absent from v0 (the backup uses its own
// timeouts), but persistence engine data and the FULLNAT local address
// would be lost, so such entries must not be sent as v0. v0 has no IPv6
// entry at all (the kernel's ip_vs_sync_conn_v0 leaves IPv6 connections
// out).
func CheckV0(e *Entry) error {
	switch {
	case e.IPv6:
		return fmt.Errorf("sync v0 has no IPv6 entries: %w", ErrNotSupported)
	case e.PEDataLen > 0:
		return fmt.Errorf("sync v0 cannot carry persistence engine data: %w", ErrNotSupported)
	case e.HasLocal:
		return fmt.Errorf("sync v0 cannot carry the FULLNAT local address: %w", ErrNotSupported)
	case e.HasNeigh:
		return fmt.Errorf("sync v0 cannot carry a NAT66 connection's client neighbour: %w", ErrNotSupported)
	case e.HasProxy:
		return fmt.Errorf("sync v0 cannot carry a SYN proxy connection's state: %w", ErrNotSupported)
	}
	return nil
}

func pad4(n int) int { return (4 - n) & 3 }

// AppendMessageV1 appends a version 1 message with syncID and entries to dst
// and returns the extended slice. Entries are laid out as the kernel lays
// them out (ip_vs_sync_conn): each starts on a 4-byte boundary, padding
// zeroed, options in the order SEQ_DATA, PE_DATA, PE_NAME, then the ulvs
// local address, SYN proxy and neighbour options. Flags are sent as given: the kernel clears its
// internal FlagHashed before sending, and so should the caller. It panics
// when entries do not fit one message (more than 255 entries or 65535
// bytes): a Batcher never builds such a message.
func AppendMessageV1(dst []byte, syncID uint8, entries []Entry) []byte {
	checkCount(len(entries))
	start := len(dst)
	dst = append(dst, 0, syncID, 0, 0, uint8(len(entries)), protoVerV1, 0, 0)
	for i := range entries {
		dst = append(dst, make([]byte, pad4(len(dst)-start))...)
		dst = appendEntryV1(dst, &entries[i])
	}
	putSize(dst, start)
	return dst
}

func appendEntryV1(b []byte, e *Entry) []byte {
	var typ uint8
	if e.IPv6 {
		typ = typeInet6
	}
	b = append(b, typ, e.Proto)
	b = binary.BigEndian.AppendUint16(b, uint16(EncodedLenV1(e))&sizeMask)
	b = binary.BigEndian.AppendUint32(b, uint32(e.Flags))
	b = binary.BigEndian.AppendUint16(b, e.State)
	b = appendPorts(b, e)
	b = binary.BigEndian.AppendUint32(b, e.FwMark)
	b = binary.BigEndian.AppendUint32(b, e.Timeout)
	if e.IPv6 {
		b = append(b, e.CAddr6[:]...)
		b = append(b, e.VAddr6[:]...)
		b = append(b, e.DAddr6[:]...)
	} else {
		b = appendAddrs(b, e)
	}
	if e.HasSeq {
		b = append(b, OptSeqData, SeqOptLen)
		b = appendSeq(b, binary.BigEndian, e.InSeq)
		b = appendSeq(b, binary.BigEndian, e.OutSeq)
	}
	if e.PEDataLen > 0 {
		b = append(b, OptPEData, e.PEDataLen)
		b = append(b, e.PEData[:e.PEDataLen]...)
		if e.PENameLen > 0 {
			b = append(b, OptPEName, e.PENameLen)
			b = append(b, e.PEName[:e.PENameLen]...)
		}
	}
	if e.HasLocal && e.IPv6 {
		b = append(b, OptULVSLocal6, local6Len)
		b = append(b, e.LAddr6[:]...)
		b = binary.BigEndian.AppendUint16(b, e.LPort)
	} else if e.HasLocal {
		b = append(b, OptULVSLocal, localOptLen)
		b = append(b, e.LAddr[:]...)
		b = binary.BigEndian.AppendUint16(b, e.LPort)
	}
	if e.HasProxy {
		b = append(b, OptULVSSynProxy, proxyOptLen)
		b = binary.BigEndian.AppendUint32(b, e.Proxy.TSOff)
		b = binary.BigEndian.AppendUint16(b, e.Proxy.MSS)
		b = append(b, e.Proxy.Opts, e.Proxy.ClientWS, e.Proxy.ServerWS)
	}
	if e.HasNeigh {
		b = append(b, OptULVSNeigh, neighOptLen)
		b = append(b, e.NeighMAC[:]...)
		b = append(b, e.NeighLink)
	}
	return b
}

func appendEntryV0(b []byte, e *Entry) []byte {
	b = append(b, 0, e.Proto)
	b = appendPorts(b, e)
	b = appendAddrs(b, e)
	b = binary.BigEndian.AppendUint16(b, uint16(e.Flags))
	b = binary.BigEndian.AppendUint16(b, e.State)
	if e.Flags&FlagSeqMask != 0 {
		b = appendSeq(b, binary.LittleEndian, e.InSeq)
		b = appendSeq(b, binary.LittleEndian, e.OutSeq)
	}
	return b
}

// appendPorts appends cport, vport, dport: the order of both versions.
func appendPorts(b []byte, e *Entry) []byte {
	b = binary.BigEndian.AppendUint16(b, e.CPort)
	b = binary.BigEndian.AppendUint16(b, e.VPort)
	return binary.BigEndian.AppendUint16(b, e.DPort)
}

// appendAddrs appends caddr, vaddr, daddr.
func appendAddrs(b []byte, e *Entry) []byte {
	b = append(b, e.CAddr[:]...)
	b = append(b, e.VAddr[:]...)
	return append(b, e.DAddr[:]...)
}

// checkCount panics when n entries cannot be counted in one message.
func checkCount(n int) {
	if n > maxEntries {
		panic(fmt.Sprintf("ipvssync: %d entries in one message", n))
	}
}

// putSize writes the size of the message that starts at dst[start:] into
// its header (bytes 2-3 in both versions); it panics when it is too long.
func putSize(dst []byte, start int) {
	size := len(dst) - start
	if size > maxMsgBytes {
		panic(fmt.Sprintf("ipvssync: %d-byte message", size))
	}
	binary.BigEndian.PutUint16(dst[start+2:], uint16(size))
}

func appendSeq(b []byte, o binary.AppendByteOrder, s Seq) []byte {
	b = o.AppendUint32(b, s.InitSeq)
	b = o.AppendUint32(b, s.Delta)
	return o.AppendUint32(b, s.PreviousDelta)
}

// AppendMessageV0 appends a version 0 message with syncID and entries to dst
// and returns the extended slice (ip_vs_sync_conn_v0). Only the low 16
// flag bits travel; FwMark, Timeout, the persistence engine and the local
// address are not sent (see CheckV0). When the flags have FlagSeqMask bits
// the 24 sequence bytes follow the entry, in little-endian order: the
// kernel copies its host-order struct (x86) without conversion. It panics
// when entries do not fit one message, like AppendMessageV1.
func AppendMessageV0(dst []byte, syncID uint8, entries []Entry) []byte {
	checkCount(len(entries))
	start := len(dst)
	dst = append(dst, uint8(len(entries)), syncID, 0, 0)
	for i := range entries {
		dst = appendEntryV0(dst, &entries[i])
	}
	putSize(dst, start)
	return dst
}

// Accept reports whether a backup configured with syncid local takes a
// message carrying msgID: a backup with syncid 0 takes every message,
// otherwise the ids must be equal (ip_vs_process_message; the kernel drops
// the others silently).
func Accept(local, msgID uint8) bool { return local == 0 || local == msgID }
