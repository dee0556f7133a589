package oauth2sso_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// backchannelApp is a community whose OpenID Provider is op (CUSTOM, its issuer), with JWT SSO
// enabled too; it returns the app, an admin's API token and the JWT SSO secret.
func backchannelApp(t *testing.T, db *store.DB, op *authtest.OP) (*authtest.App, string, string) {
	t.Helper()
	app := opApp(t, db, op, nil)
	admin := app.AdminToken()
	app.EnableOAuth2(admin, map[string]any{
		"enabled": true, "provider": "CUSTOM", "issuer": op.Issuer,
		"clientId": op.ClientID, "clientSecret": op.ClientSecret,
	})
	r := app.GQL(nil, admin, `mutation { regenerateJwtSsoSecret }`, nil)
	secret, _ := r.Data["regenerateJwtSsoSecret"].(string)
	if r = app.GQL(nil, admin, `mutation { updateJwtSsoSettings(input: {enabled: true}) { jwtSso { enabled } } }`, nil); secret == "" || r.Code() != "" {
		t.Fatalf("enable JWT SSO: %s", r.Raw)
	}
	return app, admin, secret
}

// opSignIn signs a new browser in at op as username and fails the test unless it is signed in.
func opSignIn(t *testing.T, app *authtest.App, op *authtest.OP, username string) *http.Client {
	t.Helper()
	c := op.Member(t)
	resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", username, "verysecure")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !signedIn(t, app, c) {
		t.Fatalf("%s's sign-in: %d", username, resp.StatusCode)
	}
	return c
}

func signedIn(t *testing.T, app *authtest.App, c *http.Client) bool {
	t.Helper()
	me := app.GQL(c, "", "{ me { id } }", nil)
	return graphtest.Dig(me.Data, "me", "id") != nil
}

// dataState is everything a refused logout must leave as it was: the data, the sessions, the
// replay markers and the security log.
func dataState(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	ids := db.Client.Session.Query().Order(ent.Asc(session.FieldID)).IDsX(ctx)
	return fmt.Sprintf("%s sessions%v markers%d events%d", storetest.Snapshot(t, db), ids,
		db.Client.ReplayMarker.Query().CountX(ctx), db.Client.SecurityEvent.Query().CountX(ctx))
}

