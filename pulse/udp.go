package pulse

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// UDPConfig configures a UDPTransport.
type UDPConfig struct {
	// Local is this director's address in lvs.cf (primary or backup):
	// pulse binds its heartbeat socket to it, so it must be on an
	// interface here.
	Local netip.Addr
	// Port is heartbeat_port (539 by default).
	Port uint16
	// Partners are where heartbeats go: the partner's address, and its
	// private one when lvs.cf gives a different one.
	Partners []netip.Addr
}

// UDPTransport is pulse's heartbeat socket: UDP bound to Local:Port,
// sending to each partner's Port.
type UDPTransport struct {
	conn     *net.UDPConn
	partners []netip.AddrPort
}

// ListenUDP binds the heartbeat socket.
func ListenUDP(cfg UDPConfig) (*UDPTransport, error) {
	if !cfg.Local.Is4() || cfg.Port == 0 || len(cfg.Partners) == 0 {
		return nil, fmt.Errorf("pulse: heartbeat socket needs a local IPv4 address, a port and a partner (got %v:%d to %v)",
			cfg.Local, cfg.Port, cfg.Partners)
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(cfg.Local, cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("pulse: binding the heartbeat address %v:%d: %w", cfg.Local, cfg.Port, err)
	}
	t := &UDPTransport{conn: conn}
	for _, p := range cfg.Partners {
		t.partners = append(t.partners, netip.AddrPortFrom(p, cfg.Port))
	}
	return t, nil
}

// Send sends msg to every partner address; the first error is returned
// after all were tried.
func (t *UDPTransport) Send(msg []byte) error {
	var errs []error
	for _, p := range t.partners {
		if _, err := t.conn.WriteToUDPAddrPort(msg, p); err != nil {
			errs = append(errs, fmt.Errorf("pulse: sending heartbeat to %v: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Receive reads one datagram. Datagrams longer than buf are cut to it
// (the caller's Decode then refuses them by length).
func (t *UDPTransport) Receive(buf []byte) (int, netip.Addr, error) {
	n, from, err := t.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return 0, netip.Addr{}, err
	}
	return n, from.Addr().Unmap(), nil
}

// LocalAddr is the bound address and port.
func (t *UDPTransport) LocalAddr() netip.AddrPort {
	return t.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the socket; a blocked Receive returns an error.
func (t *UDPTransport) Close() error { return t.conn.Close() }
