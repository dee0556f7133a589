package auth

import (
	"context"
	"testing"

	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

func TestUniqueUsername(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ids := map[string]int{}
		for _, name := range []string{"bob", "bob2", "bob3", "bob5", "bobby", "bobby2", "bob-2", "bob_x", "bob10", "ann.lee", "ann.lee2", "a_c2"} {
			ids[name] = db.Client.User.Create().SetUsername(name).SetEmail(name + "@example.com").SaveX(ctx).ID
		}
		for _, tc := range []struct {
			base   string
			except string // a username whose holder is ignored (the user being renamed)
			want   string
		}{
			{"carol", "", "carol"},  // free
			{"bo", "", "bo"},        // a prefix of taken names is still free
			{"bob", "", "bob4"},     // the smallest free suffix
			{"bobby", "", "bobby3"}, // bob's names do not count, nor bobby's for bob
			{"ann.lee", "", "ann.lee3"},
			{"a_c", "", "a_c"},      // '_' is no wildcard
			{"bob", "bob", "bob"},   // the holder itself
			{"bob", "bob3", "bob3"}, // its own name frees a suffix
			{"bob2", "", "bob22"},   // bob2 is taken: bob22, not bob3
		} {
			got, err := UniqueUsername(ctx, db.Client, tc.base, ids[tc.except])
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("UniqueUsername(%q, except %q) = %q, want %q", tc.base, tc.except, got, tc.want)
			}
		}
		for _, tc := range []struct {
			wishes []string
			want   string
		}{
			{[]string{"Bob", "Robert", "r@example.com"}, "bob4"}, // the claim, made unique
			{[]string{"", "Carol Ann", "c@example.com"}, "carol-ann"},
			{[]string{" ", "", "dee@example.com"}, "dee"}, // blank wishes are skipped
			{[]string{"", "", ""}, "member"},
		} {
			got, err := NewUsername(ctx, db.Client, tc.wishes...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("NewUsername(%q) = %q, want %q", tc.wishes, got, tc.want)
			}
		}
	})
}
