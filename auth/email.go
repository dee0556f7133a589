package auth

import (
	"errors"
	"net/mail"
	"strings"
)

// MaxEmailLength is the longest email address the server stores.
const MaxEmailLength = 200

// ErrInvalidEmail is returned by NormalizeEmail for a value that is not a plain email address.
var ErrInvalidEmail = errors.New("auth: invalid email address")

// NormalizeEmail returns the stored form of an email address (trimmed, lower-cased) after checking
// that it is a plain address (no display name, no comments) of at most MaxEmailLength bytes.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || len(s) > MaxEmailLength || strings.ContainsAny(s, " \t\r\n<>\"(),;:\\[]") {
		return "", ErrInvalidEmail
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", ErrInvalidEmail
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") {
		return "", ErrInvalidEmail
	}
	return s, nil
}
