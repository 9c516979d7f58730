package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ulvs/ulvs/vs"
)

// TestResolveHealthDefaults: each kind's defaults, as keepalived 2.2.7's
// check/*.c set them, for a check that gives nothing.
func TestResolveHealthDefaults(t *testing.T) {
	const s = time.Second
	tests := []struct {
		kind                         CheckKind
		connect                      time.Duration
		retry                        int
		delayRetry, loop, warm, misc time.Duration
	}{
		{kind: CheckTCP, connect: 5 * s, retry: 1, delayRetry: 1 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckHTTP, connect: 5 * s, retry: 1, delayRetry: 3 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckSSL, connect: 5 * s, retry: 1, delayRetry: 3 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckMisc, retry: 0, delayRetry: 1 * s, loop: 60 * s, warm: 60 * s, misc: 60 * s},
		{kind: CheckSMTP, connect: 5 * s, retry: 1, delayRetry: 1 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckDNS, connect: 5 * s, retry: 3, delayRetry: 60 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckUDP, connect: 5 * s, retry: 1, delayRetry: 1 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckPing, connect: 5 * s, retry: 1, delayRetry: 1 * s, loop: 60 * s, warm: 60 * s},
		{kind: CheckNanny, loop: 60 * s, warm: 60 * s},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			rs := netip.MustParseAddr("10.0.1.1")
			vh := VirtualHealth{Service: ServiceKey{Proto: vs.UDP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 53},
				Reals: []RealHealth{{Addr: rs, Port: 5353, Checks: []Check{NewCheck(tt.kind)}}}}
			ResolveHealth(&vh, nil)
			c := vh.Reals[0].Checks[0]
			got := []any{c.ConnectTimeout, c.Retry, c.DelayBeforeRetry, c.DelayLoop, c.Warmup, c.MiscTimeout}
			want := []any{tt.connect, tt.retry, tt.delayRetry, tt.loop, tt.warm, tt.misc}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("connect, retry, delay_before_retry, delay_loop, warmup, misc_timeout (-want +got):\n%s", diff)
			}
			// Checks that connect go to the real server unless told
			// otherwise; PING_CHECK has no port.
			connects := tt.kind != CheckMisc && tt.kind != CheckNanny
			wantPort := uint16(5353)
			if tt.kind == CheckPing {
				wantPort = 0
			}
			if got := c.ConnectIP == rs && c.ConnectPort == wantPort; got != connects {
				t.Errorf("connect %v:%d, want the real server's (port %d): %v", c.ConnectIP, c.ConnectPort, wantPort, connects)
			}
			if vh.DelayLoop != 60*s || vh.Quorum != 1 {
				t.Errorf("service delay_loop %v, quorum %d; want 60s, 1", vh.DelayLoop, vh.Quorum)
			}
		})
	}
}

// TestResolveHealthInheritance: check, then real_server and virtual_server
// blocks (Timing), then the service's delay_loop, then the kind's default.
func TestResolveHealthInheritance(t *testing.T) {
	const s = time.Second
	explicit := NewCheck(CheckHTTP)
	explicit.ConnectTimeout, explicit.Retry, explicit.DelayBeforeRetry, explicit.DelayLoop, explicit.Warmup = 2*s, 0, 0, 7*s, 0
	explicit.URLs = []URL{{Path: "/"}, {Path: "/x", StatusCodes: []StatusRange{{First: 303, Last: 310}, {First: 301, Last: 302}, {First: 500, Last: 500}, {First: 305, Last: 306}}}}
	rsBlock := Timing{ConnectTimeout: 3 * s, Retry: 4, DelayBeforeRetry: Unset, DelayLoop: Unset, Warmup: 9 * s}
	vsBlock := Timing{ConnectTimeout: 8 * s, Retry: 8, DelayBeforeRetry: 6 * s, DelayLoop: 11 * s, Warmup: Unset}
	vh := VirtualHealth{
		Service:     ServiceKey{Proto: vs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},
		DelayLoop:   20 * s,
		Virtualhost: "www.example.com",
		Sorry:       &SorryServer{Addr: netip.MustParseAddr("10.0.0.9")},
		Reals: []RealHealth{
			{Checks: []Check{explicit}},
			{Checks: []Check{NewCheck(CheckTCP)}},
			{Checks: []Check{NewCheck(CheckTCP)}},
		},
	}
	ResolveHealth(&vh, []Timing{UnsetTiming(), rsBlock.Or(vsBlock)}) // the third real: nothing inherited
	type timing struct {
		Connect time.Duration
		Retry   int
		Delay   time.Duration
		Loop    time.Duration
		Warmup  time.Duration
	}
	get := func(c Check) timing {
		return timing{c.ConnectTimeout, c.Retry, c.DelayBeforeRetry, c.DelayLoop, c.Warmup}
	}
	want := []timing{
		{2 * s, 0, 0, 7 * s, 0},           // all its own
		{3 * s, 4, 6 * s, 11 * s, 9 * s},  // real_server over virtual_server
		{5 * s, 1, 1 * s, 20 * s, 20 * s}, // defaults; delay_loop from the service
	}
	for i, w := range want {
		if got := get(vh.Reals[i].Checks[0]); got != w {
			t.Errorf("real %d: got %+v, want %+v", i, got, w)
		}
	}
	c := vh.Reals[0].Checks[0]
	if c.Virtualhost != "www.example.com" || c.HTTPProtocol != "1.0" {
		t.Errorf("virtualhost %q, http_protocol %q; want the service's and 1.0", c.Virtualhost, c.HTTPProtocol)
	}
	wantURLs := []URL{{Path: "/", StatusCodes: []StatusRange{{First: 200, Last: 299}}},
		{Path: "/x", StatusCodes: []StatusRange{{First: 301, Last: 310}, {First: 500, Last: 500}}}} // sorted and merged
	if diff := cmp.Diff(wantURLs, c.URLs); diff != "" {
		t.Errorf("urls (-want +got):\n%s", diff)
	}
	if vh.Sorry.Port != 80 {
		t.Errorf("sorry server port %d, want the service's 80", vh.Sorry.Port)
	}
	again := vh
	again.Reals = append([]RealHealth(nil), vh.Reals...)
	for i := range again.Reals {
		again.Reals[i].Checks = append([]Check(nil), vh.Reals[i].Checks...)
	}
	ResolveHealth(&again, nil)
	if diff := cmp.Diff(vh, again, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("ResolveHealth is not idempotent (-once +twice):\n%s", diff)
	}
}

