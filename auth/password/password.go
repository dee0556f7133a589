// Package password hashes and checks member passwords with argon2id, in the PHC string format
// ($argon2id$v=19$m=...,t=...,p=...$salt$hash), so parameters can be raised later without
// invalidating stored hashes.
//
// Each hash holds its memory parameter (19 MiB under Default) while it runs, so whatever hashes on
// a request's behalf goes through the process's one Limiter, which bounds how many run at once,
// and FreeMemoryWhenIdle gives that memory back to the system once the hashing pauses.
// ReadCounts counts every argon2id computation of the process, limited or not.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// Default follows the OWASP recommendation for argon2id (19 MiB, 2 passes, 1 lane).
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// MinLength is the fewest characters a chosen password may have (ADMIN_EMAIL's, createUser's,
// a reset's).
const MinLength = 12

// MaxLength bounds the password length accepted for hashing, so a huge input cannot be used to
// burn CPU.
const MaxLength = 1024

// ErrMismatch is returned by Verify for a wrong password.
var ErrMismatch = errors.New("password: mismatch")

// ErrMalformed is returned by Verify for a stored hash it cannot read.
var ErrMalformed = errors.New("password: malformed hash")

// Hash returns the PHC string of password under Default.
func Hash(password string) (string, error) { return HashWith(Default, password) }

// HashWith returns the PHC string of password under p.
func HashWith(p Params, password string) (string, error) {
	if len(password) > MaxLength {
		return "", fmt.Errorf("password: longer than %d bytes", MaxLength)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	return encode(p, salt, idKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)), nil
}

// encode is the PHC string of key, derived under p with salt.
func encode(p Params, salt, key []byte) string {
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// Verify checks password against the PHC string encoded, in constant time.
func Verify(encoded, password string) error {
	if len(password) > MaxLength {
		return ErrMismatch
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return ErrMalformed
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		p.Memory == 0 || p.Memory > 1<<22 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return ErrMalformed
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return ErrMalformed
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return ErrMalformed
	}
	got := idKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// dummy is checked when there is no user to check against, so that an unknown email costs as much
// time as a wrong password: a stored hash under Default whose salt and key are random. Verify
// derives a key from it as from any hash and no password matches it, so it needs no argon2id of
// its own (which would hold Default.Memory at every start of the process).
var dummy = func() string {
	salt, key := make([]byte, Default.SaltLen), make([]byte, Default.KeyLen)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	return encode(Default, salt, key)
}()

// VerifyDummy spends the time of one Verify and always fails.
func VerifyDummy(password string) error {
	_ = Verify(dummy, password)
	return ErrMismatch
}
