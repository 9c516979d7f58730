package director

import (
	"bytes"
	"strings"
	"testing"
)

func TestRingFramesFlagRange(t *testing.T) {
	for _, v := range []string{"8", "9000", "-1"} {
		var stderr bytes.Buffer
		if code := run([]string{"-i", "lo", "--ring-frames", v}, &stderr); code != 2 || !strings.Contains(stderr.String(), "--ring-frames") {
			t.Errorf("--ring-frames %s: exit %d, stderr %q; want 2 and a message naming the flag", v, code, stderr.String())
		}
	}
}

func TestIdlePollFlagRange(t *testing.T) {
	for _, v := range []string{"2ms", "-1us", "fast"} {
		var stderr bytes.Buffer
		if code := run([]string{"-i", "lo", "--idle-poll", v}, &stderr); code != 2 || !strings.Contains(stderr.String(), "idle-poll") {
			t.Errorf("--idle-poll %s: exit %d, stderr %q; want 2 and a message naming the flag", v, code, stderr.String())
		}
	}
}

func TestBlockRingsFlagRange(t *testing.T) {
	for _, v := range []string{"-1", "many"} {
		var stderr bytes.Buffer
		if code := run([]string{"-i", "lo", "--block-rings", v}, &stderr); code != 2 || !strings.Contains(stderr.String(), "block-rings") {
			t.Errorf("--block-rings %s: exit %d, stderr %q; want 2 and a message naming the flag", v, code, stderr.String())
		}
	}
}
