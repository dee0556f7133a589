package jwtsso_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// appLogin is the answer of POST /api/auth/sso/token.
type appLogin struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	User      struct {
		ID string `json:"id"`
	} `json:"user"`
}

// tokenPost posts jwt to the app token endpoint, as a form or as JSON.
func tokenPost(app *authtest.App, jwt string, asJSON bool) webtest.Response {
	app.T.Helper()
	if asJSON {
		b, _ := json.Marshal(map[string]string{"jwt": jwt})
		return app.SSOTokenPost("application/json; charset=utf-8", string(b), "")
	}
	return app.SSOTokenPost("application/x-www-form-urlencoded", url.Values{"jwt": {jwt}}.Encode(), "")
}

// appToken signs the member of claims in as an app and returns the bearer token it gets.
func appToken(t *testing.T, app *authtest.App, key []byte, claims map[string]any) string {
	t.Helper()
	r := tokenPost(app, authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(claims), nil), false)
	var l appLogin
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &l) != nil || l.Token == "" {
		t.Fatalf("token: %d %s", r.Status, r.Body)
	}
	return l.Token
}

// crossSite sends a GraphQL query to /graphql as a page on another site would, with c's cookies
// (a client without a jar when nil) and the bearer token when not empty.
func crossSite(t *testing.T, app *authtest.App, c *http.Client, bearer, query string) graphtest.Result {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return graphtest.Do(t, c, req)
}

// bearerLogout posts to /auth/logout with the bearer token, from another site (an app's page).
func bearerLogout(app *authtest.App, method, bearer string) webtest.Response {
	app.T.Helper()
	req, _ := http.NewRequest(method, app.URL+"/auth/logout", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return app.Do(nil, req)
}

func TestJWTSSOAppToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		ctx := context.Background()
		var issued []string

		for _, asJSON := range []bool{false, true} {
			name := map[bool]string{false: "form", true: "JSON"}[asJSON]
			t.Run(name, func(t *testing.T) {
				sub := "app-" + name
				jwtTok := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": sub, "email": sub + "@example.com"}), nil)
				before := time.Now()
				r := tokenPost(app, jwtTok, asJSON)
				if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" ||
					r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Set-Cookie") != "" || r.Header.Get("Location") != "" {
					t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
				}
				var l appLogin
				if err := json.Unmarshal([]byte(r.Body), &l); err != nil {
					t.Fatal(err)
				}
				issued = append(issued, l.Token)
				if !strings.HasPrefix(l.Token, auth.SessionTokenPrefix) || strings.HasPrefix(l.Token, auth.APITokenPrefix) || strings.Contains(r.Body, jwtTok) {
					t.Fatalf("token %q", l.Token)
				}
				lifetime := app.Cfg.SessionLifetime
				if l.ExpiresAt.Before(before.Add(lifetime).Add(-time.Second)) || l.ExpiresAt.After(time.Now().Add(lifetime)) {
					t.Fatalf("expiresAt %v, lifetime %v", l.ExpiresAt, lifetime)
				}
				var raw map[string]any
				_ = json.Unmarshal([]byte(r.Body), &raw)
				if _, err := time.Parse(time.RFC3339, raw["expiresAt"].(string)); err != nil {
					t.Fatalf("expiresAt is not RFC 3339: %v", err)
				}

				// The token is a JWT session, kept as its hash only, and works as a bearer.
				sess := db.Client.Session.Query().Where(session.TokenHash(auth.HashToken(l.Token))).OnlyX(ctx)
				if sess.Method != session.MethodJWT || bytes.Contains(sess.TokenHash, []byte(l.Token)) {
					t.Fatalf("session %+v", sess)
				}
				me := app.GQL(nil, l.Token, "{ me { id externalId } }", nil)
				if graphtest.Dig(me.Data, "me", "externalId") != sub || graphtest.Dig(me.Data, "me", "id") != l.User.ID ||
					l.User.ID == "" || strings.Contains(me.Raw, l.Token) {
					t.Fatalf("me %s, user %q", me.Raw, l.User.ID)
				}
			})
		}

		t.Run("sliding lifetime", func(t *testing.T) {
			tok := appToken(t, app, key, map[string]any{"sub": "slide", "email": "slide@example.com"})
			hash := auth.HashToken(tok)
			// Last used two hours ago, a minute left: a use gives it the whole lifetime again.
			db.Client.Session.Update().Where(session.TokenHash(hash)).
				SetLastSeenAt(time.Now().Add(-2 * time.Hour)).SetExpiresAt(time.Now().Add(time.Minute)).ExecX(ctx)
			if me := app.GQL(nil, tok, "{ me { externalId } }", nil); graphtest.Dig(me.Data, "me", "externalId") != "slide" {
				t.Fatalf("%s", me.Raw)
			}
			sess := db.Client.Session.Query().Where(session.TokenHash(hash)).OnlyX(ctx)
			if sess.ExpiresAt.Before(time.Now().Add(app.Cfg.SessionLifetime - time.Hour)) {
				t.Fatalf("expiry did not slide: %v", sess.ExpiresAt)
			}
			// Past its expiry it is refused.
			db.Client.Session.Update().Where(session.TokenHash(hash)).SetExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
			if me := app.GQL(nil, tok, "{ me { id } }", nil); me.Status != http.StatusUnauthorized || me.Code() != "UNAUTHENTICATED" {
				t.Fatalf("expired: %d %s", me.Status, me.Raw)
			}
		})

		t.Run("session and API tokens stay apart", func(t *testing.T) {
			// A browser's cookie token is no bearer token, and a session token with the API
			// token prefix is no API token.
			b := webtest.Browser(t)
			if r := app.SSOGet(b, authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(nil), nil), "/", ""); r.Status != http.StatusSeeOther {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			cookie := sessionCookie(b, app).Value
			tok := appToken(t, app, key, nil)
			for _, bearer := range []string{cookie, auth.APITokenPrefix + strings.TrimPrefix(tok, auth.SessionTokenPrefix)} {
				if me := app.GQL(nil, bearer, "{ me { id } }", nil); me.Status != http.StatusUnauthorized {
					t.Fatalf("%q: %d %s", bearer, me.Status, me.Raw)
				}
			}
			// The app's login left the browser's session alone, and API tokens still work.
			if me := app.GQL(b, "", "{ me { externalId } }", nil); graphtest.Dig(me.Data, "me", "externalId") != "cust-1" {
				t.Fatalf("%s", me.Raw)
			}
			if me := app.GQL(nil, c.Token, "{ me { role } }", nil); graphtest.Dig(me.Data, "me", "role") != "ADMIN" {
				t.Fatalf("%s", me.Raw)
			}
		})

		if n := db.Client.SecurityEvent.Query().Where(securityevent.Type("LOGIN_SUCCEEDED"), securityevent.Method("JWT")).CountX(ctx); n != 5 {
			t.Fatalf("LOGIN_SUCCEEDED events = %d, want 5", n)
		}
		for _, tok := range issued {
			if strings.Contains(app.Logs.String(), tok) || strings.Contains(app.Logs.String(), strings.TrimPrefix(tok, auth.SessionTokenPrefix)) {
				t.Fatal("a session token reached the log")
			}
		}
	})
}

