package keepalived_test

import (
	"fmt"

	"github.com/ulvs/ulvs/config/keepalived"
)

func ExampleParse() {
	conf := `
virtual_server 10.77.0.100 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 10.77.0.11 80 {
        weight 3
        TCP_CHECK { connect_timeout 10 }   # one statement per line
        TCP_CHECK {
            retry 3
        }
    }
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        10.77.0.100/24 dev eth0
    }
}
`
	f, err := keepalived.Parse("keepalived.conf", []byte(conf), keepalived.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	s := f.Rules.Services[0]
	fmt.Println(s.Addr, s.Port, s.Scheduler, s.Dests[0].Addr, s.Dests[0].Method, s.Dests[0].Weight)
	for _, c := range f.Health[0].Reals[0].Checks {
		fmt.Println(c.Kind, c.ConnectPort, c.ConnectTimeout, c.Retry, c.DelayBeforeRetry, c.DelayLoop)
	}
	fmt.Println(f.Interfaces)
	for _, in := range f.VRRP {
		fmt.Println(in.Name, in.State, in.Interface, in.VRID, in.Priority, in.AdvertInt, in.VIPs[0])
	}
	for _, w := range f.Warnings {
		fmt.Println(w)
	}
	// Output:
	// 10.77.0.100 80 wrr 10.77.0.11 Route 3
	// TCP_CHECK 80 10s 1 1s 6s
	// TCP_CHECK 80 5s 3 1s 6s
	// [eth0]
	// VI_1 MASTER eth0 51 100 1s 10.77.0.100/24 dev eth0
}
