package pcapng

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ulvs/ulvs/trace"
)

func TestWriteReadBack(t *testing.T) {
	at := time.Unix(1700000000, 123456000)
	evs := []trace.Event{
		{Time: at, Kind: trace.KindPacket, In: "eth0", Out: "eth1", Proto: "tcp", Verdict: trace.VerdictForward,
			InFrame: []byte("in-frame-one"), InLen: 100, OutFrame: []byte("out-frame-one"), OutLen: 13},
		{Time: at.Add(time.Millisecond), Kind: trace.KindPacket, In: "eth1", Proto: "udp", Verdict: trace.VerdictDrop, Drop: "no_service",
			InFrame: []byte("in-frame-two"), InLen: 12},
		{Time: at, Kind: trace.KindHealth, Text: "no frames"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	total := 0
	for i := range evs {
		n, err := w.WriteEvent(&evs[i])
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if total != 3 {
		t.Fatalf("wrote %d frames, want 3", total)
	}
	r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		data, iface, comment string
		length               int
		dir                  pcapgo.NgEpbFlag
	}{
		{"in-frame-one", "eth0", "in: ", 100, pcapgo.NgEpbFlagDirectionInbound},
		{"out-frame-one", "eth1", "out: ", 13, pcapgo.NgEpbFlagDirectionOutbound},
		{"in-frame-two", "eth1", "in: ", 12, pcapgo.NgEpbFlagDirectionInbound},
	}
	for i, wnt := range want {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		intf, err := r.Interface(ci.InterfaceIndex)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != wnt.data || ci.Length != wnt.length || intf.Name != wnt.iface {
			t.Errorf("packet %d: %q len %d on %s, want %q len %d on %s", i, data, ci.Length, intf.Name, wnt.data, wnt.length, wnt.iface)
		}
		if len(opts.Comments) != 1 || !strings.HasPrefix(opts.Comments[0], wnt.comment) {
			t.Errorf("packet %d: comments %q, want one starting %q", i, opts.Comments, wnt.comment)
		}
		if opts.Flags == nil || opts.Flags.Direction != wnt.dir {
			t.Errorf("packet %d: flags %+v, want direction %v", i, opts.Flags, wnt.dir)
		}
		if !ci.Timestamp.Equal(evs[min(i, 1)].Time) && i != 1 {
			t.Errorf("packet %d: time %v", i, ci.Timestamp)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after the last packet: %v, want EOF", err)
	}
}
