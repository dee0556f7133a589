package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// callers are the four kinds of API callers each operation is tried with.
type callers struct {
	admin, member, moderator *http.Client
	token                    string // an admin's API token
	memberUser, adminUser    *ent.User
}

func setupCallers(t *testing.T, app *testApp) callers {
	t.Helper()
	var c callers
	c.adminUser = app.createUser("admin@example.com", adminPass, user.RoleADMIN)
	c.memberUser = app.createUser("member@example.com", adminPass, user.RoleMEMBER)
	app.createUser("mod@example.com", adminPass, user.RoleMODERATOR)
	c.admin, c.member, c.moderator = browser(t), browser(t), browser(t)
	app.login(c.admin, "admin@example.com", adminPass)
	app.login(c.member, "member@example.com", adminPass)
	app.login(c.moderator, "mod@example.com", adminPass)
	r := app.gql(c.admin, "", createToken, map[string]any{"name": "script"})
	c.token = r.Data["createApiToken"].(map[string]any)["token"].(string)
	return c
}

// dig walks a decoded JSON value along a path of keys and indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func (r gqlResult) field() any {
	if len(r.Errors) == 0 {
		return nil
	}
	return r.Errors[0].Extensions["field"]
}

// snapshot is a count of every table a bad request must leave unchanged.
func snapshot(t *testing.T, db *store.DB) string {
	ctx := context.Background()
	c := db.Client
	st, _ := c.Settings.Query().All(ctx)
	b, _ := json.Marshal(st)
	return fmt.Sprintf("u%d s%d m%d f%d v%d t%d %s",
		c.User.Query().CountX(ctx), c.Space.Query().CountX(ctx), c.SpaceMembership.Query().CountX(ctx),
		c.ProfileField.Query().CountX(ctx), c.ProfileFieldValue.Query().CountX(ctx), c.APIToken.Query().CountX(ctx), b)
}

func TestUsersQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		c := setupCallers(t, app)
		ctx := context.Background()
		db.Client.User.UpdateOne(c.memberUser).SetExternalID("ext-42").SetName("Mia Member").ExecX(ctx)
		q := `query($w: UserWhereInput, $o: UserOrder, $n: Int) { users(first: $n, where: $w, orderBy: $o) { totalCount edges { cursor node { id email role externalId } } pageInfo { hasNextPage endCursor } } }`

		for name, tc := range map[string]struct {
			client *http.Client
			token  string
			code   string
		}{
			"admin": {c.admin, "", ""}, "api token": {nil, c.token, ""},
			"member": {c.member, "", "FORBIDDEN"}, "moderator": {c.moderator, "", "FORBIDDEN"}, "anonymous": {nil, "", "UNAUTHENTICATED"},
		} {
			t.Run(name, func(t *testing.T) {
				r := app.gql(tc.client, tc.token, q, nil)
				if r.code() != tc.code {
					t.Fatalf("%s", r.Raw)
				}
				if tc.code == "" && dig(r.Data, "users", "totalCount").(float64) != 3 {
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
				r := app.gql(c.admin, "", q, map[string]any{"w": tt.where, "o": tt.order})
				edges, ok := dig(r.Data, "users", "edges").([]any)
				if !ok {
					t.Fatalf("where %v order %v: %s", tt.where, tt.order, r.Raw)
				}
				got := []string{}
				for _, e := range edges {
					got = append(got, dig(e, "node", "email").(string))
				}
				if strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Errorf("where %v order %v: got %v want %v (%s)", tt.where, tt.order, got, tt.want, r.Raw)
				}
			}
		})
		t.Run("page size", func(t *testing.T) {
			if r := app.gql(c.admin, "", q, map[string]any{"n": 101}); r.code() != "BAD_USER_INPUT" || r.field() != "first" {
				t.Fatalf("%s", r.Raw)
			}
			r := app.gql(c.admin, "", q, map[string]any{"n": 2})
			if len(dig(r.Data, "users", "edges").([]any)) != 2 || dig(r.Data, "users", "pageInfo", "hasNextPage") != true {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("user lookups", func(t *testing.T) {
			uq := `query($id: ID, $e: String, $x: String, $u: String) { user(id: $id, email: $e, externalId: $x, username: $u) { email } }`
			for _, vars := range []map[string]any{
				{"id": c.memberUser.ID}, {"e": "MEMBER@example.com"}, {"x": "ext-42"}, {"u": c.memberUser.Username},
			} {
				if r := app.gql(c.moderator, "", uq, vars); dig(r.Data, "user", "email") != "member@example.com" {
					t.Errorf("%v: %s", vars, r.Raw)
				}
			}
			if r := app.gql(c.admin, "", uq, map[string]any{"x": "nope"}); r.code() != "" || dig(r.Data, "user") != nil {
				t.Errorf("unknown: %s", r.Raw)
			}
			if r := app.gql(c.admin, "", uq, map[string]any{"x": "ext-42", "e": "member@example.com"}); r.code() != "BAD_USER_INPUT" {
				t.Errorf("two keys: %s", r.Raw)
			}
			if r := app.gql(c.admin, "", uq, nil); r.code() != "BAD_USER_INPUT" {
				t.Errorf("no key: %s", r.Raw)
			}
			if r := app.gql(c.member, "", uq, map[string]any{"x": "ext-42"}); r.code() != "FORBIDDEN" {
				t.Errorf("member: %s", r.Raw)
			}
		})
		t.Run("node", func(t *testing.T) {
			nq := `query($id: ID!) { node(id: $id) { id ... on User { email } } }`
			if r := app.gql(c.member, "", nq, map[string]any{"id": c.memberUser.ID}); dig(r.Data, "node", "email") != "member@example.com" {
				t.Errorf("own node: %s", r.Raw)
			}
			if r := app.gql(c.member, "", nq, map[string]any{"id": c.adminUser.ID}); r.code() != "FORBIDDEN" {
				t.Errorf("other node: %s", r.Raw)
			}
			if r := app.gql(c.admin, "", nq, map[string]any{"id": c.memberUser.ID}); dig(r.Data, "node", "email") != "member@example.com" {
				t.Errorf("admin: %s", r.Raw)
			}
		})
	})
}

