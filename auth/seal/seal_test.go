package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newSealer(t testing.TB, key []byte) *Sealer {
	t.Helper()
	s, err := New(key)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestNewKeyLength(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		ok   bool
	}{
		{"nil", nil, false},
		{"empty", []byte{}, false},
		{"aes-128 size", make([]byte, 16), false},
		{"aes-192 size", make([]byte, 24), false},
		{"one short", make([]byte, 31), false},
		{"exact", make([]byte, 32), true},
		{"one long", make([]byte, 33), false},
		{"double", make([]byte, 64), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.key)
			if tc.ok {
				if err != nil || s == nil {
					t.Fatalf("New(%d bytes) = %v, %v; want a Sealer", len(tc.key), s, err)
				}
				return
			}
			if err == nil || s != nil {
				t.Fatalf("New(%d bytes) = %v, %v; want an error", len(tc.key), s, err)
			}
			if !strings.HasPrefix(err.Error(), "seal: ") {
				t.Fatalf("error %q lacks the \"seal: \" prefix", err)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	s := newSealer(t, testKey(1))
	tests := []struct {
		name      string
		purpose   string
		plaintext []byte
	}{
		{"empty plaintext", "cookie:oauth2-flow", []byte{}},
		{"nil plaintext", "cookie:oauth2-flow", nil},
		{"one byte", "setting:client-secret", []byte{0}},
		{"text", "setting:client-secret", []byte("s3cr3t-client-secret")},
		{"json", "cookie:oauth2-flow", []byte(`{"state":"abc","verifier":"xyz","redirect":"/spaces"}`)},
		{"binary", "session:refresh-token", []byte{0xff, 0x00, 0x80, 0x7f}},
		{"empty purpose", "", []byte("x")},
		{"large", "setting:jwt-secret", bytes.Repeat([]byte("0123456789abcdef"), 4096)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed := s.Seal(tc.purpose, tc.plaintext)
			if len(sealed) != len(tc.plaintext)+Overhead {
				t.Fatalf("len(sealed) = %d, want %d", len(sealed), len(tc.plaintext)+Overhead)
			}
			if sealed[0] != version1 {
				t.Fatalf("version byte = %d, want %d", sealed[0], version1)
			}
			if len(tc.plaintext) >= 4 && bytes.Contains(sealed, tc.plaintext) {
				t.Fatal("sealed value contains the plaintext")
			}
			got, err := s.Open(tc.purpose, sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got == nil || !bytes.Equal(got, tc.plaintext) {
				t.Fatalf("Open = %q, want %q", got, tc.plaintext)
			}

			str := s.SealString(tc.purpose, string(tc.plaintext))
			if strings.ContainsAny(str, "+/=") {
				t.Fatalf("SealString = %q, want URL-safe base64 without padding", str)
			}
			gotStr, err := s.OpenString(tc.purpose, str)
			if err != nil {
				t.Fatalf("OpenString: %v", err)
			}
			if gotStr != string(tc.plaintext) {
				t.Fatalf("OpenString = %q, want %q", gotStr, tc.plaintext)
			}
		})
	}
}

func TestSealsDiffer(t *testing.T) {
	s := newSealer(t, testKey(1))
	seen := make(map[string]bool)
	for range 100 {
		sealed := string(s.Seal("p", []byte("same plaintext")))
		if seen[sealed] {
			t.Fatal("two seals of the same plaintext are equal")
		}
		seen[sealed] = true
	}
	a, b := s.Seal("p", nil), s.Seal("p", nil)
	if bytes.Equal(a[1:1+nonceSize], b[1:1+nonceSize]) {
		t.Fatal("two seals share a nonce")
	}
}

func TestOpenRejects(t *testing.T) {
	s := newSealer(t, testKey(1))
	other := newSealer(t, testKey(2))
	const purpose = "cookie:oauth2-flow"
	sealed := s.Seal(purpose, []byte("flow state"))

	withVersion := func(v byte) []byte {
		c := bytes.Clone(sealed)
		c[0] = v
		return c
	}
	tests := []struct {
		name    string
		sealer  *Sealer
		purpose string
		sealed  []byte
	}{
		{"wrong purpose", s, "setting:client-secret", sealed},
		{"purpose prefix", s, "cookie:oauth2", sealed},
		{"purpose extended", s, purpose + "x", sealed},
		{"empty purpose", s, "", sealed},
		{"wrong key", other, purpose, sealed},
		{"nil", s, purpose, nil},
		{"empty", s, purpose, []byte{}},
		{"version only", s, purpose, sealed[:1]},
		{"one byte short of minimum", s, purpose, sealed[:Overhead-1]},
		{"tag dropped", s, purpose, sealed[:len(sealed)-tagSize]},
		{"last byte dropped", s, purpose, sealed[:len(sealed)-1]},
		{"byte appended", s, purpose, append(bytes.Clone(sealed), 0)},
		{"version 0", s, purpose, withVersion(0)},
		{"version 2", s, purpose, withVersion(2)},
		{"version 255", s, purpose, withVersion(255)},
		{"all zero", s, purpose, make([]byte, len(sealed))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.purpose, tc.sealed)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Open err = %v, want ErrInvalid", err)
			}
			if got != nil {
				t.Fatalf("Open returned %q alongside an error", got)
			}
		})
	}
}

