package auth

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/user"
)

// MaxUsernameLength is the longest username the server stores.
const MaxUsernameLength = 100

// UsernameBase turns a wished-for username (or a name, or an email's local part) into a
// username: lower-case letters, digits, '.', '_' and '-', at most 40 bytes, never empty.
func UsernameBase(s string) string {
	if at := strings.IndexByte(s, '@'); at > 0 {
		s = s[:at]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)), r == '.', r == '_', r == '-':
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	out := strings.Trim(b.String(), ".-_")
	if out == "" {
		return "member"
	}
	return out
}

// UniqueUsername returns base when no other user holds it, else base with the smallest free
// numeric suffix (bob → bob2, bob3, …). except is a user id to ignore (the user being renamed), or 0.
func UniqueUsername(ctx context.Context, client *ent.Client, base string, except int) (string, error) {
	taken, err := client.User.Query().
		Where(user.Or(user.Username(base), user.UsernameHasPrefix(base)), user.IDNEQ(except)).
		Select(user.FieldUsername).
		Strings(ctx)
	if err != nil {
		return "", fmt.Errorf("auth: look up usernames: %w", err)
	}
	used := make(map[string]bool, len(taken))
	for _, u := range taken {
		used[u] = true
	}
	if !used[base] {
		return base, nil
	}
	for i := 2; ; i++ {
		if c := fmt.Sprintf("%s%d", base, i); !used[c] {
			return c, nil
		}
	}
}
