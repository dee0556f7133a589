package graph_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/apitoken"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

func TestAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		ctx := context.Background()
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)
		member := app.CreateUser("member@example.com", authtest.Password, user.RoleMEMBER)
		admin := webtest.Browser(t)
		app.Login(admin, "admin@example.com", authtest.Password)
		mem := webtest.Browser(t)
		app.Login(mem, "member@example.com", authtest.Password)

		r := app.GQL(admin, "", graphtest.CreateAPIToken, map[string]any{"name": "nightly sync"})
		if r.Code() != "" {
			t.Fatalf("create: %s", r.Raw)
		}
		created := r.Data["createApiToken"].(map[string]any)
		tok := created["token"].(string)
		id := created["apiToken"].(map[string]any)["id"].(string)
		if len(tok) < 40 || tok[:4] != "cst_" {
			t.Fatalf("token %q", tok)
		}
		stored := db.Client.APIToken.Query().OnlyX(ctx)
		if string(stored.TokenHash) == tok {
			t.Fatal("the token is stored in clear")
		}

		t.Run("bearer acts as its user", func(t *testing.T) {
			if me := app.GQL(nil, tok, "{ me { email role } }", nil); me.Data["me"].(map[string]any)["email"] != "admin@example.com" {
				t.Fatalf("%s", me.Raw)
			}
			if u := db.Client.APIToken.Query().OnlyX(ctx); u.LastUsedAt == nil {
				t.Fatal("last use not recorded")
			}
			if r := app.GQL(nil, tok, "{ users { totalCount } }", nil); r.Code() != "" {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("bad bearer is 401", func(t *testing.T) {
			for _, bad := range []string{"cst_nope", tok + "x", "garbage"} {
				if r := app.GQL(nil, bad, "{ me { id } }", nil); r.Status != http.StatusUnauthorized || r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("%q: %d %s", bad, r.Status, r.Raw)
				}
			}
		})
		t.Run("members and anonymous callers cannot manage tokens", func(t *testing.T) {
			if r := app.GQL(mem, "", graphtest.CreateAPIToken, map[string]any{"name": "x"}); r.Code() != "FORBIDDEN" {
				t.Fatalf("member: %s", r.Raw)
			}
			if r := app.GQL(nil, "", graphtest.CreateAPIToken, map[string]any{"name": "x"}); r.Code() != "UNAUTHENTICATED" {
				t.Fatalf("anonymous: %s", r.Raw)
			}
			if r := app.GQL(mem, "", `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}); r.Code() != "FORBIDDEN" {
				t.Fatalf("member revoke: %s", r.Raw)
			}
			if n := db.Client.APIToken.Query().CountX(ctx); n != 1 {
				t.Fatalf("tokens = %d", n)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			if r := app.GQL(admin, "", graphtest.CreateAPIToken, map[string]any{"name": " "}); r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "name" {
				t.Fatalf("%s", r.Raw)
			}
			past := time.Now().Add(-time.Hour).Format(time.RFC3339)
			if r := app.GQL(admin, "", graphtest.CreateAPIToken, map[string]any{"name": "x", "exp": past}); r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "expiresAt" {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("expired token", func(t *testing.T) {
			r := app.GQL(admin, "", graphtest.CreateAPIToken, map[string]any{"name": "short", "exp": time.Now().Add(time.Hour).Format(time.RFC3339)})
			short := r.Data["createApiToken"].(map[string]any)["token"].(string)
			if me := app.GQL(nil, short, "{ me { id } }", nil); me.Code() != "" {
				t.Fatalf("%s", me.Raw)
			}
			db.Client.APIToken.Update().Where(apitoken.Name("short")).SetExpiresAt(time.Now().Add(-time.Minute)).ExecX(ctx)
			if me := app.GQL(nil, short, "{ me { id } }", nil); me.Status != http.StatusUnauthorized {
				t.Fatalf("expired token works: %s", me.Raw)
			}
		})
		t.Run("revoke", func(t *testing.T) {
			if r := app.GQL(admin, "", `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}); r.Data["revokeApiToken"] != true {
				t.Fatalf("%s", r.Raw)
			}
			if me := app.GQL(nil, tok, "{ me { id } }", nil); me.Status != http.StatusUnauthorized {
				t.Fatal("revoked token works")
			}
			if r := app.GQL(admin, "", `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}); r.Data["revokeApiToken"] != false {
				t.Fatalf("second revoke: %s", r.Raw)
			}
		})
		t.Run("revoke user sessions", func(t *testing.T) {
			r := app.GQL(admin, "", `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": member.ID})
			if r.Code() != "" || r.Data["revokeUserSessions"].(float64) != 1 {
				t.Fatalf("%s", r.Raw)
			}
			if me := app.GQL(mem, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatal("revoked session works")
			}
			if r := app.GQL(admin, "", `mutation { revokeUserSessions(userId: 999999) }`, nil); r.Code() != "NOT_FOUND" {
				t.Fatalf("%s", r.Raw)
			}
		})
		for _, typ := range []string{"API_TOKEN_CREATED", "API_TOKEN_REVOKED", "SESSION_REVOKED"} {
			if app.CountEvents(typ) == 0 {
				t.Errorf("no %s event", typ)
			}
		}
		ev := db.Client.SecurityEvent.Query().Where().AllX(ctx)
		for _, e := range ev {
			if e.IP == "" || e.UserAgent == "" {
				t.Errorf("event %s without ip or user agent", e.Type)
			}
		}
	})
}