const createUserQ = `mutation($in: CreateUserInput!) { createUser(input: $in) { id email username externalId role fields { key value } } }`
const updateUserQ = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { id email name username externalId picture role status fields { key value } } }`

func TestCreateAndUpdateUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		c := setupCallers(t, app)
		ctx := context.Background()
		db.Client.ProfileField.Create().SetKey("company").SetName("Company").SetType(profilefield.TypeTEXT).ExecX(ctx)
		db.Client.ProfileField.Create().SetKey("seats").SetName("Seats").SetType(profilefield.TypeNUMBER).ExecX(ctx)

		r := app.gql(c.admin, "", createUserQ, map[string]any{"in": map[string]any{
			"email": " New.Person@Example.com", "name": "New Person", "externalId": "crm-1",
			"fields": []any{map[string]any{"key": "company", "value": "Acme"}},
		}})
		if r.code() != "" || dig(r.Data, "createUser", "email") != "new.person@example.com" || dig(r.Data, "createUser", "username") != "new-person" ||
			dig(r.Data, "createUser", "fields", 0, "value") != "Acme" {
			t.Fatalf("create: %s", r.Raw)
		}
		newID := dig(r.Data, "createUser", "id")

		bad := []struct {
			name   string
			client *http.Client
			token  string
			q      string
			vars   map[string]any
			code   string
			field  string
		}{
			{"create: duplicate email", c.admin, "", createUserQ, map[string]any{"in": map[string]any{"email": "MEMBER@example.com"}}, "CONFLICT", "email"},
			{"create: duplicate externalId", nil, c.token, createUserQ, map[string]any{"in": map[string]any{"email": "x@example.com", "externalId": "crm-1"}}, "CONFLICT", "externalId"},
			{"create: bad email", c.admin, "", createUserQ, map[string]any{"in": map[string]any{"email": "nope"}}, "BAD_USER_INPUT", "email"},
			{"create: long externalId", c.admin, "", createUserQ, map[string]any{"in": map[string]any{"email": "x@example.com", "externalId": strings.Repeat("x", 51)}}, "BAD_USER_INPUT", "externalId"},
			{"create: bad field value", c.admin, "", createUserQ, map[string]any{"in": map[string]any{"email": "x@example.com", "fields": []any{map[string]any{"key": "seats", "value": "many"}}}}, "BAD_USER_INPUT", "fields.0.value"},
			{"create: unknown field", c.admin, "", createUserQ, map[string]any{"in": map[string]any{"email": "x@example.com", "fields": []any{map[string]any{"key": "nope", "value": "1"}}}}, "BAD_USER_INPUT", "fields.0.key"},
			{"create: member", c.member, "", createUserQ, map[string]any{"in": map[string]any{"email": "x@example.com"}}, "FORBIDDEN", ""},
			{"create: anonymous", nil, "", createUserQ, map[string]any{"in": map[string]any{"email": "x@example.com"}}, "UNAUTHENTICATED", ""},
			{"update: unknown id", c.admin, "", updateUserQ, map[string]any{"id": 999999, "in": map[string]any{"name": "x"}}, "NOT_FOUND", ""},
			{"update: email taken", c.admin, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"email": "admin@example.com"}}, "CONFLICT", "email"},
			{"update: username taken", c.admin, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"username": c.memberUser.Username}}, "CONFLICT", "username"},
			{"update: picture not http", c.admin, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"picture": "javascript:alert(1)"}}, "BAD_USER_INPUT", "picture"},
			{"update: email null", c.admin, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"email": nil}}, "BAD_USER_INPUT", "email"},
			{"update: last admin demoted", c.admin, "", updateUserQ, map[string]any{"id": c.adminUser.ID, "in": map[string]any{"role": "MEMBER"}}, "BAD_USER_INPUT", "role"},
			{"update: member edits another", c.member, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"name": "x"}}, "FORBIDDEN", ""},
			{"update: member sets own role", c.member, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"role": "ADMIN"}}, "FORBIDDEN", ""},
			{"update: member sets own externalId", c.member, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"externalId": "mine"}}, "FORBIDDEN", ""},
			{"update: anonymous", nil, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"name": "x"}}, "UNAUTHENTICATED", ""},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				before := snapshot(t, db)
				r := app.gql(tt.client, tt.token, tt.q, tt.vars)
				if r.code() != tt.code || (tt.field != "" && r.field() != tt.field) {
					t.Fatalf("got %s %v: %s", r.code(), r.field(), r.Raw)
				}
				if tt.code == "CONFLICT" && dig(r.Errors[0].Extensions, "conflictingUserId") == nil {
					t.Fatalf("conflict without the other user's id: %s", r.Raw)
				}
				if after := snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}

		t.Run("fix a conflict: set, keep and clear externalId", func(t *testing.T) {
			r := app.gql(nil, c.token, updateUserQ, map[string]any{"id": newID, "in": map[string]any{"externalId": "crm-9", "email": "Fixed@Example.com", "role": "MODERATOR",
				"fields": []any{map[string]any{"key": "seats", "value": "12.0"}, map[string]any{"key": "company", "value": nil}}}})
			u := dig(r.Data, "updateUser")
			if r.code() != "" || dig(u, "externalId") != "crm-9" || dig(u, "email") != "fixed@example.com" || dig(u, "role") != "MODERATOR" ||
				len(dig(u, "fields").([]any)) != 1 || dig(u, "fields", 0, "value") != "12" {
				t.Fatalf("%s", r.Raw)
			}
			r = app.gql(c.admin, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"name": "Renamed"}})
			if dig(r.Data, "updateUser", "externalId") != "crm-9" {
				t.Fatalf("absent externalId changed it: %s", r.Raw)
			}
			r = app.gql(c.admin, "", updateUserQ, map[string]any{"id": newID, "in": map[string]any{"externalId": nil}})
			if r.code() != "" || dig(r.Data, "updateUser", "externalId") != nil {
				t.Fatalf("null did not clear: %s", r.Raw)
			}
			if app.countEvents("ROLE_CHANGED") != 1 || app.countEvents("USER_UPDATED") < 3 {
				t.Fatal("role change or updates not recorded")
			}
		})

		t.Run("member updates its own profile", func(t *testing.T) {
			r := app.gql(c.member, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"name": "Mia", "picture": "https://cdn.example.com/mia.png", "fields": []any{map[string]any{"key": "company", "value": "Mia Co"}}}})
			if r.code() != "" || dig(r.Data, "updateUser", "name") != "Mia" {
				t.Fatalf("%s", r.Raw)
			}
			// Without SMTP, a member's own email cannot change: the change needs a mailed link.
			r = app.gql(c.member, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"email": "mia@example.com"}})
			if r.code() != "FORBIDDEN" || r.Errors[0].Extensions["reason"] != "EMAIL_CHANGE_NEEDS_MAIL" {
				t.Fatalf("email change without mail: %s", r.Raw)
			}
			st := mustSettings(t, app)
			st.Update().SetJwtEnabled(true).SetJwtSecret([]byte("x")).SetJwtAccountSettingsURL("https://customer.example/account").ExecX(ctx)
			r = app.gql(c.member, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"email": "mia2@example.com"}})
			if r.code() != "FORBIDDEN" || r.Errors[0].Extensions["accountSettingsUrl"] != "https://customer.example/account" {
				t.Fatalf("%s", r.Raw)
			}
			if db.Client.User.GetX(ctx, c.memberUser.ID).Email != c.memberUser.Email {
				t.Fatal("email changed")
			}
		})

		t.Run("suspending ends sessions", func(t *testing.T) {
			r := app.gql(c.admin, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"status": "SUSPENDED"}})
			if r.code() != "" || dig(r.Data, "updateUser", "status") != "SUSPENDED" {
				t.Fatalf("%s", r.Raw)
			}
			if me := app.gql(c.member, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatal("suspended member still signed in")
			}
			if app.countEvents("STATUS_CHANGED") != 1 {
				t.Fatal("status change not recorded")
			}
		})
	})
}

func TestSpacesAndProfileFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		c := setupCallers(t, app)
		r := app.gql(c.admin, "", `mutation { createSpace(input: {name: "General", slug: "general"}) { id slug } }`, nil)
		spaceID := dig(r.Data, "createSpace", "id")
		if spaceID == nil {
			t.Fatalf("%s", r.Raw)
		}
		r = app.gql(c.admin, "", `mutation($s: ID!, $u: ID!) { addSpaceMember(spaceId: $s, userId: $u, role: ADMIN) { role space { slug } user { email } } }`, map[string]any{"s": spaceID, "u": c.memberUser.ID})
		if dig(r.Data, "addSpaceMember", "role") != "ADMIN" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.gql(c.member, "", `{ me { spaces { role space { id slug name } } } space(slug: "general") { name } spaces { totalCount } }`, nil)
		if dig(r.Data, "me", "spaces", 0, "space", "slug") != "general" || dig(r.Data, "space", "name") != "General" || dig(r.Data, "spaces", "totalCount").(float64) != 1 {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.member, "", `{ space(slug: "general") { members { role } } }`, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("member sees the member list: %s", r.Raw)
		}
		r = app.gql(c.admin, "", `mutation($id: ID!) { updateSpace(id: $id, input: {name: "Town square"}) { name slug } }`, map[string]any{"id": spaceID})
		if dig(r.Data, "updateSpace", "name") != "Town square" {
			t.Fatalf("%s", r.Raw)
		}
		for _, tt := range []struct{ q, code, field string }{
			{`mutation { createSpace(input: {name: "Other", slug: "general"}) { id } }`, "CONFLICT", "slug"},
			{`mutation { createSpace(input: {name: "Other", slug: "Not A Slug"}) { id } }`, "BAD_USER_INPUT", "slug"},
			{`mutation { createSpace(input: {name: " ", slug: "ok"}) { id } }`, "BAD_USER_INPUT", "name"},
			{`mutation { deleteSpace(id: 999999) }`, "NOT_FOUND", ""},
			{`mutation { addSpaceMember(spaceId: 999999, userId: 1) { role } }`, "NOT_FOUND", ""},
			{`mutation { createProfileField(input: {key: "Bad Key", name: "x", type: TEXT}) { id } }`, "BAD_USER_INPUT", "key"},
			{`mutation { createProfileField(input: {key: "plan", name: "Plan", type: SELECT}) { id } }`, "BAD_USER_INPUT", "options"},
			{`mutation { createProfileField(input: {key: "plan", name: "Plan", type: TEXT, externalKeys: ["email"]}) { id } }`, "BAD_USER_INPUT", "externalKeys"},
			{`mutation { createProfileField(input: {key: "plan", name: "Plan", type: TEXT, externalKeys: ["a", "a"]}) { id } }`, "BAD_USER_INPUT", "externalKeys"},
			{`mutation { createProfileField(input: {key: "plan", name: "Plan", type: TEXT, externalKeys: [""]}) { id } }`, "BAD_USER_INPUT", "externalKeys"},
		} {
			before := snapshot(t, db)
			r := app.gql(c.admin, "", tt.q, nil)
			if r.code() != tt.code || (tt.field != "" && r.field() != tt.field) {
				t.Errorf("%s: %s", tt.q, r.Raw)
			}
			if snapshot(t, db) != before {
				t.Errorf("%s changed data", tt.q)
			}
			if r := app.gql(c.member, "", tt.q, nil); r.code() != "FORBIDDEN" {
				t.Errorf("member %s: %s", tt.q, r.Raw)
			}
		}
		r = app.gql(c.admin, "", `mutation { createProfileField(input: {key: "plan", name: "Plan", type: SELECT, options: ["gold", "silver"], externalKeys: ["plan", "tier"]}) { id key externalKeys } }`, nil)
		fieldID := dig(r.Data, "createProfileField", "id")
		if dig(r.Data, "createProfileField", "externalKeys", 1) != "tier" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.admin, "", `mutation { createProfileField(input: {key: "plan", name: "Plan", type: TEXT}) { id } }`, nil); r.code() != "CONFLICT" {
			t.Fatalf("duplicate key: %s", r.Raw)
		}
		r = app.gql(c.admin, "", updateUserQ, map[string]any{"id": c.memberUser.ID, "in": map[string]any{"fields": []any{map[string]any{"key": "plan", "value": "gold"}}}})
		if dig(r.Data, "updateUser", "fields", 0, "key") != "plan" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.admin, "", `mutation($id: ID!) { updateProfileField(id: $id, input: {type: NUMBER}) { id } }`, map[string]any{"id": fieldID}); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("type change with invalid values: %s", r.Raw)
		}
		r = app.gql(c.admin, "", `mutation($id: ID!) { updateProfileField(id: $id, input: {key: "tier"}) { key } }`, map[string]any{"id": fieldID})
		if dig(r.Data, "updateProfileField", "key") != "tier" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.gql(c.member, "", `{ me { fields { key value } } profileFields { key type options } }`, nil)
		if dig(r.Data, "me", "fields", 0, "key") != "tier" || dig(r.Data, "profileFields", 0, "options", 0) != "gold" {
			t.Fatalf("renamed key not carried: %s", r.Raw)
		}
		r = app.gql(c.admin, "", `mutation($id: ID!) { deleteProfileField(id: $id) }`, map[string]any{"id": fieldID})
		if r.Data["deleteProfileField"] != true {
			t.Fatalf("%s", r.Raw)
		}
		r = app.gql(c.admin, "", `mutation($s: ID!, $u: ID!) { removeSpaceMember(spaceId: $s, userId: $u) }`, map[string]any{"s": spaceID, "u": c.memberUser.ID})
		if r.Data["removeSpaceMember"] != true {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.admin, "", `mutation($id: ID!) { deleteSpace(id: $id) }`, map[string]any{"id": spaceID}); r.Data["deleteSpace"] != true {
			t.Fatalf("%s", r.Raw)
		}
		if app.countEvents("SPACE_MEMBERSHIP_CHANGED") != 2 {
			t.Fatal("membership changes not recorded")
		}
	})
}

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		c := setupCallers(t, app)
		ctx := context.Background()
		const secret = "super-secret-client-value"
		q := `mutation($in: UpdateOAuth2SettingsInput!) { updateOAuth2Settings(input: $in) { oauth2 { enabled provider clientId hasClientSecret domain scopes callbackUrl } } }`

		for _, tt := range []struct {
			in    map[string]any
			code  string
			field string
		}{
			{map[string]any{"enabled": true, "provider": "CUSTOM", "clientId": "abc", "clientSecret": secret, "authorizationUrl": "https://idp.example.com/authorize"}, "BAD_USER_INPUT", "tokenUrl"},
			{map[string]any{"enabled": true, "provider": "OKTA", "clientId": "abc", "clientSecret": secret}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"enabled": true, "provider": "OKTA", "domain": "dev-1.okta.com"}, "BAD_USER_INPUT", "clientId"},
			{map[string]any{"tokenUrl": "http://idp.example.com/token"}, "BAD_USER_INPUT", "tokenUrl"},
			{map[string]any{"domain": "http://dev-1.okta.com"}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"domain": "https://dev-1.okta.com/?x=1"}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"scopes": []string{"openid email"}}, "BAD_USER_INPUT", "scopes"},
			{map[string]any{"refreshMinutes": -1}, "BAD_USER_INPUT", "refreshMinutes"},
		} {
			before := snapshot(t, db)
			r := app.gql(c.admin, "", q, map[string]any{"in": tt.in})
			if r.code() != tt.code || r.field() != tt.field {
				t.Errorf("%v: %s", tt.in, r.Raw)
			}
			if snapshot(t, db) != before {
				t.Errorf("%v changed data", tt.in)
			}
		}
		r := app.gql(c.admin, "", q, map[string]any{"in": map[string]any{"enabled": true, "provider": "OKTA", "clientId": "abc", "clientSecret": secret, "domain": "dev-1.okta.com/oauth2/default", "scopes": []string{"openid", "email"}}})
		o := dig(r.Data, "updateOAuth2Settings", "oauth2")
		if r.code() != "" || dig(o, "hasClientSecret") != true || dig(o, "domain") != "dev-1.okta.com/oauth2/default" || dig(o, "callbackUrl") != app.URL+"/auth/oauth2/callback" {
			t.Fatalf("%s", r.Raw)
		}
		if strings.Contains(r.Raw, secret) {
			t.Fatal("the secret came back")
		}
		st := mustSettings(t, app)
		if len(st.Oauth2ClientSecret) == 0 || strings.Contains(string(st.Oauth2ClientSecret), secret) {
			t.Fatal("the client secret is not sealed at rest")
		}
		ev := db.Client.SecurityEvent.Query().Where(securityevent.Type("SETTINGS_CHANGED")).OnlyX(ctx)
		b, _ := json.Marshal(ev.Detail)
		if !strings.Contains(string(b), "clientSecret") || strings.Contains(string(b), secret) {
			t.Fatalf("event detail %s", b)
		}
		// An empty string clears a URL; absent fields stay.
		r = app.gql(c.admin, "", `mutation { updateOAuth2Settings(input: {logoutUrl: "https://idp.example.com/logout"}) { oauth2 { logoutUrl clientId } } }`, nil)
		r = app.gql(c.admin, "", `mutation { updateOAuth2Settings(input: {logoutUrl: ""}) { oauth2 { logoutUrl clientId } } }`, nil)
		if dig(r.Data, "updateOAuth2Settings", "oauth2", "logoutUrl") != "" || dig(r.Data, "updateOAuth2Settings", "oauth2", "clientId") != "abc" {
			t.Fatalf("%s", r.Raw)
		}

		jq := `mutation($in: UpdateJwtSsoSettingsInput!) { updateJwtSsoSettings(input: $in) { jwtSso { enabled hasSecret authorizationUrl endpointUrl } } }`
		if r := app.gql(c.admin, "", jq, map[string]any{"in": map[string]any{"enabled": true}}); r.code() != "BAD_USER_INPUT" || r.field() != "enabled" {
			t.Fatalf("enable without secret: %s", r.Raw)
		}
		r = app.gql(c.admin, "", `mutation { regenerateJwtSsoSecret }`, nil)
		jwtSecret, _ := r.Data["regenerateJwtSsoSecret"].(string)
		if len(jwtSecret) != 64 {
			t.Fatalf("%s", r.Raw)
		}
		r = app.gql(c.admin, "", jq, map[string]any{"in": map[string]any{"enabled": true, "authorizationUrl": "https://customer.example/sso"}})
		if dig(r.Data, "updateJwtSsoSettings", "jwtSso", "hasSecret") != true || dig(r.Data, "updateJwtSsoSettings", "jwtSso", "endpointUrl") != app.URL+"/api/auth/sso" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.gql(c.admin, "", `{ authSettings { emailPasswordEnabled oauth2 { hasClientSecret } jwtSso { hasSecret enabled } } }`, nil)
		if strings.Contains(r.Raw, jwtSecret) || dig(r.Data, "authSettings", "jwtSso", "enabled") != true {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "https://evil.example"}) { newUsersHomepage } }`, nil); r.code() != "BAD_USER_INPUT" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "/welcome"}) { newUsersHomepage } }`, nil); dig(r.Data, "updateAuthSettings", "newUsersHomepage") != "/welcome" {
			t.Fatalf("%s", r.Raw)
		}
		for _, who := range []*http.Client{c.member, c.moderator} {
			if r := app.gql(who, "", `{ authSettings { emailPasswordEnabled } }`, nil); r.code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
			if r := app.gql(who, "", `mutation { regenerateJwtSsoSecret }`, nil); r.code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
		}
		if r := app.gql(nil, "", `{ authSettings { emailPasswordEnabled } }`, nil); r.code() != "UNAUTHENTICATED" {
			t.Errorf("%s", r.Raw)
		}
		// loginOptions is public.
		r = app.gql(nil, "", `{ loginOptions { methods emailPasswordEnabled oauth2 { buttonText loginUrl } jwtSso { loginUrl } loginUrl logoutUrl } }`, nil)
		if r.code() != "" || len(dig(r.Data, "loginOptions", "methods").([]any)) != 3 || dig(r.Data, "loginOptions", "jwtSso", "loginUrl") != "https://customer.example/sso" {
			t.Fatalf("%s", r.Raw)
		}
	})
}

func TestSecurityEventsQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		c := setupCallers(t, app)
		q := `query($w: SecurityEventWhereInput) { securityEvents(first: 50, where: $w) { totalCount edges { node { type method ip userAgent detail createdAt user { email } } } } }`
		r := app.gql(c.admin, "", q, nil)
		edges := dig(r.Data, "securityEvents", "edges").([]any)
		if len(edges) < 4 || dig(edges[0], "node", "type") != "API_TOKEN_CREATED" {
			t.Fatalf("newest first: %s", r.Raw)
		}
		r = app.gql(c.admin, "", q, map[string]any{"w": map[string]any{"type": "LOGIN_SUCCEEDED", "hasUserWith": []any{map[string]any{"email": "member@example.com"}}, "createdAtGT": "2000-01-01T00:00:00Z"}})
		if dig(r.Data, "securityEvents", "totalCount").(float64) != 1 || dig(r.Data, "securityEvents", "edges", 0, "node", "user", "email") != "member@example.com" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.gql(c.member, "", q, nil); r.code() != "FORBIDDEN" {
			t.Fatalf("%s", r.Raw)
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
			app := newApp(t, db, nil)
			seedUsers(t, db, 120, 3, 2)
			tok := adminToken(t, app)
			q := `{ users(first: 100) { edges { node { id email name spaces { role space { slug } } fields { key value } } } } }`
			app.gql(nil, tok, "{ me { id } }", nil) // records the token's first use
			// What the viewer lookup costs, measured on an operation that reads nothing else.
			log.Start()
			app.gql(nil, tok, "{ __typename }", nil)
			lookup := len(log.Stop())
			for _, size := range []int{10, 100} {
				log.Start()
				r := app.gql(nil, tok, strings.Replace(q, "100", fmt.Sprint(size), 1), nil)
				if r.code() != "" || len(dig(r.Data, "users", "edges").([]any)) != size {
					t.Fatalf("%s", r.Raw[:min(len(r.Raw), 500)])
				}
				if got := len(log.Stop()) - lookup; got > 4 {
					t.Fatalf("page of %d: %d statements, want at most 4", size, got)
				}
			}
		})
	}
}

// TestUpdateUserKeepsLastAdmin: updateUser cannot demote or suspend the last active admin, and
// the refusal changes nothing; with a second admin the same change passes.
func TestUpdateUserKeepsLastAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		c := setupCallers(t, app)
		id := fmt.Sprint(c.adminUser.ID)
		const upd = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { role status } }`
		for _, tc := range []struct {
			in    map[string]any
			field string
		}{
			{map[string]any{"role": "MEMBER"}, "role"},
			{map[string]any{"role": "MODERATOR", "name": "Demoted"}, "role"},
			{map[string]any{"status": "SUSPENDED"}, "status"},
		} {
			r := app.gql(nil, c.token, upd, map[string]any{"id": id, "in": tc.in})
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field {
				t.Fatalf("%v: %s", tc.in, r.Raw)
			}
		}
		got := db.Client.User.GetX(context.Background(), c.adminUser.ID)
		if got.Role != user.RoleADMIN || got.Status != user.StatusACTIVE || got.Name != "" {
			t.Fatalf("the admin changed: %s %s %q", got.Role, got.Status, got.Name)
		}
		second := app.createUser("second@example.com", "", user.RoleADMIN)
		if r := app.gql(nil, c.token, upd, map[string]any{"id": fmt.Sprint(second.ID), "in": map[string]any{"status": "SUSPENDED"}}); r.code() != "" {
			t.Fatal(r.Raw)
		}
		if r := app.gql(nil, c.token, upd, map[string]any{"id": fmt.Sprint(second.ID), "in": map[string]any{"status": "ACTIVE"}}); r.code() != "" {
			t.Fatal(r.Raw)
		}
		if r := app.gql(nil, c.token, upd, map[string]any{"id": id, "in": map[string]any{"role": "MEMBER"}}); r.code() != "" {
			t.Fatal(r.Raw)
		}
	})
}

