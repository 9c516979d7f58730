package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestMarks(t *testing.T) {
	files := map[string]string{"nft": "iptables.json", "iptables-save": "iptables.iptables-save"}
	run := func(_ context.Context, name string, args ...string) ([]byte, error) {
		f, ok := files[name]
		if !ok {
			return nil, exec.ErrNotFound
		}
		return os.ReadFile("../../nfmarks/testdata/" + f)
	}
	var out, errOut bytes.Buffer
	if code := marksMain(nil, &out, &errOut, run); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"used     inet other pre: ip daddr 10.0.0.6 tcp dport 8080 meta mark set 27\n",
		"used     ip mangle PREROUTING: -A PREROUTING -d 192.168.56.200/32 -p tcp -m tcp --dport 21 -j MARK --set-xmark 0x15/0xffffffff\n",
		"REFUSED  ip mangle PREROUTING: -A PREROUTING -i eth0 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x7/0xffffffff\n         option -i:",
		"15 rules: 9 used, 6 refused\n",
		"  mark 15  tcp 1.2.3.10/32 ports 80,443\n",
		"  mark 5  udp 10.1.0.0/16 ports 53,60-70 from 10.0.0.0/8\n",
		"  mark 21  tcp 192.168.56.200/32 ports 10000-20000\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if i, j := strings.Index(out.String(), "mark 15 "), strings.Index(out.String(), "mark 27 "); i < 0 || j < i {
		t.Errorf("mark 15 (the last rule) should be tried before 27 (the first chain):\n%s", out.String())
	}

	delete(files, "nft")
	out.Reset()
	errOut.Reset()
	if code := marksMain(nil, &out, &errOut, run); code != 1 || !strings.Contains(errOut.String(), "read the netfilter ruleset") {
		t.Errorf("without nft: exit %d, stderr %q", code, errOut.String())
	}
	if code := marksMain([]string{"x"}, &out, &errOut, run); code != 2 {
		t.Errorf("with an argument: exit %d, want 2", code)
	}
}
