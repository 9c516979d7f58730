// Package pulse speaks Piranha's pulse heartbeat: the two directors of an
// lvs.cf (primary and backup) send each other a 4-byte UDP datagram on
// heartbeat_port every keepalive seconds, saying whether the sender runs
// the virtual servers; the inactive one takes over after deadtime without
// a heartbeat, and a backup that hears a running primary while running
// itself steps down. Wire holds the message format (Encode, Decode), Node
// the state machine on an injected clock and transport, and UDPTransport
// the heartbeat socket bound to the director's own address.
package pulse
