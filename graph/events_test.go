package graph_test

import (
	"testing"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

func TestSecurityEventsQuery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		q := `query($w: SecurityEventWhereInput) { securityEvents(first: 50, where: $w) { totalCount edges { node { type method ip userAgent detail createdAt user { email } } } } }`
		r := app.GQL(c.Admin, "", q, nil)
		edges := graphtest.Dig(r.Data, "securityEvents", "edges").([]any)
		if len(edges) < 4 || graphtest.Dig(edges[0], "node", "type") != "API_TOKEN_CREATED" {
			t.Fatalf("newest first: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", q, map[string]any{"w": map[string]any{"type": "LOGIN_SUCCEEDED", "hasUserWith": []any{map[string]any{"email": "member@example.com"}}, "createdAtGT": "2000-01-01T00:00:00Z"}})
		if graphtest.Dig(r.Data, "securityEvents", "totalCount").(float64) != 1 || graphtest.Dig(r.Data, "securityEvents", "edges", 0, "node", "user", "email") != "member@example.com" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Member, "", q, nil); r.Code() != "FORBIDDEN" {
			t.Fatalf("%s", r.Raw)
		}
	})
}