// TestResolveHealthConnect: a check that connects starts from its real
// server's address and port; MISC_CHECK and nanny checks keep what they
// were given; PING_CHECK has no port.
func TestResolveHealthConnect(t *testing.T) {
	rs, other := netip.MustParseAddr("10.1.0.1"), netip.MustParseAddr("10.1.0.9")
	tests := []struct {
		name     string
		kind     CheckKind
		ip       netip.Addr
		port     uint16
		bindPort uint16
		wantIP   netip.Addr
		wantPort uint16
		wantBind uint16
	}{
		{name: "tcp from the real server", kind: CheckTCP, wantIP: rs, wantPort: 8080},
		{name: "tcp own", kind: CheckTCP, ip: other, port: 81, bindPort: 5000, wantIP: other, wantPort: 81, wantBind: 5000},
		{name: "udp port only", kind: CheckUDP, port: 53, wantIP: rs, wantPort: 53},
		{name: "ping has no port", kind: CheckPing, port: 81, bindPort: 5000, wantIP: rs},
		{name: "misc connects to nothing", kind: CheckMisc},
		{name: "nanny as given", kind: CheckNanny, port: 81, wantPort: 81},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCheck(tt.kind)
			c.ConnectIP, c.ConnectPort, c.BindPort = tt.ip, tt.port, tt.bindPort
			vh := VirtualHealth{Service: ServiceKey{Proto: vs.TCP, Addr: netip.MustParseAddr("10.0.0.1"), Port: 80},
				Reals: []RealHealth{{Addr: rs, Port: 8080, Checks: []Check{c}}}}
			ResolveHealth(&vh, nil)
			got := vh.Reals[0].Checks[0]
			if got.ConnectIP != tt.wantIP || got.ConnectPort != tt.wantPort || got.BindPort != tt.wantBind {
				t.Errorf("connect %v:%d bind_port %d; want %v:%d bind_port %d", got.ConnectIP, got.ConnectPort, got.BindPort, tt.wantIP, tt.wantPort, tt.wantBind)
			}
		})
	}
}

// TestKindDefaults: the table keepalived's check_*.c set, which
// ResolveHealth applies.
func TestKindDefaults(t *testing.T) {
	const s = time.Second
	want := map[CheckKind][2]any{
		CheckTCP: {1, 1 * s}, CheckHTTP: {1, 3 * s}, CheckSSL: {1, 3 * s}, CheckMisc: {0, 1 * s},
		CheckSMTP: {1, 1 * s}, CheckDNS: {3, time.Duration(0)}, CheckUDP: {1, 1 * s}, CheckPing: {1, 1 * s},
		CheckNanny: {0, time.Duration(0)},
	}
	for k, w := range want {
		r, d := KindDefaults(k)
		if r != w[0] || d != w[1] {
			t.Errorf("KindDefaults(%s) = %d, %v; want %v, %v", k, r, d, w[0], w[1])
		}
	}
}
