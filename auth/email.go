package auth

import "github.com/community/sso/auth/identity"

// MaxEmailLength is the longest email address the server stores.
const MaxEmailLength = identity.MaxEmailLength

// ErrInvalidEmail is what every error of NormalizeEmail wraps.
var ErrInvalidEmail = identity.ErrInvalid

// NormalizeEmail returns the canonical form of an email address, the one the server stores and
// looks members up by (see package identity for the rules), or an error wrapping ErrInvalidEmail.
func NormalizeEmail(s string) (string, error) { return identity.Email(s) }
