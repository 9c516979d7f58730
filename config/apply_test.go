package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ulvs/ulvs/vs"
)

// TestApplySequence applies ipvsadm commands one by one and checks the
// error (the kernel's errno as a sentinel) and the table after each.
func TestApplySequence(t *testing.T) {
	vip := mustAddr("10.77.0.100")
	svc := func(sched string, dests ...Dest) Service {
		return Service{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: sched, Dests: dests}
	}
	d11 := Dest{Addr: mustAddr("10.77.0.11"), Port: 80, Method: vs.Route, Weight: 1}
	d12 := Dest{Addr: mustAddr("10.77.0.12"), Port: 80, Method: vs.Route, Weight: 1}
	steps := []struct {
		cmd     string
		wantErr error
		want    []Service
	}{
		{cmd: "-A -t 10.77.0.100:80 -s rr", want: []Service{svc("rr")}},
		{cmd: "-A -t 10.77.0.100:80 -s wrr", wantErr: ErrServiceExists, want: []Service{svc("rr")}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11", want: []Service{svc("rr", d11)}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.11", wantErr: ErrDestExists, want: []Service{svc("rr", d11)}},
		{cmd: "-a -t 10.77.0.100:81 -r 10.77.0.11", wantErr: ErrNoService, want: []Service{svc("rr", d11)}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.12", want: []Service{svc("rr", d11, d12)}},
		{cmd: "-a -t 10.77.0.100:80 -r 10.77.0.13 -y 5", wantErr: ErrRange, want: []Service{svc("rr", d11, d12)}},
		{cmd: "-a -t 10.77.0.100:80 -r 224.0.0.1", wantErr: ErrInvalid, want: []Service{svc("rr", d11, d12)}},
		{cmd: "-e -t 10.77.0.100:80 -r 10.77.0.13", wantErr: ErrNoDest, want: []Service{svc("rr", d11, d12)}},
		{cmd: "-e -t 10.77.0.100:80 -r 10.77.0.12 -w 5", want: []Service{svc("rr", d11,
			Dest{Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5})}},
		// -E resets what it is not given: here persistence goes and wlc comes back.
		{cmd: "-E -t 10.77.0.100:80 -s nosuch", wantErr: ErrSchedulerNotFound},
		{cmd: "-E -t 10.77.0.100:80 -p 60", want: []Service{{Proto: vs.TCP, Addr: vip, Port: 80, Scheduler: "wlc",
			Persistent: true, Timeout: 60, Dests: []Dest{d11, {Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5}}}}},
		{cmd: "-E -t 10.77.0.100:80 -s rr", want: []Service{svc("rr", d11,
			Dest{Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5})}},
		{cmd: "-d -t 10.77.0.100:80 -r 10.77.0.11", want: []Service{svc("rr",
			Dest{Addr: d12.Addr, Port: 80, Method: vs.Route, Weight: 5})}},
		{cmd: "-d -t 10.77.0.100:80 -r 10.77.0.11", wantErr: ErrNoDest},
		{cmd: "-Z -t 10.77.0.100:81", wantErr: ErrNoService},
		{cmd: "-Z"},
		{cmd: "-A -u 10.77.0.100:53 -s rr --pe sip", wantErr: ErrSchedulerNotFound},
		{cmd: "-A -t [2001:db8::1]:80", wantErr: ErrAddrFamily},
		{cmd: "-A --sctp-service 10.77.0.100:80", wantErr: ErrProtocol},
		{cmd: "-D -t 10.77.0.100:81", wantErr: ErrNoService},
		{cmd: "-D -t 10.77.0.100:80", want: []Service{}},
		{cmd: "-A -t 10.77.0.100:80 -s rr", want: []Service{svc("rr")}},
		{cmd: "-C", want: []Service{}},
		{cmd: "-L -n", wantErr: ErrNotRuleEdit, want: []Service{}},
		{cmd: "--stop-daemon master", wantErr: ErrNoDaemon, want: []Service{}},
	}
	var r Rules
	var last []Service
	for i, st := range steps {
		c, err := ParseArgsWith(strings.Fields(st.cmd), nil)
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
	var r Rules
	c, _ := ParseArgsWith(strings.Fields("-A -t 10.0.0.1:80 -s sh -b sh-port"), nil)
	if err := r.Apply(c); err != nil {
		t.Fatal(err)
	}
	c.Service.SchedFlags[0] = "changed"
	if got := r.Services[0].SchedFlags[0]; got != "sh-port" {
		t.Errorf("Rules share the command's SchedFlags: %q", got)
	}
}
