package lab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// StateDir is where `ulvs lab up` keeps its state files, one per lab.
const StateDir = "/run/ulvs/lab"

// State is what `ulvs lab up` records so that later commands (`ulvs lab
// down`, `ulvs lab exec`) find the lab and its background processes.
type State struct {
	Lab       *Lab      `json:"lab"`
	Processes []Process `json:"processes,omitempty"`
}

// Process is a background process started for a lab node.
type Process struct {
	Node string `json:"node"` // "rs1", "director", ...
	PID  int    `json:"pid"`
	// Args is the command line the process runs (its /proc/PID/cmdline).
	// Stop signals PID only while that still matches, so a recycled PID
	// is never hit.
	Args []string `json:"args"`
	Log  string   `json:"log,omitempty"`
}

// StatePath returns the state file of the lab named prefix in dir.
func StatePath(dir, prefix string) string {
	return filepath.Join(dir, prefix+".json")
}

// WriteState writes st to path atomically (a temporary file renamed over
// path), creating the directory if needed.
func WriteState(path string, st *State) error {
	if st.Lab == nil {
		return fmt.Errorf("write lab state %s: no lab", path)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("write lab state %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write lab state: %w", err)
	}
	return nil
}

// ReadState reads a state file written by WriteState and checks that it
// describes a lab: every namespace carries the lab's prefix, and every
// process a positive PID and a command line. A missing file gives an error
// that matches fs.ErrNotExist.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lab state: %w", err)
	}
	var st State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("read lab state %s: %w", path, err)
	}
	if err := st.check(); err != nil {
		return nil, fmt.Errorf("read lab state %s: %w", path, err)
	}
	return &st, nil
}

// check validates a decoded state against the names New would give.
func (st *State) check() error {
	l := st.Lab
	if l == nil {
		return errors.New("no lab")
	}
	if l.Mode == "" {
		l.Mode = ModeDR // a state file from before modes existed
	}
	want, err := NewMode(l.Prefix, len(l.RS), l.Mode)
	if err != nil {
		return err
	}
	// A lab with a backup director (ulvs lab up --backup) has director2.
	if err := want.extend(l.Backup.Name != "", false); err != nil {
		return err
	}
	if !slices.Equal(l.Namespaces(), want.Namespaces()) {
		return fmt.Errorf("namespaces %v do not match lab %s", l.Namespaces(), l.Prefix)
	}
	if l.DirectorInsideIface != want.DirectorInsideIface || l.InsideDIP != want.InsideDIP {
		return fmt.Errorf("inside interface %q, address %v do not match a %s lab", l.DirectorInsideIface, l.InsideDIP, l.Mode)
	}
	if len(l.RIPs) != len(l.RS) {
		return fmt.Errorf("%d real servers but %d addresses", len(l.RS), len(l.RIPs))
	}
	for _, p := range st.Processes {
		if p.PID <= 0 || len(p.Args) == 0 {
			return fmt.Errorf("process %q: bad pid %d or empty command line", p.Node, p.PID)
		}
	}
	return nil
}

// Remove removes the lab named prefix whose state file is in dir: it stops
// the recorded processes, deletes the namespaces and the state file.
// Without a state file it deletes the namespaces named like the lab's
// (prefix-sw, prefix-client, prefix-director, prefix-rsN). Removing a lab
// that is not there is not an error.
func Remove(dir, prefix string) error {
	if !ValidPrefix(prefix) {
		return fmt.Errorf("lab prefix %q: want 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit", prefix)
	}
	path := StatePath(dir, prefix)
	st, err := ReadState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return deleteNamespaces(existingNamespaces(prefix))
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range st.Processes {
		if err := p.Stop(3 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if err := st.Lab.Down(); err != nil {
		errs = append(errs, err)
	}
	// Also whatever carries the prefix but the state does not list.
	if err := deleteNamespaces(existingNamespaces(prefix)); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, p := range st.Processes {
		if p.Log != "" {
			os.Remove(p.Log)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove lab state: %w", err)
	}
	return nil
}

// existingNamespaces lists the namespaces under /run/netns named like a
// node of the lab prefix.
func existingNamespaces(prefix string) []NS {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return nil
	}
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix) + `-(sw|client|director|rs[1-9][0-9]*)$`)
	var list []NS
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			list = append(list, NS{e.Name()})
		}
	}
	return list
}

// Running reports whether process p is alive and still runs p.Args.
func (p Process) Running() bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/cmdline")
	if err != nil || len(b) == 0 { // gone, or a zombie
		return false
	}
	args := bytes.Split(bytes.TrimSuffix(b, []byte{0}), []byte{0})
	if len(args) != len(p.Args) {
		return false
	}
	for i := range args {
		if string(args[i]) != p.Args[i] {
			return false
		}
	}
	return true
}

// Stop ends process p if it still runs p.Args: SIGTERM, then SIGKILL after
// grace. A process that is gone (or whose PID now runs something else) is
// left alone and is not an error.
func (p Process) Stop(grace time.Duration) error {
	if !p.Running() {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("stop %s (pid %d): %w", p.Node, p.PID, err)
	}
	if p.wait(grace) {
		return nil
	}
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s (pid %d): %w", p.Node, p.PID, err)
	}
	if p.wait(grace) {
		return nil
	}
	return fmt.Errorf("stop %s (pid %d): still running after SIGKILL", p.Node, p.PID)
}

// wait polls until p no longer runs or d passed; it reports whether p ended.
func (p Process) wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for p.Running() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
