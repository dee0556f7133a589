package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/apitoken"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/ent/space"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// Snapshot is a count of every table a refused request must leave unchanged, and the settings
// row: equal snapshots before and after mean nothing was written. Security events, sessions and
// the like are left out: a refused request records its refusal. State is the whole content.
func Snapshot(t testing.TB, db *store.DB) string {
	t.Helper()
	st := State(t, db)
	return fmt.Sprintf("u%d s%d m%d f%d v%d t%d %s", st["count:"+user.Table], st["count:"+space.Table],
		st["count:"+spacemembership.Table], st["count:"+profilefield.Table], st["count:"+profilefieldvalue.Table],
		st["count:"+apitoken.Table], st["settings"])
}

// State is the content of db as tests compare it: the row count of every table
// ("count:<table>"), the settings row as JSON ("settings"), and the rows a login or an admin
// changes: each member ("user:<id>"), membership ("membership:<user>:<space>") and field value
// ("field:<user>:<field>"). Diff compares two.
func State(t testing.TB, db *store.DB) map[string]any {
	t.Helper()
	ctx := context.Background()
	out := map[string]any{}
	for _, table := range Tables(t, db.SQL, db.Driver) {
		if table == "atlas_schema_revisions" {
			continue
		}
		var n int
		if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+table+"`").Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out["count:"+table] = n
	}
	c := db.Client
	settings, err := c.Settings.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(settings)
	out["settings"] = string(b)
	users, err := c.User.Query().Order(ent.Asc(user.FieldID)).All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		ext := "<nil>"
		if u.ExternalID != nil {
			ext = *u.ExternalID
		}
		last := "<nil>"
		if u.LastLoginAt != nil {
			last = u.LastLoginAt.UTC().Format(time.RFC3339Nano)
		}
		out[fmt.Sprintf("user:%d", u.ID)] = fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", ext, u.Email, u.Name, u.Username,
			u.Tagline, u.Picture, u.Role, u.Status, u.UpdatedAt.UTC().Format(time.RFC3339Nano), last, u.PasswordHash)
	}
	ms, err := c.SpaceMembership.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		out[fmt.Sprintf("membership:%d:%d", m.UserID, m.SpaceID)] = string(m.Role)
	}
	vs, err := c.ProfileFieldValue.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		out[fmt.Sprintf("field:%d:%d", v.UserID, v.FieldID)] = v.Value
	}
	return out
}

// Diff lists what differs between two States, "key: before -> after", sorted.
func Diff(before, after map[string]any) []string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok || !reflect.DeepEqual(v, w) {
			d = append(d, fmt.Sprintf("%s: %v -> %v", k, v, after[k]))
		}
	}
	for k, v := range after {
		if _, ok := before[k]; !ok {
			d = append(d, fmt.Sprintf("%s: (none) -> %v", k, v))
		}
	}
	sort.Strings(d)
	return d
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