func TestOpenRejectsEveryBitFlip(t *testing.T) {
	s := newSealer(t, testKey(1))
	const purpose = "setting:client-secret"
	sealed := s.Seal(purpose, []byte("client secret"))
	for i := range sealed {
		for bit := range 8 {
			c := bytes.Clone(sealed)
			c[i] ^= 1 << bit
			if _, err := s.Open(purpose, c); !errors.Is(err, ErrInvalid) {
				t.Fatalf("flip of byte %d bit %d: err = %v, want ErrInvalid", i, bit, err)
			}
		}
	}
}

func TestOpenRejectsEveryTruncation(t *testing.T) {
	s := newSealer(t, testKey(1))
	sealed := s.Seal("p", []byte("some plaintext"))
	for n := range len(sealed) {
		if _, err := s.Open("p", sealed[:n]); !errors.Is(err, ErrInvalid) {
			t.Fatalf("first %d bytes: err = %v, want ErrInvalid", n, err)
		}
		if _, err := s.Open("p", sealed[len(sealed)-n:]); !errors.Is(err, ErrInvalid) {
			t.Fatalf("last %d bytes: err = %v, want ErrInvalid", n, err)
		}
	}
}

func TestOpenStringRejects(t *testing.T) {
	s := newSealer(t, testKey(1))
	good := s.SealString("p", "value") // 34 bytes: the last character carries 4 unused bits
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, good[len(good)-1])
	nonCanonical := good[:len(good)-1] + string(alphabet[last^1])
	tests := []struct {
		name, purpose, sealed string
	}{
		{"empty", "p", ""},
		{"wrong purpose", "q", good},
		{"not base64", "p", "!!!not base64!!!"},
		{"standard alphabet", "p", strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/"},
		{"padded", "p", good + "=="},
		{"truncated", "p", good[:len(good)-1]},
		{"line feed inside", "p", good[:4] + "\n" + good[4:]},
		{"crlf appended", "p", good + "\r\n"},
		{"space appended", "p", good + " "},
		{"non-canonical trailing bits", "p", nonCanonical},
		{"one char", "p", "A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.OpenString(tc.purpose, tc.sealed)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("OpenString err = %v, want ErrInvalid", err)
			}
			if got != "" {
				t.Fatalf("OpenString returned %q alongside an error", got)
			}
		})
	}
}

// TestFormat pins the wire format so that values sealed today still open
// after a refactoring: version 1, then a 12-byte nonce, then AES-256-GCM
// over the plaintext with the version byte and the purpose as additional
// data.
func TestFormat(t *testing.T) {
	key := testKey(7)
	sealed := sealFixed(t, key, "setting:client-secret", "hello")
	got, err := newSealer(t, key).Open("setting:client-secret", sealed)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if string(got) != "hello" {
		t.Fatalf("Open = %q, want %q", got, "hello")
	}
}

