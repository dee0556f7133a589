package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

func TestUsersQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ctx := context.Background()
		db.Client.User.UpdateOne(c.MemberUser).SetExternalID("ext-42").SetName("Mia Member").ExecX(ctx)
		q := `query($w: UserWhereInput, $o: UserOrder, $n: Int) { users(first: $n, where: $w, orderBy: $o) { totalCount edges { cursor node { id email role externalId } } pageInfo { hasNextPage endCursor } } }`

		for name, tc := range map[string]struct {
			client *http.Client
			token  string
			code   string
		}{
			"admin": {c.Admin, "", ""}, "api token": {nil, c.Token, ""},
			"member": {c.Member, "", "FORBIDDEN"}, "moderator": {c.Moderator, "", "FORBIDDEN"}, "anonymous": {nil, "", "UNAUTHENTICATED"},
		} {
			t.Run(name, func(t *testing.T) {
				r := app.GQL(tc.client, tc.token, q, nil)
				if r.Code() != tc.code {
					t.Fatalf("%s", r.Raw)
				}
				if tc.code == "" && graphtest.Dig(r.Data, "users", "totalCount").(float64) != 3 {
					t.Fatalf("%s", r.Raw)
				}
			})
		}
		t.Run("filters and order", func(t *testing.T) {
			tests := []struct {
				where map[string]any
				order map[string]any
				want  []string
			}{
				{map[string]any{"email": "member@example.com"}, nil, []string{"member@example.com"}},
				{map[string]any{"externalId": "ext-42"}, nil, []string{"member@example.com"}},
				{map[string]any{"role": "ADMIN"}, nil, []string{"admin@example.com"}},
				{map[string]any{"status": "ACTIVE", "nameContainsFold": "mia"}, nil, []string{"member@example.com"}},
				{map[string]any{"createdAtLT": "2000-01-01T00:00:00Z"}, nil, []string{}},
				{nil, map[string]any{"field": "EMAIL", "direction": "DESC"}, []string{"mod@example.com", "member@example.com", "admin@example.com"}},
			}
			for _, tt := range tests {
				r := app.GQL(c.Admin, "", q, map[string]any{"w": tt.where, "o": tt.order})
				edges, ok := graphtest.Dig(r.Data, "users", "edges").([]any)
				if !ok {
					t.Fatalf("where %v order %v: %s", tt.where, tt.order, r.Raw)
				}
				got := []string{}
				for _, e := range edges {
					got = append(got, graphtest.Dig(e, "node", "email").(string))
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Errorf("where %v order %v: got %v want %v (%s)", tt.where, tt.order, got, tt.want, r.Raw)
				}
			}
		})
		t.Run("page size", func(t *testing.T) {
			if r := app.GQL(c.Admin, "", q, map[string]any{"n": 101}); r.Code() != "BAD_USER_INPUT" || r.Field() != "first" {
				t.Fatalf("%s", r.Raw)
			}
			r := app.GQL(c.Admin, "", q, map[string]any{"n": 2})
			if len(graphtest.Dig(r.Data, "users", "edges").([]any)) != 2 || graphtest.Dig(r.Data, "users", "pageInfo", "hasNextPage") != true {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("user lookups", func(t *testing.T) {
			uq := `query($id: ID, $e: String, $x: String, $u: String) { user(id: $id, email: $e, externalId: $x, username: $u) { email } }`
			for _, vars := range []map[string]any{
				{"id": c.MemberUser.ID}, {"e": "MEMBER@example.com"}, {"x": "ext-42"}, {"u": c.MemberUser.Username},
			} {
				if r := app.GQL(c.Moderator, "", uq, vars); graphtest.Dig(r.Data, "user", "email") != "member@example.com" {
					t.Errorf("%v: %s", vars, r.Raw)
				}
			}
			if r := app.GQL(c.Admin, "", uq, map[string]any{"x": "nope"}); r.Code() != "" || graphtest.Dig(r.Data, "user") != nil {
				t.Errorf("unknown: %s", r.Raw)
			}
			// Exact: MySQL/MariaDB would match a trailing space to ext-42.
			for _, x := range []string{"ext-42 ", " ext-42", "ext-42	"} {
				if r := app.GQL(c.Admin, "", uq, map[string]any{"x": x}); r.Code() != "" || graphtest.Dig(r.Data, "user") != nil {
					t.Errorf("%q: %s", x, r.Raw)
				}
			}
			if r := app.GQL(c.Admin, "", uq, map[string]any{"x": "ext-42", "e": "member@example.com"}); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("two keys: %s", r.Raw)
			}
			if r := app.GQL(c.Admin, "", uq, nil); r.Code() != "BAD_USER_INPUT" {
				t.Errorf("no key: %s", r.Raw)
			}
			if r := app.GQL(c.Member, "", uq, map[string]any{"x": "ext-42"}); r.Code() != "FORBIDDEN" {
				t.Errorf("member: %s", r.Raw)
			}
		})
		t.Run("node", func(t *testing.T) {
			nq := `query($id: ID!) { node(id: $id) { id ... on User { email } } }`
			if r := app.GQL(c.Member, "", nq, map[string]any{"id": c.MemberUser.ID}); graphtest.Dig(r.Data, "node", "email") != "member@example.com" {
				t.Errorf("own node: %s", r.Raw)
			}
			if r := app.GQL(c.Member, "", nq, map[string]any{"id": c.AdminUser.ID}); r.Code() != "FORBIDDEN" {
				t.Errorf("other node: %s", r.Raw)
			}
			if r := app.GQL(c.Admin, "", nq, map[string]any{"id": c.MemberUser.ID}); graphtest.Dig(r.Data, "node", "email") != "member@example.com" {
				t.Errorf("admin: %s", r.Raw)
			}
		})
	})
}

func TestCreateAndUpdateUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ctx := context.Background()
		db.Client.ProfileField.Create().SetKey("company").SetName("Company").SetType(profilefield.TypeTEXT).ExecX(ctx)
		db.Client.ProfileField.Create().SetKey("seats").SetName("Seats").SetType(profilefield.TypeNUMBER).ExecX(ctx)

		r := app.GQL(c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{
			"email": " New.Person@Example.com", "name": "New Person", "externalId": "crm-1",
			"fields": []any{map[string]any{"key": "company", "value": "Acme"}},
		}})
		if r.Code() != "" || graphtest.Dig(r.Data, "createUser", "email") != "new.person@example.com" || graphtest.Dig(r.Data, "createUser", "username") != "new-person" ||
			graphtest.Dig(r.Data, "createUser", "fields", 0, "value") != "Acme" {
			t.Fatalf("create: %s", r.Raw)
		}
		newID := graphtest.Dig(r.Data, "createUser", "id")

		bad := []struct {
			name   string
			client *http.Client
			token  string
			q      string
			vars   map[string]any
			code   string
			field  string
		}{
			{"create: duplicate email", c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "MEMBER@example.com"}}, "CONFLICT", "email"},
			{"create: duplicate externalId", nil, c.Token, graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "x@example.com", "externalId": "crm-1"}}, "CONFLICT", "externalId"},
			{"create: bad email", c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "nope"}}, "BAD_USER_INPUT", "email"},
			{"create: long externalId", c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "x@example.com", "externalId": strings.Repeat("x", 51)}}, "BAD_USER_INPUT", "externalId"},
			{"create: bad field value", c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "x@example.com", "fields": []any{map[string]any{"key": "seats", "value": "many"}}}}, "BAD_USER_INPUT", "fields.0.value"},
			{"create: unknown field", c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "x@example.com", "fields": []any{map[string]any{"key": "nope", "value": "1"}}}}, "BAD_USER_INPUT", "fields.0.key"},
			{"create: member", c.Member, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "x@example.com"}}, "FORBIDDEN", ""},
			{"create: anonymous", nil, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "x@example.com"}}, "UNAUTHENTICATED", ""},
			{"update: unknown id", c.Admin, "", graphtest.UpdateUser, map[string]any{"id": 999999, "in": map[string]any{"name": "x"}}, "NOT_FOUND", ""},
			{"update: email taken", c.Admin, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"email": "admin@example.com"}}, "CONFLICT", "email"},
			{"update: username taken", c.Admin, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"username": c.MemberUser.Username}}, "CONFLICT", "username"},
			{"update: picture not http", c.Admin, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"picture": "javascript:alert(1)"}}, "BAD_USER_INPUT", "picture"},
			{"update: email null", c.Admin, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"email": nil}}, "BAD_USER_INPUT", "email"},
			{"update: last admin demoted", c.Admin, "", graphtest.UpdateUser, map[string]any{"id": c.AdminUser.ID, "in": map[string]any{"role": "MEMBER"}}, "BAD_USER_INPUT", "role"},
			{"update: member edits another", c.Member, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"name": "x"}}, "FORBIDDEN", ""},
			{"update: member sets own role", c.Member, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"role": "ADMIN"}}, "FORBIDDEN", ""},
			{"update: member sets own externalId", c.Member, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"externalId": "mine"}}, "FORBIDDEN", ""},
			{"update: anonymous", nil, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"name": "x"}}, "UNAUTHENTICATED", ""},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				r := app.GQL(tt.client, tt.token, tt.q, tt.vars)
				if r.Code() != tt.code || (tt.field != "" && r.Field() != tt.field) {
					t.Fatalf("got %s %v: %s", r.Code(), r.Field(), r.Raw)
				}
				if tt.code == "CONFLICT" && graphtest.Dig(r.Errors[0].Extensions, "conflictingUserId") == nil {
					t.Fatalf("conflict without the other user's id: %s", r.Raw)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}

		t.Run("fix a conflict: set, keep and clear externalId", func(t *testing.T) {
			r := app.GQL(nil, c.Token, graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"externalId": "crm-9", "email": "Fixed@Example.com", "role": "MODERATOR",
				"fields": []any{map[string]any{"key": "seats", "value": "12.0"}, map[string]any{"key": "company", "value": nil}}}})
			u := graphtest.Dig(r.Data, "updateUser")
			if r.Code() != "" || graphtest.Dig(u, "externalId") != "crm-9" || graphtest.Dig(u, "email") != "fixed@example.com" || graphtest.Dig(u, "role") != "MODERATOR" ||
				len(graphtest.Dig(u, "fields").([]any)) != 1 || graphtest.Dig(u, "fields", 0, "value") != "12" {
				t.Fatalf("%s", r.Raw)
			}
			r = app.GQL(c.Admin, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"name": "Renamed"}})
			if graphtest.Dig(r.Data, "updateUser", "externalId") != "crm-9" {
				t.Fatalf("absent externalId changed it: %s", r.Raw)
			}
			r = app.GQL(c.Admin, "", graphtest.UpdateUser, map[string]any{"id": newID, "in": map[string]any{"externalId": nil}})
			if r.Code() != "" || graphtest.Dig(r.Data, "updateUser", "externalId") != nil {
				t.Fatalf("null did not clear: %s", r.Raw)
			}
			if app.CountEvents("ROLE_CHANGED") != 1 || app.CountEvents("USER_UPDATED") < 3 {
				t.Fatal("role change or updates not recorded")
			}
		})

		t.Run("member updates its own profile", func(t *testing.T) {
			r := app.GQL(c.Member, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"name": "Mia", "picture": "https://cdn.example.com/mia.png", "fields": []any{map[string]any{"key": "company", "value": "Mia Co"}}}})
			if r.Code() != "" || graphtest.Dig(r.Data, "updateUser", "name") != "Mia" {
				t.Fatalf("%s", r.Raw)
			}
			// Without SMTP, a member's own email cannot change: the change needs a mailed link.
			r = app.GQL(c.Member, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"email": "mia@example.com"}})
			if r.Code() != "FORBIDDEN" || r.Errors[0].Extensions["reason"] != "EMAIL_CHANGE_NEEDS_MAIL" {
				t.Fatalf("email change without mail: %s", r.Raw)
			}
			st := app.Settings()
			st.Update().SetJwtEnabled(true).SetJwtSecret([]byte("x")).SetJwtAccountSettingsURL("https://customer.example/account").ExecX(ctx)
			r = app.GQL(c.Member, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"email": "mia2@example.com"}})
			if r.Code() != "FORBIDDEN" || r.Errors[0].Extensions["accountSettingsUrl"] != "https://customer.example/account" {
				t.Fatalf("%s", r.Raw)
			}
			if db.Client.User.GetX(ctx, c.MemberUser.ID).Email != c.MemberUser.Email {
				t.Fatal("email changed")
			}
		})

		t.Run("suspending ends sessions", func(t *testing.T) {
			r := app.GQL(c.Admin, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"status": "SUSPENDED"}})
			if r.Code() != "" || graphtest.Dig(r.Data, "updateUser", "status") != "SUSPENDED" {
				t.Fatalf("%s", r.Raw)
			}
			if me := app.GQL(c.Member, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatal("suspended member still signed in")
			}
			if app.CountEvents("STATUS_CHANGED") != 1 {
				t.Fatal("status change not recorded")
			}
		})
	})
}

