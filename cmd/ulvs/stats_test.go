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
