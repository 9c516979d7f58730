package tomlfile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// fullDisk is a temporary file on a disk that fills up: writes succeed for
// room bytes, then write (short), fsync or close fail with ENOSPC, as
// they do on a full file system (with delayed allocation the error may
// only come from fsync or close).
type fullDisk struct {
	*os.File
	room      int
	failSync  bool
	failClose bool
}

func (f *fullDisk) Write(b []byte) (int, error) {
	if len(b) <= f.room {
		f.room -= len(b)
		return f.File.Write(b)
	}
	n, _ := f.File.Write(b[:f.room])
	f.room = 0
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

func (f *fullDisk) Sync() error {
	if f.failSync {
		return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return f.File.Sync()
}

func (f *fullDisk) Close() error {
	err := f.File.Close()
	if f.failClose && err == nil {
		return &os.PathError{Op: "close", Path: f.Name(), Err: syscall.ENOSPC}
	}
	return err
}

// TestWriteFileAtomicFullDisk: whichever step the disk fills up in, the
// target keeps its old content and mode, no temporary file is left behind
// and the error says ENOSPC.
func TestWriteFileAtomicFullDisk(t *testing.T) {
	const old = "# the old file\n[director]\ninterfaces = [\"eth0\"]\n"
	data := []byte(old + "# and a good deal more\n" + string(make([]byte, 64<<10)))
	for _, tt := range []struct {
		name string
		disk fullDisk
	}{
		{"write fails midway", fullDisk{room: 4096}},
		{"write fails at once", fullDisk{room: 0}},
		{"fsync fails", fullDisk{room: len(data), failSync: true}},
		{"close fails", fullDisk{room: len(data), failClose: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ulvs.toml")
			if err := os.WriteFile(path, []byte(old), 0o600); err != nil {
				t.Fatal(err)
			}
			var made *fullDisk
			err := writeFileAtomic(path, data, 0o644, func(dir, pattern string) (tempFile, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				d := tt.disk
				d.File = f
				made = &d
				return made, nil
			})
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("writeFileAtomic on a full disk = %v, want ENOSPC", err)
			}
			if made == nil {
				t.Fatal("no temporary file was made")
			}
			b, rerr := os.ReadFile(path)
			if rerr != nil || string(b) != old {
				t.Errorf("target after the failure: %q, %v; want the old content", b, rerr)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("target mode %v, want 0600", fi.Mode().Perm())
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "ulvs.toml" {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}

// TestWriteFileAtomicSymlink: a target that is a symbolic link keeps the
// link; the file it points to gets the new content, written beside it.
func TestWriteFileAtomicSymlink(t *testing.T) {
	dir := t.TempDir()
	realDir := filepath.Join(dir, "real")
	if err := os.Mkdir(realDir, 0o755); err != nil {
		t.Fatal(err)
	}
	realFile := filepath.Join(realDir, "ulvs.toml")
	if err := os.WriteFile(realFile, []byte("old\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "ulvs.toml")
	if err := os.Symlink(filepath.Join("real", "ulvs.toml"), link); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(link, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v, %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(realFile); string(b) != "new\n" {
		t.Errorf("linked file holds %q, want the new content", b)
	}
	if fi, _ := os.Stat(realFile); fi.Mode().Perm() != 0o640 {
		t.Errorf("linked file mode %v, want its old 0640", fi.Mode().Perm())
	}
}