// idTokenSID is the sid claim of the session's sealed id_token.
func idTokenSID(t *testing.T, app *authtest.App, s *ent.Session) string {
	t.Helper()
	sealer, err := seal.New(app.Cfg.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sealer.Open(oauth2sso.PurposeIDToken, s.IDToken)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(raw), ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.SID
}

// TestBackchannelLogout: the provider's logout token with a sid ends exactly the session whose
// id_token had that sid, with or without a sub (the member's other browser, JWT SSO session and
// other members stay);
// one with only a sub ends all of that member's OAUTH2 sessions and nothing else; one naming no
// session is answered 200 and ends nothing. Each is recorded as SESSION_REVOKED from the back
// channel, and no token reaches the log. On SQLite and MariaDB.
func TestBackchannelLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		op := authtest.StartOP(t)
		app, _, secret := backchannelApp(t, db, op)

		alice1 := opSignIn(t, app, op, "alice")
		alice2 := opSignIn(t, app, op, "alice")
		bob := opSignIn(t, app, op, "bob")
		// Alice also has a JWT SSO session (the same member: externalId op-alice).
		aliceJWT := op.Member(t)
		tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), authtest.Claims(map[string]any{"sub": "op-alice", "email": "alice@example.com", "name": "Alice Anders"}), nil)
		if r := app.SSOGet(aliceJWT, tok, "/", ""); r.Status != http.StatusSeeOther || !signedIn(t, app, aliceJWT) {
			t.Fatalf("JWT SSO sign-in: %d %s", r.Status, r.Body)
		}
		alice := db.Client.User.Query().Where(user.ExternalID("op-alice")).OnlyX(ctx)
		if n := db.Client.User.Query().Where(user.ExternalID("op-bob")).CountX(ctx); n != 1 {
			t.Fatalf("%d members for op-bob", n)
		}

		// Each OAuth2 session keeps the sid of its id_token: one per sign-in at the provider.
		sids := op.SessionIDs("op-alice")
		if len(sids) != 2 || sids[0] == sids[1] {
			t.Fatalf("provider session ids of alice: %v", sids)
		}
		oauth := db.Client.Session.Query().Where(session.UserID(alice.ID), session.MethodEQ(session.MethodOAUTH2)).Order(ent.Asc(session.FieldID)).AllX(ctx)
		if len(oauth) != 2 {
			t.Fatalf("%d OAuth2 sessions of alice", len(oauth))
		}
		for i, s := range oauth {
			if s.OidcSid == nil || *s.OidcSid != sids[i] || idTokenSID(t, app, s) != sids[i] {
				t.Fatalf("session %d: sid %v, want %s (its id_token's)", i, s.OidcSid, sids[i])
			}
		}
		if s := db.Client.Session.Query().Where(session.UserID(alice.ID), session.MethodEQ(session.MethodJWT)).OnlyX(ctx); s.OidcSid != nil {
			t.Fatalf("a JWT SSO session has a sid: %q", *s.OidcSid)
		}

		var tokens []string
		logout := func(claims map[string]any) {
			t.Helper()
			tok := op.SignLogout(t, op.LogoutClaims(claims))
			tokens = append(tokens, tok)
			r := app.BackchannelLogout(tok)
			if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("logout %v: %d %q %s", claims, r.Status, r.Header.Get("Cache-Control"), r.Body)
			}
		}
		revoked := func(userID int, sessions int) int {
			t.Helper()
			n := 0
			for _, e := range db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventSessionRevoked)).AllX(ctx) {
				uid := 0
				if e.UserID != nil {
					uid = *e.UserID
				}
				if uid == userID && e.Detail["source"] == "backchannel" && e.Detail["sessions"] == float64(sessions) && e.Method == "OAUTH2" {
					n++
				}
			}
			return n
		}
		want := func(step string, alice1In, alice2In, aliceJWTIn, bobIn bool) {
			t.Helper()
			for name, c := range map[string]struct {
				c  *http.Client
				in bool
			}{"alice's first browser": {alice1, alice1In}, "alice's second browser": {alice2, alice2In}, "alice's JWT SSO browser": {aliceJWT, aliceJWTIn}, "bob": {bob, bobIn}} {
				if got := signedIn(t, app, c.c); got != c.in {
					t.Errorf("%s: %s signed in = %v, want %v", step, name, got, c.in)
				}
			}
		}

		// By sid: the first browser only.
		logout(map[string]any{"sid": sids[0]})
		want("sid", false, true, true, true)
		if revoked(alice.ID, 1) != 1 {
			t.Fatal("no SESSION_REVOKED event from the back channel")
		}
		// A sid and a sub nobody has: nothing ends, still 200.
		logout(map[string]any{"sid": "sid-nobody"})
		logout(map[string]any{"sub": "nobody"})
		want("unknown", false, true, true, true)
		if revoked(0, 0) != 2 {
			t.Fatalf("%d events for logouts that matched no session, want 2", revoked(0, 0))
		}
		// By sub only: every OAuth2 session of alice (a third one first), her JWT SSO session stays.
		alice3 := opSignIn(t, app, op, "alice")
		logout(map[string]any{"sub": "op-alice"})
		want("sub", false, false, true, true)
		if signedIn(t, app, alice3) {
			t.Error("sub: alice's third browser is still signed in")
		}
		if revoked(alice.ID, 2) != 1 {
			t.Fatal("no SESSION_REVOKED event for the sub's two sessions")
		}
		if n := db.Client.Session.Query().Where(session.UserID(alice.ID)).CountX(ctx); n != 1 {
			t.Fatalf("alice has %d sessions, want her JWT SSO one", n)
		}
		// By sid and sub: the sid's session ends, here bob's.
		logout(map[string]any{"sid": op.SessionIDs("op-bob")[0], "sub": "op-bob"})
		want("sid and sub", false, false, true, false)
		// With a sid, the sub does not narrow the sessions: the member's externalId need not be
		// the sub (an id claim is mapped first).
		alice4 := opSignIn(t, app, op, "alice")
		sids = op.SessionIDs("op-alice")
		logout(map[string]any{"sid": sids[len(sids)-1], "sub": "alice-at-the-provider"})
		if signedIn(t, app, alice4) || !signedIn(t, app, aliceJWT) {
			t.Fatal("sid with a sub that is not the externalId: the session did not end, or another did")
		}

		for _, tok := range tokens {
			if strings.Contains(app.Logs.String(), tok) || strings.Contains(app.Logs.String(), strings.Split(tok, ".")[2]) {
				t.Fatal("a logout token reached the log")
			}
		}
		// A signed-out browser signs in again as before.
		if c := opSignIn(t, app, op, "alice"); !signedIn(t, app, c) {
			t.Fatal("no sign-in after a back-channel logout")
		}
	})
}

