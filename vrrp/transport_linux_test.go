//go:build linux

package vrrp

import (
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestIntegrationRawTransport(t *testing.T) {
	if testing.Short() || os.Geteuid() != 0 {
		t.Skip("integration test: needs root, skipped under -short")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("integration test: needs ip")
	}
	kaNS, ulNS := vrrpLab(t, "tr")
	a, err := Listen(TransportConfig{Interface: kaIf, InNamespace: kaNS.Do})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := Listen(TransportConfig{Interface: ulvsIf, InNamespace: ulNS.Do})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Source() != kaAddr || b.Source() != ulvsIP {
		t.Fatalf("sources %v %v, want the interfaces' addresses", a.Source(), b.Source())
	}
	if _, err := Listen(TransportConfig{Interface: "nosuch0", InNamespace: ulNS.Do}); err == nil {
		t.Error("Listen on a missing interface: no error")
	}

	type rx struct {
		p   IPv4Packet
		ttl int
		err error
	}
	recv := func(tr *RawTransport) <-chan rx {
		ch := make(chan rx, 1)
		go func() {
			buf := make([]byte, 1500)
			n, ttl, err := tr.Receive(buf)
			if err != nil {
				ch <- rx{err: err}
				return
			}
			p, err := ParseIPv4(buf[:n])
			ch <- rx{p, ttl, err}
		}()
		return ch
	}
	adv := Advert{Version: V3, Type: 1, VRID: 9, Priority: 100, Interval: 100, Addrs: []netip.Addr{labVIP}}
	for _, dst := range []netip.Addr{MulticastGroup(), ulvsIP} {
		msg, err := adv.Append(nil, a.Source(), dst)
		if err != nil {
			t.Fatal(err)
		}
		own := recv(a)
		got := recv(b)
		if err := a.Send(msg, dst); err != nil {
			t.Fatalf("send to %v: %v", dst, err)
		}
		var r rx
		select {
		case r = <-got:
		case <-time.After(3 * time.Second):
			t.Fatalf("nothing received for %v", dst)
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.p.Src != kaAddr || r.p.Dst != dst || r.ttl != TTL || r.p.TTL != TTL {
			t.Errorf("to %v: src %v dst %v socket TTL %d header TTL %d", dst, r.p.Src, r.p.Dst, r.ttl, r.p.TTL)
		}
		if !VerifyChecksum(r.p.Payload, V3, r.p.Src, r.p.Dst) {
			t.Errorf("to %v: checksum invalid on arrival", dst)
		}
		// Multicast loop is off: the sender's own socket hears nothing.
		select {
		case r := <-own:
			t.Errorf("sender received its own advert: %+v", r)
		case <-time.After(300 * time.Millisecond):
		}
		a.Close()
		if r := <-own; r.err == nil {
			t.Errorf("Receive after Close returned a packet")
		}
		if a, err = Listen(TransportConfig{Interface: kaIf, InNamespace: kaNS.Do}); err != nil {
			t.Fatal(err)
		}
	}
}
