package pulse

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	for _, tc := range []struct {
		m    Magic
		want []byte
	}{
		// pulse on x86: the unsigned int in memory order.
		{Running, []byte{0xda, 0xdb, 0xad, 0xbd}},
		{Stopped, []byte{0xbd, 0xda, 0xbd, 0xad}},
	} {
		if got := Encode(tc.m); !bytes.Equal(got, tc.want) {
			t.Errorf("Encode(%v) = % x, want % x", tc.m, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		want    Magic
		wantErr error
		errHas  string
	}{
		{name: "running", in: []byte{0xda, 0xdb, 0xad, 0xbd}, want: Running},
		{name: "stopped", in: []byte{0xbd, 0xda, 0xbd, 0xad}, want: Stopped},
		{name: "hold", in: Encode(Hold), want: Hold},
		{name: "held", in: Encode(Held), want: Held},
		{name: "stopme", in: Encode(StopMe), want: StopMe},
		{name: "empty", in: nil, wantErr: ErrLength, errHas: "0 bytes"},
		{name: "short", in: []byte{0xda, 0xdb, 0xad}, wantErr: ErrLength, errHas: "3 bytes"},
		{name: "long", in: append(Encode(Running), 0), wantErr: ErrLength, errHas: "5 bytes"},
		{name: "fos running", in: Encode(FOSRunning), wantErr: ErrFOS, errHas: "fos-running"},
		{name: "fos stopped", in: Encode(FOSStopped), wantErr: ErrFOS, errHas: "fos-stopped"},
		{name: "big-endian running", in: []byte{0xbd, 0xad, 0xdb, 0xda}, wantErr: ErrMagic, errHas: "running in big-endian"},
		{name: "garbage", in: []byte{1, 2, 3, 4}, wantErr: ErrMagic, errHas: "0x04030201"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("Decode(% x) error = %v, want %v containing %q", tc.in, err, tc.wantErr, tc.errHas)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Decode(% x) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range []Magic{Running, Stopped, Hold, StopMe, FOSRunning} {
		f.Add(Encode(m))
	}
	f.Add([]byte{1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if got := Encode(m); !bytes.Equal(got, b) {
			t.Fatalf("Decode(% x) = %v, re-encoded % x", b, m, got)
		}
	})
}