// sessionCookie is the session cookie b holds for app.
func sessionCookie(b *http.Client, app *authtest.App) *http.Cookie {
	u, _ := url.Parse(app.URL)
	for _, c := range b.Jar.Cookies(u) {
		if c.Name == "community_session" {
			return c
		}
	}
	app.T.Fatal("no session cookie")
	return nil
}

func TestJWTSSOAppTokenErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		ctx := context.Background()
		sign := func(over map[string]any) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(over), nil)
		}
		form := func(tok string) string { return url.Values{"jwt": {tok}}.Encode() }
		const formType, jsonType = "application/x-www-form-urlencoded", "application/json"

		// A member whose email a newcomer claims, a suspended member, and a used jti.
		db.Client.User.Create().SetEmail("taken@example.com").SetUsername("taken").SetExternalID("crm-1").ExecX(ctx)
		db.Client.User.Create().SetEmail("sus@example.com").SetUsername("sus").SetExternalID("sus-1").SetStatus(user.StatusSUSPENDED).ExecX(ctx)
		once := sign(map[string]any{"jti": "app-once"})
		if r := tokenPost(app, once, true); r.Status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.Status, r.Body)
		}
		old := time.Now().Add(-time.Hour).Unix()

		tests := []struct {
			name, contentType, body string
			status                  int
			code                    string
		}{
			{"invalid token", formType, form("not.a.token"), 401, "INVALID_TOKEN"},
			{"wrong secret", jsonType, `{"jwt":"` + authtest.Sign(t, jwt.SigningMethodHS256, []byte("other"), authtest.Claims(nil), nil) + `"}`, 401, "INVALID_TOKEN"},
			{"expired", formType, form(sign(map[string]any{"exp": old, "iat": old - 60})), 401, "TOKEN_EXPIRED"},
			{"replayed", jsonType, `{"jwt":"` + once + `"}`, 401, "TOKEN_REPLAYED"},
			{"missing claim", formType, form(sign(map[string]any{"email": nil})), 400, "MISSING_CLAIM"},
			{"invalid claim", formType, form(sign(map[string]any{"email": "pat at example"})), 400, "INVALID_CLAIM"},
			{"conflict", formType, form(sign(map[string]any{"sub": "someone-else", "email": "taken@example.com"})), 409, "SSO_CONFLICT"},
			{"suspended", formType, form(sign(map[string]any{"sub": "sus-1", "email": "sus@example.com"})), 403, "USER_SUSPENDED"},
			{"no body", formType, "", 400, "INVALID_REQUEST"},
			{"empty field", formType, "jwt=", 400, "INVALID_REQUEST"},
			{"empty JSON", jsonType, `{}`, 400, "INVALID_REQUEST"},
			{"malformed JSON", jsonType, `{"jwt":`, 400, "INVALID_REQUEST"},
			{"JSON not a string", jsonType, `{"jwt":7}`, 400, "INVALID_REQUEST"},
			{"data after the JSON", jsonType, `{"jwt":"a"} {"jwt":"b"}`, 400, "INVALID_REQUEST"},
			{"oversized form", formType, form(strings.Repeat("x", jwtsso.MaxTokenBody)), 400, "INVALID_REQUEST"},
			{"oversized JSON", jsonType, `{"jwt":"` + strings.Repeat("x", jwtsso.MaxTokenBody) + `"}`, 400, "INVALID_REQUEST"},
			{"wrong content type", "text/plain", "jwt=" + sign(nil), 400, "INVALID_REQUEST"},
			{"no content type", "", form(sign(nil)), 400, "INVALID_REQUEST"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before, sessions := storetest.Snapshot(t, db), db.Client.Session.Query().CountX(ctx)
				// Errors are JSON whatever the Accept header asks for.
				r := app.SSOTokenPost(tt.contentType, tt.body, "text/html")
				var e struct {
					Error struct{ Code, Message string }
				}
				if r.Status != tt.status || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error.Code != tt.code || e.Error.Message == "" {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
				if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Set-Cookie") != "" {
					t.Fatalf("headers %v", r.Header)
				}
				if len(tt.body) > 20 && strings.Contains(r.Body, tt.body[len(tt.body)-20:]) {
					t.Fatal("the answer echoes the token")
				}
				if storetest.Snapshot(t, db) != before || db.Client.Session.Query().CountX(ctx) != sessions {
					t.Fatal("data changed")
				}
			})
		}

		t.Run("the token as a bearer", func(t *testing.T) {
			// A JWT is not a bearer session token: 401, in this route's error shape too.
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/api/auth/sso/token", strings.NewReader(form(sign(nil))))
			req.Header.Set("Content-Type", formType)
			req.Header.Set("Authorization", "Bearer "+sign(nil))
			r := app.Do(webtest.Browser(t), req)
			var e struct {
				Error struct{ Code, Message string }
			}
			if r.Status != http.StatusUnauthorized || json.Unmarshal([]byte(r.Body), &e) != nil || e.Error.Code != "UNAUTHENTICATED" || e.Error.Message == "" {
				t.Fatalf("got %d %s", r.Status, r.Body)
			}
		})

		t.Run("disabled", func(t *testing.T) {
			if r := app.GQL(c.Admin, "", `mutation { updateJwtSsoSettings(input: {enabled: false}) { jwtSso { enabled } } }`, nil); r.Code() != "" {
				t.Fatal(r.Raw)
			}
			r := tokenPost(app, sign(nil), false)
			if r.Status != http.StatusNotFound || !strings.Contains(r.Body, `"code":"SSO_DISABLED"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		if n := db.Client.SecurityEvent.Query().Where(securityevent.Type("LOGIN_FAILED"), securityevent.Method("JWT")).CountX(ctx); n != len(tests)+1 {
			t.Fatalf("LOGIN_FAILED events = %d, want %d", n, len(tests)+1)
		}
		if strings.Contains(app.Logs.String(), once[len(once)-20:]) {
			t.Fatal("a token reached the log")
		}
	})
}

func TestJWTSSOAppTokenEnds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		ctx := context.Background()
		var issued []string
		token := func(sub string) string {
			tok := appToken(t, app, key, map[string]any{"sub": sub, "email": sub + "@example.com"})
			issued = append(issued, tok)
			return tok
		}
		signedIn := func(tok string) bool {
			t.Helper()
			me := app.GQL(nil, tok, "{ me { id } }", nil)
			switch {
			case me.Status == http.StatusOK && graphtest.Dig(me.Data, "me", "id") != nil:
				return true
			case me.Status == http.StatusUnauthorized && me.Code() == "UNAUTHENTICATED":
				return false
			}
			t.Fatalf("%d %s", me.Status, me.Raw)
			return false
		}

		t.Run("logout", func(t *testing.T) {
			tok := token("out")
			events := app.CountEvents("LOGOUT")
			r := bearerLogout(app, http.MethodPost, tok)
			if r.Status != http.StatusNoContent || r.Header.Get("Location") != "" || r.Header.Get("Set-Cookie") != "" || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
			}
			if signedIn(tok) || app.CountEvents("LOGOUT") != events+1 ||
				db.Client.Session.Query().Where(session.TokenHash(auth.HashToken(tok))).ExistX(ctx) {
				t.Fatal("the session outlived its logout")
			}
			// Once ended, the token is refused like any invalid bearer.
			if r := bearerLogout(app, http.MethodPost, tok); r.Status != http.StatusUnauthorized {
				t.Fatalf("second logout: %d %s", r.Status, r.Body)
			}
			// GET works too for a bearer: a link cannot carry one.
			tok = token("out-get")
			if r := bearerLogout(app, http.MethodGet, tok); r.Status != http.StatusNoContent || signedIn(tok) {
				t.Fatalf("GET logout: %d %s", r.Status, r.Body)
			}
		})

		t.Run("logout with an API token is refused", func(t *testing.T) {
			r := bearerLogout(app, http.MethodPost, c.Token)
			if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `"code":"INVALID_REQUEST"`) || !signedIn(c.Token) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("a cookie logout from another site is still refused", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/logout", nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			if r := app.Do(c.Member, req); r.Status != http.StatusForbidden {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if me := app.GQL(c.Member, "", "{ me { email } }", nil); graphtest.Dig(me.Data, "me", "email") != "member@example.com" {
				t.Fatalf("%s", me.Raw)
			}
		})

		t.Run("revokeUserSessions", func(t *testing.T) {
			tok := token("revoked")
			id := db.Client.User.Query().Where(user.ExternalID("revoked")).OnlyX(ctx).ID
			r := app.GQL(c.Admin, "", `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": id})
			if r.Code() != "" || r.Data["revokeUserSessions"].(float64) != 1 || signedIn(tok) {
				t.Fatalf("%s", r.Raw)
			}
		})

		t.Run("suspension", func(t *testing.T) {
			tok := token("suspended")
			if !signedIn(tok) {
				t.Fatal("not signed in")
			}
			id := db.Client.User.Query().Where(user.ExternalID("suspended")).OnlyX(ctx).ID
			r := app.GQL(c.Admin, "", graphtest.UpdateUser, map[string]any{"id": id, "in": map[string]any{"status": "SUSPENDED"}})
			if r.Code() != "" || signedIn(tok) {
				t.Fatalf("%s", r.Raw)
			}
		})

		t.Run("cross-site requests", func(t *testing.T) {
			tok := token("crossing")
			// A bearer request from another site passes the cookie CSRF check...
			if me := crossSite(t, app, nil, tok, "{ me { externalId } }"); graphtest.Dig(me.Data, "me", "externalId") != "crossing" {
				t.Fatalf("bearer: %d %s", me.Status, me.Raw)
			}
			// ...a cookie request from another site does not, with or without a bearer beside it.
			for _, bearer := range []string{"", tok} {
				if me := crossSite(t, app, c.Member, bearer, "{ me { email } }"); me.Status != http.StatusForbidden || me.Code() != "FORBIDDEN" {
					t.Fatalf("cookie (bearer %t): %d %s", bearer != "", me.Status, me.Raw)
				}
			}
		})

		// No token reaches the log or the security log.
		events := db.Client.SecurityEvent.Query().AllX(ctx)
		ev, _ := json.Marshal(events)
		for _, tok := range issued {
			secret := strings.TrimPrefix(tok, auth.SessionTokenPrefix)
			if strings.Contains(app.Logs.String(), secret) || bytes.Contains(ev, []byte(secret)) {
				t.Fatal("a session token was written down")
			}
		}
	})
}
