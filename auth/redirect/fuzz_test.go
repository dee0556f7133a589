package redirect

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzSafe checks the promise behind Safe: whatever it accepts stays on this
// site, however many times it is percent-decoded; whatever it rejects
// becomes "/".
func FuzzSafe(f *testing.F) {
	for _, tc := range safeCases {
		f.Add(tc.target)
	}
	base, err := url.Parse("https://community.example/spaces/general?x=1")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got, ok := Safe(target)
		if !ok {
			if got != "/" {
				t.Fatalf("Safe(%q) = %q, false; want \"/\"", target, got)
			}
			return
		}
		if got != target {
			t.Fatalf("Safe(%q) = %q, true; want the target unchanged", target, got)
		}
		if Or(target, "/x") != target {
			t.Fatalf("Or(%q, ...) disagrees with Safe", target)
		}
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") {
			t.Fatalf("Safe accepted %q", got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("Safe accepted %q, which url.Parse rejects: %v", got, err)
		}
		if u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			t.Fatalf("Safe accepted %q: scheme %q, host %q, user %v, opaque %q", got, u.Scheme, u.Host, u.User, u.Opaque)
		}
		if r := base.ResolveReference(u); r.Scheme != base.Scheme || r.Host != base.Host {
			t.Fatalf("Safe accepted %q, which resolves to %s", got, r)
		}

		// Decode until nothing changes: no form may look like a
		// scheme-relative URL or hide a control character.
		s := got
		for i := 0; ; i++ {
			if i > 16 {
				t.Fatalf("Safe accepted %q, which keeps decoding", got)
			}
			if strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
				t.Fatalf("Safe accepted %q, which decodes to %q", got, s)
			}
			if !utf8.ValidString(s) {
				t.Fatalf("Safe accepted %q, which decodes to invalid UTF-8 %q", got, s)
			}
			for _, r := range s {
				if unicode.IsControl(r) {
					t.Fatalf("Safe accepted %q, which decodes to %q with control character %U", got, s, r)
				}
			}
			d, err := url.PathUnescape(s)
			if err != nil || d == s {
				break
			}
			s = d
		}
	})
}
