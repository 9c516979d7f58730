package director_test

import (
	"fmt"
	"testing"
)

// TestIntegrationIdlePoll: with --idle-poll the NAT director serves a
// keep-alive client as before, and its workers find frames while they
// poll instead of sleeping (idle wins, ulvs stats): a request's reply
// comes back through the director a few tens of microseconds after the
// request left, well within a 1 ms window.
func TestIntegrationIdlePoll(t *testing.T) {
	e := newNATDemo(t, "--idle-poll", "1ms")
	ka := e.keepAlive()
	for i := 0; i < 300; i++ {
		if _, err := e.get(ka, "/"); err != nil {
			t.Fatalf("request %d: %v\nulvsd log:\n%s", i, err, e.logText())
		}
	}
	var wins, polls uint64
	ws := e.snapshot().Workers
	for _, w := range ws {
		wins += w.IdleWins
		polls += w.Polls
	}
	if wins == 0 {
		t.Errorf("no idle poll found frames in 300 keep-alive requests (polls %d): workers %s", polls, fmt.Sprint(ws))
	}
}
