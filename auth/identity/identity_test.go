package identity

import (
	"errors"
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		err            error
	}{
		{"plain", "kim@example.com", "kim@example.com", nil},
		{"trimmed and ASCII case folded", "  Kim.Park@Example.COM ", "kim.park@example.com", nil},
		{"plus and dots kept", "k.i.m+news@example.com", "k.i.m+news@example.com", nil},
		{"IDNA domain to ASCII", "kim@BÜCHER.example", "kim@xn--bcher-kva.example", nil},
		{"IDNA domain already ASCII", "kim@xn--bcher-kva.example", "kim@xn--bcher-kva.example", nil},
		{"fullwidth domain maps to its domain", "kim@ｅｘａｍｐｌｅ.com", "kim@example.com", nil},
		{"one non-Latin script", "ИВАН@example.com", "ИВАН@example.com", nil},
		{"Japanese with Latin", "taro山田@example.jp", "taro山田@example.jp", nil},
		{"U+0130 dotted capital I is not folded into i", "admİn@example.com", "admİn@example.com", nil},
		{"U+212A Kelvin sign", "\u212Aim@example.com", "", ErrCompatibility},
		{"U+017F long s", "\u017Fam@example.com", "", ErrCompatibility},
		{"fullwidth local part", "ａｄｍｉｎ@example.com", "", ErrCompatibility},
		{"ligature", "\uFB01nance@example.com", "", ErrCompatibility},
		{"decomposed accent", "jose\u0301@example.com", "", ErrCompatibility},
		{"zero-width space", "ad\u200Bmin@example.com", "", ErrInvisible},
		{"zero-width joiner", "ad\u200Dmin@example.com", "", ErrInvisible},
		{"soft hyphen", "ad\u00ADmin@example.com", "", ErrInvisible},
		{"bidi override", "\u202Eadmin@example.com", "", ErrInvisible},
		{"BOM", "\uFEFFadmin@example.com", "", ErrInvisible},
		{"variation selector", "admin\uFE0F@example.com", "", ErrInvisible},
		{"Hangul filler", "admin\u3164@example.com", "", ErrInvisible},
		{"control character", "ad\x01min@example.com", "", ErrInvisible},
		{"newline", "admin@example.com\nbcc@evil.example", "", ErrInvisible},
		{"non-breaking space", "admin\u00A0@example.com", "", ErrInvisible},
		{"Cyrillic a among Latin", "\u0430dmin@example.com", "", ErrMixedScript},
		{"Greek omicron among Latin", "b\u03BFb@example.com", "", ErrMixedScript},
		{"zero-width in domain", "admin@exa\u200Bmple.com", "", ErrInvisible},
		{"trailing dot", "admin@example.com.", "", ErrInvalidEmail},
		{"no domain dot", "admin@localhost", "", ErrInvalidEmail},
		{"display name", "Admin <admin@example.com>", "", ErrInvalidEmail},
		{"quoted local part", "\"ad min\"@example.com", "", ErrInvalidEmail},
		{"two at signs", "a@b@example.com", "", ErrInvalidEmail},
		{"empty", "  ", "", ErrEmpty},
		{"invalid UTF-8", "ad\xffmin@example.com", "", ErrInvalidEmail},
		{"bad domain label", "kim@-example.com", "", ErrInvalidEmail},
		{"too long", strings.Repeat("a", 190) + "@example.com", "", ErrTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Email(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Email(%q) = %q, %v; want error %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Email(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			again, err := Email(got)
			if err != nil || again != got || !IsEmail(got) {
				t.Fatalf("canonical form %q is not stable: %q, %v", got, again, err)
			}
		})
	}
}

// TestEmailNeverFoldsIntoASCII checks the property behind the rules: an address with a non-ASCII
// character in its local part never has the canonical form of an ASCII address.
func TestEmailNeverFoldsIntoASCII(t *testing.T) {
	for r := rune(0x80); r <= 0x2FFFF; r++ {
		in := "ad" + string(r) + "min@example.com"
		got, err := Email(in)
		if err != nil {
			continue
		}
		for i := 0; i < len(got); i++ {
			if got[i] >= 0x80 {
				goto next
			}
		}
		t.Errorf("Email(%q) = %q: a non-ASCII local part became ASCII", in, got)
	next:
	}
}

func TestExternalIDAndUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(string) (string, error)
		in   string
		want string
		err  error
	}{
		{"external id exact, case kept", ExternalID, "Cust-42", "Cust-42", nil},
		{"external id with spaces around", ExternalID, "  Cust-42 ", "", ErrSurroundingSpace},
		{"external id with a trailing tab", ExternalID, "Cust-42\t", "", ErrSurroundingSpace},
		{"external id with a trailing no-break space", ExternalID, "Cust-42\u00a0", "", ErrSurroundingSpace},
		{"external id blank", ExternalID, " ", "", ErrSurroundingSpace},
		{"external id with an inner space", ExternalID, "Cust 42", "Cust 42", nil},
		{"external id empty is none", ExternalID, "", "", nil},
		{"external id zero-width", ExternalID, "cust\u200B42", "", ErrInvisible},
		{"external id too long", ExternalID, strings.Repeat("x", 51), "", ErrTooLong},
		{"username kept exactly", Username, "Kim_Park", "Kim_Park", nil},
		{"username with space", Username, "kim park", "", ErrInvalidUsername},
		{"username with at", Username, "kim@home", "", ErrInvalidUsername},
		{"username mixed script", Username, "\u0430dmin", "", ErrMixedScript},
		{"username fullwidth", Username, "ａdmin", "", ErrCompatibility},
		{"username soft hyphen", Username, "ad\u00ADmin", "", ErrInvisible},
		{"username empty", Username, " ", "", ErrEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.fn(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("(%q) = %q, %v; want %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzEmail checks that a canonical form is stable and that an address never gains an ASCII-only
// local part it did not have.
func FuzzEmail(f *testing.F) {
	for _, s := range []string{"kim@example.com", "admİn@example.com", "\u212Aim@example.com", "ИВАН@Example.com", "a\u00ADb@x.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Email(in)
		if err != nil {
			return
		}
		if again, err := Email(got); err != nil || again != got {
			t.Fatalf("Email(%q) = %q, not stable: %q, %v", in, got, again, err)
		}
		local := got[:strings.LastIndexByte(got, '@')]
		inLocal := strings.TrimSpace(in)
		inLocal = inLocal[:strings.LastIndexByte(inLocal, '@')]
		if lowerASCII(inLocal) != local {
			t.Fatalf("Email(%q) = %q: the local part changed beyond ASCII case", in, got)
		}
	})
}
