package web

import (
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// dummies holds, per bcrypt cost, a hash compared against when the user is
// unknown, so that the answer takes as long as for a known user of that
// cost. Safe for concurrent use.
type dummies struct {
	mu sync.Mutex
	m  map[int][]byte
}

func (d *dummies) hash(cost int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h, ok := d.m[cost]; ok {
		return h
	}
	h, err := bcrypt.GenerateFromPassword([]byte("ulvs-no-such-user"), cost)
	if err != nil {
		h, _ = bcrypt.GenerateFromPassword([]byte("ulvs-no-such-user"), BcryptCost)
	}
	if d.m == nil {
		d.m = map[int][]byte{}
	}
	d.m[cost] = h
	return h
}

func bcryptOK(hash []byte, pw string) bool {
	return bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil
}
