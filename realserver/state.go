package realserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ChangeKind names one kind of change Up makes to the host.
type ChangeKind string

// The changes Up records, each undone by Down.
const (
	// ChangeAddr: Up added Addr on Dev (`ip addr add`); Down deletes it.
	ChangeAddr ChangeKind = "addr"
	// ChangeSysctl: Up wrote New to /proc/sys/Key, which held Old; Down
	// writes Old back while the key still holds New.
	ChangeSysctl ChangeKind = "sysctl"
	// ChangeLinkAdd: Up created the link Dev of Type (ipip when empty,
	// or dummy); Down deletes it.
	ChangeLinkAdd ChangeKind = "link-add"
	// ChangeLinkUp: Up set the existing link Dev up; Down sets it down.
	ChangeLinkUp ChangeKind = "link-up"
	// ChangeNftTable: Up created the nftables table (family ip) Table;
	// Down deletes it.
	ChangeNftTable ChangeKind = "nft-table"
	// ChangeTun: the decapsulator created the TUN device Dev. It vanishes
	// when the process holding it exits; Down deletes it if it is still
	// there after that.
	ChangeTun ChangeKind = "tun"
	// ChangeRoute: Up made Via (through Dev, when set) the default route;
	// before, it was OldVia through OldDev (none when OldDev is empty).
	// Down restores the old one while the default route is still Up's.
	ChangeRoute ChangeKind = "route"
)

// Change is one recorded change. Which fields are set depends on Kind.
type Change struct {
	Kind  ChangeKind   `json:"kind"`
	Dev   string       `json:"dev,omitempty"`
	Addr  netip.Prefix `json:"addr,omitzero"`
	Key   string       `json:"key,omitempty"` // sysctl path under /proc/sys
	Old   string       `json:"old,omitempty"`
	New   string       `json:"new,omitempty"`
	Table string       `json:"table,omitempty"`
	// Label is the address label of ChangeAddr (lo:0), Type the link type
	// of ChangeLinkAdd.
	Label string `json:"label,omitempty"`
	Type  string `json:"type,omitempty"`
	// ChangeRoute's gateways.
	Via    netip.Addr `json:"via,omitzero"`
	OldVia netip.Addr `json:"old_via,omitzero"`
	OldDev string     `json:"old_dev,omitempty"`
}

// String describes the change for logs and `ulvs realserver status`.
func (c Change) String() string {
	switch c.Kind {
	case ChangeAddr:
		if c.Label != "" {
			return fmt.Sprintf("added %v on %s (label %s)", c.Addr, c.Dev, c.Label)
		}
		return fmt.Sprintf("added %v on %s", c.Addr, c.Dev)
	case ChangeSysctl:
		return fmt.Sprintf("sysctl %s: %s -> %s", c.Key, c.Old, c.New)
	case ChangeLinkAdd:
		return fmt.Sprintf("created %s link %s", c.linkType(), c.Dev)
	case ChangeRoute:
		old := "none"
		if c.OldDev != "" {
			old = routeText(c.OldVia, c.OldDev)
		}
		return fmt.Sprintf("default route %s (was %s)", routeText(c.Via, c.Dev), old)
	case ChangeLinkUp:
		return fmt.Sprintf("set link %s up", c.Dev)
	case ChangeNftTable:
		return fmt.Sprintf("created nftables table ip %s", c.Table)
	case ChangeTun:
		return fmt.Sprintf("created TUN device %s", c.Dev)
	}
	return fmt.Sprintf("unknown change %q", c.Kind)
}

// linkType is ChangeLinkAdd's link type.
func (c Change) linkType() string {
	if c.Type == "" {
		return "ipip"
	}
	return c.Type
}

// routeText is "via GW dev DEV" (either part may be missing).
func routeText(via netip.Addr, dev string) string {
	var parts []string
	if via.IsValid() {
		parts = append(parts, "via "+via.String())
	}
	if dev != "" {
		parts = append(parts, "dev "+dev)
	}
	return strings.Join(parts, " ")
}