// TestBackchannelLogoutRefusals: every logout token the specification says to reject, and every
// malformed request, is answered 400 {"error":"invalid_request"} (no-store), and nothing changes:
// no session ends, no replay marker or event is written. On SQLite and MariaDB.
func TestBackchannelLogoutRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := authtest.StartOP(t)
		app, _, _ := backchannelApp(t, db, op)
		alice := opSignIn(t, app, op, "alice")
		sid := op.SessionIDs("op-alice")[0]
		key, otherKey := forgeryKeys(t, op)
		form := "application/x-www-form-urlencoded"
		valid := func(over map[string]any) map[string]any {
			c := op.LogoutClaims(map[string]any{"sid": sid, "sub": "op-alice"})
			authtest.Override(c, over)
			return c
		}
		signed := func(over map[string]any) string { return op.SignLogout(t, valid(over)) }
		body := func(tok string) string { return url.Values{"logout_token": {tok}}.Encode() }
		now := time.Now()

		// A token used once is refused the second time.
		replayed := signed(nil)
		if r := app.BackchannelLogout(replayed); r.Status != http.StatusOK {
			t.Fatalf("first use: %d %s", r.Status, r.Body)
		}
		alice = opSignIn(t, app, op, "alice")
		sid = op.SessionIDs("op-alice")[1]

		for _, tc := range []struct {
			name        string
			reason      string // in the error_description
			contentType string
			body        func() string
		}{
			{"replayed jti", "already used", form, func() string { return body(replayed) }},
			{"bad signature", "signed by one of the provider's keys", form, func() string {
				b := []byte(signed(nil))
				i := strings.LastIndexByte(string(b), '.') + 5
				if b[i] == 'A' {
					b[i] = 'B'
				} else {
					b[i] = 'A'
				}
				return body(string(b))
			}},
			{"signed with another key", "signed by one of the provider's keys", form, func() string {
				return body(authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: key.ID()}}, valid(nil), nil))
			}},
			{"signed with an unpublished key", "signed by one of the provider's keys", form, func() string {
				return body(authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: "rogue"}}, valid(nil), nil))
			}},
			{"alg none", "signed by one of the provider's keys", form, func() string {
				return body(authtest.Unsigned(t, map[string]any{"alg": "none", "typ": "logout+jwt", "kid": key.ID()}, valid(nil)))
			}},
			{"HS256 with the client secret", "signed by one of the provider's keys", form, func() string {
				return body(authtest.Sign(t, jwt.SigningMethodHS256, []byte(op.ClientSecret), jwt.MapClaims(valid(nil)), map[string]any{"kid": key.ID()}))
			}},
			{"wrong issuer", "issuer (iss)", form, func() string { return body(signed(map[string]any{"iss": "https://evil.example"})) }},
			{"issuer with a trailing slash", "issuer (iss)", form, func() string { return body(signed(map[string]any{"iss": op.Issuer + "/"})) }},
			{"wrong audience", "audience (aud)", form, func() string { return body(signed(map[string]any{"aud": "another-client"})) }},
			{"missing audience", "audience (aud)", form, func() string { return body(signed(map[string]any{"aud": nil})) }},
			{"missing iat", "no iat", form, func() string { return body(signed(map[string]any{"iat": nil})) }},
			{"old iat", "too old (iat)", form, func() string {
				return body(signed(map[string]any{"iat": now.Add(-oauth2sso.LogoutTokenMaxAge - time.Minute).Unix()}))
			}},
			{"iat in the future", "in the future (iat)", form, func() string { return body(signed(map[string]any{"iat": now.Add(5 * time.Minute).Unix()})) }},
			{"expired", "expired (exp)", form, func() string {
				return body(signed(map[string]any{"iat": now.Add(-5 * time.Minute).Unix(), "exp": now.Add(-3 * time.Minute).Unix()}))
			}},
			{"missing jti", "no jti", form, func() string { return body(signed(map[string]any{"jti": nil})) }},
			{"jti not a string", "no jti", form, func() string { return body(signed(map[string]any{"jti": 42})) }},
			{"missing events", "no events object", form, func() string { return body(signed(map[string]any{"events": nil})) }},
			{"events without the back-channel member", "events have no", form, func() string {
				return body(signed(map[string]any{"events": map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}}))
			}},
			{"back-channel event not an object", "events have no", form, func() string {
				return body(signed(map[string]any{"events": map[string]any{oauth2sso.BackchannelLogoutEvent: true}}))
			}},
			{"events not an object", "no events object", form, func() string {
				return body(signed(map[string]any{"events": []any{oauth2sso.BackchannelLogoutEvent}}))
			}},
			{"nonce present", "nonce", form, func() string { return body(signed(map[string]any{"nonce": "n-1"})) }},
			{"neither sid nor sub", "neither a sid nor a sub", form, func() string { return body(signed(map[string]any{"sid": nil, "sub": nil})) }},
			{"sid not a string", "sid is not a string", form, func() string { return body(signed(map[string]any{"sid": 7})) }},
			{"not a JWT", "signed by one of the provider's keys", form, func() string { return body("not.a.jwt") }},
			{"no logout_token", "no logout_token", form, func() string { return url.Values{"token": {signed(nil)}}.Encode() }},
			{"empty logout_token", "no logout_token", form, func() string { return body("") }},
			{"two logout_tokens", "more than one logout_token", form, func() string {
				return url.Values{"logout_token": {signed(nil), signed(nil)}}.Encode()
			}},
			{"malformed form", "not a valid form", form, func() string { return "logout_token=%zz" }},
			{"JSON body", "must be a form", "application/json", func() string { return `{"logout_token":"` + signed(nil) + `"}` }},
			{"no content type", "must be a form", "", func() string { return body(signed(nil)) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := dataState(t, db)
				r := app.BackchannelPost(tc.contentType, tc.body())
				var e struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
				}
				if err := json.Unmarshal([]byte(r.Body), &e); err != nil || r.Status != http.StatusBadRequest || e.Error != "invalid_request" || !strings.Contains(e.Description, tc.reason) {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if r.Header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("headers: %v", r.Header)
				}
				if after := dataState(t, db); after != before {
					t.Fatalf("data changed:\n%s\n→\n%s", before, after)
				}
				if !signedIn(t, app, alice) {
					t.Fatal("the member was signed out")
				}
			})
		}
		// The query string is not the body.
		r := app.BackchannelPost(form, "")
		if r.Status != http.StatusBadRequest {
			t.Fatalf("empty body: %d", r.Status)
		}
		req, _ := http.NewRequest(http.MethodPost, app.URL+oauth2sso.BackchannelLogoutPath+"?"+body(signed(nil)), nil)
		req.Header.Set("Content-Type", form)
		if r := app.Do(&http.Client{}, req); r.Status != http.StatusBadRequest || !signedIn(t, app, alice) {
			t.Fatalf("token in the query: %d", r.Status)
		}
		// No token, refused or not, reaches the log (a JWT's header starts with eyJ).
		if strings.Contains(app.Logs.String(), "eyJ") {
			t.Fatalf("a token reached the log:\n%s", app.Logs)
		}
	})
}

