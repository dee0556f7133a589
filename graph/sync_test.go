package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// syncMembersQuery asks for everything a syncMembers result holds.
const syncMembersQuery = `mutation($p: [JSON!]!, $dry: Boolean) {
  syncMembers(input: {payloads: $p, dryRun: $dry}) {
    dryRun created updated unchanged failed
    results { index decision user { id externalId email } changes { field old new } error { code message claim } }
  }
}`

// syncState is what a sync may write: the table counts, every member's row, and the sessions
// and security events.
func syncState(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	users := db.Client.User.Query().Order(ent.Asc(user.FieldID)).AllX(ctx)
	b, _ := json.Marshal(users)
	return fmt.Sprintf("%s %s sessions %d events %d", storetest.Snapshot(t, db), b,
		db.Client.Session.Query().CountX(ctx), db.Client.SecurityEvent.Query().CountX(ctx))
}

func TestSyncMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ctx := context.Background()
		for _, q := range []string{
			`mutation { createSpace(input: {name: "General", slug: "general"}) { id } }`,
			`mutation { createProfileField(input: {key: "company", name: "Company", type: TEXT, externalKeys: ["company"]}) { id } }`,
		} {
			if r := app.GQL(c.Admin, "", q, nil); r.Code() != "" {
				t.Fatal(r.Raw)
			}
		}
		pre := map[string]any{"sub": "pre-1", "email": "pre@example.com", "name": "Pre", "company": "Acme"}
		if r := app.GQL(c.Admin, "", syncMembersQuery, map[string]any{"p": []any{pre}}); graphtest.Dig(r.Data, "syncMembers", "created") != 1.0 {
			t.Fatalf("setup: %s", r.Raw)
		}
		mod := db.Client.User.Query().Where(user.Email("mod@example.com")).OnlyX(ctx)
		payloads := []any{
			map[string]any{"sub": "new-1", "email": "new@example.com", "name": "New", "spaceIds": []any{"general"}, "company": "Initech"},
			map[string]any{"sub": "member-1", "email": "member@example.com", "name": "Mem Ber"},
			map[string]any{"sub": "other-1", "email": "pre@example.com", "name": "Other"},
			map[string]any{"sub": "nomail-1", "name": "No Mail"},
			map[string]any{"sub": "pre-1", "email": "pre@example.com", "name": "Pre", "suspended": "maybe"},
			pre,
			map[string]any{"sub": "mod-1", "email": "mod@example.com", "name": "Moderator", "suspended": true},
			map[string]any{"sub": "admin-1", "email": "admin@example.com", "name": "Admin", "suspended": true},
		}
		str := func(s string) any { return s }
		type want struct {
			decision, code, claim any
			changes               []any
		}
		change := func(f, o, n string) any { return map[string]any{"field": f, "old": o, "new": n} }
		wants := []want{
			{"CREATED", nil, nil, []any{change("spaces.general", "", "MEMBER"), change("fields.company", "", "Initech")}},
			{"UPDATED", nil, nil, []any{change("externalId", "", "member-1"), change("name", "", "Mem Ber")}},
			{nil, auth.CodeSSOConflict, nil, []any{}},
			{nil, auth.CodeMissingClaim, str("email"), []any{}},
			{nil, auth.CodeInvalidClaim, str("suspended"), []any{}},
			{"UNCHANGED", nil, nil, []any{}},
			{"UPDATED", nil, nil, []any{change("externalId", "", "mod-1"), change("name", "", "Moderator"), change("status", "ACTIVE", "SUSPENDED")}},
			{nil, auth.CodeInvalidClaim, str("suspended"), []any{}},
		}
		run := func(t *testing.T, dry bool) map[string]any {
			t.Helper()
			r := app.GQL(c.Admin, "", syncMembersQuery, map[string]any{"p": payloads, "dry": dry})
			out, _ := graphtest.Dig(r.Data, "syncMembers").(map[string]any)
			if r.Code() != "" || out == nil || out["dryRun"] != dry || out["created"] != 1.0 || out["updated"] != 2.0 ||
				out["unchanged"] != 1.0 || out["failed"] != 4.0 {
				t.Fatalf("syncMembers: %s", r.Raw)
			}
			for i, w := range wants {
				res := out["results"].([]any)[i].(map[string]any)
				if res["index"] != float64(i) || res["decision"] != w.decision || graphtest.Dig(res, "error", "code") != w.code ||
					graphtest.Dig(res, "error", "claim") != w.claim || !reflect.DeepEqual(res["changes"], w.changes) {
					t.Fatalf("result %d: %v, want %+v", i, res, w)
				}
			}
			return out
		}

		before := syncState(t, db)
		dry := run(t, true)
		if syncState(t, db) != before {
			t.Fatal("a dry run wrote")
		}
		if db.Client.Session.Query().Where(session.UserID(mod.ID)).CountX(ctx) == 0 {
			t.Fatal("a dry run ended sessions")
		}
		failed := app.CountEvents(auth.EventMemberSyncFailed)
		real := run(t, false)
		// The answers are equal, but for the id of a member the dry run did not create.
		if graphtest.Dig(dry, "results", 0, "user", "id") != nil || graphtest.Dig(real, "results", 0, "user", "id") == nil {
			t.Fatalf("created ids: dry %v, real %v", graphtest.Dig(dry, "results", 0), graphtest.Dig(real, "results", 0))
		}
		graphtest.Dig(real, "results", 0, "user").(map[string]any)["id"] = nil
		dry["dryRun"] = false
		if !reflect.DeepEqual(dry, real) {
			t.Fatalf("dry run\n%v\nreal run\n%v", dry, real)
		}
		if graphtest.Dig(real, "results", 1, "user", "id") != fmt.Sprint(c.MemberUser.ID) {
			t.Fatalf("member: %v", graphtest.Dig(real, "results", 1))
		}

		// What the real run wrote: the members, the ended sessions and the events.
		if u := db.Client.User.GetX(ctx, mod.ID); u.Status != user.StatusSUSPENDED || db.Client.Session.Query().Where(session.UserID(mod.ID)).CountX(ctx) != 0 {
			t.Fatalf("moderator %+v still has sessions", u)
		}
		if u := db.Client.User.GetX(ctx, c.AdminUser.ID); u.Status != user.StatusACTIVE || u.ExternalID != nil {
			t.Fatalf("the last admin changed: %+v", u)
		}
		if n := db.Client.User.Query().Where(user.ExternalID("new-1"), user.LastLoginAtIsNil()).CountX(ctx); n != 1 {
			t.Fatal("the new member is missing or was signed in")
		}
		synced := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventMemberSynced)).AllX(ctx)
		if len(synced) != 5 || synced[4].Detail["source"] != "sync_members" || synced[4].Detail["actorId"] != fmt.Sprint(c.AdminUser.ID) {
			t.Fatalf("MEMBER_SYNCED events: %+v", synced)
		}
		if app.CountEvents(auth.EventMemberSyncFailed) != failed+4 || app.CountEvents(auth.EventLoginSucceeded) != 3 {
			t.Fatal("failures not recorded, or a sync signed in")
		}
	})
}

func TestSyncMembersLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// 1,000 members take a few seconds on MariaDB; a loaded CI machine must not hit the
		// default 15 s request timeout (BenchmarkSyncMembers1000 measures the time).
		app := testserver.New(t, db, testserver.Options{Env: map[string]string{"GRAPHQL_TIMEOUT": "1m"}})
		c := app.Callers()
		payloads := func(n int) []any {
			p := make([]any, n)
			for i := range p {
				p[i] = map[string]any{"sub": fmt.Sprintf("bulk-%d", i), "email": fmt.Sprintf("bulk%d@example.com", i), "name": fmt.Sprintf("Bulk %d", i)}
			}
			return p
		}
		t.Run("forbidden", func(t *testing.T) {
			for _, caller := range []struct {
				name string
				r    graphtest.Result
			}{
				{"member", app.GQL(c.Member, "", syncMembersQuery, map[string]any{"p": payloads(1)})},
				{"moderator", app.GQL(c.Moderator, "", syncMembersQuery, map[string]any{"p": payloads(1)})},
				{"anonymous", app.GQL(nil, "", syncMembersQuery, map[string]any{"p": payloads(1)})},
			} {
				if code := caller.r.Code(); code != "FORBIDDEN" && code != "UNAUTHENTICATED" {
					t.Fatalf("%s: %s", caller.name, caller.r.Raw)
				}
			}
			if n := db.Client.User.Query().Where(user.ExternalID("bulk-0")).CountX(context.Background()); n != 0 {
				t.Fatal("a refused call synced")
			}
		})
		t.Run("with another mutation", func(t *testing.T) {
			r := app.GQL(c.Admin, "", `mutation($p: [JSON!]!) { createSpace(input: {name: "X", slug: "x"}) { id } syncMembers(input: {payloads: $p}) { created } }`,
				map[string]any{"p": payloads(1)})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "syncMembers" || db.Client.User.Query().Where(user.ExternalID("bulk-0")).CountX(context.Background()) != 0 {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("too many", func(t *testing.T) {
			before := storetest.Snapshot(t, db)
			r := app.GQL(nil, c.Token, syncMembersQuery, map[string]any{"p": payloads(graph.MaxSyncPayloads + 1)})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "payloads" || storetest.Snapshot(t, db) != before {
				t.Fatalf("%.300s", r.Raw)
			}
		})
		t.Run("1000", func(t *testing.T) {
			r := app.GQL(nil, c.Token, syncMembersQuery, map[string]any{"p": payloads(graph.MaxSyncPayloads)})
			if r.Code() != "" || graphtest.Dig(r.Data, "syncMembers", "created") != float64(graph.MaxSyncPayloads) {
				t.Fatalf("%.500s", r.Raw)
			}
			for i, res := range graphtest.Dig(r.Data, "syncMembers", "results").([]any) {
				if graphtest.Dig(res, "index") != float64(i) || graphtest.Dig(res, "user", "externalId") != fmt.Sprintf("bulk-%d", i) {
					t.Fatalf("result %d: %v", i, res)
				}
			}
			if n := db.Client.User.Query().Where(user.ExternalIDHasPrefix("bulk-")).CountX(context.Background()); n != graph.MaxSyncPayloads {
				t.Fatalf("%d members", n)
			}
		})
	})
}
