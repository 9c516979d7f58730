package web

import (
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkPasswordCheck is one login's password check at BcryptCost: what
// a failed or good login costs the director's CPU.
func BenchmarkPasswordCheck(b *testing.B) {
	h, err := bcrypt.GenerateFromPassword([]byte("console-pass-1"), BcryptCost)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		bcryptOK(h, "wrong-password")
	}
}
