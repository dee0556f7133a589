package graph_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		ctx := context.Background()
		const secret = "super-secret-client-value"
		q := `mutation($in: UpdateOAuth2SettingsInput!) { updateOAuth2Settings(input: $in) { oauth2 { enabled provider clientId hasClientSecret domain scopes callbackUrl backchannelLogoutUrl } } }`

		for _, tt := range []struct {
			in    map[string]any
			code  string
			field string
		}{
			{map[string]any{"enabled": true, "provider": "CUSTOM", "clientId": "abc", "clientSecret": secret, "authorizationUrl": "https://idp.example.com/authorize"}, "BAD_USER_INPUT", "tokenUrl"},
			{map[string]any{"enabled": true, "provider": "OKTA", "clientId": "abc", "clientSecret": secret}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"enabled": true, "provider": "OKTA", "domain": "dev-1.okta.com"}, "BAD_USER_INPUT", "clientId"},
			{map[string]any{"tokenUrl": "http://idp.example.com/token"}, "BAD_USER_INPUT", "tokenUrl"},
			{map[string]any{"domain": "http://dev-1.okta.com"}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"domain": "https://dev-1.okta.com/?x=1"}, "BAD_USER_INPUT", "domain"},
			{map[string]any{"scopes": []string{"openid email"}}, "BAD_USER_INPUT", "scopes"},
			{map[string]any{"refreshMinutes": -1}, "BAD_USER_INPUT", "refreshMinutes"},
		} {
			before := storetest.Snapshot(t, db)
			r := app.GQL(c.Admin, "", q, map[string]any{"in": tt.in})
			if r.Code() != tt.code || r.Field() != tt.field {
				t.Errorf("%v: %s", tt.in, r.Raw)
			}
			if storetest.Snapshot(t, db) != before {
				t.Errorf("%v changed data", tt.in)
			}
		}
		r := app.GQL(c.Admin, "", q, map[string]any{"in": map[string]any{"enabled": true, "provider": "OKTA", "clientId": "abc", "clientSecret": secret, "domain": "dev-1.okta.com/oauth2/default", "scopes": []string{"openid", "email"}}})
		o := graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2")
		if r.Code() != "" || graphtest.Dig(o, "hasClientSecret") != true || graphtest.Dig(o, "domain") != "dev-1.okta.com/oauth2/default" || graphtest.Dig(o, "callbackUrl") != app.URL+"/auth/oauth2/callback" ||
			graphtest.Dig(o, "backchannelLogoutUrl") != app.URL+"/auth/oauth2/backchannel-logout" {
			t.Fatalf("%s", r.Raw)
		}
		if strings.Contains(r.Raw, secret) {
			t.Fatal("the secret came back")
		}
		st := app.Settings()
		if len(st.Oauth2ClientSecret) == 0 || strings.Contains(string(st.Oauth2ClientSecret), secret) {
			t.Fatal("the client secret is not sealed at rest")
		}
		ev := db.Client.SecurityEvent.Query().Where(securityevent.Type("SETTINGS_CHANGED")).OnlyX(ctx)
		b, _ := json.Marshal(ev.Detail)
		if !strings.Contains(string(b), "clientSecret") || strings.Contains(string(b), secret) {
			t.Fatalf("event detail %s", b)
		}
		// An empty string clears a URL; absent fields stay.
		r = app.GQL(c.Admin, "", `mutation { updateOAuth2Settings(input: {logoutUrl: "https://idp.example.com/logout"}) { oauth2 { logoutUrl clientId } } }`, nil)
		r = app.GQL(c.Admin, "", `mutation { updateOAuth2Settings(input: {logoutUrl: ""}) { oauth2 { logoutUrl clientId } } }`, nil)
		if graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2", "logoutUrl") != "" || graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2", "clientId") != "abc" {
			t.Fatalf("%s", r.Raw)
		}

		jq := `mutation($in: UpdateJwtSsoSettingsInput!) { updateJwtSsoSettings(input: $in) { jwtSso { enabled hasSecret authorizationUrl endpointUrl } } }`
		if r := app.GQL(c.Admin, "", jq, map[string]any{"in": map[string]any{"enabled": true}}); r.Code() != "BAD_USER_INPUT" || r.Field() != "enabled" {
			t.Fatalf("enable without secret: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation { regenerateJwtSsoSecret }`, nil)
		jwtSecret, _ := r.Data["regenerateJwtSsoSecret"].(string)
		if len(jwtSecret) != 64 {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", jq, map[string]any{"in": map[string]any{"enabled": true, "authorizationUrl": "https://customer.example/sso"}})
		if graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "hasSecret") != true || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "endpointUrl") != app.URL+"/api/auth/sso" {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `{ authSettings { emailPasswordEnabled oauth2 { hasClientSecret } jwtSso { hasSecret enabled } } }`, nil)
		if strings.Contains(r.Raw, jwtSecret) || graphtest.Dig(r.Data, "authSettings", "jwtSso", "enabled") != true {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "https://evil.example"}) { newUsersHomepage } }`, nil); r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "/welcome"}) { newUsersHomepage } }`, nil); graphtest.Dig(r.Data, "updateAuthSettings", "newUsersHomepage") != "/welcome" {
			t.Fatalf("%s", r.Raw)
		}
		for _, who := range []*http.Client{c.Member, c.Moderator} {
			if r := app.GQL(who, "", `{ authSettings { emailPasswordEnabled } }`, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
			if r := app.GQL(who, "", `mutation { regenerateJwtSsoSecret }`, nil); r.Code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
		}
		if r := app.GQL(nil, "", `{ authSettings { emailPasswordEnabled } }`, nil); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("%s", r.Raw)
		}
		// loginOptions is public.
		r = app.GQL(nil, "", `{ loginOptions { methods emailPasswordEnabled oauth2 { buttonText loginUrl } jwtSso { loginUrl } loginUrl logoutUrl } }`, nil)
		if r.Code() != "" || len(graphtest.Dig(r.Data, "loginOptions", "methods").([]any)) != 3 || graphtest.Dig(r.Data, "loginOptions", "jwtSso", "loginUrl") != "https://customer.example/sso" {
			t.Fatalf("%s", r.Raw)
		}
	})
}

