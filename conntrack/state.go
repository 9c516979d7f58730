package conntrack

import "strconv"

// State is a connection's protocol state. TCP states have the kernel's
// IP_VS_TCP_S_* values (include/net/ip_vs.h) so tables indexed by them read
// like the kernel's; StateUDP is the single state of a UDP connection (the
// kernel's IP_VS_UDP_S_NORMAL, which ipvsadm -c shows as "UDP").
type State uint8

// TCP states in the kernel's order, then the UDP pseudo-state.
const (
	StateNone        State = iota // NONE: created, no packet seen yet
	StateEstablished              // ESTABLISHED
	StateSynSent                  // SYN_SENT
	StateSynRecv                  // SYN_RECV
	StateFinWait                  // FIN_WAIT
	StateTimeWait                 // TIME_WAIT
	StateClose                    // CLOSE
	StateCloseWait                // CLOSE_WAIT
	StateLastAck                  // LAST_ACK
	StateListen                   // LISTEN
	StateSynAck                   // SYNACK
	StateUDP                      // UDP: every UDP connection
)

// NumTCPStates is the number of TCP states (the kernel's IP_VS_TCP_S_LAST).
const NumTCPStates = int(StateSynAck) + 1

var stateNames = [...]string{
	StateNone:        "NONE",
	StateEstablished: "ESTABLISHED",
	StateSynSent:     "SYN_SENT",
	StateSynRecv:     "SYN_RECV",
	StateFinWait:     "FIN_WAIT",
	StateTimeWait:    "TIME_WAIT",
	StateClose:       "CLOSE",
	StateCloseWait:   "CLOSE_WAIT",
	StateLastAck:     "LAST_ACK",
	StateListen:      "LISTEN",
	StateSynAck:      "SYNACK",
	StateUDP:         "UDP",
}

// String returns the state column of ipvsadm -c (tcp_state_name_table in
// ip_vs_proto_tcp.c, udp_state_name_table in ip_vs_proto_udp.c).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// active reports whether a connection in TCP state s counts in ActiveConns
// rather than InactConns (tcp_state_active_table in ip_vs_proto_tcp.c,
// Linux 4.7 and later).
func (s State) active() bool {
	switch s {
	case StateEstablished, StateSynSent, StateSynRecv, StateSynAck:
		return true
	}
	return false
}

// Direction says which way a packet travels relative to the connection,
// with the kernel's IP_VS_DIR_* values. Each selects one of the three
// tcp_states tables in ip_vs_proto_tcp.c.
type Direction uint8

// Packet directions.
const (
	// Input is client to director (to the virtual service).
	Input Direction = iota
	// Output is real server to client, seen by the director in NAT and
	// FULLNAT.
	Output
	// InputOnly is client to director on a connection whose replies bypass
	// the director (DR, TUN). Step picks it by itself for such connections
	// (FlagNoOutput), so callers normally pass Input or Output.
	InputOnly
)

// String returns "INPUT", "OUTPUT" or "INPUT_ONLY".
func (d Direction) String() string {
	switch d {
	case Input:
		return "INPUT"
	case Output:
		return "OUTPUT"
	case InputOnly:
		return "INPUT_ONLY"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// TCP header flag bits (RFC 9293 section 3.1) as Step takes them: the
// byte at offset 13 of the TCP header.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
)

// Rows of a direction's table, as tcp_state_idx in ip_vs_proto_tcp.c
// numbers them.
const (
	rowSyn = iota
	rowFin
	rowAck
	rowRst
	numRows
)

// tcpRow picks the table row for a segment's flags with the kernel's
// precedence RST > SYN > FIN > ACK (tcp_state_idx). ok is false when none
// of the four is set.
func tcpRow(flags uint8) (row int, ok bool) {
	switch {
	case flags&TCPRst != 0:
		return rowRst, true
	case flags&TCPSyn != 0:
		return rowSyn, true
	case flags&TCPFin != 0:
		return rowFin, true
	case flags&TCPAck != 0:
		return rowAck, true
	}
	return 0, false
}

// Short names so the tables below line up like the kernel's.
const (
	sNO = StateNone
	sES = StateEstablished
	sSS = StateSynSent
	sSR = StateSynRecv
	sFW = StateFinWait
	sTW = StateTimeWait
	sCL = StateClose
	sCW = StateCloseWait
	sLA = StateLastAck
	sLI = StateListen
	sSA = StateSynAck
)

// tcpStates is the kernel's tcp_states table (ip_vs_proto_tcp.c, current
// mainline): tcpStates[direction][row][current state] is the next state.
var tcpStates = [3][numRows][NumTCPStates]State{
	Input: {
		//        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
		rowSyn: {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
		rowFin: {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sTW},
		rowAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		rowRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sSR},
	},
	Output: {
		//        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
		rowSyn: {sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS, sLI, sSR},
		rowFin: {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
		rowAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
		rowRst: {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
	},
	InputOnly: {
		//        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
		rowSyn: {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR},
		rowFin: {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
		rowAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		rowRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
}

// tcpStatesDos is the kernel's tcp_states_dos table, the stricter one
// secure_tcp switches to while the director defends itself
// (tcp_timeout_change in ip_vs_proto_tcp.c). Against tcpStates: a
// client's ACK no longer completes a SYN_RECV connection (only the real
// server's answer does, through SYNACK), a SYN on a SYNACK connection
// keeps it there, and on the INPUT-ONLY path (DR, TUN) a SYN makes a
// SYNACK entry rather than SYN_RECV.
var tcpStatesDos = [3][numRows][NumTCPStates]State{
	Input: {
		//        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
		rowSyn: {sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSA},
		rowFin: {sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA, sLI, sSA},
		rowAck: {sES, sES, sSS, sSR, sFW, sTW, sCL, sCW, sCL, sLI, sSA},
		rowRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
	Output: {
		//        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
		rowSyn: {sSS, sES, sSS, sSA, sSS, sSS, sSS, sSS, sSS, sLI, sSA},
		rowFin: {sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA, sLI, sTW},
		rowAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA, sES, sES},
		rowRst: {sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL, sCL, sCL},
	},
	InputOnly: {
		//        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
		rowSyn: {sSA, sES, sES, sSR, sSA, sSA, sSA, sSA, sSA, sSA, sSA},
		rowFin: {sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW},
		rowAck: {sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES},
		rowRst: {sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL},
	},
}

// nextTCPState is the state after a segment with flags travelling in
// direction dir (already resolved to InputOnly where needed), as
// set_tcp_state computes it from tcpStates, or tcpStatesDos when secure
// is set: a segment with none of RST, SYN, FIN, ACK moves the connection
// to CLOSE.
func nextTCPState(dir Direction, flags uint8, cur State, secure bool) State {
	row, ok := tcpRow(flags)
	if !ok || int(dir) >= len(tcpStates) || int(cur) >= NumTCPStates {
		return StateClose
	}
	if secure {
		return tcpStatesDos[dir][row][cur]
	}
	return tcpStates[dir][row][cur]
}
