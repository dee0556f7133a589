package auth

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/identity"
	"github.com/community/sso/ent"
)

// MaxUsernameLength is the longest username the server stores.
const MaxUsernameLength = identity.MaxUsernameLength

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

// NewUsername is the username of a member being created, for GraphQL and single sign-on alike:
// the first of wishes that is not empty (a username claim, a name, an email) as a username
// (UsernameBase), made unique (UniqueUsername).
func NewUsername(ctx context.Context, client *ent.Client, wishes ...string) (string, error) {
	base := ""
	for _, w := range wishes {
		if strings.TrimSpace(w) != "" {
			base = w
			break
		}
	}
	return UniqueUsername(ctx, client, UsernameBase(base), 0)
}

// UniqueUsername returns base when no other user holds it, else base with the smallest free
// numeric suffix (bob → bob2, bob3, …). except is a user id to ignore (the user being renamed), or 0.
//
// The common case, a free base, costs one lookup on the username index (authdb.UsernameTaken).
// Only on a clash are the suffixed names read (authdb.DigitSuffixedUsernames), with a range on
// the same index.
func UniqueUsername(ctx context.Context, client *ent.Client, base string, except int) (string, error) {
	taken, err := authdb.UsernameTaken(ctx, client, base, except)
	if err != nil {
		return "", fmt.Errorf("auth: look up usernames: %w", err)
	}
	if !taken {
		return base, nil
	}
	suffixed, err := authdb.DigitSuffixedUsernames(ctx, client, base, except)
	if err != nil {
		return "", fmt.Errorf("auth: look up usernames: %w", err)
	}
	used := make(map[string]bool, len(suffixed))
	for _, u := range suffixed {
		used[u] = true
	}
	for i := 2; ; i++ {
		if c := base + strconv.Itoa(i); !used[c] {
			return c, nil
		}
	}
}