// TestEmbedOriginsSetting: updateAuthSettings normalizes embed origins (lower-case host, no
// default port, no duplicates), refuses anything but https and loopback http origins with
// field embedOrigins and without a change, keeps them when absent and clears them with [];
// only admins set them; and turning embedding on needs an https (or loopback) PUBLIC_URL.
func TestEmbedOriginsSetting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		const q = `mutation($o: [String!]) { updateAuthSettings(input: {embedOrigins: $o}) { embedOrigins } }`
		set := func(cl *http.Client, origins any) graphtest.Result {
			t.Helper()
			return app.GQL(cl, "", q, map[string]any{"o": origins})
		}
		r := set(c.Admin, []string{"https://App.Example.COM:443", "http://localhost:5173", "https://app.example.com", "http://127.0.0.1:8080", "https://[::1]:8443"})
		if got, _ := json.Marshal(graphtest.Dig(r.Data, "updateAuthSettings", "embedOrigins")); string(got) != `["https://app.example.com","http://localhost:5173","http://127.0.0.1:8080","https://[::1]:8443"]` {
			t.Fatalf("normalized: %s", r.Raw)
		}
		if got := app.Settings().EmbedOrigins; len(got) != 4 || got[0] != "https://app.example.com" {
			t.Fatalf("stored %q", got)
		}
		many := make([]string, 21)
		for i := range many {
			many[i] = "https://site" + strings.Repeat("x", i) + ".example"
		}
		for _, bad := range [][]string{
			{"http://app.example.com"}, {"https://app.example.com/"}, {"https://app.example.com/path"}, {"*"},
			{"app.example.com"}, {"https://app.example.com?x=1"}, {"ftp://app.example.com"}, {"http://localhost.example.com"},
			{"https://user@app.example.com"}, {""}, many,
		} {
			before := storetest.Snapshot(t, db)
			r := set(c.Admin, bad)
			if r.Code() != "BAD_USER_INPUT" || r.Field() != "embedOrigins" {
				t.Fatalf("%q: %s", bad, r.Raw)
			}
			if storetest.Snapshot(t, db) != before {
				t.Fatalf("%q changed data", bad)
			}
		}
		if r := set(c.Member, []string{"https://evil.example"}); r.Code() != "FORBIDDEN" {
			t.Fatalf("member: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {syncUsername: false}) { embedOrigins } }`, nil)
		if got := graphtest.Dig(r.Data, "updateAuthSettings", "embedOrigins"); got == nil || len(got.([]any)) != 4 {
			t.Fatalf("absent changed them: %s", r.Raw)
		}
		r = set(c.Admin, []string{})
		if got := graphtest.Dig(r.Data, "updateAuthSettings", "embedOrigins"); got == nil || len(got.([]any)) != 0 || len(app.Settings().EmbedOrigins) != 0 {
			t.Fatalf("[] did not clear them: %s", r.Raw)
		}

		plain := testserver.New(t, db, testserver.Options{Env: map[string]string{"PUBLIC_URL": "http://community.example.com"}})
		r = plain.GQL(nil, c.Token, q, map[string]any{"o": []string{"https://app.example.com"}})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "embedOrigins" || !strings.Contains(r.Raw, "PUBLIC_URL") {
			t.Fatalf("http PUBLIC_URL: %s", r.Raw)
		}
		if r := plain.GQL(nil, c.Token, q, map[string]any{"o": []string{}}); len(r.Errors) != 0 {
			t.Fatalf("turning embedding off on an http PUBLIC_URL: %s", r.Raw)
		}
	})
}

