package main

import (
	"strings"
	"testing"

	"github.com/ulvs/ulvs/ctl"
)

func TestPrintDefense(t *testing.T) {
	var b strings.Builder
	printDefense(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no defence status printed %q", b.String())
	}
	printDefense(&b, &ctl.DefenseStatus{DropEntry: 2, DropEntryOn: true, DropPacket: 2, DropRate: 4, SecureTCP: 1,
		Conns: 98000, Capacity: 98304, Free: 304, AmemThresh: 1024})
	want := "conn_table conns=98000 capacity=98304 free=304 amemthresh=1024\n" +
		"defense drop_entry=2(on) drop_packet=2(rate 4) secure_tcp=1(off)\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintWorkers(t *testing.T) {
	ws := []ctl.WorkerStatus{
		{Index: 0, Packets: 1200, Batches: 100, Polls: 40, TxCalls: 100, TxFrames: 1200, RingDrops: 7, CPUNanos: 250e6},
		{Index: 1},
		{Index: 2, Packets: 30, Batches: 20, Polls: 5, TxCalls: 20, TxFrames: 30, IdleWins: 15, CPUNanos: 1e6},
	}
	var b strings.Builder
	printWorkers(&b, ws)
	want := "worker 0 packets=1200 batches=100 avg_batch=12.0 polls=40 tx_batches=100 tx_frames=1200 ring_drops=7 cpu=0.250s\n" +
		"worker 1 packets=0 batches=0 avg_batch=0.0 polls=0 tx_batches=0 tx_frames=0 ring_drops=0 cpu=0.000s\n" +
		"worker 2 packets=30 batches=20 avg_batch=1.5 polls=5 tx_batches=20 tx_frames=30 ring_drops=0 idle_wins=15 cpu=0.001s\n"
	if got := b.String(); got != want {
		t.Errorf("printWorkers:\n%s\nwant:\n%s", got, want)
	}
}
