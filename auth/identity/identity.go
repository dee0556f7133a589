// Package identity computes the one canonical form of every identifier a member is found by:
// email addresses, external ids and usernames. Every path that stores or looks up one of them
// (SSO provisioning, direct login, the GraphQL API, the admin bootstrap, the ent schema's
// validators) goes through these functions, and the database compares the results byte for byte
// (binary collation on MySQL/MariaDB, SQLite's BINARY), so the database never matches two
// identifiers the code keeps apart.
//
// Emails: a plain address (net/mail), with no control, format, private-use or invisible
// characters; the domain converted to ASCII with IDNA (the lookup profile of UTS #46, so
// "BÜCHER.example" and "xn--bcher-kva.example" are one domain); the local part case-folded for
// ASCII letters only, kept in its own script (no letters of two scripts that could be confused,
// such as Latin and Cyrillic) and refused when Unicode's compatibility normalisation (NFKC) would
// change it (fullwidth letters, the Kelvin sign, the long s, ligatures). No non-ASCII character
// can therefore fold into an ASCII address: "admİn@example.com" is not "admin@example.com", and
// "\u212Aim@example.com" is refused.
//
// External ids and usernames are compared exactly (no case folding); they are trimmed of
// surrounding spaces and refused when they hold control, format or invisible characters.
package identity

import (
	"errors"
	"net/mail"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits of the stored identifiers, in bytes.
const (
	MaxEmailLength      = 200
	MaxExternalIDLength = 50
	MaxUsernameLength   = 100
)

// Errors of the canonical forms; each wraps ErrInvalid.
var (
	ErrInvalid          = errors.New("identity: invalid identifier")
	ErrInvalidEmail     = invalid("not a valid email address")
	ErrInvisible        = invalid("holds a control, format or invisible character")
	ErrMixedScript      = invalid("mixes letters of different scripts")
	ErrCompatibility    = invalid("holds a compatibility character (fullwidth, ligature, Kelvin sign...)")
	ErrTooLong          = invalid("too long")
	ErrEmpty            = invalid("empty")
	ErrInvalidUsername  = invalid("usernames have no spaces, / or @")
	ErrSurroundingSpace = invalid("starts or ends with a space")
)

type invalidError string

func (e invalidError) Error() string { return "identity: " + string(e) }
func (e invalidError) Unwrap() error { return ErrInvalid }

func invalid(msg string) error { return invalidError(msg) }

// lookup converts domains the way resolvers do (UTS #46 lookup profile), checking DNS lengths.
var lookup = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.StrictDomainName(true))

// Email returns the canonical form of an email address, or an error wrapping ErrInvalid.
func Email(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrEmpty
	}
	if !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	if err := visible(s); err != nil {
		return "", err
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 {
		return "", ErrInvalidEmail
	}
	local, domain := s[:at], s[at+1:]
	if strings.ContainsAny(local, " \"(),:;<>@[\\]") {
		return "", ErrInvalidEmail // quoted local parts and comments are not accepted
	}
	if strings.HasSuffix(domain, ".") {
		return "", ErrInvalidEmail
	}
	if !norm.NFKC.IsNormalString(local) {
		return "", ErrCompatibility
	}
	if err := oneScript(local); err != nil {
		return "", err
	}
	ascii, err := lookup.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") || ascii != strings.ToLower(ascii) {
		return "", ErrInvalidEmail
	}
	out := lowerASCII(local) + "@" + ascii
	if len(out) > MaxEmailLength {
		return "", ErrTooLong
	}
	a, err := mail.ParseAddress(out)
	if err != nil || a.Address != out || a.Name != "" {
		return "", ErrInvalidEmail
	}
	return out, nil
}

// IsEmail reports whether s is an email address in its canonical form.
func IsEmail(s string) bool {
	c, err := Email(s)
	return err == nil && c == s
}

