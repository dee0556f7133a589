package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// TestRequestLimitsThroughServer sends the attacks of the abuse-resistance review through the
// whole server, on both backends: anonymous, and with an admin's session cookie. Each is
// refused by its cheap limit, and the server answers normally afterwards.
func TestRequestLimitsThroughServer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, map[string]string{"GRAPHQL_TIMEOUT": "5s"})
		c := app.client().Callers()
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
				if r.Code() != tc.anonymous || r.Status != tc.anonymousStatus || len(r.Errors) != 1 {
					t.Fatalf("anonymous: status %d: %.300s", r.Status, r.Raw)
				}
				r = app.gql(c.Admin, "", tc.query, nil)
				if r.Code() != tc.admin || r.Status != http.StatusUnprocessableEntity || len(r.Errors) != 1 {
					t.Fatalf("admin: status %d: %.300s", r.Status, r.Raw)
				}
			})
		}
		if r := app.gql(c.Admin, "", "{ me { email } }", nil); graphtest.Dig(r.Data, "me", "email") != "admin@example.com" {
			t.Fatalf("after the attacks: %.300s", r.Raw)
		}
		if r := app.gql(anonymous, "", "{ me { email } loginOptions { emailPasswordEnabled } }", nil); len(r.Errors) != 0 {
			t.Fatalf("anonymous after the attacks: %.300s", r.Raw)
		}
	})
}

func TestGraphQLCrossOrigin(t *testing.T) {
	db := storetest.SQLite(t)
	app := newApp(t, db, map[string]string{"CORS_ORIGINS": "https://app.example.com"})
	app.createUser("admin@example.com", adminPass, user.RoleADMIN)
	c := browser(t)
	app.login(c, "admin@example.com", adminPass)
	send := func(origin, site string) webtest.Response {
		req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(`{"query":"{ me { id } }"}`))
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
	// A bearer token without the session cookie is no cookie request: it passes from any site
	// (auth.Sessions.CrossOrigin; the app session tokens are tested in auth/jwtsso).
	tok, _ := graphtest.Dig(app.gql(c, "", graphtest.CreateAPIToken, map[string]any{"name": "app"}).Data, "createApiToken", "token").(string)
	req, _ = http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(`{"query":"{ me { email } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Authorization", "Bearer "+tok)
	if r := app.do(nil, req); r.Status != 200 || !strings.Contains(r.Body, `"email":"admin@example.com"`) {
		t.Fatalf("bearer from another site: %d %s", r.Status, r.Body)
	}
	// The app token endpoint is served (JWT SSO is off here).
	req, _ = http.NewRequest(http.MethodPost, app.URL+"/api/auth/sso/token", strings.NewReader(`{"jwt":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	if r := app.do(nil, req); r.Status != http.StatusNotFound || !strings.Contains(r.Body, `"code":"SSO_DISABLED"`) {
		t.Fatalf("token endpoint: %d %s", r.Status, r.Body)
	}
}

// TestGraphQLEmbedOrigins: the admin's embed origins call the API with credentials as
// CORS_ORIGINS do (preflight, Access-Control-Allow-Origin naming the origin, never "*", past the
// cross-origin check), from the moment they are set and no longer once they are cleared; other
// origins stay refused. On SQLite and MariaDB.
func TestGraphQLEmbedOrigins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, map[string]string{"CORS_ORIGINS": "https://app.example.com"})
		app.createUser("admin@example.com", adminPass, user.RoleADMIN)
		c := browser(t)
		app.login(c, "admin@example.com", adminPass)
		send := func(origin string) webtest.Response {
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(`{"query":"{ me { email } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			return app.do(c, req)
		}
		preflight := func(origin string) webtest.Response {
			req, _ := http.NewRequest(http.MethodOptions, app.URL+"/graphql", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			return app.do(nil, req)
		}
		const host = "https://host.example.org"
		if r := send(host); r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("before embedding: %d %v", r.Status, r.Header)
		}
		setOrigins := func(list string) {
			t.Helper()
			if r := app.gql(c, "", `mutation { updateAuthSettings(input: {embedOrigins: `+list+`}) { embedOrigins } }`, nil); len(r.Errors) > 0 {
				t.Fatal(r.Raw)
			}
		}
		setOrigins(`["https://HOST.example.org"]`)
		for _, origin := range []string{host, "https://app.example.com"} {
			r := send(origin)
			if r.Status != 200 || !strings.Contains(r.Body, "admin@example.com") || r.Header.Get("Access-Control-Allow-Origin") != origin ||
				r.Header.Get("Access-Control-Allow-Credentials") != "true" {
				t.Fatalf("%s: %d %v %s", origin, r.Status, r.Header, r.Body)
			}
			if p := preflight(origin); p.Status != http.StatusNoContent || p.Header.Get("Access-Control-Allow-Origin") != origin || p.Header.Get("Access-Control-Allow-Methods") == "" {
				t.Fatalf("%s preflight: %d %v", origin, p.Status, p.Header)
			}
		}
		if r := send("https://evil.example"); r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign origin: %d %v", r.Status, r.Header)
		}
		if p := preflight("https://evil.example"); p.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("foreign preflight: %v", p.Header)
		}
		setOrigins(`[]`)
		if r := send(host); r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("after clearing: %d %v", r.Status, r.Header)
		}
	})
}
