package graph_test

import (
	"testing"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

func TestSpacesAndProfileFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		r := app.GQL(c.Admin, "", `mutation { createSpace(input: {name: "General", slug: "general"}) { id slug } }`, nil)
		spaceID := graphtest.Dig(r.Data, "createSpace", "id")
		if spaceID == nil {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation($s: ID!, $u: ID!) { addSpaceMember(spaceId: $s, userId: $u, role: ADMIN) { role space { slug } user { email } } }`, map[string]any{"s": spaceID, "u": c.MemberUser.ID})
		if graphtest.Dig(r.Data, "addSpaceMember", "role") != "ADMIN" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Member, "", `{ me { spaces { role space { id slug name } } } space(slug: "general") { name } spaces { totalCount } }`, nil)
		if graphtest.Dig(r.Data, "me", "spaces", 0, "space", "slug") != "general" || graphtest.Dig(r.Data, "space", "name") != "General" || graphtest.Dig(r.Data, "spaces", "totalCount").(float64) != 1 {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Member, "", `{ space(slug: "general") { members { role } } }`, nil); r.Code() != "FORBIDDEN" {
			t.Fatalf("member sees the member list: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation($id: ID!) { updateSpace(id: $id, input: {name: "Town square"}) { name slug } }`, map[string]any{"id": spaceID})
		if graphtest.Dig(r.Data, "updateSpace", "name") != "Town square" {
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
			before := storetest.Snapshot(t, db)
			r := app.GQL(c.Admin, "", tt.q, nil)
			if r.Code() != tt.code || (tt.field != "" && r.Field() != tt.field) {
				t.Errorf("%s: %s", tt.q, r.Raw)
			}
			if storetest.Snapshot(t, db) != before {
				t.Errorf("%s changed data", tt.q)
			}
			if r := app.GQL(c.Member, "", tt.q, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("member %s: %s", tt.q, r.Raw)
			}
		}
		r = app.GQL(c.Admin, "", `mutation { createProfileField(input: {key: "plan", name: "Plan", type: SELECT, options: ["gold", "silver"], externalKeys: ["plan", "tier"]}) { id key externalKeys } }`, nil)
		fieldID := graphtest.Dig(r.Data, "createProfileField", "id")
		if graphtest.Dig(r.Data, "createProfileField", "externalKeys", 1) != "tier" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation { createProfileField(input: {key: "plan", name: "Plan", type: TEXT}) { id } }`, nil); r.Code() != "CONFLICT" {
			t.Fatalf("duplicate key: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", graphtest.UpdateUser, map[string]any{"id": c.MemberUser.ID, "in": map[string]any{"fields": []any{map[string]any{"key": "plan", "value": "gold"}}}})
		if graphtest.Dig(r.Data, "updateUser", "fields", 0, "key") != "plan" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation($id: ID!) { updateProfileField(id: $id, input: {type: NUMBER}) { id } }`, map[string]any{"id": fieldID}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("type change with invalid values: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation($id: ID!) { updateProfileField(id: $id, input: {key: "tier"}) { key } }`, map[string]any{"id": fieldID})
		if graphtest.Dig(r.Data, "updateProfileField", "key") != "tier" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Member, "", `{ me { fields { key value } } profileFields { key type options } }`, nil)
		if graphtest.Dig(r.Data, "me", "fields", 0, "key") != "tier" || graphtest.Dig(r.Data, "profileFields", 0, "options", 0) != "gold" {
			t.Fatalf("renamed key not carried: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation($id: ID!) { deleteProfileField(id: $id) }`, map[string]any{"id": fieldID})
		if r.Data["deleteProfileField"] != true {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation($s: ID!, $u: ID!) { removeSpaceMember(spaceId: $s, userId: $u) }`, map[string]any{"s": spaceID, "u": c.MemberUser.ID})
		if r.Data["removeSpaceMember"] != true {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation($id: ID!) { deleteSpace(id: $id) }`, map[string]any{"id": spaceID}); r.Data["deleteSpace"] != true {
			t.Fatalf("%s", r.Raw)
		}
		if app.CountEvents("SPACE_MEMBERSHIP_CHANGED") != 2 {
			t.Fatal("membership changes not recorded")
		}
	})
}
