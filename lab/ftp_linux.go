package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// ftpSysProcAttr makes the kernel kill a vsftpd when this process dies
// (PR_SET_PDEATHSIG, kept across the exec by `ip netns exec`), so that a
// crashed test leaves no server behind in a deleted namespace. The signal
// follows the death of the thread that started the child; the Go runtime
// ends only threads locked to a goroutine that exits, and nothing starts a
// vsftpd from one.
func ftpSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// nsProcesses returns the live (not zombie) processes called comm whose
// network namespace is n. Once n is deleted it finds none, even if the
// namespace lives on, nameless, around a process.
func nsProcesses(n NS, comm string) ([]int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(n.Path(), &st); errors.Is(err, syscall.ENOENT) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("netns %s: %w", n.Name, err)
	}
	want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]"
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := "/proc/" + e.Name()
		// A zombie has no namespaces left: the readlink fails.
		if ns, err := os.Readlink(dir + "/ns/net"); err != nil || ns != want {
			continue
		}
		if c, err := os.ReadFile(dir + "/comm"); err != nil || string(bytes.TrimSpace(c)) != comm {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