// TestUpdateUserKeepsLastAdmin: updateUser cannot demote or suspend the last active admin, and
// the refusal changes nothing; with a second admin the same change passes.
func TestUpdateUserKeepsLastAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		id := fmt.Sprint(c.AdminUser.ID)
		const upd = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { role status } }`
		for _, tc := range []struct {
			in    map[string]any
			field string
		}{
			{map[string]any{"role": "MEMBER"}, "role"},
			{map[string]any{"role": "MODERATOR", "name": "Demoted"}, "role"},
			{map[string]any{"status": "SUSPENDED"}, "status"},
		} {
			r := app.GQL(nil, c.Token, upd, map[string]any{"id": id, "in": tc.in})
			if r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("%v: %s", tc.in, r.Raw)
			}
		}
		got := db.Client.User.GetX(context.Background(), c.AdminUser.ID)
		if got.Role != user.RoleADMIN || got.Status != user.StatusACTIVE || got.Name != "" {
			t.Fatalf("the admin changed: %s %s %q", got.Role, got.Status, got.Name)
		}
		// A second admin who can sign in (a password: single sign-on is off here).
		second := app.CreateUser("second@example.com", "correct horse battery staple", user.RoleADMIN)
		if r := app.GQL(nil, c.Token, upd, map[string]any{"id": fmt.Sprint(second.ID), "in": map[string]any{"status": "SUSPENDED"}}); r.Code() != "" {
			t.Fatal(r.Raw)
		}
		if r := app.GQL(nil, c.Token, upd, map[string]any{"id": fmt.Sprint(second.ID), "in": map[string]any{"status": "ACTIVE"}}); r.Code() != "" {
			t.Fatal(r.Raw)
		}
		if r := app.GQL(nil, c.Token, upd, map[string]any{"id": id, "in": map[string]any{"role": "MEMBER"}}); r.Code() != "" {
			t.Fatal(r.Raw)
		}
	})
}

// TestUsersStatementCount: a page of users with their spaces and fields costs the same few
// statements whatever its size.
func TestUsersStatementCount(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			log := &storetest.StatementLog{}
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			app := testserver.New(t, db, testserver.Options{})
			storetest.SeedUsers(t, db, 120, 3, 2)
			tok := app.AdminToken()
			q := `{ users(first: 100) { edges { node { id email name spaces { role space { slug } } fields { key value } } } } }`
			app.GQL(nil, tok, "{ me { id } }", nil) // records the token's first use
			// What the viewer lookup costs, measured on an operation that reads nothing else.
			log.Start()
			app.GQL(nil, tok, "{ __typename }", nil)
			lookup := len(log.Stop())
			for _, size := range []int{10, 100} {
				log.Start()
				r := app.GQL(nil, tok, strings.Replace(q, "100", fmt.Sprint(size), 1), nil)
				if r.Code() != "" || len(graphtest.Dig(r.Data, "users", "edges").([]any)) != size {
					t.Fatalf("%s", r.Raw[:min(len(r.Raw), 500)])
				}
				if got := len(log.Stop()) - lookup; got > 4 {
					t.Fatalf("page of %d: %d statements, want at most 4", size, got)
				}
			}
		})
	}
}
