package director

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/ctl"
	"github.com/ulvs/ulvs/metrics"
)

// listenMetrics opens the Prometheus endpoint's socket at addr
// (host:port), so that a bad address stops ulvsd at start.
func listenMetrics(addr string) (net.Listener, error) {
	if msg := config.CheckListen(addr); msg != "" {
		return nil, fmt.Errorf("metrics address %q: %s", addr, msg)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	return ln, nil
}

// serveMetrics serves /metrics from d's snapshots on ln until ctx is done.
func serveMetrics(ctx context.Context, ln net.Listener, d *Director, log *slog.Logger) error {
	log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return metrics.Serve(ctx, ln, func() (ctl.Snapshot, error) { return d.Snapshot(), nil }, log)
}
