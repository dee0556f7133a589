package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph"
)

// TestNodeAccess: node and nodes read a node by the rules of the field that lists its type:
// spaces and profile fields every member; users, memberships and field values moderators and
// their own member; security events, API tokens and webhooks admins only. nodes takes at most
// graph.MaxNodeIDs ids.
func TestNodeAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ctx := context.Background()
		sp := db.Client.Space.Create().SetName("Lounge").SetSlug("lounge").SaveX(ctx)
		pf := db.Client.ProfileField.Create().SetKey("company").SetName("Company").SaveX(ctx)
		own := db.Client.SpaceMembership.Create().SetUserID(c.MemberUser.ID).SetSpaceID(sp.ID).SetRole(spacemembership.RoleMEMBER).SaveX(ctx)
		other := db.Client.SpaceMembership.Create().SetUserID(c.AdminUser.ID).SetSpaceID(sp.ID).SaveX(ctx)
		value := db.Client.ProfileFieldValue.Create().SetUserID(c.AdminUser.ID).SetFieldID(pf.ID).SetKey("company").SetValue("Acme").SaveX(ctx)
		ownValue := db.Client.ProfileFieldValue.Create().SetUserID(c.MemberUser.ID).SetFieldID(pf.ID).SetKey("company").SetValue("Mine").SaveX(ctx)
		event := db.Client.SecurityEvent.Create().SetType("LOGIN_SUCCEEDED").SetUserID(c.AdminUser.ID).SaveX(ctx)
		token := db.Client.APIToken.Query().FirstX(ctx)
		hook := db.Client.Webhook.Create().SetURL("https://hooks.example.com/x").SetSecret([]byte("s")).SetEvents([]string{"member.created"}).SaveX(ctx)

		const member, moderator, admin = 1, 2, 3
		for _, tc := range []struct {
			name  string
			id    int
			least int // the least caller who reads it
		}{
			{"space", sp.ID, member},
			{"profile field", pf.ID, member},
			{"own user", c.MemberUser.ID, member},
			{"another user", c.AdminUser.ID, moderator},
			{"own membership", own.ID, member},
			{"another's membership", other.ID, moderator},
			{"own field value", ownValue.ID, member},
			{"another's field value", value.ID, moderator},
			{"security event", event.ID, admin},
			{"API token", token.ID, admin},
			{"webhook", hook.ID, admin},
		} {
			for _, by := range []struct {
				name   string
				rank   int
				client *http.Client
			}{{"member", member, c.Member}, {"moderator", moderator, c.Moderator}, {"admin", admin, c.Admin}} {
				caller := by.rank
				t.Run(tc.name+" by a "+by.name, func(t *testing.T) {
					for _, q := range []string{`query($id: ID!) { x: node(id: $id) { id } }`, `query($id: ID!) { x: nodes(ids: [$id]) { id } }`} {
						r := app.GQL(by.client, "", q, map[string]any{"id": tc.id})
						if caller >= tc.least {
							if r.Code() != "" || !strings.Contains(string(r.Raw), fmt.Sprint(tc.id)) {
								t.Fatalf("%s: %s", q, r.Raw)
							}
						} else if r.Code() != "FORBIDDEN" {
							t.Fatalf("%s: %s", q, r.Raw)
						}
					}
				})
			}
		}
		ids := make([]int, graph.MaxNodeIDs+1)
		for i := range ids {
			ids[i] = sp.ID
		}
		if r := app.GQL(c.Admin, "", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("%d ids: %.300s", len(ids), r.Raw)
		}
		if r := app.GQL(c.Admin, "", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids[:graph.MaxNodeIDs]}); r.Code() != "" {
			t.Fatalf("%d ids: %.300s", graph.MaxNodeIDs, r.Raw)
		}
	})
}

// TestFilterBounds: a where argument that nests deeper than 10, or holds more
// than graph.MaxFilterConditions conditions (list elements counted), is BAD_USER_INPUT, inline
// or in variables, before any statement runs; at the bounds it runs. Before, such filters
// reached the database and failed there (too many variables, an expression too deep), each an
// internal error in the log.
func TestFilterBounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ids := func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = c.MemberUser.ID + i
			}
			return out
		}
		nested := func(depth int) map[string]any {
			w := map[string]any{"nameContains": "a"}
			for range depth - 1 {
				w = map[string]any{"not": w}
			}
			return w
		}
		ors := func(n int) map[string]any {
			list := make([]any, n)
			for i := range list {
				list[i] = map[string]any{"nameContains": fmt.Sprint(i)}
			}
			return map[string]any{"or": list}
		}
		for _, tc := range []struct {
			name   string
			client *http.Client
			query  string
			vars   map[string]any
			ok     bool
		}{
			{"idIn at the bound", c.Admin, `query($w: UserWhereInput) { users(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"idIn": ids(graph.MaxFilterConditions)}}, true},
			{"idIn past the bound", c.Admin, `query($w: UserWhereInput) { users(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"idIn": ids(graph.MaxFilterConditions + 1)}}, false},
			{"idIn far past the bound", c.Admin, `query($w: UserWhereInput) { users(where: $w) { totalCount } }`, map[string]any{"w": map[string]any{"idIn": ids(40000)}}, false},
			{"nesting at the bound", c.Member, `query($w: SpaceWhereInput) { spaces(where: $w) { totalCount } }`, map[string]any{"w": nested(graph.MaxFilterDepth)}, true},
			{"nesting past the bound", c.Member, `query($w: SpaceWhereInput) { spaces(where: $w) { totalCount } }`, map[string]any{"w": nested(graph.MaxFilterDepth + 1)}, false},
			{"nesting far past the bound", c.Member, `query($w: SpaceWhereInput) { spaces(where: $w) { totalCount } }`, map[string]any{"w": nested(5000)}, false},
			{"inline nesting past the bound", c.Member, `{ spaces(where: ` + strings.Repeat("{not: ", graph.MaxFilterDepth) + `{nameContains: "a"}` + strings.Repeat("}", graph.MaxFilterDepth) + `) { totalCount } }`, nil, false},
			{"or past the bound", c.Member, `query($w: SpaceWhereInput) { spaces(where: $w) { totalCount } }`, map[string]any{"w": ors(20000)}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				logs := len(app.Logs.String())
				r := app.GQL(tc.client, "", tc.query, tc.vars)
				if tc.ok {
					if r.Code() != "" {
						t.Fatalf("%.400s", r.Raw)
					}
					return
				}
				if r.Code() != "BAD_USER_INPUT" {
					t.Fatalf("%.400s", r.Raw)
				}
				if tail := app.Logs.String()[logs:]; strings.Contains(tail, `"level":"ERROR"`) {
					t.Fatalf("logged an error: %.400s", tail)
				}
			})
		}
	})
}
