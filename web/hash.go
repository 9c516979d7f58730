package web

import (
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// dummyHash is compared against when the user is unknown, so that the
// answer takes as long as for a known user.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("ulvs-no-such-user"), BcryptCost)
	return h
})

func bcryptOK(hash []byte, pw string) bool {
	return bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil
}
