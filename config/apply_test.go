package config_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/config"
	"github.com/ulvs/ulvs/config/ipvsadm"
	"github.com/ulvs/ulvs/vs"
)

// TestApplySequence applies ipvsadm commands one by one and checks the
// error (the kernel's errno as a sentinel) and the table after each.
func TestApplySequence(t *testing.T) {
	vip := mustAddr("10.77.0.100")
	svc := func(sched string, dests ...config.Dest) config.Service {
		return config.Service{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: sched, Dests: dests}
	}
	d11 := config.Dest{Addr: mustAddr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: 1}
	d12 := config.Dest{Addr: mustAddr("10.77.0.12"), Port: 80, Method: vs.Route, Weight: 1}
	nat11 := config.Dest{Addr: mustAddr("10.77.0.11"), Port: 80, Method: vs.Masq, Weight: 1}
	fwm6 := config.Service{Proto: vs.TCP, FwMark: 9, Addr: config.FwMark6Addr, Scheduler: "rr", Persistent: true, Timeout: 300, Netmask: config.IPv6Mask(64)}
	fwm6wrr := fwm6
	fwm6wrr.Scheduler = "wrr"
	fwm4 := config.Service{Proto: vs.TCP, FwMark: 9, Scheduler: "rr"}
	d6 := config.Dest{Addr: mustAddr("2001:db8::11"), Port: 80, Method: vs.Route, Weight: 1}
	withDests := func(s config.Service, ds ...config.Dest) config.Service {
		s.Dests = ds
		return s
	}
	proxied := func(s config.Service) config.Service {
		s.SynProxy = true
		return s
	}
	steps := []struct {
		cmd     string
		wantErr error
		want    []config.Service
	}{
		{cmd: "-A -t 10.77.0.100:80 -s rr", want: []config.Service{svc("rr")}},
		{cmd: "-A -t 10.77.0.100:80 -s wrr", wantErr: config.ErrServiceExists, want: []config.Service{svc("rr")}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11", want: []config.Service{svc("rr", d11)}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11", wantErr: config.ErrDestExists, want: []config.Service{svc("rr", d11)}},
		{cmd: "-a -t 10.77.0.100:81 -r 10.77.0.11", wantErr: config.ErrNoService, want: []config.Service{svc("rr", d11)}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.12", want: []config.Service{svc("rr", d11, d12)}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.13 -y 5", wantErr: config.ErrRange, want: []config.Service{svc("rr", d11, d12)}},
		{cmd: "-a -t 10.77.0.100:80 -r 224.0.0.1", wantErr: config.ErrInvalid, want: []config.Service{svc("rr", d11, d12)}},
		{cmd: "-e -t 10.77.0.100:80 -r 10.77.0.13", wantErr: config.ErrNoDest, want: []config.Service{svc("rr", d11, d12)}},
		{cmd: "-e -t 10.77.0.100:80 -r 10.77.0.12 -w 5", want: []config.Service{svc("rr", d11,
			config.Dest{Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5})}},
		// -E resets what it is not given: here persistence goes and wlc comes back.
		{cmd: "-E -t 10.77.0.100:80 -s nosuch", wantErr: config.ErrSchedulerNotFound},
		{cmd: "-E -t 10.77.0.100:80 -p 60", want: []config.Service{{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: "wlc",
			Persistent: true, Timeout: 60, Dests: []config.Dest{d11, {Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5}}}}},
		{cmd: "-E -t 10.77.0.100:80 -s rr", want: []config.Service{svc("rr", d11,
			config.Dest{Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5})}},
		{cmd: "-d -t 10.77.0.100:80 -r 10.77.0.11", want: []config.Service{svc("rr",
			config.Dest{Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5})}},
		{cmd: "-d -t 10.77.0.100:80 -r 10.77.0.11", wantErr: config.ErrNoDest},
		{cmd: "-Z -t 10.77.0.100:81", wantErr: config.ErrNoService},
		{cmd: "-Z"},
		{cmd: "-A -u 10.77.0.100:53 -s rr --pe sip", wantErr: config.ErrSchedulerNotFound},
		{cmd: "-A --sctp-service 10.77.0.100:80", wantErr: config.ErrProtocol},
		{cmd: "-D -t 10.77.0.100:81", wantErr: config.ErrNoService},
		{cmd: "-D -t 10.77.0.100:80", want: []config.Service{}},
		{cmd: "-A -t 10.77.0.100:80 -s rr", want: []config.Service{svc("rr")}},
		{cmd: "-C", want: []config.Service{}},
		{cmd: "-L -n", wantErr: config.ErrNotRuleEdit, want: []config.Service{}},
		{cmd: "--stop-daemon master", wantErr: config.ErrNotRuleEdit, want: []config.Service{}}, // the director runs the sync daemons
		// The SYN proxy takes NAT and FULLNAT real servers only, both ways round.
		{cmd: "-A -t 10.77.0.100:80 -s rr --synproxy", want: []config.Service{proxied(svc("rr"))}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11", wantErr: config.ErrSynProxyMethod},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11 -i", wantErr: config.ErrSynProxyMethod},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11 -m", want: []config.Service{proxied(svc("rr", nat11))}},
		{cmd: "-e -t 10.77.0.100:80 -r 10.77.0.11 -g", wantErr: config.ErrSynProxyMethod},
		{cmd: "-E -t 10.77.0.100:80 -s rr", want: []config.Service{svc("rr", nat11)}},
		{cmd: "-e -t 10.77.0.100:80 -r 10.77.0.11 -g", want: []config.Service{svc("rr", d11)}},
		{cmd: "-E -t 10.77.0.100:80 -s rr --synproxy", wantErr: config.ErrSynProxyMethod},
		// The kernel keys fwmark services by (af, mark): an IPv4 and an
		// IPv6 service share mark 9, and -f 9 without -6 is the IPv4 one.
		{cmd: "-A -f 9 -6 -s rr -p 300 -M 64", want: []config.Service{svc("rr", d11), fwm6}},
		{cmd: "-A -f 9 -s rr", want: []config.Service{svc("rr", d11), fwm6, fwm4}},
		{cmd: "-A -f 9 -6 -s wrr", wantErr: config.ErrServiceExists},
		{cmd: "-a -f 9 -6 -r [2001:db8::11]:80 -g", want: []config.Service{svc("rr", d11), withDests(fwm6, d6), fwm4}},
		{cmd: "-d -f 9 -r [2001:db8::11]:80", wantErr: config.ErrNoDest},
		{cmd: "-E -f 9 -6 -s wrr -p 300 -M 64", want: []config.Service{svc("rr", d11), withDests(fwm6wrr, d6), fwm4}},
		{cmd: "-D -f 9", want: []config.Service{svc("rr", d11), withDests(fwm6wrr, d6)}},
		{cmd: "-D -f 9", wantErr: config.ErrNoService},
		{cmd: "-D -f 9 -6", want: []config.Service{svc("rr", d11)}},
	}
	var r config.Rules
	var last []config.Service
	for i, st := range steps {
		c, err := ipvsadm.ParseArgsWith(strings.Fields(st.cmd), nil)
		if err != nil {
			t.Fatalf("step %d: ParseArgs(%q): %v", i, st.cmd, err)
		}
		err = r.Apply(c)
		if !errors.Is(err, st.wantErr) || (err != nil) != (st.wantErr != nil) {
			t.Fatalf("step %d: Apply(%q) = %v, want %v", i, st.cmd, err, st.wantErr)
		}
		want := st.want
		if want == nil {
			want = last
		}
		if diff := cmp.Diff(want, r.Services, addrOpt, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("step %d: after %q (-want +got):\n%s", i, st.cmd, diff)
		}
		last = want
	}
}