func (c Change) check() error {
	switch c.Kind {
	case ChangeAddr:
		if !ifnameRE.MatchString(c.Dev) || !c.Addr.IsValid() {
			return fmt.Errorf("addr change needs dev and addr")
		}
		if c.Label != "" && (!strings.HasPrefix(c.Label, c.Dev+":") || len(c.Label) > 15 || strings.ContainsAny(c.Label, " /\n\x00")) {
			return fmt.Errorf("addr change: bad label %q", c.Label)
		}
	case ChangeRoute:
		if !c.Via.Is4() || c.Dev != "" && !ifnameRE.MatchString(c.Dev) || c.OldDev != "" && !ifnameRE.MatchString(c.OldDev) || c.OldVia.IsValid() && !c.OldVia.Is4() {
			return fmt.Errorf("route change: bad gateway or device")
		}
	case ChangeSysctl:
		if !validSysctlKey(c.Key) {
			return fmt.Errorf("sysctl change: bad key %q", c.Key)
		}
	case ChangeLinkAdd, ChangeLinkUp, ChangeTun:
		if !ifnameRE.MatchString(c.Dev) {
			return fmt.Errorf("%s change: bad dev %q", c.Kind, c.Dev)
		}
		if c.Kind == ChangeLinkAdd && c.Type != "" && c.Type != "ipip" && c.Type != "dummy" {
			return fmt.Errorf("link change: bad type %q", c.Type)
		}
	case ChangeNftTable:
		if !nameRE.MatchString(c.Table) {
			return fmt.Errorf("nft change: bad table %q", c.Table)
		}
	default:
		return fmt.Errorf("unknown change kind %q", c.Kind)
	}
	return nil
}

// validSysctlKey accepts net/... paths without "..", so a state file can
// never make Down write outside /proc/sys/net.
func validSysctlKey(k string) bool {
	if !strings.HasPrefix(k, "net/") || strings.Contains(k, "..") || strings.ContainsAny(k, " \n\x00") {
		return false
	}
	return filepath.Clean(k) == k
}

// Process identifies the process running the userspace decapsulator.
type Process struct {
	PID int `json:"pid"`
	// StartTime is field 22 of /proc/PID/stat (clock ticks since boot)
	// and Cmdline the process's /proc/PID/cmdline: Down signals PID only
	// while both still match, so a recycled PID is never hit.
	StartTime uint64   `json:"start_time"`
	Cmdline   []string `json:"cmdline"`
}

// State is what Up records and Down reverts. It is written as JSON to
// StateDir/Name.json after every change.
type State struct {
	Name  string       `json:"name"`
	Mode  Mode         `json:"mode"`
	VIPs  []netip.Addr `json:"vips"`
	Decap Decap        `json:"decap,omitzero"` // kernel, user or tcx for ModeTUN
	// Iface is the capture interface of the userspace decapsulator.
	Iface string `json:"iface,omitempty"`
	// Device holds the VIPs for TUN: tunl0 or the TUN device.
	Device string `json:"device,omitempty"`
	// NetNS is the inode of the network namespace Up ran in; Down refuses
	// to run in another one.
	NetNS   uint64    `json:"netns"`
	Created time.Time `json:"created"`
	// Changes in the order Up made them; Down reverts from the end.
	Changes []Change `json:"changes"`
	// Process runs the userspace decapsulator (nil otherwise).
	Process *Process `json:"process,omitempty"`
}

func (s *State) check() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("bad name %q", s.Name)
	}
	if s.Mode != ModeDR && s.Mode != ModeTUN && s.Mode != ModeNAT {
		return errors.New("bad mode")
	}
	for i, c := range s.Changes {
		if err := c.check(); err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
	}
	if p := s.Process; p != nil && (p.PID <= 0 || len(p.Cmdline) == 0) {
		return errors.New("process without PID or command line")
	}
	return nil
}

// StatePath returns the state file of name in dir.
func StatePath(dir, name string) string { return filepath.Join(dir, name+".json") }

// writeState writes st atomically (a temporary file renamed over the
// state file).
func writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("write state %s: %w", st.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	path := StatePath(dir, st.Name)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// createState creates the state file exclusively, so two Ups of one name
// cannot both proceed. An existing file gives ErrAlreadyUp.
func createState(dir string, st *State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create state: %w", err)
	}
	f, err := os.OpenFile(StatePath(dir, st.Name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: %w", StatePath(dir, st.Name), ErrAlreadyUp)
	}
	if err != nil {
		return fmt.Errorf("create state: %w", err)
	}
	f.Close()
	return writeState(dir, st)
}

// ReadState reads the state of name in dir. A missing file gives an error
// matching fs.ErrNotExist.
func ReadState(dir, name string) (*State, error) {
	b, err := os.ReadFile(StatePath(dir, name))
	if err != nil {
		return nil, fmt.Errorf("read real server state: %w", err)
	}
	return parseState(b)
}

func parseState(b []byte) (*State, error) {
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("parse real server state: %w", err)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("real server state %q: %w", st.Name, err)
	}
	return &st, nil
}

// ListStates reads every state file in dir, sorted by name. A missing
// directory gives none.
func ListStates(dir string) ([]*State, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list real server states: %w", err)
	}
	var out []*State
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !nameRE.MatchString(name) {
			continue
		}
		st, err := ReadState(dir, name)
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *State) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
