package oauth2sso_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// TestOAuth2PlainProviders signs members in through providers shaped like WordPress (WP OAuth
// Server) and Memberful, reached through their presets from the domain alone: no id_token, the
// member from the user info endpoint.
func TestOAuth2PlainProviders(t *testing.T) {
	for _, tc := range []struct {
		name      string
		provider  string
		authPath  string
		scope     string
		tokenPath string
		infoPath  string
		infoQuery string
		info      string
		want      map[string]any
	}{
		{
			name: "WordPress", provider: "WORDPRESS", authPath: "/oauth/authorize", scope: "basic",
			tokenPath: "/oauth/token", infoPath: "/oauth/me",
			info: `{"ID": 42, "user_login": "wpmember", "user_email": "WP.Member@Example.com", "display_name": "WP Member", "user_status": "0"}`,
			want: map[string]any{"externalId": "42", "email": "wp.member@example.com", "name": "WP Member", "username": "wpmember"},
		},
		{
			name: "Memberful", provider: "MEMBERFUL", authPath: "/oauth", scope: "",
			tokenPath: "/oauth/token", infoPath: "/api/graphql/member", infoQuery: "{currentMember{id email fullName username}}",
			info: `{"data": {"currentMember": {"id": "1234", "email": "m@example.com", "fullName": "Mem Ber", "username": "member1"}}}`,
			want: map[string]any{"externalId": "1234", "email": "m@example.com", "name": "Mem Ber", "username": "member1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotVerifier, gotAuth, gotBearer, gotQuery string
			mux := http.NewServeMux()
			mux.HandleFunc("POST "+tc.tokenPath, func(w http.ResponseWriter, r *http.Request) {
				_ = r.ParseForm()
				gotVerifier = r.PostForm.Get("code_verifier")
				if id, secret, ok := r.BasicAuth(); ok {
					gotAuth = id + ":" + secret
				} else {
					gotAuth = r.PostForm.Get("client_id") + ":" + r.PostForm.Get("client_secret")
				}
				if r.PostForm.Get("code") != "wp-code" || r.PostForm.Get("grant_type") != "authorization_code" {
					w.WriteHeader(http.StatusBadRequest)
					authtest.WriteJSON(w, map[string]any{"error": "invalid_grant"})
					return
				}
				authtest.WriteJSON(w, map[string]any{"access_token": "plain-at", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "plain-rt"})
			})
			mux.HandleFunc("GET "+tc.infoPath, func(w http.ResponseWriter, r *http.Request) {
				gotBearer = r.Header.Get("Authorization")
				gotQuery = r.URL.Query().Get("query")
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				_, _ = w.Write([]byte(tc.info))
			})
			srv := httptest.NewTLSServer(mux)
			t.Cleanup(srv.Close)

			db := storetest.SQLite(t)
			app := testserver.New(t, db, testserver.Options{Deps: routes.Deps{IdPClient: srv.Client()}})
			app.EnableOAuth2(app.AdminToken(), map[string]any{
				"enabled": true, "provider": tc.provider, "domain": strings.TrimPrefix(srv.URL, "https://"),
				"clientId": "plain-client", "clientSecret": "plain-secret",
			})
			c := webtest.Browser(t)
			r := app.Get(c, "/auth/oauth2/login?redirect_uri=/forum")
			loc, err := url.Parse(r.Header.Get("Location"))
			if r.Status != http.StatusSeeOther || err != nil || loc.Scheme+"://"+loc.Host+loc.Path != srv.URL+tc.authPath {
				t.Fatalf("login start: %d %q", r.Status, r.Header.Get("Location"))
			}
			q := loc.Query()
			if q.Get("scope") != tc.scope || q.Get("code_challenge_method") != "S256" || q.Get("nonce") != "" {
				t.Fatalf("authorization request: %v", q)
			}
			r = app.Callback(c, url.Values{"code": {"wp-code"}, "state": {q.Get("state")}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/forum" {
				t.Fatalf("callback: %d %s", r.Status, r.Body)
			}
			if gotVerifier == "" || gotAuth != "plain-client:plain-secret" || gotBearer != "Bearer plain-at" {
				t.Fatalf("token request verifier %q auth %q; user info auth %q", gotVerifier, gotAuth, gotBearer)
			}
			if gotQuery != tc.infoQuery {
				t.Fatalf("user info query %q, want %q", gotQuery, tc.infoQuery)
			}
			me := app.GQL(c, "", "{ me { externalId email name username } }", nil)
			for k, v := range tc.want {
				if got := graphtest.Dig(me.Data, "me", k); got != v {
					t.Errorf("me.%s = %v, want %v", k, got, v)
				}
			}
			if n := db.Client.User.Query().Where(user.ExternalID(tc.want["externalId"].(string))).CountX(context.Background()); n != 1 {
				t.Fatalf("%d users", n)
			}
		})
	}
}
