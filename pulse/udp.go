package pulse

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// UDPConfig configures a UDPTransport.
type UDPConfig struct {
	// Local is this director's address in lvs.cf (primary or backup):
	// pulse binds its heartbeat socket to it, so it must be on an
	// interface here.
	Local netip.Addr
	// Port is heartbeat_port (539 by default).
	Port uint16
	// Partners are where heartbeats from Local go: the partner's address
	// (and its private one too when LocalPrivate is not set).
	Partners []netip.Addr
	// LocalPrivate and PartnerPrivate are lvs.cf's private heartbeat
	// addresses (primary_private, backup_private) when they differ from
	// the public ones: a second socket bound to LocalPrivate sends to
	// PartnerPrivate and receives there, so that heartbeats keep flowing
	// over the private network when the public one fails.
	LocalPrivate, PartnerPrivate netip.Addr
}

// UDPTransport is pulse's heartbeat socket: UDP bound to Local:Port,
// sending to each partner's Port; with a private network, a second
// socket bound to LocalPrivate:Port sends to PartnerPrivate. Receive reads
// from both.
type UDPTransport struct {
	paths []udpPath
	// With two sockets, readers feed rx until the sockets close.
	rx      chan udpDatagram
	readers sync.WaitGroup
}

type udpPath struct {
	conn     *net.UDPConn
	partners []netip.AddrPort
}

type udpDatagram struct {
	b    []byte
	from netip.Addr
	err  error
}

// ListenUDP binds the heartbeat socket (and the private one).
func ListenUDP(cfg UDPConfig) (*UDPTransport, error) {
	if !cfg.Local.Is4() || cfg.Port == 0 || len(cfg.Partners) == 0 {
		return nil, fmt.Errorf("pulse: heartbeat socket needs a local IPv4 address, a port and a partner (got %v:%d to %v)",
			cfg.Local, cfg.Port, cfg.Partners)
	}
	private := cfg.LocalPrivate.IsValid() && cfg.LocalPrivate != cfg.Local
	if private && (!cfg.LocalPrivate.Is4() || !cfg.PartnerPrivate.Is4()) {
		return nil, fmt.Errorf("pulse: a private heartbeat network needs both private IPv4 addresses (got %v to %v)", cfg.LocalPrivate, cfg.PartnerPrivate)
	}
	t := &UDPTransport{}
	open := func(local netip.Addr, partners []netip.Addr) error {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(local, cfg.Port)))
		if err != nil {
			return fmt.Errorf("pulse: binding the heartbeat address %v:%d: %w", local, cfg.Port, err)
		}
		p := udpPath{conn: conn}
		for _, a := range partners {
			p.partners = append(p.partners, netip.AddrPortFrom(a, cfg.Port))
		}
		t.paths = append(t.paths, p)
		return nil
	}
	if err := open(cfg.Local, cfg.Partners); err != nil {
		return nil, err
	}
	if private {
		if err := open(cfg.LocalPrivate, []netip.Addr{cfg.PartnerPrivate}); err != nil {
			t.paths[0].conn.Close()
			return nil, err
		}
		t.rx = make(chan udpDatagram, 16)
		for _, p := range t.paths {
			t.readers.Add(1)
			go t.read(p.conn)
		}
		go func() { t.readers.Wait(); close(t.rx) }()
	}
	return t, nil
}

// read feeds rx from one socket until it fails (closed).
func (t *UDPTransport) read(conn *net.UDPConn) {
	defer t.readers.Done()
	for {
		buf := make([]byte, 64)
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.rx <- udpDatagram{err: err}
			return
		}
		t.rx <- udpDatagram{b: buf[:n], from: from.Addr().Unmap()}
	}
}

// Send sends msg to every partner address over each path; the first
// error is returned after all were tried.
func (t *UDPTransport) Send(msg []byte) error {
	var errs []error
	for _, p := range t.paths {
		for _, a := range p.partners {
			if _, err := p.conn.WriteToUDPAddrPort(msg, a); err != nil {
				errs = append(errs, fmt.Errorf("pulse: sending heartbeat to %v: %w", a, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Receive reads one udpDatagram from either socket. Datagrams longer than
// buf are cut to it (the caller's Decode then refuses them by length).
// After Close it returns an error.
func (t *UDPTransport) Receive(buf []byte) (int, netip.Addr, error) {
	if t.rx == nil {
		n, from, err := t.paths[0].conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return 0, netip.Addr{}, err
		}
		return n, from.Addr().Unmap(), nil
	}
	for d := range t.rx {
		if d.err != nil {
			// One socket failed (closed): the other may still read
			// until Close closes it too; report the first failure.
			return 0, netip.Addr{}, d.err
		}
		return copy(buf, d.b), d.from, nil
	}
	return 0, netip.Addr{}, net.ErrClosed
}

// LocalAddr is the bound address and port (the public one).
func (t *UDPTransport) LocalAddr() netip.AddrPort {
	return t.paths[0].conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the sockets; a blocked Receive returns an error.
func (t *UDPTransport) Close() error {
	var errs []error
	for _, p := range t.paths {
		errs = append(errs, p.conn.Close())
	}
	return errors.Join(errs...)
}
