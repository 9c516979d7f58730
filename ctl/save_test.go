package ctl

import (
	"errors"
	"testing"

	"github.com/ulvs/ulvs/config"
)

// savingDirector is a fakeDirector that records save-config requests.
type savingDirector struct {
	fakeDirector
	own   string // the daemon's own file; "" like ulvsd -i
	saved []string
}

func (d *savingDirector) SaveConfig(path string) (string, error) {
	if path == "" {
		path = d.own
	}
	if path == "" {
		return "", ErrNoConfigFile
	}
	d.saved = append(d.saved, path)
	return path, nil
}

func TestSaveConfig(t *testing.T) {
	d := &savingDirector{own: "/etc/ulvs/ulvs.toml"}
	c := dial(t, serve(t, &Server{Director: d, Authorize: func(uint32) error { return nil }}))
	tests := []struct {
		name    string
		own     string
		path    string
		want    string
		wantErr error
		bad     bool
	}{
		{name: "own file", own: "/etc/ulvs/ulvs.toml", want: "/etc/ulvs/ulvs.toml"},
		{name: "named file", own: "/etc/ulvs/ulvs.toml", path: "/tmp/x.toml", want: "/tmp/x.toml"},
		{name: "no file", wantErr: ErrNoConfigFile},
		{name: "relative path", own: "/etc/ulvs/ulvs.toml", path: "x.toml", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d.own = tt.own
			if tt.bad {
				// A bad request closes the connection: use a fresh one.
				c2 := dial(t, serve(t, &Server{Director: d, Authorize: func(uint32) error { return nil }}))
				if _, err := c2.SaveConfig(tt.path); err == nil {
					t.Fatal("relative path accepted")
				}
				return
			}
			got, err := c.SaveConfig(tt.path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SaveConfig(%q) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("SaveConfig(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestSaveConfigNotSupported(t *testing.T) {
	c := dial(t, serve(t, &Server{Director: &fakeDirector{}, Authorize: func(uint32) error { return nil }}))
	if _, err := c.SaveConfig(""); !errors.Is(err, config.ErrNotSupported) {
		t.Errorf("SaveConfig on a Director without it: %v, want config.ErrNotSupported", err)
	}
}
