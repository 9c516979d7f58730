package director

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/web"
)

// webConsole is the web console (package web) as ulvsd runs it: its
// socket is opened and its password file and certificate read at start,
// so that a mistake stops ulvsd at once.
type webConsole struct {
	srv       *web.Server
	ln        net.Listener
	cert, key string
	log       *slog.Logger
}

func newWebConsole(w config.Web, sv *saver, cfgPath string, log *slog.Logger) (*webConsole, error) {
	addr, err := config.WebListen(w.Listen)
	if err != nil {
		return nil, fmt.Errorf("web console address %q: %v", w.Listen, err)
	}
	if (w.Cert == "") != (w.Key == "") {
		return nil, fmt.Errorf("web console: cert and key go together (give both for TLS, or neither)")
	}
	if w.Cert != "" {
		if _, err := tls.LoadX509KeyPair(w.Cert, w.Key); err != nil {
			return nil, fmt.Errorf("web console: TLS: %w", err)
		}
	}
	cfg := web.Config{Director: sv.Director, Users: w.Users, TLS: w.Cert != "", ConfigPath: cfgPath, Logger: log}
	if cfgPath != "" {
		cfg.Save = sv.SaveWithBackup
		cfg.Files = sv
	}
	srv, err := web.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("web console: %w", err)
	}
	return &webConsole{srv: srv, ln: ln, cert: w.Cert, key: w.Key, log: log}, nil
}

func (c *webConsole) serve(ctx context.Context) error {
	scheme := "http"
	if c.cert != "" {
		scheme = "https"
	}
	c.log.Info("serving the web console", "url", scheme+"://"+c.ln.Addr().String()+"/")
	return web.Serve(ctx, c.ln, c.srv, c.cert, c.key)
}
