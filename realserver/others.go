//go:build !linux

package realserver

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

func osEnv() env {
	no := func() error { return fmt.Errorf("realserver: %w", ErrNotSupported) }
	return env{
		h:         nil,
		openDecap: func(string, string, []netip.Addr, bool) (decapRunner, error) { return nil, no() },
		netnsID:   func() (uint64, error) { return 0, no() },
		netnsName: func() string { return defaultName },
		self:      func() (*Process, error) { return nil, no() },
		stopProcess: func(*Process, time.Duration, *slog.Logger) error {
			return no()
		},
	}
}

// DefaultName returns "default" outside Linux.
func DefaultName() string { return defaultName }

func processInfo(pid int) (*Process, error) {
	return nil, fmt.Errorf("realserver: %w", ErrNotSupported)
}
