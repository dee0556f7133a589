package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", h)
	}
	h2, _ := Hash("correct horse battery staple")
	if h == h2 {
		t.Fatal("two hashes of one password must differ (random salt)")
	}
	tests := []struct {
		name     string
		encoded  string
		password string
		want     error
	}{
		{"right password", h, "correct horse battery staple", nil},
		{"wrong password", h, "correct horse battery stapler", ErrMismatch},
		{"empty password", h, "", ErrMismatch},
		{"too long", h, strings.Repeat("a", MaxLength+1), ErrMismatch},
		{"not a hash", "plaintext", "plaintext", ErrMalformed},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyzABCDE", "x", ErrMalformed},
		{"wrong version", strings.Replace(h, "v=19", "v=16", 1), "correct horse battery staple", ErrMalformed},
		{"huge memory", strings.Replace(h, "m=19456", "m=99999999", 1), "correct horse battery staple", ErrMalformed},
		{"bad salt", strings.Replace(h, "$argon2id$v=19$m=19456,t=2,p=1$", "$argon2id$v=19$m=19456,t=2,p=1$!!", 1), "correct horse battery staple", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(tt.encoded, tt.password); !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	if err := VerifyDummy("anything"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("VerifyDummy = %v", err)
	}
	if _, err := Hash(strings.Repeat("a", MaxLength+1)); err == nil {
		t.Fatal("Hash accepted an over-long password")
	}
}

// hashesAtInit is the number of argon2id computations made while the package was initialised: it
// is initialised after the package's own variables (password.go comes before this file).
var hashesAtInit = ReadCounts().Total

func TestDummy(t *testing.T) {
	if hashesAtInit != 0 {
		t.Fatalf("%d argon2id computations at initialisation, want none", hashesAtInit)
	}
	if !strings.HasPrefix(dummy, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("dummy %q is not under Default", dummy)
	}
	before := ReadCounts().Total
	if err := Verify(dummy, "unknown-user-placeholder"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify(dummy) = %v, want ErrMismatch", err)
	}
	if err := VerifyDummy(""); !errors.Is(err, ErrMismatch) {
		t.Fatalf("VerifyDummy = %v, want ErrMismatch", err)
	}
	if n := ReadCounts().Total - before; n != 2 {
		t.Fatalf("%d argon2id computations for two checks, want 2", n)
	}
}
