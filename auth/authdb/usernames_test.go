package authdb

import (
	"context"
	"slices"
	"testing"

	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestUsernameLookups: a username is taken by its holder only, and the digit-suffixed names of
// a base are read by their range on both databases: every base+number, none of the names that
// share the base with another character after it ('-', '.' and '_' sort before the digits,
// letters after them).
func TestUsernameLookups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ids := map[string]int{}
		for _, name := range []string{"bob", "bob2", "bob10", "bob2x", "bob9", "bob-2", "bob.3", "bob_4", "bobby", "bobby2", "bo", "bo5"} {
			ids[name] = db.Client.User.Create().SetUsername(name).SetEmail(name + "@example.com").SaveX(ctx).ID
		}
		for _, tc := range []struct {
			name   string
			except string
			taken  bool
		}{
			{"bob", "", true},
			{"bob", "bob", false}, // its holder is ignored
			{"bob", "bob2", true},
			{"bob3", "", false},
			{"carol", "", false},
		} {
			taken, err := UsernameTaken(ctx, db.Client, tc.name, ids[tc.except])
			if err != nil || taken != tc.taken {
				t.Errorf("UsernameTaken(%q, except %q) = %v, %v; want %v", tc.name, tc.except, taken, err, tc.taken)
			}
		}
		for _, tc := range []struct {
			base   string
			except string
			want   []string
		}{
			{"bob", "", []string{"bob10", "bob2", "bob2x", "bob9"}},
			{"bob", "bob2", []string{"bob10", "bob2x", "bob9"}},
			{"bo", "", []string{"bo5"}},
			{"bobby", "", []string{"bobby2"}},
			{"carol", "", nil},
		} {
			got, err := DigitSuffixedUsernames(ctx, db.Client, tc.base, ids[tc.except])
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("DigitSuffixedUsernames(%q, except %q) = %q, want %q", tc.base, tc.except, got, tc.want)
			}
		}
	})
}
