package director_test

import (
	"fmt"
	"testing"
	"time"
)

// TestIntegrationBlockRings: with --block-rings 1 (one frame a second per
// worker) the first requests switch the workers to their block rings;
// keep-alive requests through a NAT director, both directions, are then
// served from them, a 4 MiB download and upload (GSO super-frames) arrive
// intact through them, and once the client stops the workers go back to
// their frame rings.
func TestIntegrationBlockRings(t *testing.T) {
	e := newNATDemo(t, "--block-rings", "1")
	ka := e.keepAlive()
	// Block mode begins within a few tenths of a second: the rate is
	// looked at every 100 ms and the workers take the new rings between
	// two polls.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if _, err := e.get(ka, "/"); err != nil {
			t.Fatalf("request %d: %v\nulvsd log:\n%s", i, err, e.logText())
		}
		if i%50 < 49 {
			continue
		}
		if c := e.snapshot().Engine; c["rx_block_frames"] >= 600 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in 10 s, %v: want 600 frames (300 requests, both ways) from block rings", i+1, e.snapshot().Engine)
		}
	}
	// A download and an upload, GSO super-frames through the block
	// rings both ways, arrive intact.
	before := e.snapshot().Engine["rx_block_frames"]
	const size = 4 << 20
	e.downloadURL(t, e.client(), fmt.Sprintf("http://10.77.0.100/data?size=%d", size), size)
	e.uploadTo(t, "http://10.77.0.100/upload", size)
	if got := e.snapshot().Engine["rx_block_frames"] - before; got < 100 {
		t.Errorf("a 4 MiB download and upload: %d frames from block rings", got)
	}
	// No traffic: the rate falls below half a frame a second.
	deadline = time.Now().Add(3 * time.Second)
	for e.snapshot().Engine["rx_block_switches"]%2 == 1 {
		if time.Now().After(deadline) {
			t.Fatalf("still on block rings 3 s after the last request: %v", e.snapshot().Engine)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And requests are served from the frame rings again.
	before = e.snapshot().Engine["rx_block_frames"]
	if _, err := e.get(ka, "/"); err != nil {
		t.Fatal(err)
	}
	if after := e.snapshot().Engine; after["rx_block_switches"]%2 == 0 && after["rx_block_frames"] != before {
		t.Errorf("frame mode, yet %d frames came from block rings", after["rx_block_frames"]-before)
	}
}
