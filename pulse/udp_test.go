package pulse

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// TestRunUDP runs two nodes on loopback addresses (127.0.0.2 plays the
// primary, 127.0.0.3 the backup) on the real clock: the primary alone
// takes over after deadtime, the backup stays inactive beside it, and
// takes over when the primary stops.
func TestRunUDP(t *testing.T) {
	if testing.Short() {
		t.Skip("real clock")
	}
	pAddr, bAddr := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	ptr, err := ListenUDP(UDPConfig{Local: pAddr, Port: 45390, Partners: []netip.Addr{bAddr}})
	if err != nil {
		t.Skipf("loopback: %v", err)
	}
	events := make(chan string, 16)
	node := func(role Role, partner netip.Addr, tr Transport) *Node {
		n, err := New(Config{Role: role, Partner: partner, BackupActive: true, Keepalive: 50 * time.Millisecond,
			Deadtime: 200 * time.Millisecond, Transport: tr,
			OnTransition: func(x Transition) { events <- role.String() + " " + x.Reason }})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	p := node(Primary, bAddr, ptr)
	pctx, pstop := context.WithCancel(context.Background())
	bctx, bstop := context.WithCancel(context.Background())
	defer bstop()
	pdone := make(chan error, 1)
	go func() { pdone <- p.Run(pctx) }()
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("event %q, want %q", got, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no event, want %q", want)
		}
	}
	expect("primary partner dead")
	// The backup's socket opens only now: the primary's earlier stopped
	// heartbeats would otherwise wait in it.
	btr, err := ListenUDP(UDPConfig{Local: bAddr, Port: 45390, Partners: []netip.Addr{pAddr}})
	if err != nil {
		pstop()
		t.Fatal(err)
	}
	b := node(Backup, pAddr, btr)
	go b.Run(bctx)
	time.Sleep(300 * time.Millisecond)
	if st := b.Status(); st.Active || st.PartnerState != Running || st.Counters.Received == 0 {
		t.Fatalf("backup beside an active primary: %+v", st)
	}
	pstop()
	<-pdone
	expect("primary stopped")
	start := time.Now()
	expect("backup partner dead")
	if d := time.Since(start); d > 400*time.Millisecond {
		t.Errorf("backup took over after %v, deadtime 200ms", d)
	}
}

// TestUDPPrivatePath: with private addresses, a heartbeat goes over both
// networks (public and private socket) and Receive reads from both.
func TestUDPPrivatePath(t *testing.T) {
	a4 := netip.MustParseAddr
	pub1, pub2, priv1, priv2 := a4("127.0.0.2"), a4("127.0.0.3"), a4("127.0.1.2"), a4("127.0.1.3")
	ta, err := ListenUDP(UDPConfig{Local: pub1, Port: 45391, Partners: []netip.Addr{pub2}, LocalPrivate: priv1, PartnerPrivate: priv2})
	if err != nil {
		t.Skipf("loopback: %v", err)
	}
	defer ta.Close()
	tb, err := ListenUDP(UDPConfig{Local: pub2, Port: 45391, Partners: []netip.Addr{pub1}, LocalPrivate: priv2, PartnerPrivate: priv1})
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.Send([]byte{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	got := map[netip.Addr]bool{}
	buf := make([]byte, 16)
	for range 2 {
		n, from, err := tb.Receive(buf)
		if err != nil || n != 4 {
			t.Fatalf("receive: %d bytes, %v", n, err)
		}
		got[from] = true
	}
	if !got[pub1] || !got[priv1] {
		t.Errorf("heartbeats from %v, want from %v and %v", got, pub1, priv1)
	}
	tb.Close()
	if _, _, err := tb.Receive(buf); err == nil {
		t.Errorf("Receive after Close: no error")
	}
	if _, err := ListenUDP(UDPConfig{Local: pub1, Port: 45392, Partners: []netip.Addr{pub2}, LocalPrivate: priv1}); err == nil {
		t.Errorf("a private local address without the partner's was accepted")
	}
}
