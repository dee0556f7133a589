package authdb

import (
	"context"
	"fmt"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/predicate"
	"github.com/community/sso/ent/user"
)

// UsernameTaken reports whether a member other than except (a user id, or 0) holds name: one
// lookup on the username index.
func UsernameTaken(ctx context.Context, client *ent.Client, name string, except int) (bool, error) {
	taken, err := client.User.Query().Where(user.Username(name), user.IDNEQ(except)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("authdb: look up username: %w", err)
	}
	return taken, nil
}

// DigitSuffixedUsernames returns the usernames of members other than except (a user id, or 0)
// that are base followed by a digit and then anything (bob2, bob10, bob2x: at least every
// base+number), read with a range on the username index.
func DigitSuffixedUsernames(ctx context.Context, client *ent.Client, base string, except int) ([]string, error) {
	names, err := client.User.Query().
		Where(usernameDigitSuffix(base), user.IDNEQ(except)).
		Select(user.FieldUsername).
		Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("authdb: look up usernames: %w", err)
	}
	return names, nil
}

// usernameDigitSuffix matches (at least) the usernames made of base and a digit, then anything,
// with a range the username index serves. Both databases compare usernames byte by byte (SQLite's
// BINARY, utf8mb4_bin on MySQL/MariaDB), so those names lie in [base+"0", base+":"): ':' follows '9'.
func usernameDigitSuffix(base string) predicate.User {
	return user.And(user.UsernameGTE(base+"0"), user.UsernameLT(base+":"))
}
