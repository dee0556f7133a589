package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/community/sso/ent/apitoken"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

const createToken = `mutation($name: String!, $exp: Time) { createApiToken(name: $name, expiresAt: $exp) { token apiToken { id name } } }`

func TestAPITokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		ctx := context.Background()
		app.createUser("admin@example.com", adminPass, user.RoleADMIN)
		member := app.createUser("member@example.com", adminPass, user.RoleMEMBER)
		admin := browser(t)
		app.login(admin, "admin@example.com", adminPass)
		mem := browser(t)
		app.login(mem, "member@example.com", adminPass)

		r := app.gql(admin, "", createToken, map[string]any{"name": "nightly sync"})
		if r.code() != "" {
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
			if me := app.gql(nil, tok, "{ me { email role } }", nil); me.Data["me"].(map[string]any)["email"] != "admin@example.com" {
				t.Fatalf("%s", me.Raw)
			}
			if u := db.Client.APIToken.Query().OnlyX(ctx); u.LastUsedAt == nil {
				t.Fatal("last use not recorded")
			}
			if r := app.gql(nil, tok, "{ users { totalCount } }", nil); r.code() != "" {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("bad bearer is 401", func(t *testing.T) {
			for _, bad := range []string{"cst_nope", tok + "x", "garbage"} {
				if r := app.gql(nil, bad, "{ me { id } }", nil); r.Status != http.StatusUnauthorized || r.code() != "UNAUTHENTICATED" {
					t.Fatalf("%q: %d %s", bad, r.Status, r.Raw)
				}
			}
		})
		t.Run("members and anonymous callers cannot manage tokens", func(t *testing.T) {
			if r := app.gql(mem, "", createToken, map[string]any{"name": "x"}); r.code() != "FORBIDDEN" {
				t.Fatalf("member: %s", r.Raw)
			}
			if r := app.gql(nil, "", createToken, map[string]any{"name": "x"}); r.code() != "UNAUTHENTICATED" {
				t.Fatalf("anonymous: %s", r.Raw)
			}
			if r := app.gql(mem, "", `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}); r.code() != "FORBIDDEN" {
				t.Fatalf("member revoke: %s", r.Raw)
			}
			if n := db.Client.APIToken.Query().CountX(ctx); n != 1 {
				t.Fatalf("tokens = %d", n)
			}
		})
		t.Run("bad input", func(t *testing.T) {
			if r := app.gql(admin, "", createToken, map[string]any{"name": " "}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "name" {
				t.Fatalf("%s", r.Raw)
			}
			past := time.Now().Add(-time.Hour).Format(time.RFC3339)
			if r := app.gql(admin, "", createToken, map[string]any{"name": "x", "exp": past}); r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "expiresAt" {
				t.Fatalf("%s", r.Raw)
			}
		})
		t.Run("expired token", func(t *testing.T) {
			r := app.gql(admin, "", createToken, map[string]any{"name": "short", "exp": time.Now().Add(time.Hour).Format(time.RFC3339)})
			short := r.Data["createApiToken"].(map[string]any)["token"].(string)
			if me := app.gql(nil, short, "{ me { id } }", nil); me.code() != "" {
				t.Fatalf("%s", me.Raw)
			}
			db.Client.APIToken.Update().Where(apitoken.Name("short")).SetExpiresAt(time.Now().Add(-time.Minute)).ExecX(ctx)
			if me := app.gql(nil, short, "{ me { id } }", nil); me.Status != http.StatusUnauthorized {
				t.Fatalf("expired token works: %s", me.Raw)
			}
		})
		t.Run("revoke", func(t *testing.T) {
			if r := app.gql(admin, "", `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}); r.Data["revokeApiToken"] != true {
				t.Fatalf("%s", r.Raw)
			}
			if me := app.gql(nil, tok, "{ me { id } }", nil); me.Status != http.StatusUnauthorized {
				t.Fatal("revoked token works")
			}
			if r := app.gql(admin, "", `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": id}); r.Data["revokeApiToken"] != false {
				t.Fatalf("second revoke: %s", r.Raw)
			}
		})
		t.Run("revoke user sessions", func(t *testing.T) {
			r := app.gql(admin, "", `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": member.ID})
			if r.code() != "" || r.Data["revokeUserSessions"].(float64) != 1 {
				t.Fatalf("%s", r.Raw)
			}
			if me := app.gql(mem, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatal("revoked session works")
			}
			if r := app.gql(admin, "", `mutation { revokeUserSessions(userId: 999999) }`, nil); r.code() != "NOT_FOUND" {
				t.Fatalf("%s", r.Raw)
			}
		})
		for _, typ := range []string{"API_TOKEN_CREATED", "API_TOKEN_REVOKED", "SESSION_REVOKED"} {
			if app.countEvents(typ) == 0 {
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

func TestGraphQLCrossOrigin(t *testing.T) {
	db := storetest.SQLite(t)
	app := newApp(t, db, map[string]string{"CORS_ORIGINS": "https://app.example.com"})
	app.createUser("admin@example.com", adminPass, user.RoleADMIN)
	c := browser(t)
	app.login(c, "admin@example.com", adminPass)
	send := func(origin, site string) response {
		req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", stringsReader(`{"query":"{ me { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", site)
		return app.do(c, req)
	}
	if r := send("https://evil.example", "cross-site"); r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin: %d %s", r.Status, r.Body)
	}
	if r := send("https://app.example.com", "cross-site"); r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("listed origin: %d %v", r.Status, r.Header)
	}
	req, _ := http.NewRequest(http.MethodOptions, app.URL+"/graphql", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	if r := app.do(nil, req); r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
}
