// Package redirect validates the targets the server redirects a browser to
// after login and logout (redirect_uri, referrer_uri, the ?auth=true return
// URL). It is the only place that decides whether a user-supplied target is
// safe: every handler passes its target through [Safe] or [Or].
//
// A target is safe when it is a same-site relative path: it starts with
// exactly one "/" (so it can never name another host), and it may carry a
// query and a fragment, e.g. "/spaces/general?tab=1#top" or "/?auth=true".
// Everything else is rejected and replaced by "/" (or the caller's fallback).
//
// The rules are deliberately strict, because browsers and intermediate
// servers are lenient in ways that turn innocent-looking paths into
// off-site URLs. A target is rejected when:
//
//   - it is empty or longer than [MaxLen] bytes;
//   - it does not start with "/", or its second byte is "/" or "\"
//     ("//evil.com" and "/\evil.com" are scheme-relative URLs to browsers);
//   - it contains a backslash or a space anywhere;
//   - it is not valid UTF-8, or contains a control character (C0, DEL, C1),
//     a Unicode whitespace character such as U+2028 LINE SEPARATOR or
//     U+00A0 NO-BREAK SPACE, or a Unicode format character such as
//     U+200B ZERO WIDTH SPACE or U+202E RIGHT-TO-LEFT OVERRIDE (browsers
//     silently strip tabs and newlines, which turns "/\t/evil.com" into
//     "//evil.com"; the others enable header injection or visual spoofing);
//   - its path contains a "." or ".." segment ("/a/..//evil.com" resolves
//     to the path "//evil.com"), or a slash look-alike that Unicode
//     compatibility normalization (NFKC) turns into "/" or "\"
//     (U+FF0F, U+FF3C, U+FE68);
//   - percent-decoding it reveals any of the above. The target is decoded
//     with [url.PathUnescape] up to three times, to catch double
//     and triple encoding such as "/%252f%252fevil.com"; each decoded form is
//     checked with the same rules (a decoded space is allowed, except right
//     after the leading slash). A target with an invalid escape such as
//     "/%zz", one that still changes after the last round, or one whose fully
//     decoded form holds a literal "%" is rejected: a post-login target never
//     needs one;
//   - [url.Parse] fails on it or finds a scheme, host, user info or opaque
//     part (so "javascript:alert(1)", "data:...", "http://x" and "HTTPS://x"
//     never pass).
//
// Non-ASCII letters are allowed ("/ünïcode"), as is "@" ("/@evil.com" is a
// path on this site, not a user info).
package redirect

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest target, in bytes, that [Safe] accepts.
const MaxLen = 2048

// maxDecodeRounds is how many times a target is percent-decoded while
// looking for hidden tricks. A target that still contains an escape after
// this many rounds is rejected.
const maxDecodeRounds = 3

// Safe reports whether target is a same-site relative path that is safe to
// redirect a browser to. It returns target unchanged and true when it is,
// and "/" and false otherwise. See the package documentation for the rules.
func Safe(target string) (string, bool) {
	if !safe(target) {
		return "/", false
	}
	return target, true
}

// Or returns target if it is [Safe], otherwise fallback if that is Safe,
// otherwise "/".
func Or(target, fallback string) string {
	if t, ok := Safe(target); ok {
		return t
	}
	if f, ok := Safe(fallback); ok {
		return f
	}
	return "/"
}

func safe(target string) bool {
	if target == "" || len(target) > MaxLen || target[0] != '/' {
		return false
	}
	if !utf8.ValidString(target) {
		return false
	}
	for _, r := range target {
		if r == ' ' || r == '\\' || forbidden(r) {
			return false
		}
	}
	path := target[:pathEnd(target)]
	if !pathOK(path) {
		return false
	}

	// Decode the whole target (for control characters hidden in any part)
	// and its path (for the path rules) in lock step, until neither changes.
	whole := target
	for round := 0; ; round++ {
		decoded, err := url.PathUnescape(whole)
		if err != nil {
			return false
		}
		if decoded == whole {
			break // fixed point: nothing left to decode
		}
		if round == maxDecodeRounds {
			return false // still encoded after the last round
		}
		if path, err = url.PathUnescape(path); err != nil {
			return false
		}
		if !utf8.ValidString(decoded) || !pathOK(path) {
			return false
		}
		for _, r := range decoded {
			if forbidden(r) {
				return false
			}
		}
		whole = decoded
	}

	u, err := url.Parse(target)
	if err != nil {
		return false
	}
	return u.Scheme == "" && u.Host == "" && u.User == nil && u.Opaque == ""
}

// pathEnd returns the index where the path of s ends: at the first "?" or
// "#", or at the end of s.
func pathEnd(s string) int {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return i
	}
	return len(s)
}

// pathOK checks a raw or decoded path: one leading slash not followed by a
// slash, backslash or space; no backslash or slash look-alike anywhere; no
// dot segments.
func pathOK(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\' || p[1] == ' ') {
		return false
	}
	if strings.ContainsAny(p, "\\\uFF0F\uFF3C\uFE68") {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// forbidden reports whether r may appear nowhere in a target, raw or
// decoded: control characters, whitespace other than the ASCII space, and
// format characters (zero-width and bidirectional controls).
func forbidden(r rune) bool {
	return unicode.IsControl(r) ||
		(unicode.IsSpace(r) && r != ' ') ||
		unicode.Is(unicode.Cf, r)
}
