package web

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/ulvs/ulvs/config/tomlfile"
)

// Role is what a user may do. The zero value is invalid.
type Role uint8

// Roles.
const (
	RoleInvalid Role = iota
	// RoleAdmin views and edits.
	RoleAdmin
	// RoleMonitor views only: every POST but logout is refused.
	RoleMonitor
)

// String returns the role's name in the password file.
func (r Role) String() string {
	switch r {
	case RoleAdmin:
		return "admin"
	case RoleMonitor:
		return "monitor"
	}
	return "invalid"
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	switch s {
	case "admin":
		return RoleAdmin, nil
	case "monitor":
		return RoleMonitor, nil
	}
	return RoleInvalid, fmt.Errorf("unknown role %q (admin or monitor)", s)
}

// BcryptCost is the bcrypt cost of new password hashes.
const BcryptCost = 12

// MaxPasswordLen is bcrypt's limit: it reads at most 72 bytes.
const MaxPasswordLen = 72

// user is one line of the password file: "name:role:bcrypt-hash".
type user struct {
	name string
	role Role
	hash []byte
}

// CheckUserName returns what is wrong with a user name, or "".
func CheckUserName(name string) string {
	if name == "" || len(name) > 64 {
		return "a user name has 1 to 64 characters"
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Sprintf("user name %q: only letters, digits, '-', '_' and '.'", name)
		}
	}
	return ""
}

// parseUsers reads a password file. Blank lines and lines starting with
// '#' are skipped.
func parseUsers(path string, data []byte) ([]user, error) {
	var us []user
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want name:role:hash", path, n)
		}
		if msg := CheckUserName(f[0]); msg != "" {
			return nil, fmt.Errorf("%s:%d: %s", path, n, msg)
		}
		role, err := ParseRole(f[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if _, err := bcrypt.Cost([]byte(f[2])); err != nil {
			return nil, fmt.Errorf("%s:%d: not a bcrypt hash: %w", path, n, err)
		}
		us = append(us, user{name: f[0], role: role, hash: []byte(f[2])})
	}
	return us, sc.Err()
}

// ErrNoUsers is the refusal to serve the console without a user to log
// in as.
var ErrNoUsers = errors.New("no console users: set one with `ulvs passwd USER` (it writes the password file)")

// readUsers reads the password file at path, refusing one that others than
// its owner may read or write (it holds password hashes).
func readUsers(path string) ([]user, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, ErrNoUsers)
	}
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: mode %04o lets others read the password hashes; chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	us, err := parseUsers(path, data)
	if err != nil {
		return nil, err
	}
	if len(us) == 0 {
		return nil, fmt.Errorf("%s: %w", path, ErrNoUsers)
	}
	return us, nil
}

// SetPassword sets user's password and role in the password file at path
// (created with mode 0600 if missing; other users' lines kept), as
// piranha-passwd sets Piranha's. The file is replaced atomically.
func SetPassword(path, name string, role Role, password string) error {
	return setPassword(path, name, role, password, BcryptCost)
}

func setPassword(path, name string, role Role, password string, cost int) error {
	if msg := CheckUserName(name); msg != "" {
		return errors.New(msg)
	}
	if role != RoleAdmin && role != RoleMonitor {
		return fmt.Errorf("invalid role")
	}
	if len(password) < 8 {
		return errors.New("the password must have at least 8 characters")
	}
	if len(password) > MaxPasswordLen {
		return fmt.Errorf("the password must have at most %d bytes (bcrypt reads no more)", MaxPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return err
	}
	var us []user
	if data, err := os.ReadFile(path); err == nil {
		if us, err = parseUsers(path, data); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	found := false
	for i := range us {
		if us[i].name == name {
			us[i].role, us[i].hash, found = role, hash, true
		}
	}
	if !found {
		us = append(us, user{name: name, role: role, hash: hash})
	}
	var b bytes.Buffer
	b.WriteString("# ulvs web console users (ulvs passwd): name:role:bcrypt-hash\n")
	for _, u := range us {
		fmt.Fprintf(&b, "%s:%s:%s\n", u.name, u.role, u.hash)
	}
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return err
	}
	if err := tomlfile.WriteFileAtomic(path, b.Bytes(), 0o600); err != nil {
		return err
	}
	// WriteFileAtomic keeps an existing file's mode: the hashes must not
	// stay readable by others.
	return os.Chmod(path, 0o600)
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return "."
}
