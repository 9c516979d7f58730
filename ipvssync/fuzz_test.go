package ipvssync

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecode: Decode never panics; a message that decodes cleanly
// re-encodes (in its version) into a message that decodes to the same
// entries, and for v1 that encoding is a fixed point.
func FuzzDecode(f *testing.F) {
	pcaps, _ := filepath.Glob("testdata/*.pcap")
	more, _ := filepath.Glob("testdata/run1/*.pcap")
	for _, p := range append(pcaps, more...) {
		for _, c := range readPcapF(f, p) {
			f.Add(c)
		}
	}
	e := natEntry()
	e.HasSeq, e.HasLocal = true, true
	_ = e.SetPE("sip", []byte("abc"))
	f.Add(AppendMessageV1(nil, 1, []Entry{e, natEntry()}))
	e.HasProxy, e.Proxy = true, Proxy{TSOff: 1, MSS: 1460, Opts: 31, ClientWS: 7, ServerWS: 9}
	f.Add(AppendMessageV1(nil, 1, []Entry{e}))
	f.Add(AppendMessageV0(nil, 1, []Entry{natEntry()}))
	v6 := ipv6Entries()
	f.Add(AppendMessageV1(nil, 7, v6))
	f.Add(AppendMessageV1(nil, 1, []Entry{natEntry(), v6[3], natEntry(), v6[0]}))
	fn := v6[3] // an IPv6 FULLNAT proxied connection: options 1, 0x46, 0x45
	fn.Flags = FlagFullNAT | FlagOutSeq
	fn.HasLocal, fn.LAddr6, fn.LPort = true, v6[0].VAddr6, 40000
	fn.HasProxy, fn.Proxy = true, Proxy{TSOff: 2, MSS: 1440, Opts: 31, ClientWS: 7, ServerWS: 9}
	f.Add(AppendMessageV1(nil, 1, []Entry{fn, e, v6[1]}))

	f.Fuzz(func(t *testing.T, msg []byte) {
		m, err := Decode(msg)
		if len(m.Entries)+len(m.Skipped) > 255 {
			t.Fatalf("%d entries from a one-byte count", len(m.Entries)+len(m.Skipped))
		}
		if err != nil {
			return
		}
		for i := range m.Entries {
			e := &m.Entries[i]
			if e.PEDataLen > 0 && e.PENameLen == 0 {
				t.Fatalf("entry %d: PE data without name accepted", i)
			}
		}
		enc := AppendMessageV1(nil, m.SyncID, m.Entries)
		if m.Version == 0 {
			enc = AppendMessageV0(nil, m.SyncID, m.Entries)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n% x", err, enc)
		}
		if m2.Version != m.Version || m2.SyncID != m.SyncID || len(m2.Skipped) != 0 {
			t.Fatalf("re-decoded version %d syncid %d skipped %v", m2.Version, m2.SyncID, m2.Skipped)
		}
		if diff := cmp.Diff(m.Entries, m2.Entries); diff != "" {
			t.Fatalf("decode-encode-decode (-first +second):\n%s", diff)
		}
		if m.Version == 0 {
			return
		}
		if enc2 := AppendMessageV1(nil, m2.SyncID, m2.Entries); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point")
		}
	})
}

func readPcapF(f *testing.F, path string) [][]byte {
	var out [][]byte
	for _, c := range readPcap(f, path) {
		out = append(out, c.payload)
	}
	return out
}
