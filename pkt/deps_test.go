package pkt_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps pkt at the bottom of the import graph (STYLE.md section
// 2): no ulvs package, nothing outside the standard library but
// golang.org/x/sys, and no reflect, encoding/json, fmt or log on the
// per-packet path.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := map[string]bool{"reflect": true, "encoding/json": true, "fmt": true, "log": true}
	for line := range strings.Lines(string(out)) {
		path, std, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch {
		case path == "github.com/ulvs/ulvs/pkt":
		case forbidden[path]:
			t.Errorf("pkt depends on %s", path)
		case std == "true":
		case strings.HasPrefix(path, "golang.org/x/sys/"):
		default:
			t.Errorf("pkt depends on non-standard package %s", path)
		}
	}
}

// TestInlining checks that the per-field accessors and the small checksum
// helpers stay inlinable (golang/go src/net/netip/inlining_test.go).
func TestInlining(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	got := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		if _, fn, ok := strings.Cut(strings.TrimSpace(line), ": can inline "); ok {
			fn, _, _ = strings.Cut(fn, " ")
			got[fn] = true
		}
	}
	for _, fn := range []string{
		"be16", "be32", "putBE16", "putBE32",
		"Ether.Dst", "Ether.Src", "Ether.SetDst", "Ether.SetSrc", "Ether.EtherType",
		"ARP.Op", "ARP.SHA", "ARP.SPA", "ARP.TPA", "ARP.SetSHA", "ARP.SetTPA",
		"IPv4.HeaderLen", "IPv4.TotalLen", "IPv4.TTL", "IPv4.Protocol", "IPv4.Checksum", "IPv4.Src", "IPv4.Dst",
		"IPv4.SetSrc", "IPv4.SetDst", "IPv4.SetChecksum", "IPv4.SetTTL", "IPv4.IsFragment", "IPv4.Payload",
		"TCP.SrcPort", "TCP.DstPort", "TCP.Flags", "TCP.Checksum", "TCP.SetSrcPort", "TCP.SetDstPort", "TCP.SetChecksum",
		"UDP.SrcPort", "UDP.DstPort", "UDP.Checksum", "UDP.SetSrcPort", "UDP.SetDstPort", "UDP.SetChecksum",
		"ICMPv4.Type", "ICMPv4.ID", "ICMPv4.SetChecksum",
		"Fold", "Update16", "UpdatePartial16", "PseudoHeaderSum",
		"(*Parsed).Decode", "(*Parsed).IP", "(*Parsed).L4",
	} {
		if !got[fn] {
			t.Errorf("%s is not inlinable", fn)
		}
	}
}
