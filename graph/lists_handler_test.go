package graph_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// listedUser is a user of the users page, with every field the tests below select.
type listedUser struct {
	Email        string
	PendingEmail *string
	Spaces       []struct {
		Role  string
		Space struct{ Slug string }
	}
	Fields []struct{ Key, Value string }
	ByRole []struct{ Role string }
	Slugs  []struct{ Space struct{ Slug string } }
}

// TestUserLists: the users page through the handler, its lists marshalled in order (spaces,
// fields, and the edges when nothing under them can block) or concurrently (the edges when
// pendingEmail, which reads the database, is selected): every list whole and in order either
// way, aliases of one edge included.
func TestUserLists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		admin := c.User.Create().SetEmail("admin@example.com").SetUsername("admin").SetRole(user.RoleADMIN).SaveX(ctx)
		spaces := []string{"alpha", "beta", "gamma"}
		var spaceIDs []int
		for _, s := range spaces {
			spaceIDs = append(spaceIDs, c.Space.Create().SetName(s).SetSlug(s).SaveX(ctx).ID)
		}
		color := c.ProfileField.Create().SetKey("color").SetName("Color").SaveX(ctx)
		team := c.ProfileField.Create().SetKey("team").SetName("Team").SaveX(ctx)
		const members = 12
		for i := range members {
			u := c.User.Create().SetEmail(fmt.Sprintf("m%02d@example.com", i)).SetUsername(fmt.Sprintf("m%02d", i)).SaveX(ctx)
			for j := range i % 4 { // 0 to 3 spaces, the third as an admin
				role := spacemembership.RoleMEMBER
				if j == 2 {
					role = spacemembership.RoleADMIN
				}
				c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(spaceIDs[j]).SetRole(role).ExecX(ctx)
			}
			c.ProfileFieldValue.Create().SetUserID(u.ID).SetFieldID(color.ID).SetKey("color").SetValue(fmt.Sprint("c", i)).ExecX(ctx)
			if i%2 == 0 {
				c.ProfileFieldValue.Create().SetUserID(u.ID).SetFieldID(team.ID).SetKey("team").SetValue(fmt.Sprint("t", i)).ExecX(ctx)
			}
			if i%3 == 0 {
				if _, _, err := auth.NewEmailToken(ctx, c, emailtoken.PurposeVERIFY_EMAIL, u.ID, fmt.Sprintf("new%02d@example.com", i), "192.0.2.1", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
		}
		gql := client.New(graph.NewHandler(&graph.Resolver{DB: db, Client: c},
			graph.HandlerConfig{Log: slog.New(slog.NewJSONHandler(&webtest.LogBuffer{}, nil))}))

		for _, q := range []struct {
			query            string
			pending, aliases bool
		}{
			{`{ users(first: 20) { edges { node { email spaces { role space { slug } } fields { key value } } } } }`, false, false},
			{`{ users(first: 20) { edges { node { email pendingEmail spaces { role space { slug } } fields { key value } } } } }`, true, false},
			{`{ users(first: 20) { edges { node { email fields { key value } byRole: spaces { role } spaces { role space { slug } } slugs: spaces { space { slug } } } } } }`, false, true},
		} {
			var resp struct {
				Users struct{ Edges []struct{ Node listedUser } }
			}
			gql.MustPost(q.query, &resp, graphtest.As(admin))
			edges := resp.Users.Edges
			if len(edges) != members+1 || edges[0].Node.Email != "admin@example.com" {
				t.Fatalf("%s: %d users, first %+v", q.query, len(edges), edges[0].Node)
			}
			for i, e := range edges[1:] {
				u := e.Node
				if u.Email != fmt.Sprintf("m%02d@example.com", i) || len(u.Spaces) != i%4 {
					t.Fatalf("%s: user %d: %+v", q.query, i, u)
				}
				for j, m := range u.Spaces {
					wantRole := "MEMBER"
					if j == 2 {
						wantRole = "ADMIN"
					}
					if m.Space.Slug != spaces[j] || m.Role != wantRole {
						t.Fatalf("%s: user %d, space %d: %+v", q.query, i, j, m)
					}
				}
				if q.aliases {
					if len(u.ByRole) != len(u.Spaces) || len(u.Slugs) != len(u.Spaces) {
						t.Fatalf("%s: user %d: the aliases of spaces differ: %+v", q.query, i, u)
					}
					for j, m := range u.Spaces {
						if u.ByRole[j].Role != m.Role || u.Slugs[j].Space.Slug != m.Space.Slug {
							t.Fatalf("%s: user %d: the aliases of spaces differ: %+v", q.query, i, u)
						}
					}
				}
				wantFields := []string{fmt.Sprint("color=c", i)}
				if i%2 == 0 {
					wantFields = append(wantFields, fmt.Sprint("team=t", i))
				}
				if len(u.Fields) != len(wantFields) {
					t.Fatalf("%s: user %d: fields %+v", q.query, i, u.Fields)
				}
				for k, f := range u.Fields {
					if f.Key+"="+f.Value != wantFields[k] {
						t.Fatalf("%s: user %d: fields %+v", q.query, i, u.Fields)
					}
				}
				wantPending := ""
				if q.pending && i%3 == 0 {
					wantPending = fmt.Sprintf("new%02d@example.com", i)
				}
				if got := u.PendingEmail; (got == nil) != (wantPending == "") || got != nil && *got != wantPending {
					t.Fatalf("%s: user %d: pendingEmail %v, want %q", q.query, i, got, wantPending)
				}
			}
		}
	})
}
