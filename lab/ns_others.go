//go:build !linux

package lab

import "fmt"

// Do is not supported outside Linux.
func (n NS) Do(fn func() error) error {
	return fmt.Errorf("enter netns %s: %w", n.Name, ErrNotSupported)
}
