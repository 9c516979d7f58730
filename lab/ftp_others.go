//go:build !linux

package lab

import "syscall"

// ftpSysProcAttr has nothing to add outside Linux (where the lab does not
// run).
func ftpSysProcAttr() *syscall.SysProcAttr { return nil }

// nsProcesses finds nothing outside Linux.
func nsProcesses(n NS, comm string) ([]int, error) { return nil, nil }
