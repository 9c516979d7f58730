//go:build !linux

package ctl

import (
	"errors"
	"net"
)

// peerUID is not supported off Linux; every peer is refused.
func peerUID(net.Conn) (uint32, error) {
	return 0, errors.New("peer credentials not supported on this system")
}