// TestRegenerateJwtSsoSecretGrace: regenerateJwtSsoSecret(graceSeconds) shows the rotation in
// jwtSso { secretRotatedAt previousSecretExpiresAt }, refuses a period outside 0 to 7 days with
// field graceSeconds and without a change, and without a period ends the previous secret's.
func TestRegenerateJwtSsoSecretGrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
		app := testserver.New(t, db, testserver.Options{Deps: routes.Deps{Now: func() time.Time { return now }}})
		c := app.Callers()
		const q = `{ authSettings { jwtSso { hasSecret secretRotatedAt previousSecretExpiresAt } } }`
		show := func() (any, any) {
			r := app.GQL(c.Admin, "", q, nil)
			return graphtest.Dig(r.Data, "authSettings", "jwtSso", "secretRotatedAt"), graphtest.Dig(r.Data, "authSettings", "jwtSso", "previousSecretExpiresAt")
		}
		if rotated, prev := show(); rotated != nil || prev != nil {
			t.Fatalf("before any secret: %v %v", rotated, prev)
		}
		rotate := `mutation($g: Int) { regenerateJwtSsoSecret(graceSeconds: $g) }`
		if r := app.GQL(c.Admin, "", rotate, map[string]any{"g": 3600}); r.Code() != "" {
			t.Fatalf("%s", r.Raw)
		}
		// The first secret replaces none: there is no previous secret to keep.
		if rotated, prev := show(); rotated != "2031-03-04T05:06:07Z" || prev != nil {
			t.Fatalf("first secret: %v %v", rotated, prev)
		}
		for _, g := range []int{-1, 604801, 1 << 30} {
			t.Run(fmt.Sprint(g), func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				r := app.GQL(c.Admin, "", rotate, map[string]any{"g": g})
				if r.Code() != "BAD_USER_INPUT" || r.Field() != "graceSeconds" {
					t.Fatalf("%s", r.Raw)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}
		now = now.Add(time.Minute)
		if r := app.GQL(c.Admin, "", rotate, map[string]any{"g": 604800}); r.Code() != "" {
			t.Fatalf("%s", r.Raw)
		}
		if rotated, prev := show(); rotated != "2031-03-04T05:07:07Z" || prev != "2031-03-11T05:07:07Z" {
			t.Fatalf("7 days: %v %v", rotated, prev)
		}
		// Once the period is over it shows as none.
		now = now.Add(7 * 24 * time.Hour)
		if _, prev := show(); prev != nil {
			t.Fatalf("after the period: %v", prev)
		}
		now = now.Add(-time.Hour)
		if r := app.GQL(c.Admin, "", `mutation { regenerateJwtSsoSecret }`, nil); r.Code() != "" {
			t.Fatalf("%s", r.Raw)
		}
		if _, prev := show(); prev != nil {
			t.Fatalf("a rotation without a period keeps the previous secret until %v", prev)
		}
		if st := app.Settings(); len(st.JwtPreviousSecret) != 0 || st.JwtPreviousSecretExpiresAt != nil {
			t.Fatalf("previous secret kept: %+v", st.JwtPreviousSecretExpiresAt)
		}
	})
}