// TestRequestLimitsThroughServer sends the attacks of the abuse-resistance review through the
// whole server, on both backends: anonymous, and with an admin's session cookie. Each is
// refused by its cheap limit, and the server answers normally afterwards.
func TestRequestLimitsThroughServer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, map[string]string{"GRAPHQL_TIMEOUT": "5s"})
		c := setupCallers(t, app)
		anonymous := browser(t)
		for _, tc := range []struct {
			name, query      string
			anonymous, admin string
			anonymousStatus  int
		}{
			{"24-level fragment fan-out", graphtest.FanOut(24), graph.CodeDocumentLimit, graph.CodeDocumentLimit, http.StatusUnprocessableEntity},
			{"40-level fragment fan-out", graphtest.FanOut(40), graph.CodeDocumentLimit, graph.CodeDocumentLimit, http.StatusUnprocessableEntity},
			{"60,000 repeated fields", graphtest.Repeated("id", 60000), graph.CodeRequestTooLarge, graph.CodeTokenLimit, http.StatusRequestEntityTooLarge},
			{"1,000 directives", graphtest.Repeated("id @include(if: true)", 1000), graph.CodeTokenLimit, graph.CodeDocumentLimit, http.StatusUnprocessableEntity},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := app.gql(anonymous, "", tc.query, nil)
				if r.code() != tc.anonymous || r.Status != tc.anonymousStatus || len(r.Errors) != 1 {
					t.Fatalf("anonymous: status %d: %.300s", r.Status, r.Raw)
				}
				r = app.gql(c.admin, "", tc.query, nil)
				if r.code() != tc.admin || r.Status != http.StatusUnprocessableEntity || len(r.Errors) != 1 {
					t.Fatalf("admin: status %d: %.300s", r.Status, r.Raw)
				}
			})
		}
		if r := app.gql(c.admin, "", "{ me { email } }", nil); dig(r.Data, "me", "email") != "admin@example.com" {
			t.Fatalf("after the attacks: %.300s", r.Raw)
		}
		if r := app.gql(anonymous, "", "{ me { email } loginOptions { emailPasswordEnabled } }", nil); len(r.Errors) != 0 {
			t.Fatalf("anonymous after the attacks: %.300s", r.Raw)
		}
	})
}
