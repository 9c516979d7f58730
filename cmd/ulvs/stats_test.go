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
