package redirect

import (
	"strings"
	"testing"
)

// safeCase is one row of the shared table: the unit test checks the verdict,
// and FuzzSafe uses every target as a seed.
type safeCase struct {
	name   string
	target string
	ok     bool
}

var safeCases = []safeCase{
	// Accepted: same-site relative paths.
	{"root", "/", true},
	{"simple path", "/spaces", true},
	{"nested path", "/spaces/general", true},
	{"path with query and fragment", "/spaces/general?tab=1#top", true},
	{"root with query", "/?auth=true", true},
	{"root with fragment", "/#top", true},
	{"empty query", "/spaces?", true},
	{"trailing slash", "/spaces/general/", true},
	{"at sign is a path", "/@evil.com", true},
	{"colon in path", "/a:b", true},
	{"scheme-like path segment", "/http://evil.com", true},
	{"unicode path", "/ünïcode", true},
	{"cjk path", "/スペース/一般", true},
	{"encoded unicode", "/%C3%BCn%C3%AFcode", true},
	{"encoded space inside path", "/my%20space", true},
	{"encoded slash inside path", "/a%2Fb", true},
	{"double slash later in path", "/a//b", true},
	{"double slash in query", "/login?next=//evil.com", true},
	{"url in query", "/?next=https://evil.com", true},
	{"encoded query", "/search?q=a%26b%3Dc", true},
	{"double-encoded harmless", "/a%2541", true},
	{"dotfile segment", "/.well-known/thing", true},
	{"dots inside segment", "/a..b/c...", true},
	{"tilde and friends", "/~user/a-b_c.d!$&'()*+,;=", true},
	{"max length", "/" + strings.Repeat("a", MaxLen-1), true},

	// Rejected: not a relative path.
	{"empty", "", false},
	{"no leading slash", "spaces", false},
	{"dot relative", "./spaces", false},
	{"scheme-relative", "//evil.com", false},
	{"scheme-relative with path", "//evil.com/login", false},
	{"triple slash", "///evil.com", false},
	{"slash backslash", "/\\evil.com", false},
	{"backslash slash", "\\/evil", false},
	{"backslash backslash", "\\\\evil.com", false},
	{"backslash later", "/a\\b", false},
	{"backslash in query", "/?a=\\", false},
	{"http", "http://x", false},
	{"https", "https://x", false},
	{"upper-case https", "HTTPS://x", false},
	{"javascript", "javascript:alert(1)", false},
	{"javascript upper-case", "JavaScript:alert(1)", false},
	{"data url", "data:text/html,<script>alert(1)</script>", false},
	{"mailto", "mailto:a@b.c", false},
	{"too long", "/" + strings.Repeat("a", MaxLen), false},

	// Rejected: whitespace and control characters, raw.
	{"slash space slash", "/ /evil", false},
	{"space inside", "/a b", false},
	{"leading space", " /a", false},
	{"trailing space", "/a ", false},
	{"tab after slash", "/\t/evil.com", false},
	{"tab inside", "/a\tb", false},
	{"cr", "/a\rb", false},
	{"lf", "/a\nb", false},
	{"crlf header injection", "/\r\nSet-Cookie: x=y", false},
	{"nul", "/a\x00b", false},
	{"del", "/a\x7fb", false},
	{"lf in fragment", "/a#b\nc", false},
	{"c1 control", "/a\u0085b", false},
	{"line separator", "/\u2028", false},
	{"paragraph separator", "/a\u2029b", false},
	{"no-break space", "/a\u00a0b", false},
	{"ideographic space after slash", "/\u3000/evil.com", false},
	{"zero width space", "/a\u200bb", false},
	{"right-to-left override", "/a\u202eb", false},
	{"byte order mark", "/\ufeffa", false},
	{"invalid utf-8", "/a\xffb", false},
	{"fullwidth solidus", "/\uff0fevil.com", false},
	{"fullwidth reverse solidus", "/\uff3cevil.com", false},
	{"small reverse solidus", "/\ufe68evil.com", false},

	// Rejected: dot segments.
	{"dot dot", "/..", false},
	{"dot dot slash slash", "/a/..//evil.com", false},
	{"dot", "/./a", false},
	{"trailing dot", "/a/.", false},

	// Rejected: percent-encoded tricks.
	{"encoded slashes", "/%2f%2fevil.com", false},
	{"encoded slashes upper-case", "/%2F%2Fevil.com", false},
	{"encoded second slash", "/%2fevil.com", false},
	{"encoded backslash", "/%5cevil.com", false},
	{"encoded backslash later", "/a%5Cb", false},
	{"encoded tab", "/%09/evil.com", false},
	{"encoded lf", "/a%0ab", false},
	{"encoded crlf in query", "/?a=%0d%0aSet-Cookie:x", false},
	{"encoded nul in fragment", "/#%00", false},
	{"encoded space after slash", "/%20/evil.com", false},
	{"encoded line separator", "/%E2%80%A8", false},
	{"encoded invalid utf-8", "/%ff", false},
	{"encoded dot dot", "/a/%2e%2e//evil.com", false},
	{"encoded dot dot slash", "/a/..%2f%2fevil.com", false},
	{"encoded fullwidth solidus", "/%EF%BC%8Fevil.com", false},
	{"double-encoded slashes", "/%252f%252fevil.com", false},
	{"double-encoded backslash", "/%255cevil.com", false},
	{"double-encoded tab", "/%2509/evil.com", false},
	{"triple-encoded slashes", "/%25252f%25252fevil.com", false},
	{"quadruple-encoded", "/%2525252fevil.com", false},
	{"invalid escape", "/%zz", false},
	{"truncated escape", "/a%2", false},
	{"lone percent", "/100%", false},
	{"invalid escape in query", "/?q=%zz", false},
	{"literal percent after decoding", "/100%25", false},
}

func TestSafe(t *testing.T) {
	for _, tc := range safeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Safe(tc.target)
			if ok != tc.ok {
				t.Fatalf("Safe(%q) ok = %v, want %v", tc.target, ok, tc.ok)
			}
			want := "/"
			if tc.ok {
				want = tc.target
			}
			if got != want {
				t.Fatalf("Safe(%q) = %q, want %q", tc.target, got, want)
			}
		})
	}
}

func TestOr(t *testing.T) {
	tests := []struct {
		name, target, fallback, want string
	}{
		{"safe target", "/spaces", "/home", "/spaces"},
		{"unsafe target, safe fallback", "//evil.com", "/home", "/home"},
		{"empty target, safe fallback", "", "/welcome?new=1", "/welcome?new=1"},
		{"both unsafe", "//evil.com", "https://evil.com", "/"},
		{"both empty", "", "", "/"},
		{"safe target, unsafe fallback", "/a", "javascript:alert(1)", "/a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Or(tc.target, tc.fallback); got != tc.want {
				t.Fatalf("Or(%q, %q) = %q, want %q", tc.target, tc.fallback, got, tc.want)
			}
		})
	}
}