func TestApplyDoesNotAlias(t *testing.T) {
	var r config.Rules
	c, _ := ipvsadm.ParseArgsWith(strings.Fields("-A -t 10.0.0.1:80 -s sh -b sh-port"), nil)
	if err := r.Apply(c); err != nil {
		t.Fatal(err)
	}
	c.Service.SchedFlags[0] = "changed"
	if got := r.Services[0].SchedFlags[0]; got != "sh-port" {
		t.Errorf("Rules share the command's SchedFlags: %q", got)
	}
}
func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

var addrOpt = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// A command naming an IPv6 fwmark service by FwMarkIPv6 alone (ulvsadm's
// -6, no Service.Addr) acts on that service, and its errors name it.
func TestApplyFwMarkIPv6(t *testing.T) {
	r := config.Rules{Services: []config.Service{{Proto: vs.TCP, FwMark: 5, Scheduler: "rr"}}}
	c := config.Command{Op: config.OpDelService, HasService: true, Service: config.Service{Proto: vs.TCP, FwMark: 5}, FwMarkIPv6: true}
	err := r.Apply(c)
	if !errors.Is(err, config.ErrNoService) || !strings.Contains(err.Error(), "FWM 5 IPv6") {
		t.Errorf("Apply = %v, want ErrNoService naming FWM 5 IPv6", err)
	}
	c.Normalize()
	if c.Service.Key() != (config.ServiceKey{Proto: vs.TCP, FwMark: 5, Addr: config.FwMark6Addr}) {
		t.Errorf("Normalize: key %v, want FWM 5 IPv6", c.Service.Key())
	}
	if len(r.Services) != 1 || r.Services[0].IPv6() {
		t.Errorf("rules %+v, want FWM 5 (IPv4) kept", r.Services)
	}
}
