package nfmarks

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// Runner runs a command and returns its standard output; exec.ErrNotFound
// (wrapped) means the command is not installed. Tests replace it.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Exec runs commands in the caller's network namespace.
func Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(ee.Stderr) > 0 {
			return nil, fmt.Errorf("%s: %w: %s", name, err, ee.Stderr)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// Read reads and compiles the prerouting mark rules through run (Exec when
// nil): `nft -j list ruleset`, `iptables-save -t mangle` and
// `ip6tables-save -t mangle` (for the iptables rules the ruleset holds). It fails only when nft cannot be run or
// its output cannot be read; rules it cannot express are in the result,
// refused.
func Read(ctx context.Context, run Runner) ([]Rule, error) {
	if run == nil {
		run = Exec
	}
	js, err := run(ctx, "nft", "-j", "list", "ruleset")
	if err != nil {
		return nil, fmt.Errorf("read the netfilter ruleset: %w", err)
	}
	var saved, saved6 []Rule
	if text, err := run(ctx, "iptables-save", "-t", "mangle"); err == nil {
		saved = ParseIptablesSave(string(text))
	}
	if text, err := run(ctx, "ip6tables-save", "-t", "mangle"); err == nil {
		saved6 = ParseIp6tablesSave(string(text))
	}
	return ParseNft(js, saved, saved6)
}