// TestJwtSsoIssuerAudienceSettings: issuer and audience are kept trimmed, shown, cleared with
// "", and refused over 2048 characters with their field and without a change.
func TestJwtSsoIssuerAudienceSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		const m = `mutation($in: UpdateJwtSsoSettingsInput!) { updateJwtSsoSettings(input: $in) { jwtSso { issuer audience } } }`
		r := app.GQL(c.Admin, "", m, map[string]any{"in": map[string]any{"issuer": " https://customer.example ", "audience": "community"}})
		if graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "issuer") != "https://customer.example" || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "audience") != "community" {
			t.Fatalf("%s", r.Raw)
		}
		for _, field := range []string{"issuer", "audience"} {
			before := storetest.Snapshot(t, db)
			r := app.GQL(c.Admin, "", m, map[string]any{"in": map[string]any{field: strings.Repeat("x", 2049)}})
			if r.Code() != "BAD_USER_INPUT" || r.Field() != field {
				t.Fatalf("%s: %s", field, r.Raw)
			}
			if after := storetest.Snapshot(t, db); after != before {
				t.Fatalf("data changed:\n%s\n%s", before, after)
			}
		}
		r = app.GQL(c.Admin, "", m, map[string]any{"in": map[string]any{"issuer": ""}})
		if graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "issuer") != "" || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "audience") != "community" {
			t.Fatalf("%s", r.Raw)
		}
	})
}

