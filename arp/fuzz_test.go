package arp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// slowIsRequestFor is the obviously right version of IsRequestFor.
func slowIsRequestFor(frame []byte, l3off int) ([4]byte, bool) {
	if l3off < 14 || l3off+28 > len(frame) || l3off+28 < l3off {
		return [4]byte{}, false
	}
	be := binary.BigEndian
	a := frame[l3off:]
	var spa, tpa [4]byte
	copy(spa[:], a[14:18])
	copy(tpa[:], a[24:28])
	switch {
	case be.Uint16(frame[l3off-2:]) != 0x0806,
		frame[6]&1 == 1,
		be.Uint16(a[0:]) != 1, be.Uint16(a[2:]) != 0x0800, a[4] != 6, a[5] != 4,
		be.Uint16(a[6:]) != 1,
		spa == tpa:
		return [4]byte{}, false
	}
	return tpa, true
}

func FuzzIsRequestFor(f *testing.F) {
	seeds := []arpFields{
		request(),
		{ethDst: bcast, ethSrc: macClient, op: 1, sha: macClient, tpa: ipVIP},                                                  // probe
		{ethDst: bcast, ethSrc: macClient, op: 1, sha: macClient, spa: ipVIP, tpa: ipVIP},                                      // announcement
		{ethDst: macClient, ethSrc: macDirector, op: 2, sha: macDirector, spa: ipVIP, tpa: ipClient},                           // reply
		{ethDst: bcast, ethSrc: macClient, vlans: []uint16{0x8100}, op: 1, sha: macClient, spa: ipClient, tpa: ipVIP, pad: 14}, // tagged, padded
	}
	for _, s := range seeds {
		frame, l3off := s.build()
		f.Add(frame, l3off)
		f.Add(frame[:len(frame)-1], l3off)
	}
	f.Add([]byte{}, 14)
	f.Fuzz(func(t *testing.T, frame []byte, l3off int) {
		orig := bytes.Clone(frame)
		tpa, ok := IsRequestFor(frame, l3off)
		wantTPA, wantOK := slowIsRequestFor(frame, l3off)
		if tpa != wantTPA || ok != wantOK {
			t.Fatalf("IsRequestFor = %v, %v; slow version says %v, %v", tpa, ok, wantTPA, wantOK)
		}
		if !ok {
			return
		}
		MakeReply(frame, l3off, macDirector)
		if len(frame) != len(orig) {
			t.Fatalf("MakeReply changed the length")
		}
		// Only the MACs and ARP fields change; tags and padding don't.
		if !bytes.Equal(frame[12:l3off+6], orig[12:l3off+6]) || !bytes.Equal(frame[l3off+28:], orig[l3off+28:]) {
			t.Fatalf("MakeReply touched bytes outside the MACs and ARP addresses:\n%s", hexDiff(orig, frame))
		}
		a, o := frame[l3off:], orig[l3off:]
		switch {
		case !bytes.Equal(frame[0:6], orig[6:12]):
			t.Errorf("Ethernet destination is not the requester")
		case !bytes.Equal(frame[6:12], macDirector[:]):
			t.Errorf("Ethernet source is not our MAC")
		case binary.BigEndian.Uint16(a[6:]) != 2:
			t.Errorf("op is not reply")
		case !bytes.Equal(a[8:14], macDirector[:]), !bytes.Equal(a[14:18], tpa[:]),
			!bytes.Equal(a[18:24], o[8:14]), !bytes.Equal(a[24:28], o[14:18]):
			t.Errorf("ARP addresses wrong:\n%s", hexDiff(orig, frame))
		}
		if _, again := IsRequestFor(frame, l3off); again {
			t.Errorf("the reply is accepted as a request")
		}
	})
}

func hexDiff(a, b []byte) string {
	return fmt.Sprintf("before % x\nafter  % x", a, b)
}
