// Package seal encrypts and authenticates small values with AES-256-GCM:
// the secrets the server keeps at rest (OAuth2 client secret, JWT SSO
// secret, refresh and id tokens) and the short-lived cookies that carry
// login flow state.
//
// A sealed value is
//
//	version (1 byte) || nonce (12 random bytes) || ciphertext || GCM tag (16 bytes)
//
// The version byte lets the format evolve; today only version 1 exists. The
// additional authenticated data is the version byte followed by a purpose
// string, such as "cookie:oauth2-flow" or "setting:client-secret", so a
// value sealed for one purpose cannot be opened, or replayed, as another.
//
// Random 96-bit nonces keep a single key safe for about 2^32 seals; derive
// separate keys per use with [DeriveKey] when that could ever be exceeded.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length, in bytes, of the key that [New] takes and
// [DeriveKey] returns.
const KeySize = 32

const (
	version1  byte = 1
	nonceSize      = 12
	tagSize        = 16
	// Overhead is how many bytes Seal adds to the plaintext.
	Overhead = 1 + nonceSize + tagSize
)

// ErrInvalid is returned, possibly wrapped, by [Sealer.Open] and
// [Sealer.OpenString] for any value that does not open: tampered with,
// truncated, sealed under another key or for another purpose, or of an
// unknown version. Check it with errors.Is.
var ErrInvalid = errors.New("seal: invalid sealed value")

// encoding is the text form used by SealString and OpenString: URL-safe
// base64 without padding, fit for cookies, query strings and text columns.
var encoding = base64.RawURLEncoding

// Sealer seals and opens values under one key. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD // AES-256-GCM that generates and prepends its nonce
}

// New returns a Sealer that uses key, which must be exactly [KeySize] bytes.
// The key is not retained: the caller may overwrite it afterwards.
func New(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("seal: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts and authenticates plaintext for purpose and returns the
// sealed value, which is len(plaintext) + [Overhead] bytes long. Sealing the
// same plaintext twice gives different results.
func (s *Sealer) Seal(purpose string, plaintext []byte) []byte {
	out := make([]byte, 1, Overhead+len(plaintext))
	out[0] = version1
	return s.aead.Seal(out, nil, plaintext, additionalData(version1, purpose))
}

// Open checks and decrypts a value made by [Sealer.Seal] for the same
// purpose. Any failure is reported as an error that wraps [ErrInvalid].
func (s *Sealer) Open(purpose string, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead {
		return nil, fmt.Errorf("%w: too short", ErrInvalid)
	}
	if sealed[0] != version1 {
		return nil, fmt.Errorf("%w: unknown version %d", ErrInvalid, sealed[0])
	}
	plaintext, err := s.aead.Open(nil, nil, sealed[1:], additionalData(version1, purpose))
	if err != nil {
		// Wrong key, wrong purpose and tampering are indistinguishable,
		// by design of GCM.
		return nil, fmt.Errorf("%w: authentication failed", ErrInvalid)
	}
	if plaintext == nil {
		plaintext = []byte{}
	}
	return plaintext, nil
}

// SealString seals plaintext for purpose, like [Sealer.Seal], and returns
// the result as URL-safe base64 without padding, ready for a cookie value
// or a text column.
func (s *Sealer) SealString(purpose, plaintext string) string {
	return encoding.EncodeToString(s.Seal(purpose, []byte(plaintext)))
}

// OpenString opens a value made by [Sealer.SealString] for the same
// purpose. Any failure, bad base64 included, wraps [ErrInvalid]. Only the
// exact text SealString produced is accepted: padding, the standard base64
// alphabet, line breaks and non-canonical trailing bits are all refused.
func (s *Sealer) OpenString(purpose, sealed string) (string, error) {
	// The decoder skips CR and LF; refuse them so that each value has
	// exactly one accepted text form.
	if strings.ContainsAny(sealed, "\r\n") {
		return "", fmt.Errorf("%w: bad base64", ErrInvalid)
	}
	raw, err := encoding.Strict().DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("%w: bad base64", ErrInvalid)
	}
	plaintext, err := s.Open(purpose, raw)
	if err != nil {
		return "", err
	}
	return string(plaintext), nil
}

// DeriveKey derives a [KeySize]-byte key for label from master with
// HKDF-SHA256 (RFC 5869, empty salt, label as info), so that one
// SECRET_KEY can feed independent keys, e.g. "seal:settings" and
// "seal:cookies". The same master and label always give the same key;
// different labels give unrelated keys.
//
// master should be at least 32 bytes of uniformly random key material.
// DeriveKey panics only if the Go runtime is in FIPS 140-only mode and
// master is shorter than 14 bytes (112 bits), which that mode forbids.
func DeriveKey(master []byte, label string) []byte {
	key, err := hkdf.Key(sha256.New, master, nil, label, KeySize)
	if err != nil {
		panic(fmt.Sprintf("seal: derive key: %v", err))
	}
	return key
}

// additionalData is what GCM authenticates besides the ciphertext: the
// format version and the purpose.
func additionalData(version byte, purpose string) []byte {
	ad := make([]byte, 0, 1+len(purpose))
	ad = append(ad, version)
	return append(ad, purpose...)
}
