//go:build !linux

package vrrp

import (
	"errors"
	"net/netip"
)

// ErrNotSupported is returned by Listen outside Linux.
var ErrNotSupported = errors.New("vrrp: raw VRRP sockets are only supported on Linux")

// TransportConfig says where to open a RawTransport.
type TransportConfig struct {
	Interface   string
	Source      netip.Addr
	InNamespace func(open func() error) error
	AH          bool
	IPv6        bool
}

// RawTransport is not available outside Linux.
type RawTransport struct{}

// Listen is not supported outside Linux.
func Listen(cfg TransportConfig) (*RawTransport, error) { return nil, ErrNotSupported }

func (t *RawTransport) Source() netip.Addr                    { return netip.Addr{} }
func (t *RawTransport) Send(msg []byte, dst netip.Addr) error { return ErrNotSupported }
func (t *RawTransport) Receive(buf []byte) (int, int, error)  { return 0, -1, ErrNotSupported }
func (t *RawTransport) Close() error                          { return nil }
