package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"

	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// TestPagesWithoutCount: a page that asks for its edges and pageInfo reads one page (limit+1
// rows), never a COUNT of the whole table, and pageInfo is right on every page; only totalCount
// counts.
func TestPagesWithoutCount(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			log := &storetest.StatementLog{}
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			admin := db.Client.User.Create().SetEmail("admin@example.com").SetUsername("admin").SetRole(user.RoleADMIN).SaveX(ctx)
			for i := 0; i < 25; i++ {
				db.Client.SecurityEvent.Create().SetType("LOGIN_SUCCEEDED").SetUserID(admin.ID).ExecX(ctx)
			}
			c := client.New(graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client}, graph.HandlerConfig{}))
			type page struct {
				SecurityEvents struct {
					TotalCount int
					Edges      []struct{ Node struct{ ID string } }
					PageInfo   struct {
						HasNextPage, HasPreviousPage bool
						EndCursor                    *string
					}
				}
			}
			const q = `query($after: Cursor) { securityEvents(first: 10, after: $after) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }`
			var after *string
			seen := 0
			for i, want := range []struct {
				n        int
				next     bool
				previous bool
			}{{10, true, false}, {10, true, true}, {5, false, true}} {
				var p page
				log.Start()
				c.MustPost(q, &p, graphtest.As(admin), client.Var("after", after))
				for _, s := range log.Stop() {
					if strings.Contains(strings.ToUpper(s), "COUNT(") {
						t.Fatalf("page %d counted: %s", i, s)
					}
				}
				got := p.SecurityEvents
				if len(got.Edges) != want.n || got.PageInfo.HasNextPage != want.next || got.PageInfo.HasPreviousPage != want.previous {
					t.Fatalf("page %d: %d edges, next %v, previous %v", i, len(got.Edges), got.PageInfo.HasNextPage, got.PageInfo.HasPreviousPage)
				}
				seen += len(got.Edges)
				after = got.PageInfo.EndCursor
			}
			if seen != 25 {
				t.Fatalf("%d events over the pages, want 25", seen)
			}

			var p page
			log.Start()
			c.MustPost(`{ securityEvents(first: 10) { totalCount edges { node { id } } } }`, &p, graphtest.As(admin))
			counted := false
			for _, s := range log.Stop() {
				counted = counted || strings.Contains(strings.ToUpper(s), "COUNT(")
			}
			if !counted || p.SecurityEvents.TotalCount != 25 {
				t.Fatalf("totalCount %d, counted %v", p.SecurityEvents.TotalCount, counted)
			}
		})
	}
}
