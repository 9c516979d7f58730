package main

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/ulvs/ulvs/vrrp"
)

func TestPrintHA(t *testing.T) {
	now := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	st := []vrrp.Status{{
		Name: "VI_1", Interface: "eth0", VRID: 51, Version: 2, State: vrrp.StateBackup,
		Priority: 99, EffectivePriority: 99, MasterAddr: netip.MustParseAddr("10.77.0.3"), MasterPriority: 100,
		LastTransition: now.Add(-3 * time.Second), Reason: "higher priority advert from 10.77.0.3",
		Counters: vrrp.Counters{AdvertsReceived: 12},
	}}
	var b bytes.Buffer
	printHA(&b, st, now)
	want := `INSTANCE  INTERFACE  VRID  VERSION  STATE   PRIORITY  MASTER SEEN           SINCE   WHY                                    ADVERTS IN/OUT
VI_1      eth0       51    v2       BACKUP  99        10.77.0.3 (prio 100)  3s ago  higher priority advert from 10.77.0.3  12/0
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printHA(&b, nil, now)
	if b.String() != "no failover (vrrp_instance, or lvs.cf backup_active) configured\n" {
		t.Errorf("empty: %q", b.String())
	}
}