// TestBackchannelLogoutCrossSite: the endpoint is for the provider's server, so no cross-site
// check stands in its way; a browser's cross-site form post carrying the member's cookie cannot
// end a session without a logout token the provider signed.
func TestBackchannelLogoutCrossSite(t *testing.T) {
	op := authtest.StartOP(t)
	app, _, _ := backchannelApp(t, storetest.SQLite(t), op)
	alice := opSignIn(t, app, op, "alice")
	post := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, app.URL+oauth2sso.BackchannelLogoutPath, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		return app.Do(alice, req).Status
	}
	forged := authtest.Unsigned(t, map[string]any{"alg": "none"}, op.LogoutClaims(map[string]any{"sub": "op-alice"}))
	if s := post(forged); s != http.StatusBadRequest || !signedIn(t, app, alice) {
		t.Fatalf("a forged cross-site post: %d", s)
	}
	if s := post(op.SignLogout(t, op.LogoutClaims(map[string]any{"sub": "op-alice"}))); s != http.StatusOK || signedIn(t, app, alice) {
		t.Fatalf("the provider's token: %d", s)
	}
}

// TestBackchannelLogoutNotEnabled: without OpenID Connect sign-in the endpoint answers 404 with
// the error JSON, and only POST is served.
func TestBackchannelLogoutNotEnabled(t *testing.T) {
	op := authtest.StartOP(t)
	db := storetest.SQLite(t)
	app := testserver.New(t, db, testserver.Options{Deps: routes.Deps{IdPClient: op.Server.Client()}})
	op.Register(app.URL)
	tok := op.SignLogout(t, op.LogoutClaims(map[string]any{"sub": "op-alice"}))
	check := func(step string) {
		t.Helper()
		r := app.BackchannelLogout(tok)
		if r.Status != http.StatusNotFound || !strings.Contains(r.Body, `"error":"invalid_request"`) || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %s", step, r.Status, r.Body)
		}
	}
	check("never configured")
	admin := app.AdminToken()
	// Configured, not enabled.
	app.EnableOAuth2(admin, map[string]any{"provider": "CUSTOM", "issuer": op.Issuer, "clientId": op.ClientID, "clientSecret": op.ClientSecret})
	check("not enabled")
	if r := app.Get(nil, oauth2sso.BackchannelLogoutPath); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", r.Status)
	}
	if n := db.Client.ReplayMarker.Query().CountX(context.Background()); n != 0 {
		t.Fatalf("%d replay markers", n)
	}
}