// TestJwtSsoKeySettings: publicKeys takes PEM (PUBLIC KEY, RSA PUBLIC KEY) and JWK public
// keys of the types JWT SSO verifies, and refuses anything else with field publicKeys; jwksUrl
// takes https (http only for loopback) with field jwksUrl; each refusal changes nothing. Keys or
// a key set alone let JWT SSO be enabled.
func TestJwtSsoKeySettings(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallRSA, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	spki := func(pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PUBLIC KEY", der)
	}
	jwkOf := func(k any) string {
		b, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	good := []string{spki(&rsaKey.PublicKey), pemOf("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), jwkOf(&ecKey.PublicKey), spki(edPub)}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		const m = `mutation($in: UpdateJwtSsoSettingsInput!) { updateJwtSsoSettings(input: $in) { jwtSso { enabled hasSecret publicKeys jwksUrl } } }`
		bad := []struct {
			name, field string
			in          map[string]any
		}{
			{"private key PEM", "publicKeys", map[string]any{"publicKeys": []string{pemOf("PRIVATE KEY", privDER)}}},
			{"certificate PEM", "publicKeys", map[string]any{"publicKeys": []string{pemOf("CERTIFICATE", []byte("not a certificate"))}}},
			{"garbage", "publicKeys", map[string]any{"publicKeys": []string{"ssh-rsa AAAA"}}},
			{"two PEM blocks in one", "publicKeys", map[string]any{"publicKeys": []string{good[0] + good[3]}}},
			{"RSA under 2048 bits", "publicKeys", map[string]any{"publicKeys": []string{spki(&smallRSA.PublicKey)}}},
			{"EC P-384", "publicKeys", map[string]any{"publicKeys": []string{spki(&p384.PublicKey)}}},
			{"JWK private key", "publicKeys", map[string]any{"publicKeys": []string{jwkOf(ecKey)}}},
			{"JWK whose alg its key type does not verify", "publicKeys", map[string]any{"publicKeys": []string{strings.Replace(jwkOf(&rsaKey.PublicKey), `"kid"`, `"alg":"ES256","kid"`, 1)}}},
			{"JWK symmetric key", "publicKeys", map[string]any{"publicKeys": []string{`{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}`}}},
			{"a good key then a bad one", "publicKeys", map[string]any{"publicKeys": []string{good[0], "nope"}}},
			{"eleven keys", "publicKeys", map[string]any{"publicKeys": []string{good[0], good[0], good[0], good[0], good[0], good[0], good[0], good[0], good[0], good[0], good[0]}}},
			{"http key set", "jwksUrl", map[string]any{"jwksUrl": "http://customer.example/jwks.json"}},
			{"key set not a URL", "jwksUrl", map[string]any{"jwksUrl": "customer.example/jwks.json"}},
			{"enable without any key", "enabled", map[string]any{"enabled": true}},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				r := app.GQL(c.Admin, "", m, map[string]any{"in": tt.in})
				if r.Code() != "BAD_USER_INPUT" || r.Field() != tt.field {
					t.Fatalf("%s", r.Raw)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}
		r := app.GQL(c.Admin, "", m, map[string]any{"in": map[string]any{"enabled": true, "publicKeys": good}})
		if r.Code() != "" || len(graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "publicKeys").([]any)) != 4 || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "enabled") != true {
			t.Fatalf("%s", r.Raw)
		}
		r = app.GQL(c.Admin, "", m, map[string]any{"in": map[string]any{"publicKeys": []string{}, "jwksUrl": "http://127.0.0.1:9/jwks.json"}})
		if r.Code() != "" || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "jwksUrl") != "http://127.0.0.1:9/jwks.json" {
			t.Fatalf("%s", r.Raw)
		}
		// With neither a secret nor keys left, JWT SSO cannot stay enabled.
		if r := app.GQL(c.Admin, "", m, map[string]any{"in": map[string]any{"jwksUrl": ""}}); r.Code() != "BAD_USER_INPUT" || r.Field() != "enabled" {
			t.Fatalf("%s", r.Raw)
		}
	})
}

// TestLastSignInMethod: while no active admin has a password, the last SSO method on cannot be
// turned off (BAD_USER_INPUT, field enabled, nothing changed): every admin would be locked out.
// Once an admin has a password, it can.
func TestLastSignInMethod(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		token := app.AdminToken() // an admin who signs in with SSO only: no password
		if r := app.GQL(nil, token, `mutation { regenerateJwtSsoSecret }`, nil); r.Code() != "" {
			t.Fatal(r.Raw)
		}
		set := func(enabled bool) graphtest.Result {
			return app.GQL(nil, token, `mutation($e: Boolean) { updateJwtSsoSettings(input: {enabled: $e}) { jwtSso { enabled } } }`, map[string]any{"e": enabled})
		}
		if r := set(true); r.Code() != "" {
			t.Fatal(r.Raw)
		}
		before := storetest.Snapshot(t, db)
		if r := set(false); r.Code() != "BAD_USER_INPUT" || r.Field() != "enabled" {
			t.Fatalf("turning the last method off: %s", r.Raw)
		}
		if after := storetest.Snapshot(t, db); after != before {
			t.Fatalf("changed:\n%s\n%s", before, after)
		}
		// An admin with a password can sign in directly: then it may go.
		app.CreateUser("owner@example.com", "correct horse battery staple", "ADMIN")
		if r := set(false); r.Code() != "" || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "enabled") != false {
			t.Fatalf("with a password admin: %s", r.Raw)
		}
	})
}
