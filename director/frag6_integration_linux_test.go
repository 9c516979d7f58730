package director_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv6"

	"github.com/ulvs/ulvs/lab"
)

// TestIntegrationIPv6Fragments sends real IPv6 UDP datagrams larger than
// the links' MTU (1500) from the client namespace: the client's kernel
// fragments them, ulvsd reassembles, schedules and sends them on as
// fragments, and the real server's socket receives each datagram whole
// and answers with one as large (fragmented by its kernel: straight to
// the client in DR, reassembled and translated back by ulvsd in NAT66).
func TestIntegrationIPv6Fragments(t *testing.T) {
	skipUnprivileged(t)
	for _, mode := range []string{"dr", "nat"} {
		t.Run(mode, func(t *testing.T) { testIPv6Fragments(t, mode) })
	}
}

const frag6Port = 5353

func testIPv6Fragments(t *testing.T, mode string) {
	cfg := lab.Config{RealServers: 2, IPv6: true}
	if mode == "nat" {
		cfg.Mode = lab.ModeNAT
	}
	e := newEnvLab(t, cfg, func(l *lab.Lab) string {
		var b strings.Builder
		b.WriteString(v6Config(l, mode))
		fmt.Fprintf(&b, "\n[[virtual_server]]\nprotocol = \"udp\"\naddress = \"[%s]:%d\"\nscheduler = \"rr\"\nforward = %q\n", l.VIP6, frag6Port, mode)
		for _, r := range l.RIPs6 {
			fmt.Fprintf(&b, "\n[[virtual_server.real_server]]\naddress = \"[%s]:%d\"\n", r, frag6Port)
		}
		return b.String()
	})
	e.waitReady6(2)

	// A UDP server in each real server: it reports what arrived and
	// answers from the address the datagram was sent to (VIP6 in DR)
	// with a datagram of the same size, every byte inverted.
	type arrival struct {
		rs   string
		data []byte
	}
	got := make(chan arrival, 16)
	for i, rs := range e.lab.RS {
		pc, err := rs.ListenPacket("udp6", fmt.Sprintf("[::]:%d", frag6Port))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		p := ipv6.NewPacketConn(pc)
		if err := p.SetControlMessage(ipv6.FlagDst, true); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("rs%d", i+1)
		go func() {
			buf := make([]byte, 65536)
			for {
				n, cm, src, err := p.ReadFrom(buf)
				if err != nil {
					return
				}
				data := append([]byte(nil), buf[:n]...)
				got <- arrival{name, data}
				reply := make([]byte, n)
				for i, c := range data {
					reply[i] = ^c
				}
				if n <= 64 {
					// A small question gets a large answer, which
					// the real server's kernel fragments.
					reply = bigAnswer(data)
				}
				var wcm *ipv6.ControlMessage
				if cm != nil {
					wcm = &ipv6.ControlMessage{Src: cm.Dst}
				}
				p.WriteTo(reply, wcm, src)
			}
		}()
	}

	for i, size := range []int{4000, 3000, 9000} {
		msg := make([]byte, size)
		for j := range msg {
			msg[j] = byte(j*31 + i)
		}
		before := e.snapshot().Engine
		reply, err := ask6(e.lab, fmt.Sprintf("[%s]:%d", e.lab.VIP6, frag6Port), msg)
		if err != nil {
			t.Fatalf("%d-byte datagram: %v\nulvsd log:\n%s", size, err, e.logText())
		}
		var a arrival
		select {
		case a = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d-byte datagram: no real server received it", size)
		}
		if !bytes.Equal(a.data, msg) {
			t.Errorf("%d-byte datagram: %s received %d bytes that differ", size, a.rs, len(a.data))
		}
		for len(got) > 0 {
			<-got // a retry's copy
		}
		for j := range reply {
			reply[j] = ^reply[j]
		}
		if !bytes.Equal(reply, msg) {
			t.Errorf("%d-byte datagram: the answer (%d bytes) is not the server's", size, len(reply))
		}
		after := e.snapshot().Engine
		// The request is reassembled, and in NAT66 the fragmented answer
		// too.
		want := uint64(1)
		if mode == "nat" {
			want = 2
		}
		if n := after["ipv6_reassembled"] - before["ipv6_reassembled"]; n < want {
			t.Errorf("%d-byte datagram: ipv6_reassembled went up by %d, want %d", size, n, want)
		}
		t.Logf("%d bytes to %s and back; reassembled %d, fragments queued %d, forwarded %d", size, a.rs,
			after["ipv6_reassembled"]-before["ipv6_reassembled"], after["ipv6_frags_queued"]-before["ipv6_frags_queued"], after["forwarded"]-before["forwarded"])
	}
	if mode == "nat" {
		// Small questions, large fragmented answers: the request is
		// not fragmented and goes to the worker its hash picks, the
		// answer's fragments to worker 0, which hands the reassembled
		// answer to the connection's worker.
		before := e.snapshot().Engine
		for i := range 16 {
			q := []byte(fmt.Sprintf("question %d", i))
			a, err := ask6(e.lab, fmt.Sprintf("[%s]:%d", e.lab.VIP6, frag6Port), q)
			if err != nil {
				t.Fatalf("question %d: %v\nulvsd log:\n%s", i, err, e.logText())
			}
			if !bytes.Equal(a, bigAnswer(q)) {
				t.Errorf("question %d: an answer of %d bytes that is not the server's", i, len(a))
			}
			for len(got) > 0 {
				<-got
			}
		}
		after := e.snapshot().Engine
		t.Logf("16 small questions, 16 answers of 6000 bytes: reassembled %d, handed to another worker %d (%d workers)",
			after["ipv6_reassembled"]-before["ipv6_reassembled"], after["ipv6_reasm_handed"]-before["ipv6_reasm_handed"], len(e.snapshot().Workers))
		if len(e.snapshot().Workers) > 1 && after["ipv6_reasm_handed"] == before["ipv6_reasm_handed"] {
			t.Errorf("no answer was handed to another worker among 16 flows")
		}
	}
	for k, v := range e.snapshot().Engine {
		if strings.HasPrefix(k, "drop_ipv6_frag") && v > 0 {
			t.Errorf("%s = %d", k, v)
		}
	}
	if mode == "nat" {
		t.Run("replies too big for the client's link: Packet Too Big to the real server", func(t *testing.T) {
			testReplyTooBig6(t, e)
		})
	}
}

