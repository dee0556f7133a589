package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
)

// Snapshot is a count of every table a refused request must leave unchanged, and the settings
// row: equal snapshots before and after mean nothing was written.
func Snapshot(t testing.TB, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	c := db.Client
	st, _ := c.Settings.Query().All(ctx)
	b, _ := json.Marshal(st)
	return fmt.Sprintf("u%d s%d m%d f%d v%d t%d %s",
		c.User.Query().CountX(ctx), c.Space.Query().CountX(ctx), c.SpaceMembership.Query().CountX(ctx),
		c.ProfileField.Query().CountX(ctx), c.ProfileFieldValue.Query().CountX(ctx), c.APIToken.Query().CountX(ctx), b)
}

// SeedUsers adds n members, each in spaces spaces and with fields custom field values.
func SeedUsers(t testing.TB, db *store.DB, n, spaces, fields int) []*ent.User {
	t.Helper()
	ctx := context.Background()
	c := db.Client
	var sp []*ent.Space
	for i := 0; i < spaces; i++ {
		sp = append(sp, c.Space.Create().SetName(fmt.Sprintf("Space %d", i)).SetSlug(fmt.Sprintf("space-%d", i)).SaveX(ctx))
	}
	var pf []*ent.ProfileField
	for i := 0; i < fields; i++ {
		pf = append(pf, c.ProfileField.Create().SetKey(fmt.Sprintf("field_%d", i)).SetName(fmt.Sprintf("Field %d", i)).SaveX(ctx))
	}
	builders := make([]*ent.UserCreate, n)
	for i := range builders {
		builders[i] = c.User.Create().SetEmail(fmt.Sprintf("user%d@example.com", i)).SetUsername(fmt.Sprintf("user%d", i)).SetName(fmt.Sprintf("User %d", i)).SetExternalID(fmt.Sprintf("ext-%d", i))
	}
	var users []*ent.User
	for len(builders) > 0 { // SQLite takes at most 32766 arguments a statement
		k := min(len(builders), 500)
		users = append(users, c.User.CreateBulk(builders[:k]...).SaveX(ctx)...)
		builders = builders[k:]
	}
	var ms []*ent.SpaceMembershipCreate
	var vs []*ent.ProfileFieldValueCreate
	for _, u := range users {
		for _, s := range sp {
			ms = append(ms, c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(s.ID))
		}
		for _, f := range pf {
			vs = append(vs, c.ProfileFieldValue.Create().SetUserID(u.ID).SetFieldID(f.ID).SetKey(f.Key).SetValue("v-"+u.Username))
		}
	}
	for len(ms) > 0 {
		k := min(len(ms), 500)
		c.SpaceMembership.CreateBulk(ms[:k]...).ExecX(ctx)
		ms = ms[k:]
	}
	for len(vs) > 0 {
		k := min(len(vs), 500)
		c.ProfileFieldValue.CreateBulk(vs[:k]...).ExecX(ctx)
		vs = vs[k:]
	}
	return users
}
