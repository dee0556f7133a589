package auth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// sessionCookies are the session cookies r sets, in order.
func sessionCookies(r webtest.Response) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "community_session" {
			out = append(out, c)
		}
	}
	return out
}

// checkEmbedCookie fails unless c is the session cookie a framed page keeps: SameSite=None,
// Secure, Partitioned (CHIPS), HttpOnly, Path=/.
func checkEmbedCookie(t *testing.T, what string, c *http.Cookie) {
	t.Helper()
	if c == nil || c.SameSite != http.SameSiteNoneMode || !c.Secure || !c.Partitioned || !c.HttpOnly || c.Path != "/" ||
		!strings.Contains(c.Raw, "; Partitioned") || !strings.Contains(c.Raw, "; SameSite=None") {
		t.Fatalf("%s: session cookie %+v", what, c)
	}
}

// TestEmbedding: with embed origins set, the login pages, the playground and the API let them
// frame the answers (frame-ancestors, no X-Frame-Options), and the session cookie of every
// login is SameSite=None; Secure; Partitioned and is cleared with those attributes; with none,
// 'self' only and SameSite=Lax, as before. On SQLite and MariaDB, through HTTP.
func TestEmbedding(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)
		admin := app.SignedIn("admin@example.com", authtest.Password)
		secret := app.EnableJWT(admin)
		setOrigins := func(origins string) {
			t.Helper()
			r := app.GQL(admin, "", `mutation { updateAuthSettings(input: {embedOrigins: `+origins+`}) { embedOrigins } }`, nil)
			if len(r.Errors) > 0 {
				t.Fatalf("updateAuthSettings: %s", r.Raw)
			}
		}
		jwtLogin := func(sub string) webtest.Response {
			t.Helper()
			tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), authtest.Claims(map[string]any{
				"sub": sub, "email": sub + "@example.com", "name": "Member " + sub}), nil)
			r := app.SSOGet(webtest.Browser(t), tok, "/spaces", "")
			if r.Status != http.StatusSeeOther {
				t.Fatalf("JWT login: %d %s", r.Status, r.Body)
			}
			return r
		}
		gql := func(cookie *http.Cookie) webtest.Response {
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(`{"query":"{ me { email } }"}`))
			req.Header.Set("Content-Type", "application/json")
			if cookie != nil {
				req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
			}
			return app.Do(nil, req)
		}
		const pagePolicyEnd = "frame-ancestors 'self'; base-uri 'none'"

		t.Run("not embedded", func(t *testing.T) {
			for _, path := range []string{"/auth/login/direct", "/auth/login"} {
				r := app.Get(nil, path)
				if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, pagePolicyEnd) || r.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
					t.Fatalf("%s: CSP %q, X-Frame-Options %q", path, csp, r.Header.Get("X-Frame-Options"))
				}
			}
			if r := app.Get(admin, "/playground"); !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'self';") || r.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
				t.Fatalf("playground: %v", r.Header)
			}
			if r := gql(nil); r.Header.Get("Content-Security-Policy") != "frame-ancestors 'self'" {
				t.Fatalf("API answer: CSP %q", r.Header.Get("Content-Security-Policy"))
			}
			c := sessionCookies(jwtLogin("lax"))
			if len(c) != 1 || c[0].SameSite != http.SameSiteLaxMode || c[0].Partitioned || c[0].Secure {
				t.Fatalf("session cookie %+v", c)
			}
		})

		t.Run("embedded", func(t *testing.T) {
			setOrigins(`["https://app.example.com", "http://localhost:5173"]`)
			want := "frame-ancestors 'self' https://app.example.com http://localhost:5173"
			for _, path := range []string{"/auth/login/direct", "/auth/login", "/api/auth/sso?jwt=bad"} {
				r := app.Get(nil, path)
				if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want+"; base-uri 'none'") || r.Header.Get("X-Frame-Options") != "" {
					t.Fatalf("%s: CSP %q, X-Frame-Options %q", path, csp, r.Header.Get("X-Frame-Options"))
				}
			}
			if r := app.Get(admin, "/playground"); !strings.Contains(r.Header.Get("Content-Security-Policy"), want+";") ||
				!strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'self'") || r.Header.Get("X-Frame-Options") != "" {
				t.Fatalf("playground: %v", r.Header)
			}
			if r := gql(nil); r.Status != http.StatusOK || r.Header.Get("Content-Security-Policy") != want || r.Header.Get("X-Frame-Options") != "" {
				t.Fatalf("API answer: %d CSP %q", r.Status, r.Header.Get("Content-Security-Policy"))
			}

			// A JWT SSO login, and a direct one, set the cookie a framed page keeps.
			c := sessionCookies(jwtLogin("framed"))
			if len(c) != 1 {
				t.Fatalf("%d session cookies", len(c))
			}
			checkEmbedCookie(t, "JWT login", c[0])
			r := app.PostForm(webtest.Browser(t), "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {authtest.Password}})
			if d := sessionCookies(r); r.Status != http.StatusSeeOther || len(d) != 1 {
				t.Fatalf("direct login: %d %+v", r.Status, d)
			} else {
				checkEmbedCookie(t, "direct login", d[0])
			}
			if me := gql(c[0]); !strings.Contains(me.Body, `"email":"framed@example.com"`) {
				t.Fatalf("me with the partitioned cookie: %s", me.Body)
			}

			// Logout clears it with the same attributes, and the unpartitioned cookie too.
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/logout", nil)
			req.Header.Set("Origin", app.URL)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.AddCookie(&http.Cookie{Name: c[0].Name, Value: c[0].Value})
			r = app.Do(nil, req)
			cleared := sessionCookies(r)
			if r.Status != http.StatusSeeOther || len(cleared) != 2 {
				t.Fatalf("logout: %d %+v", r.Status, cleared)
			}
			if p := cleared[0]; p.MaxAge >= 0 || p.SameSite != http.SameSiteNoneMode || !p.Secure || !p.Partitioned {
				t.Fatalf("logout clears the partitioned cookie with %+v", p)
			}
			if l := cleared[1]; l.MaxAge >= 0 || l.SameSite != http.SameSiteLaxMode || l.Partitioned {
				t.Fatalf("logout clears the unpartitioned cookie with %+v", l)
			}
			if me := gql(c[0]); !strings.Contains(me.Body, `"me":null`) {
				t.Fatalf("me after logout: %s", me.Body)
			}
		})

		t.Run("turned off again", func(t *testing.T) {
			setOrigins(`[]`)
			if r := app.Get(nil, "/auth/login/direct"); !strings.Contains(r.Header.Get("Content-Security-Policy"), pagePolicyEnd) || r.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
				t.Fatalf("login page: %v", r.Header)
			}
			if c := sessionCookies(jwtLogin("again")); len(c) != 1 || c[0].Partitioned || c[0].SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie %+v", c)
			}
			if r := graphtest.Dig(app.GQL(admin, "", `{ authSettings { embedOrigins } }`, nil).Data, "authSettings", "embedOrigins"); r == nil || len(r.([]any)) != 0 {
				t.Fatalf("embedOrigins %v", r)
			}
		})
	})
}
