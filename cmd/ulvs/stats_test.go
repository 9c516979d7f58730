package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/ulvs/ulvs/ctl"
)

func TestPrintInterfaces(t *testing.T) {
	since := time.Date(2026, 12, 6, 18, 40, 1, 0, time.UTC)
	ifs := []ctl.InterfaceStatus{
		{Name: "d-eth0", State: "absent", Since: since, MAC: "02:00:00:00:00:02", MTU: 1500, Losses: 1},
		{Name: "d-eth1", State: "up", Since: since, Index: 7, MAC: "02:00:00:00:00:03", MTU: 9000, Carrier: true},
	}
	var b bytes.Buffer
	printInterfaces(&b, ifs, since.Add(12500*time.Millisecond))
	want := "interface d-eth0 absent since=2026-12-06T18:40:01Z for=12s mac=02:00:00:00:00:02 mtu=1500 carrier=no losses=1\n" +
		"interface d-eth1 up since=2026-12-06T18:40:01Z for=12s mac=02:00:00:00:00:03 mtu=9000 carrier=yes losses=0\n"
	if got := b.String(); got != want {
		t.Errorf("printInterfaces:\n%s\nwant:\n%s", got, want)
	}
}

func TestPrintWorkers(t *testing.T) {
	ws := []ctl.WorkerStatus{
		{Index: 0, Packets: 1200, Batches: 100, Polls: 40, TxCalls: 100, TxFrames: 1200, RingDrops: 7, CPUNanos: 250e6},
		{Index: 1},
	}
	var b bytes.Buffer
	printWorkers(&b, ws)
	want := "worker 0 packets=1200 batches=100 avg_batch=12.0 polls=40 tx_batches=100 tx_frames=1200 ring_drops=7 cpu=0.250s\n" +
		"worker 1 packets=0 batches=0 avg_batch=0.0 polls=0 tx_batches=0 tx_frames=0 ring_drops=0 cpu=0.000s\n"
	if got := b.String(); got != want {
		t.Errorf("printWorkers:\n%s\nwant:\n%s", got, want)
	}
}
