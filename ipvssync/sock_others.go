//go:build !linux

package ipvssync

import (
	"fmt"
	"net"
)

const msgTrunc = 0

func openSender(SenderConfig) (*net.UDPConn, error) {
	return nil, fmt.Errorf("IPVS sync sockets need Linux: %w", ErrNotSupported)
}

func openReceiver(ReceiverConfig) (*net.UDPConn, int, error) {
	return nil, 0, fmt.Errorf("IPVS sync sockets need Linux: %w", ErrNotSupported)
}
