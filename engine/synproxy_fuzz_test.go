package engine

import (
	"testing"

	"github.com/ulvs/ulvs/pkt"
	"github.com/ulvs/ulvs/synproxy"
)

// FuzzProcessSynProxy feeds arbitrary frames, from the client's side or the
// real server's, through a NAT worker whose service is behind the SYN
// proxy, its cookie key fixed so the seeds (a handshake, data, SACK and
// timestamps both ways) open real connections for the fuzzer to mutate.
// Nothing may panic, every frame ends in exactly one counter (or waits in
// the proxy's queue, as a reply waits for its next hop), and a frame the
// verdict sends is queued.
func FuzzProcessSynProxy(f *testing.F) {
	w, _, _, tbl, src := proxyWorker(f, false)
	w.sp.cookies = synproxy.NewCookiesKey(7, 11)
	cookie, _ := w.sp.cookies.Make(synproxy.Flow{Src: client.As4(), Dst: vip.As4(), SrcPort: 40000, DstPort: 80}, 999,
		synproxy.Slice(1), synproxy.Options{MSS: 1460, HasWScale: true, WScale: 7, SACKPerm: true, HasTS: true})
	cl := seg{srcMAC: clientMAC, dstMAC: dirMAC, src: client, dst: vip, sport: 40000, dport: 80, mss: -1, ws: -1}
	rs := seg{srcMAC: rsNATMAC, dstMAC: insideMAC, src: ripNAT, dst: src, sport: 8080, dport: 40000, mss: -1, ws: -1}
	syn := cl
	syn.seq, syn.flags, syn.mss, syn.ws, syn.sack, syn.ts, syn.tsval = 999, pkt.TCPSyn, 1460, 7, true, true, 5
	ack := cl
	ack.seq, ack.ack, ack.flags, ack.ts, ack.tsval, ack.payload = 1000, cookie+1, pkt.TCPAck|pkt.TCPPsh, true, 6, []byte("GET /")
	rsa := rs
	rsa.seq, rsa.ack, rsa.flags, rsa.mss, rsa.ws, rsa.sack, rsa.ts, rsa.tsval = 0xfffffff0, 1000, pkt.TCPSyn|pkt.TCPAck, 1460, 9, true, true, 100
	data := rs
	data.seq, data.ack, data.flags, data.ts, data.tsval, data.payload = 0xfffffff1, 1005, pkt.TCPAck, true, 101, []byte("HTTP/1.0 200 OK")
	sack := cl
	sack.seq, sack.ack, sack.flags, sack.sackEdges = 1005, cookie+1, pkt.TCPAck, []uint32{cookie + 50, cookie + 90}
	rst := rs
	rst.seq, rst.flags = 0xfffffff1, pkt.TCPRst
	for _, s := range []seg{syn, ack, rsa, data, sack, rst} {
		f.Add(s.build(), uint8(0), false)
	}
	f.Add(ack.build(), uint8(0), true)
	f.Fuzz(func(t *testing.T, frame []byte, gso uint8, partial bool) {
		if len(frame) > 65535 {
			return
		}
		buf := make([]byte, 256+len(frame))
		copy(buf[256:], frame)
		p := packet{buf: buf, off: 256, n: len(frame)}
		p.vnet()[vnetOffGSOType] = gso
		if partial {
			p.vnet()[vnetOffFlags] = vnetFlagNeedsCsum
		}
		before, queued := total(w), w.sp.queued
		w.tx = w.tx[:0]
		w.scr.reset()
		w.now = 1
		sent := w.process(&p, tbl, 1)
		if got := int(total(w)-before) + w.sp.queued - queued; got != 1 {
			t.Fatalf("frame ended in %d counters (queue %d -> %d), want exactly 1", got, queued, w.sp.queued)
		}
		if sent && (len(w.tx) == 0 || w.tx[len(w.tx)-1] != &p) {
			t.Fatalf("verdict sent but the frame is not queued last")
		}
		w.proxyRetry(tbl, 1)
	})
}