// TestBackchannelForgedTokensDoNotFetchKeys: go-oidc fetches the provider's key set again for
// every token its keys do not verify; forged logout tokens from anyone (an unknown kid, a known
// kid with a forged signature) make the server fetch it at most once per KeySetRefreshInterval,
// and the provider's own tokens still verify with the keys held.
func TestBackchannelForgedTokensDoNotFetchKeys(t *testing.T) {
	db := storetest.SQLite(t)
	op := authtest.StartOP(t)
	app, _, _ := backchannelApp(t, db, op)
	opSignIn(t, app, op, "alice")
	before := op.KeySetFetches.Load()
	if before == 0 {
		t.Fatal("the sign-in did not fetch the provider's key set")
	}
	key, otherKey := forgeryKeys(t, op)
	for i := range 20 {
		kid := fmt.Sprintf("rogue-%d", i)
		if i%2 == 1 {
			kid = key.ID() // the provider's kid, another key's signature
		}
		tok := authtest.SignJWS(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: otherKey, KeyID: kid}},
			op.LogoutClaims(map[string]any{"sub": "op-alice"}), nil)
		if r := app.BackchannelLogout(tok); r.Status != http.StatusBadRequest {
			t.Fatalf("forged token %d: %d %s", i, r.Status, r.Body)
		}
	}
	if n := op.KeySetFetches.Load() - before; n > 1 {
		t.Fatalf("20 forged tokens made the server fetch the key set %d times, want at most 1", n)
	}
	if r := app.BackchannelLogout(op.SignLogout(t, op.LogoutClaims(map[string]any{"sub": "op-alice"}))); r.Status != http.StatusOK {
		t.Fatalf("the provider's token after the forged ones: %d %s", r.Status, r.Body)
	}
}

// forgeryKeys are the provider's signing key (its kid names the key the provider publishes)
// and another RSA key, which signs forged tokens.
func forgeryKeys(t *testing.T, provider *authtest.OP) (zop.SigningKey, *rsa.PrivateKey) {
	t.Helper()
	key, err := provider.Storage.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key, other
}
