package keepalived

import (
	"slices"
	"testing"
	"time"
)

func TestParseTimer(t *testing.T) {
	for _, tt := range []struct {
		in      string
		lo, hi  uint64
		want    time.Duration
		wantErr bool
	}{
		{"2", 1, maxTimer, 2 * time.Second, false},
		{"0.5", 1, maxTimer, 500 * time.Millisecond, false},
		{".25", 1, maxTimer, 250 * time.Millisecond, false},
		{"1.000001", 1, maxTimer, time.Second + time.Microsecond, false},
		{"0", 0, maxTimer, 0, false},
		{"0", 1, maxTimer, 0, true},
		{"1.0000001", 1, maxTimer, 0, true},
		{"4294.967295", 1, maxConnectTimeoutUS, 4294967295 * time.Microsecond, false},
		{"4294.967296", 1, maxConnectTimeoutUS, 0, true},
		{"99999999999999999999", 0, maxTimer, 0, true},
		{"-1", 0, maxTimer, 0, true},
		{"1e3", 0, maxTimer, 0, true},
		{".", 0, maxTimer, 0, true},
		{"", 0, maxTimer, 0, true},
	} {
		got, msg := parseTimer(tt.in, tt.lo, tt.hi)
		if (msg != "") != tt.wantErr || got != tt.want {
			t.Errorf("parseTimer(%q) = %v, %q; want %v, error %v", tt.in, got, msg, tt.want, tt.wantErr)
		}
	}
}

func TestParseHex(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []byte
	}{
		// The man page's example: "Ab12f 3 456 546443123".
		{"Ab12f 3 456 546443123", []byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06, 0x54, 0x64, 0x43, 0x12, 0x03}},
		{"00", []byte{0}},
		{"", nil},
		{"0g", nil},
	} {
		got, msg := parseHex(tt.in)
		if !slices.Equal(got, tt.want) || (msg != "") != (tt.want == nil) {
			t.Errorf("parseHex(%q) = %x, %q; want %x", tt.in, got, msg, tt.want)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"a.conf", []string{"a.conf"}},
		{"{a,b}.conf", []string{"a.conf", "b.conf"}},
		{"x/{a,b{1,2}}/*.conf", []string{"x/a/*.conf", "x/b1/*.conf", "x/b2/*.conf"}},
		{"{a}.conf", []string{"{a}.conf"}},
		{"a}{b", []string{"a}{b"}},
	} {
		if got := expandBraces(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("expandBraces(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tt := range []struct {
		in, first, last string
		wantErr         bool
	}{
		{"10.0.0.1", "10.0.0.1", "10.0.0.1", false},
		{"10.0.0.1-3", "10.0.0.1", "10.0.0.3", false},
		{"10.0.0.250-10.0.1.2", "10.0.0.250", "10.0.1.2", false},
		{"10.0.0.8/29", "10.0.0.8", "10.0.0.15", false},
		{"10.0.0.0/32", "10.0.0.0", "10.0.0.0", false},
		{"10.0.0.3-3", "", "", true},
		{"10.0.0.3-256", "", "", true},
		{"10.0.1.0-10.0.0.9", "", "", true},
		{"10.0.0.9/0", "", "", true},
		{"10.0.0.9/29", "", "", true},
	} {
		first, last, msg := parseRange(tt.in)
		if tt.wantErr {
			if msg == "" {
				t.Errorf("parseRange(%q) = %v-%v, want an error", tt.in, first, last)
			}
			continue
		}
		if msg != "" || first.String() != tt.first || last.String() != tt.last {
			t.Errorf("parseRange(%q) = %v-%v %q, want %s-%s", tt.in, first, last, msg, tt.first, tt.last)
		}
	}
}

func TestDecomment(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"  lb_algo rr # comment", "lb_algo rr"},
		{"\t61.164.122.8#(note)", "61.164.122.8"},
		{"path \"/a#b!c\" ! x", "path \"/a#b!c\""},
		{`auth_pass a\#b\!c`, "auth_pass a#b!c"},
		{"! whole line", ""},
		{`script "a \" # b"`, `script "a \" # b"`},
	} {
		got, msg := decomment(tt.in)
		if got != tt.want || msg != "" {
			t.Errorf("decomment(%q) = %q %q, want %q", tt.in, got, msg, tt.want)
		}
	}
}

func TestIncludeTarget(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"include a.conf", "a.conf", true},
		{"include\t /x/*.conf", "/x/*.conf", true},
		{"includer a", "a", true},
		{"includea a", "a", true},
		{"include_x a", "", false},
		{"included a", "", false},
		{"include", "", false},
		{"includes", "", false},
	} {
		got, ok := includeTarget(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("includeTarget(%q) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestByteOrderMark(t *testing.T) {
	f := mustParse(t, "\ufeffglobal_defs {\nrouter_id bom\n}")
	if f.Global.RouterID != "bom" || len(f.Warnings) != 0 {
		t.Errorf("RouterID %q warnings %q", f.Global.RouterID, warningTexts(f.Warnings))
	}
}
