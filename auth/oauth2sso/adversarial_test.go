package oauth2sso_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// TestOAuth2AdversarialIDTokens attacks the callback with id_tokens from a provider the test
// controls. Every refused case leaves no session, no user and no change, with the right code.
func TestOAuth2AdversarialIDTokens(t *testing.T) {
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		token    func(idp *authtest.IdP, nonce string) string
		userInfo http.HandlerFunc
		code     string // "" for success
	}{
		{name: "valid", token: func(idp *authtest.IdP, n string) string { return idp.Sign(idp.Claims(n, nil)) }},
		{name: "several audiences with azp", token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"aud": []string{idp.ClientID, "api"}, "azp": idp.ClientID}))
		}},
		{name: "bad signature", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: "key-1"}}, idp.Claims(n, nil), nil)
		}},
		{name: "alg none", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return authtest.Unsigned(t, map[string]any{"alg": "none", "typ": "JWT", "kid": "key-1"}, idp.Claims(n, nil))
		}},
		{name: "HS256 signed with the public key", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			der, err := x509.MarshalPKIXPublicKey(idp.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			return authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.HS256, Key: der}, idp.Claims(n, nil), map[jose.HeaderKey]any{"kid": "key-1"})
		}},
		{name: "wrong issuer", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"iss": "https://evil.example"}))
		}},
		{name: "issuer with a trailing slash", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"iss": idp.Issuer + "/"}))
		}},
		{name: "wrong audience", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"aud": "another-client"}))
		}},
		{name: "missing audience", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"aud": nil}))
		}},
		{name: "several audiences without azp", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"aud": []string{idp.ClientID, "api"}}))
		}},
		{name: "azp of another client", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"azp": "another-client"}))
		}},
		{name: "expired", code: auth.CodeTokenExpired, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"exp": time.Now().Add(-time.Hour).Unix(), "iat": time.Now().Add(-2 * time.Hour).Unix()}))
		}},
		{name: "missing iat", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"iat": nil}))
		}},
		{name: "missing sub", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"sub": nil}))
		}},
		{name: "nonce mismatch", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims("another-nonce", nil))
		}},
		{name: "missing nonce", code: auth.CodeInvalidToken, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"nonce": nil}))
		}},
		{name: "no id_token", code: auth.CodeIDPError, token: func(*authtest.IdP, string) string { return "" }},
		{name: "not a JWT", code: auth.CodeInvalidToken, token: func(*authtest.IdP, string) string { return "not.a.jwt" }},
		{name: "user info of another subject", code: auth.CodeInvalidToken,
			token: func(idp *authtest.IdP, n string) string {
				return idp.Sign(idp.Claims(n, map[string]any{"email": nil}))
			},
			userInfo: func(w http.ResponseWriter, r *http.Request) {
				authtest.WriteJSON(w, map[string]any{"sub": "idp-user-2", "email": "mallory@example.com", "name": "Mallory"})
			}},
		{name: "user info of the subject padded with a space", code: auth.CodeInvalidToken,
			token: func(idp *authtest.IdP, n string) string {
				return idp.Sign(idp.Claims(n, map[string]any{"email": nil}))
			},
			userInfo: func(w http.ResponseWriter, r *http.Request) {
				authtest.WriteJSON(w, map[string]any{"sub": "idp-user-1 ", "email": "mallory@example.com", "name": "Mallory"})
			}},
		{name: "user info is not JSON", code: auth.CodeIDPError,
			token: func(idp *authtest.IdP, n string) string { return idp.Sign(idp.Claims(n, map[string]any{"name": nil})) },
			userInfo: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte("<html>login</html>"))
			}},
		{name: "user info fails", code: auth.CodeIDPUnavailable,
			token:    func(idp *authtest.IdP, n string) string { return idp.Sign(idp.Claims(n, map[string]any{"name": nil})) },
			userInfo: func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusBadGateway) }},
		{name: "user info too large", code: auth.CodeIDPError,
			token: func(idp *authtest.IdP, n string) string { return idp.Sign(idp.Claims(n, map[string]any{"name": nil})) },
			userInfo: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"sub":"idp-user-1","pad":"` + strings.Repeat("x", 2<<20) + `"}`))
			}},
		{name: "email not verified for an existing member", code: auth.CodeEmailNotVerified, token: func(idp *authtest.IdP, n string) string {
			return idp.Sign(idp.Claims(n, map[string]any{"email": "existing@example.com", "email_verified": false}))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			idp := authtest.StartIdP(t)
			idp.IDToken = func(nonce string) string { return tc.token(idp, nonce) }
			idp.UserInfo = tc.userInfo
			db := storetest.SQLite(t)
			app := testserver.New(t, db, testserver.Options{})
			admin := app.AdminToken()
			app.EnableOAuth2(admin, idp.Settings())
			app.CreateUser("existing@example.com", "", "MEMBER")
			before := storetest.Snapshot(t, db)
			failures := app.CountEvents(auth.EventLoginFailed)

			c := webtest.Browser(t)
			state := idp.Begin(t, app, c)
			r := app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}})
			if tc.code == "" {
				if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/after" {
					t.Fatalf("want a sign-in: %d %s", r.Status, r.Body)
				}
				if me := app.GQL(c, "", "{ me { externalId email } }", nil); graphtest.Dig(me.Data, "me", "externalId") != "idp-user-1" {
					t.Fatalf("me: %s", me.Raw)
				}
				return
			}
			if got := authtest.ErrorCode(r.Body); got != tc.code {
				t.Fatalf("code = %q (%d %s), want %s", got, r.Status, r.Body, tc.code)
			}
			if want := (&auth.SSOError{Code: tc.code}).Status(); r.Status != want {
				t.Errorf("status %d, want %d", r.Status, want)
			}
			for _, ck := range r.Header.Values("Set-Cookie") {
				if strings.HasPrefix(ck, "community_session=") && !strings.Contains(ck, "Max-Age=0") {
					t.Fatalf("a session cookie was set: %s", ck)
				}
			}
			if after := storetest.Snapshot(t, db); after != before {
				t.Fatalf("data changed:\n%s\n→\n%s", before, after)
			}
			if n, _ := db.Client.Session.Query().Count(ctx); n != 0 {
				t.Fatalf("%d sessions", n)
			}
			if app.CountEvents(auth.EventLoginFailed) != failures+1 {
				t.Fatal("no LOGIN_FAILED event")
			}
			if strings.Contains(app.Logs.String(), "good-code") {
				t.Fatal("the authorization code reached the log")
			}
		})
	}
}

// TestOAuth2CallbackChecksStateFirst: a missing or tampered flow cookie and a wrong state are
// answered first, even when the provider's error comes with them, then the provider's error, all
// before any request to the provider; while OAuth2 is off a callback is SSO_DISABLED.
func TestOAuth2CallbackChecksStateFirst(t *testing.T) {
	idp := authtest.StartIdP(t)
	db := storetest.SQLite(t)
	app := testserver.New(t, db, testserver.Options{})
	admin := app.AdminToken()
	app.EnableOAuth2(admin, idp.Settings())

	for _, tc := range []struct {
		name  string
		setup func(c *http.Client) url.Values
		code  string
	}{
		{"provider error", func(c *http.Client) url.Values {
			return url.Values{"error": {"access_denied"}, "error_description": {"<script>alert(1)</script>"}, "state": {idp.Begin(t, app, c)}}
		}, auth.CodeIDPError},
		{"provider error without state", func(c *http.Client) url.Values {
			idp.Begin(t, app, c)
			return url.Values{"error": {"access_denied"}}
		}, auth.CodeInvalidState},
		{"provider error with a forged state", func(c *http.Client) url.Values {
			idp.Begin(t, app, c)
			return url.Values{"error": {"access_denied"}, "state": {"forged"}}
		}, auth.CodeInvalidState},
		{"no flow cookie", func(c *http.Client) url.Values {
			state := idp.Begin(t, app, c)
			return url.Values{"code": {"good-code"}, "state": {state}}
		}, auth.CodeInvalidState},
		{"state mismatch", func(c *http.Client) url.Values {
			idp.Begin(t, app, c)
			return url.Values{"code": {"good-code"}, "state": {"forged"}}
		}, auth.CodeInvalidState},
		{"no state", func(c *http.Client) url.Values {
			idp.Begin(t, app, c)
			return url.Values{"code": {"good-code"}}
		}, auth.CodeInvalidState},
		{"no code", func(c *http.Client) url.Values {
			return url.Values{"state": {idp.Begin(t, app, c)}}
		}, auth.CodeInvalidRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := webtest.Browser(t)
			q := tc.setup(c)
			if tc.name == "no flow cookie" {
				c = webtest.Browser(t) // another browser: the callback carries no cookie
			}
			calls := idp.TokenCalls.Load()
			r := app.Callback(c, q)
			if got := authtest.ErrorCode(r.Body); got != tc.code {
				t.Fatalf("code %q (%d %s), want %s", got, r.Status, r.Body, tc.code)
			}
			if idp.TokenCalls.Load() != calls {
				t.Fatal("the token endpoint was called")
			}
		})
	}

	t.Run("tampered flow cookie", func(t *testing.T) {
		c := webtest.Browser(t)
		state := idp.Begin(t, app, c)
		u, _ := url.Parse(app.URL)
		for _, ck := range c.Jar.Cookies(u) {
			if ck.Name == "community_oauth2_flow" {
				b := []byte(ck.Value)
				b[len(b)/2] ^= 1
				ck.Value = string(b)
				c.Jar.SetCookies(u, []*http.Cookie{ck})
			}
		}
		calls := idp.TokenCalls.Load()
		if r := app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}}); authtest.ErrorCode(r.Body) != auth.CodeInvalidState {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if idp.TokenCalls.Load() != calls {
			t.Fatal("the token endpoint was called")
		}
	})

	t.Run("a callback works once", func(t *testing.T) {
		c := webtest.Browser(t)
		state := idp.Begin(t, app, c)
		if r := app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}}); r.Status != http.StatusSeeOther {
			t.Fatalf("first: %d %s", r.Status, r.Body)
		}
		if r := app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}}); authtest.ErrorCode(r.Body) != auth.CodeInvalidState {
			t.Fatalf("replayed callback: %d %s", r.Status, r.Body)
		}
	})

	t.Run("the page escapes the provider's words", func(t *testing.T) {
		c := webtest.Browser(t)
		q := url.Values{"error": {"<b>x</b>"}, "state": {idp.Begin(t, app, c)}}
		req, _ := http.NewRequest(http.MethodGet, app.URL+"/auth/oauth2/callback?"+q.Encode(), nil)
		r := app.Do(c, req)
		if r.Status != http.StatusBadGateway || strings.Contains(r.Body, "<b>x</b>") || !strings.Contains(r.Body, "IDP_ERROR") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})

	t.Run("OAuth2 turned off", func(t *testing.T) {
		c := webtest.Browser(t)
		state := idp.Begin(t, app, c)
		// An admin who can still sign in with a password, so that OAuth2 may be turned off.
		app.CreateUser("owner@example.com", authtest.Password, user.RoleADMIN)
		r := app.GQL(nil, admin, `mutation { updateOAuth2Settings(input: {enabled: false}) { oauth2 { enabled } } }`, nil)
		if r.Code() != "" {
			t.Fatalf("%s", r.Raw)
		}
		calls := idp.TokenCalls.Load()
		for _, q := range []url.Values{{"code": {"x"}, "state": {"y"}}, {"error": {"access_denied"}}, {"code": {"good-code"}, "state": {state}}} {
			if r := app.Callback(webtest.Browser(t), q); r.Status != http.StatusNotFound || authtest.ErrorCode(r.Body) != auth.CodeSSODisabled {
				t.Fatalf("%v: %d %s", q, r.Status, r.Body)
			}
		}
		if r := app.Callback(c, url.Values{"error": {"access_denied"}, "state": {state}}); authtest.ErrorCode(r.Body) != auth.CodeSSODisabled {
			t.Fatalf("the browser's own flow with the provider's error: %d %s", r.Status, r.Body)
		}
		if idp.TokenCalls.Load() != calls {
			t.Fatal("the token endpoint was called")
		}
	})
}

// TestOAuth2KeyRotation: a token signed with a key the community has not seen makes it fetch the
// key set again, and the rotated key is accepted; an unknown key that is not published is not.
func TestOAuth2KeyRotation(t *testing.T) {
	idp := authtest.StartIdP(t)
	clock := &authtest.Clock{}
	app := testserver.New(t, storetest.SQLite(t), testserver.Options{Deps: routes.Deps{Now: clock.Now}})
	app.EnableOAuth2(app.AdminToken(), idp.Settings())
	login := func() webtest.Response {
		c := webtest.Browser(t)
		state := idp.Begin(t, app, c)
		return app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}})
	}
	if r := login(); r.Status != http.StatusSeeOther {
		t.Fatalf("first login: %d %s", r.Status, r.Body)
	}
	fetched := idp.JWKSCalls.Load()
	// The key set is cached: another login with the same key fetches nothing.
	if r := login(); r.Status != http.StatusSeeOther || idp.JWKSCalls.Load() != fetched {
		t.Fatalf("second login: %d, key set fetched %d times (was %d)", r.Status, idp.JWKSCalls.Load(), fetched)
	}
	// A key first used within KeySetRefreshInterval of the last fetch is refused until the
	// interval has passed; then the key set is fetched again and the new key verifies.
	idp.Rotate("key-2")
	clock.Advance(oauth2sso.KeySetRefreshInterval - time.Second)
	if r := login(); authtest.ErrorCode(r.Body) != auth.CodeInvalidToken || idp.JWKSCalls.Load() != fetched {
		t.Fatalf("login with the new key within the interval: %d %s, key set fetched %d times (was %d)", r.Status, r.Body, idp.JWKSCalls.Load(), fetched)
	}
	clock.Advance(time.Second)
	if r := login(); r.Status != http.StatusSeeOther {
		t.Fatalf("login after rotation: %d %s", r.Status, r.Body)
	}
	if idp.JWKSCalls.Load() <= fetched {
		t.Fatal("the key set was not fetched again")
	}
	// A kid the provider does not publish.
	rogue, _ := rsa.GenerateKey(rand.Reader, 2048)
	idp.IDToken = func(n string) string {
		return authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rogue, KeyID: "key-3"}}, idp.Claims(n, nil), nil)
	}
	if r := login(); authtest.ErrorCode(r.Body) != auth.CodeInvalidToken {
		t.Fatalf("unknown kid: %d %s", r.Status, r.Body)
	}
}

// TestOAuth2UntrustedProviderKeys: an id_token signed with a key of the provider's key set that
// the server does not verify with (an RSA key under 2048 bits, a key for encryption, a published
// private key) signs no one in and creates no one; the provider's signing key still does. (go-jose
// verifies with public keys only, so the private key was refused before the set was filtered
// too; the case keeps it so.)
func TestOAuth2UntrustedProviderKeys(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	strong, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name string
		key  *rsa.PrivateKey
		jwk  jose.JSONWebKey
	}{
		{"RSA under 2048 bits", weak, jose.JSONWebKey{Key: &weak.PublicKey, KeyID: "untrusted", Algorithm: "RS256", Use: "sig"}},
		{"a key for encryption", strong, jose.JSONWebKey{Key: &strong.PublicKey, KeyID: "untrusted", Use: "enc"}},
		{"a published private key", strong, jose.JSONWebKey{Key: strong, KeyID: "untrusted", Algorithm: "RS256", Use: "sig"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := authtest.StartIdP(t)
			idp.Publish(tc.jwk)
			db := storetest.SQLite(t)
			app := testserver.New(t, db, testserver.Options{})
			app.EnableOAuth2(app.AdminToken(), idp.Settings())
			login := func() webtest.Response {
				c := webtest.Browser(t)
				state := idp.Begin(t, app, c)
				return app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}})
			}
			signed := idp.IDToken
			idp.IDToken = func(n string) string {
				return authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: tc.key, KeyID: "untrusted"}}, idp.Claims(n, nil), nil)
			}
			before := storetest.Snapshot(t, db)
			if r := login(); authtest.ErrorCode(r.Body) != auth.CodeInvalidToken {
				t.Fatalf("signed with the untrusted key: %d %s", r.Status, r.Body)
			}
			if after := storetest.Snapshot(t, db); after != before {
				t.Fatalf("data changed:\n%s\n%s", before, after)
			}
			idp.IDToken = signed
			if r := login(); r.Status != http.StatusSeeOther {
				t.Fatalf("signed with the provider's key: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestOAuth2SlowProvider: a token endpoint slower than IDP_TIMEOUT gives IDP_UNAVAILABLE within
// the timeout, not a hang; a provider that is down at login gives IDP_UNAVAILABLE too.
func TestOAuth2SlowProvider(t *testing.T) {
	idp := authtest.StartIdP(t)
	release := make(chan struct{})
	var once sync.Once
	done := func() { once.Do(func() { close(release) }) }
	t.Cleanup(done)
	idp.Token = func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(10 * time.Second):
		}
	}
	app := testserver.New(t, storetest.SQLite(t), testserver.Options{Env: map[string]string{"IDP_TIMEOUT": "500ms"}})
	app.EnableOAuth2(app.AdminToken(), idp.Settings())
	c := webtest.Browser(t)
	state := idp.Begin(t, app, c)
	start := time.Now()
	r := app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}})
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the callback took %v", took)
	}
	if authtest.ErrorCode(r.Body) != auth.CodeIDPUnavailable || r.Status != http.StatusBadGateway {
		t.Fatalf("%d %s", r.Status, r.Body)
	}

	// A provider that is down when a member starts (a fresh server: no discovery cached).
	done()
	idp.Server.Close()
	app2 := testserver.New(t, storetest.SQLite(t), testserver.Options{Env: map[string]string{"IDP_TIMEOUT": "500ms"}})
	app2.EnableOAuth2(app2.AdminToken(), idp.Settings())
	req, _ := http.NewRequest(http.MethodGet, app2.URL+"/auth/oauth2/login", nil)
	req.Header.Set("Accept", "application/json")
	r = app2.Do(webtest.Browser(t), req)
	if authtest.ErrorCode(r.Body) != auth.CodeIDPUnavailable {
		t.Fatalf("provider down at login: %d %s", r.Status, r.Body)
	}
}

// TestOAuth2NumericIDs: an id_token's numeric id keeps every digit, above 2^53 too (it is read
// as the number's text, not as a float64), and user info whose sub is the id_token's sub as a
// JSON number is the same member.
func TestOAuth2NumericIDs(t *testing.T) {
	idp := authtest.StartIdP(t)
	db := storetest.SQLite(t)
	app := testserver.New(t, db, testserver.Options{})
	app.EnableOAuth2(app.AdminToken(), idp.Settings())
	const big = "9007199254740993" // 2^53 + 1: a float64 reads 9007199254740992
	idp.IDToken = func(n string) string {
		return idp.Sign(idp.Claims(n, map[string]any{"id": json.Number(big), "sub": "4711", "email": nil}))
	}
	idp.UserInfo = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"sub": 4711, "email": "numbers@example.com", "name": "Num Bers"}`)
	}
	c := webtest.Browser(t)
	state := idp.Begin(t, app, c)
	if r := app.Callback(c, url.Values{"code": {"good-code"}, "state": {state}}); r.Status != http.StatusSeeOther {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	u := db.Client.User.Query().Where(user.Email("numbers@example.com")).OnlyX(context.Background())
	if u.ExternalID == nil || *u.ExternalID != big {
		t.Fatalf("externalId %v, want %s", u.ExternalID, big)
	}
}
