package config

import (
	"net"
	"strconv"
	"strings"
)

// Metrics is the [metrics] table of the configuration file: where ulvsd
// serves Prometheus metrics (a ulvs extension; package metrics). The
// endpoint is off unless the table names an address:
//
//	[metrics]
//	listen = "127.0.0.1:9100"
type Metrics struct {
	// Listen is the host:port of the HTTP /metrics endpoint; "" is off.
	// The host may be empty (every address), an IP literal or a name.
	Listen string
}

// metrics parses the [metrics] table into m.
func (p *fileParser) metrics(m *Metrics, tbl map[string]any) {
	t := p.table("metrics", tbl, "listen")
	defer t.done()
	s, ok := t.string("listen")
	if !ok {
		if _, present := tbl["listen"]; !present {
			p.errorf("metrics.listen", "required: the host:port to serve /metrics on (leave out [metrics] to turn metrics off)")
		}
		return
	}
	if msg := CheckListen(s); msg != "" {
		p.errorf("metrics.listen", "%s", msg)
		return
	}
	m.Listen = s
}

// CheckListen returns what is wrong with a metrics listen address, or ""
// when it is a valid host:port with a port from 1 to 65535.
func CheckListen(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "must be host:port, like \"127.0.0.1:9100\" or \":9100\" (got " + strconv.Quote(s) + ")"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || port[0] < '0' || port[0] > '9' {
		return "port must be a number between 1 and 65535 (got " + strconv.Quote(port) + ")"
	}
	if strings.ContainsAny(host, " \t\r\n/") {
		return "invalid host " + strconv.Quote(host)
	}
	return ""
}