// testReplyTooBig6 lowers the MTU of the director's link to the client to
// 1400: the real server, which learnt an MSS of 1440 from the client's
// SYN, sends segments of 1500 bytes, ulvsd answers the first with Packet
// Too Big, the real server's kernel lowers its path MTU to the client
// and sends again, and a 4 MiB download arrives intact.
func testReplyTooBig6(t *testing.T, e *env) {
	nsOutput(t, e.lab.Director, "ip", "link", "set", "d-eth0", "mtu", "1400")
	t.Cleanup(func() { nsOutput(t, e.lab.Director, "ip", "link", "set", "d-eth0", "mtu", "1500") })
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen := false
		for _, ifc := range e.snapshot().Interfaces {
			seen = seen || ifc.Name == "d-eth0" && ifc.MTU == 1400
		}
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ulvsd never saw d-eth0's MTU become 1400")
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := e.snapshot().Engine
	c := e.client()
	c.Timeout = 60 * time.Second
	e.download6(t, c, 4<<20)
	after := e.snapshot().Engine
	tooBig, sent := after["drop_ipv6_too_big"]-before["drop_ipv6_too_big"], after["icmp_sent"]-before["icmp_sent"]
	if tooBig == 0 || sent == 0 {
		t.Errorf("no reply was too big (ipv6_too_big +%d, icmp_sent +%d): the test did not test", tooBig, sent)
	}
	t.Logf("4 MiB through a 1400-byte link: ipv6_too_big +%d, icmp_sent +%d", tooBig, sent)
}

// bigAnswer is the real servers' answer to a small question q: 6000
// bytes, q repeated.
func bigAnswer(q []byte) []byte {
	return bytes.Repeat(q, 6000/len(q)+1)[:6000]
}

// ask6 sends msg in one datagram from a new socket in the client
// namespace and returns the answer.
func ask6(l *lab.Lab, addr string, msg []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		c, err := l.Client.DialContext(ctx, "udp6", addr)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(msg); err != nil {
			c.Close()
			return nil, err
		}
		buf := make([]byte, 65536)
		n, err := c.Read(buf)
		c.Close()
		if err == nil {
			return buf[:n], nil
		}
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no answer from %s", addr)
}
