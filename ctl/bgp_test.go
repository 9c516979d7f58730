package ctl

import (
	"errors"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// bgpDirector is a fakeDirector with a BGP speaker's drain switch.
type bgpDirector struct {
	fakeDirector
	drains []bool
}

func (d *bgpDirector) BGPDrain(on bool) error {
	d.drains = append(d.drains, on)
	return nil
}

func TestBGPDrain(t *testing.T) {
	d := &bgpDirector{}
	c := dial(t, serve(t, &Server{Director: d}))
	if err := c.BGPDrain(true); err != nil {
		t.Fatal(err)
	}
	if err := c.BGPDrain(false); err != nil {
		t.Fatal(err)
	}
	if len(d.drains) != 2 || !d.drains[0] || d.drains[1] {
		t.Errorf("drains %v, want [true false]", d.drains)
	}
	resp := rawRequest(t, serve(t, &Server{Director: d}), `{"op":"bgp-drain"}`+"\n")
	if resp.Error == nil || resp.Error.Code != "bad-request" {
		t.Errorf("bgp-drain without drain: %+v, want a bad-request error", resp.Error)
	}
}

func TestBGPDrainWithoutSpeaker(t *testing.T) {
	c := dial(t, serve(t, &Server{Director: &fakeDirector{}}))
	err := c.BGPDrain(true)
	if !errors.Is(err, config.ErrNotSupported) {
		t.Fatalf("BGPDrain on a director without BGP: %v, want ErrNotSupported", err)
	}
}