// sealFixed seals plaintext the way Seal does, independently of it and
// with a fixed nonce, so the result is the same in every process.
func sealFixed(t testing.TB, key []byte, purpose, plaintext string) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := bytes.Repeat([]byte{9}, nonceSize)
	sealed := append([]byte{1}, nonce...)
	return gcm.Seal(sealed, nonce, []byte(plaintext), []byte("\x01"+purpose))
}

func TestNewDoesNotRetainKey(t *testing.T) {
	key := testKey(1)
	s := newSealer(t, key)
	sealed := s.Seal("p", []byte("x"))
	clear(key)
	if _, err := s.Open("p", sealed); err != nil {
		t.Fatalf("Open after clearing the caller's key: %v", err)
	}
}

func TestDeriveKey(t *testing.T) {
	// RFC 5869, test case 3 (SHA-256, empty salt, empty info), first 32 bytes.
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	want, _ := hex.DecodeString("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d")
	if got := DeriveKey(ikm, ""); !bytes.Equal(got, want) {
		t.Fatalf("DeriveKey(RFC 5869 case 3) = %x, want %x", got, want)
	}

	master := testKey(3)
	tests := []struct {
		name       string
		a, b       []byte
		wantEquals bool
	}{
		{"deterministic", DeriveKey(master, "seal:settings"), DeriveKey(master, "seal:settings"), true},
		{"labels differ", DeriveKey(master, "seal:settings"), DeriveKey(master, "seal:cookies"), false},
		{"masters differ", DeriveKey(master, "seal:settings"), DeriveKey(testKey(4), "seal:settings"), false},
		{"not the master", DeriveKey(master, ""), master, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.a) != KeySize {
				t.Fatalf("len = %d, want %d", len(tc.a), KeySize)
			}
			if bytes.Equal(tc.a, tc.b) != tc.wantEquals {
				t.Fatalf("keys %x and %x: equal = %v, want %v", tc.a, tc.b, !tc.wantEquals, tc.wantEquals)
			}
		})
	}

	// Keys derived for different labels do not open each other's values.
	a := newSealer(t, DeriveKey(master, "seal:settings"))
	b := newSealer(t, DeriveKey(master, "seal:cookies"))
	if _, err := b.Open("p", a.Seal("p", []byte("x"))); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open under a sibling key: err = %v, want ErrInvalid", err)
	}
}

func FuzzOpen(f *testing.F) {
	s := newSealer(f, testKey(1))
	const purpose = "cookie:oauth2-flow"
	// The fuzzing engine runs this function in several processes, so the
	// one value that may open has to be the same in all of them.
	valid := sealFixed(f, testKey(1), purpose, "flow state")
	validString := encoding.EncodeToString(valid)
	f.Add(valid)
	f.Add([]byte{})
	f.Add([]byte{version1})
	f.Add(make([]byte, Overhead))
	f.Add(append([]byte{version1}, make([]byte, Overhead+10)...))
	f.Add([]byte(validString))
	// Well-formed, but under another key.
	other := newSealer(f, testKey(2))
	f.Add(other.Seal(purpose, []byte("flow state")))
	f.Add([]byte(other.SealString(purpose, "flow state")))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := s.Open(purpose, data)
		if bytes.Equal(data, valid) {
			if err != nil || string(got) != "flow state" {
				t.Fatalf("Open(valid seed) = %q, %v", got, err)
			}
		} else if err == nil || !errors.Is(err, ErrInvalid) || got != nil {
			t.Fatalf("Open(%x) = %q, %v; want nil, ErrInvalid", data, got, err)
		}

		str, err := s.OpenString(purpose, string(data))
		if string(data) == validString {
			if err != nil || str != "flow state" {
				t.Fatalf("OpenString(valid seed) = %q, %v", str, err)
			}
		} else if err == nil || !errors.Is(err, ErrInvalid) || str != "" {
			t.Fatalf("OpenString(%q) = %q, %v; want \"\", ErrInvalid", data, str, err)
		}
	})
}