// ExternalID returns the canonical form of an identity provider's id for a member: the id exactly
// as given, compared byte for byte. An id with spaces around it is refused, not trimmed: " alice"
// and "alice" may be two accounts at the provider, and must not become one member here. An
// empty result means none.
func ExternalID(s string) (string, error) {
	if strings.TrimSpace(s) != s {
		return "", ErrSurroundingSpace
	}
	if err := visible(s); err != nil {
		return "", err
	}
	if len(s) > MaxExternalIDLength {
		return "", ErrTooLong
	}
	return s, nil
}

// IsExternalID reports whether s names a member as an external id: not empty, and in its
// canonical form. A lookup takes no other id: MySQL/MariaDB's utf8mb4_bin ignores trailing
// spaces when it compares, so "acct-7 " would find acct-7.
func IsExternalID(s string) bool {
	c, err := ExternalID(s)
	return err == nil && c == s && c != ""
}

// Username returns the canonical form of a username chosen by a person (an admin, or a member for
// itself): trimmed, otherwise exact, without spaces, '/' or '@', in one script.
func Username(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", ErrEmpty
	case len(s) > MaxUsernameLength:
		return "", ErrTooLong
	case strings.ContainsAny(s, "/@"):
		return "", ErrInvalidUsername
	}
	if err := visible(s); err != nil {
		return "", err
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return "", ErrInvalidUsername
		}
	}
	if !norm.NFKC.IsNormalString(s) {
		return "", ErrCompatibility
	}
	return s, oneScript(s)
}

// visible refuses control, format (zero-width, soft hyphen, bidi controls), private-use,
// surrogate, unassigned and invisible characters, and separators other than the ASCII space.
func visible(s string) error {
	for _, r := range s {
		switch {
		case r == ' ':
		case r == utf8.RuneError,
			!unicode.IsGraphic(r),
			unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp, unicode.Zs,
				unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point, unicode.Noncharacter_Code_Point),
			r == '\u115F', r == '\u1160', r == '\u3164', r == '\uFFA0': // Hangul fillers render as nothing
			return ErrInvisible
		}
	}
	return nil
}

// scripts are the scripts a letter is told apart by; Common and Inherited characters (digits,
// punctuation, combining marks) belong to none.
var scripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin}, {"Cyrillic", unicode.Cyrillic}, {"Greek", unicode.Greek},
	{"Armenian", unicode.Armenian}, {"Georgian", unicode.Georgian}, {"Cherokee", unicode.Cherokee},
	{"Han", unicode.Han}, {"Hiragana", unicode.Hiragana}, {"Katakana", unicode.Katakana},
	{"Hangul", unicode.Hangul}, {"Bopomofo", unicode.Bopomofo}, {"Arabic", unicode.Arabic},
	{"Hebrew", unicode.Hebrew}, {"Thai", unicode.Thai}, {"Devanagari", unicode.Devanagari},
	{"Bengali", unicode.Bengali}, {"Tamil", unicode.Tamil}, {"Ethiopic", unicode.Ethiopic},
}

// combinations are the sets of scripts that may be mixed (Unicode TS #39, highly restrictive):
// Japanese, Chinese and Korean writing with Latin.
var combinations = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// oneScript refuses a string whose letters come from scripts that are not written together.
func oneScript(s string) error {
	var seen []string
	for _, r := range s {
		if r < utf8.RuneSelf {
			if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
				seen = add(seen, "Latin")
			}
			continue
		}
		found := ""
		for _, sc := range scripts {
			if unicode.Is(sc.table, r) {
				found = sc.name
				break
			}
		}
		if found == "" {
			if unicode.IsLetter(r) && !unicode.In(r, unicode.Common, unicode.Inherited) {
				found = "Other"
			} else {
				continue
			}
		}
		seen = add(seen, found)
	}
	if len(seen) <= 1 {
		return nil
	}
	for _, allowed := range combinations {
		if subset(seen, allowed) {
			return nil
		}
	}
	return ErrMixedScript
}

func add(set []string, s string) []string {
	if slices.Contains(set, s) {
		return set
	}
	return append(set, s)
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of s and leaves every other character as it is.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
