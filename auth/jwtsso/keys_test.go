package jwtsso_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

// testKeys are the customer's key pairs of one test.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	r1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return testKeys{rsa: r1, rsa2: r2, ec: ec, ed: ed}
}

// spkiPEM is the public key as openssl's "-pubout" writes it.
func spkiPEM(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// jwk is the public key as a JWK JSON object.
func jwk(t *testing.T, pub crypto.PublicKey, kid string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setKeys has the admin set the JWT SSO public keys and key set URL; it fails the test on error.
func setKeys(t *testing.T, app *authtest.App, admin *http.Client, keys []string, jwksURL string) {
	t.Helper()
	r := app.GQL(admin, "", `mutation($k: [String!], $u: String) { updateJwtSsoSettings(input: {publicKeys: $k, jwksUrl: $u}) { jwtSso { publicKeys jwksUrl } } }`,
		map[string]any{"k": keys, "u": jwksURL})
	if r.Code() != "" {
		t.Fatalf("set keys: %s", r.Raw)
	}
}

// inspectKey is the key inspectJwtSsoToken says verified token, or its reason when refused.
func inspectKey(app *authtest.App, admin *http.Client, token string) string {
	r := app.GQL(admin, "", `query($t: String!) { inspectJwtSsoToken(token: $t) { decision reason key } }`, map[string]any{"t": token})
	if k, ok := graphtest.Dig(r.Data, "inspectJwtSsoToken", "key").(string); ok {
		return k
	}
	reason, _ := graphtest.Dig(r.Data, "inspectJwtSsoToken", "reason").(string)
	return "refused " + reason + r.Code()
}

// TestJWTSSOPublicKeys: tokens signed with each algorithm and each key form sign in, the key's
// type choosing the algorithm; algorithm confusion is refused (the RSA key's public PEM as an
// HMAC secret, HS256 or another algorithm against an RSA key, a kid naming a key of another
// type, none) with INVALID_TOKEN and nothing changed; inspectJwtSsoToken names the key.
func TestJWTSSOPublicKeys(t *testing.T) {
	k := newTestKeys(t)
	rsaPEM := spkiPEM(t, &k.rsa.PublicKey)
	rsaPKCS1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa2.PublicKey)}))
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, secret := jwtApp(t, db)
		// The last key is the first RSA key again as a JWK limited to PS256 by its alg.
		psOnly := strings.Replace(jwk(t, &k.rsa.PublicKey, "ps-only"), `"kid"`, `"alg":"PS256","kid"`, 1)
		setKeys(t, app, c.Admin, []string{rsaPEM, jwk(t, &k.ec.PublicKey, "ec-1"), spkiPEM(t, k.ed.Public()), rsaPKCS1, psOnly}, "")
		sign := func(m jwt.SigningMethod, key any, header map[string]any) string {
			return authtest.Sign(t, m, key, authtest.Claims(nil), header)
		}
		ok := []struct {
			name, token, key string
		}{
			{"RS256, SPKI PEM", sign(jwt.SigningMethodRS256, k.rsa, nil), "public key 1"},
			{"PS256, SPKI PEM", sign(jwt.SigningMethodPS256, k.rsa, nil), "public key 1"},
			{"RS256, RSA PUBLIC KEY PEM", sign(jwt.SigningMethodRS256, k.rsa2, nil), "public key 4"},
			{"ES256, JWK with kid", sign(jwt.SigningMethodES256, k.ec, map[string]any{"kid": "ec-1"}), "ec-1"},
			{"ES256, JWK without kid in the token", sign(jwt.SigningMethodES256, k.ec, nil), "ec-1"},
			{"EdDSA, SPKI PEM", sign(jwt.SigningMethodEdDSA, k.ed, nil), "public key 3"},
			{"RS256 with a kid no key has", sign(jwt.SigningMethodRS256, k.rsa, map[string]any{"kid": "rsa-unnamed"}), "public key 1"},
			{"PS256 naming a JWK with alg PS256", sign(jwt.SigningMethodPS256, k.rsa, map[string]any{"kid": "ps-only"}), "ps-only"},
			{"HS256, the secret beside the keys", sign(jwt.SigningMethodHS256, secret, nil), "secret"},
		}
		for _, tt := range ok {
			t.Run(tt.name, func(t *testing.T) {
				if got := inspectKey(app, c.Admin, tt.token); got != tt.key {
					t.Fatalf("inspected key %q, want %q", got, tt.key)
				}
				if r := app.SSOGet(webtest.Browser(t), tt.token, "/", ""); r.Status != http.StatusSeeOther {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			})
		}

		otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecP384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		refused := []struct{ name, token string }{
			{"RSA public PEM as an HMAC secret", sign(jwt.SigningMethodHS256, []byte(rsaPEM), nil)},
			{"RSA public PEM as an HMAC secret, HS512", sign(jwt.SigningMethodHS512, []byte(rsaPEM), nil)},
			{"JWK text as an HMAC secret", sign(jwt.SigningMethodHS256, []byte(jwk(t, &k.ec.PublicKey, "ec-1")), map[string]any{"kid": "ec-1"})},
			{"RS384 with the RSA key", sign(jwt.SigningMethodRS384, k.rsa, nil)},
			{"PS512 with the RSA key", sign(jwt.SigningMethodPS512, k.rsa, nil)},
			{"kid naming the EC key on an RS256 token", sign(jwt.SigningMethodRS256, k.rsa, map[string]any{"kid": "ec-1"})},
			{"RS256 naming a JWK with alg PS256", sign(jwt.SigningMethodRS256, k.rsa, map[string]any{"kid": "ps-only"})},
			{"ES384 on P-384", sign(jwt.SigningMethodES384, ecP384, nil)},
			{"ES256 with another key", sign(jwt.SigningMethodES256, otherEC, map[string]any{"kid": "ec-1"})},
			{"alg none", authtest.Unsigned(t, map[string]any{"alg": "none", "typ": "JWT"}, authtest.Claims(nil))},
			{"alg none, lower and upper case", authtest.Unsigned(t, map[string]any{"alg": "NONE", "typ": "JWT"}, authtest.Claims(nil))},
		}
		for _, tt := range refused {
			t.Run(tt.name, func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				r := app.SSOGet(webtest.Browser(t), tt.token, "/", "application/json")
				if r.Status != 401 || !strings.Contains(r.Body, `"code":"INVALID_TOKEN"`) {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
				if got := inspectKey(app, c.Admin, tt.token); got != "refused INVALID_TOKEN" {
					t.Fatalf("inspected: %s", got)
				}
			})
		}
	})
}

// TestJWTSSOPublicKeysOnly: JWT SSO runs on public keys alone, without a secret: an HS256 token
// (signed with the public PEM, or anything) is then refused.
func TestJWTSSOPublicKeysOnly(t *testing.T) {
	k := newTestKeys(t)
	rsaPEM := spkiPEM(t, &k.rsa.PublicKey)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		r := app.GQL(c.Admin, "", `mutation($k: [String!]) { updateJwtSsoSettings(input: {enabled: true, publicKeys: $k}) { jwtSso { enabled hasSecret publicKeys } } }`, map[string]any{"k": []string{rsaPEM}})
		if r.Code() != "" || graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "hasSecret") != false {
			t.Fatalf("%s", r.Raw)
		}
		if r := app.SSOGet(webtest.Browser(t), authtest.Sign(t, jwt.SigningMethodRS256, k.rsa, authtest.Claims(nil), nil), "/", ""); r.Status != http.StatusSeeOther {
			t.Fatalf("RS256: %d %s", r.Status, r.Body)
		}
		before := storetest.Snapshot(t, db)
		hs := authtest.Sign(t, jwt.SigningMethodHS256, []byte(rsaPEM), authtest.Claims(map[string]any{"sub": "other"}), nil)
		if r := app.SSOGet(webtest.Browser(t), hs, "/", "application/json"); r.Status != 401 || !strings.Contains(r.Body, `"code":"INVALID_TOKEN"`) {
			t.Fatalf("HS256 against an RSA key: %d %s", r.Status, r.Body)
		}
		if after := storetest.Snapshot(t, db); after != before {
			t.Fatalf("data changed:\n%s\n%s", before, after)
		}
	})
}

// jwksServer serves a JSON Web Key Set that a test changes, and counts its fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	delay   time.Duration
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		body, delay := s.body, s.delay
		s.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// publish makes the key set these keys (kid → public key).
func (s *jwksServer) publish(t *testing.T, keys map[string]crypto.PublicKey) {
	set := jose.JSONWebKeySet{}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.set(b, 0)
}

func (s *jwksServer) set(body []byte, delay time.Duration) {
	s.mu.Lock()
	s.body, s.delay = body, delay
	s.mu.Unlock()
}

// TestJWTSSOKeySet: with a jwksUrl, tokens signed with its keys sign in; when the keys rotate,
// a token with a new kid makes the server fetch the set again, at most once per
// oauth2sso.KeySetRefreshInterval (forged kids fetch nothing more), and the retired key's tokens
// are refused after that fetch; a kid naming a key of another type is refused.
func TestJWTSSOKeySet(t *testing.T) {
	k := newTestKeys(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clock := &authtest.Clock{Start: time.Now()}
		app := testserver.New(t, db, testserver.Options{Deps: routes.Deps{JWTNow: clock.Now}})
		c := app.Callers()
		keys := newJWKSServer(t)
		keys.publish(t, map[string]crypto.PublicKey{"rsa-1": &k.rsa.PublicKey, "ec-1": &k.ec.PublicKey})
		r := app.GQL(c.Admin, "", `mutation($u: String) { updateJwtSsoSettings(input: {enabled: true, jwksUrl: $u}) { jwtSso { enabled jwksUrl } } }`, map[string]any{"u": keys.URL + "/jwks.json"})
		if r.Code() != "" {
			t.Fatalf("%s", r.Raw)
		}
		sign := func(m jwt.SigningMethod, key any, kid string) string {
			h := map[string]any{}
			if kid != "" {
				h["kid"] = kid
			}
			return authtest.Sign(t, m, key, authtest.ClaimsAt(clock.Now(), nil), h)
		}
		login := func(token string) (int, string) {
			r := app.SSOGet(webtest.Browser(t), token, "/", "application/json")
			return r.Status, r.Body
		}
		expect := func(step string, token string, status int, fetches int32) {
			t.Helper()
			if got, body := login(token); got != status {
				t.Fatalf("%s: %d %s", step, got, body)
			}
			if n := keys.fetches.Load(); n != fetches {
				t.Fatalf("%s: %d fetches of the key set, want %d", step, n, fetches)
			}
		}
		expect("RS256 rsa-1", sign(jwt.SigningMethodRS256, k.rsa, "rsa-1"), 303, 1)
		expect("PS256 rsa-1", sign(jwt.SigningMethodPS256, k.rsa, "rsa-1"), 303, 1)
		expect("ES256 ec-1", sign(jwt.SigningMethodES256, k.ec, "ec-1"), 303, 1)
		expect("ES256 without a kid", sign(jwt.SigningMethodES256, k.ec, ""), 303, 1)
		if got := inspectKey(app, c.Admin, sign(jwt.SigningMethodES256, k.ec, "ec-1")); got != "ec-1" {
			t.Fatalf("inspected %q", got)
		}
		// Confusion: the kid of the RSA key on an ES256 token, HS256 with the key set's JSON.
		before := storetest.Snapshot(t, db)
		expect("ES256 naming rsa-1", sign(jwt.SigningMethodES256, k.ec, "rsa-1"), 401, 1)
		expect("HS256 with the public JWK", sign(jwt.SigningMethodHS256, []byte(jwk(t, &k.rsa.PublicKey, "rsa-1")), "rsa-1"), 401, 1)
		if after := storetest.Snapshot(t, db); after != before {
			t.Fatalf("data changed:\n%s\n%s", before, after)
		}

		// The customer rotates: rsa-2 replaces rsa-1. Within the refresh interval the new kid is
		// refused without another fetch, however many forged kids come.
		keys.publish(t, map[string]crypto.PublicKey{"rsa-2": &k.rsa2.PublicKey, "ec-1": &k.ec.PublicKey})
		clock.Advance(oauth2sso.KeySetRefreshInterval / 2)
		for _, kid := range []string{"rsa-2", "forged-1", "forged-2"} {
			expect("new kid too soon: "+kid, sign(jwt.SigningMethodRS256, k.rsa2, kid), 401, 1)
		}
		clock.Advance(oauth2sso.KeySetRefreshInterval)
		expect("rsa-2 after the interval", sign(jwt.SigningMethodRS256, k.rsa2, "rsa-2"), 303, 2)
		expect("ec-1 still", sign(jwt.SigningMethodES256, k.ec, "ec-1"), 303, 2)
		expect("retired rsa-1", sign(jwt.SigningMethodRS256, k.rsa, "rsa-1"), 401, 2)
		if got := inspectKey(app, c.Admin, sign(jwt.SigningMethodRS256, k.rsa2, "rsa-2")); got != "rsa-2" {
			t.Fatalf("inspected %q", got)
		}
	})
}

// TestJWTSSOKeySetUntrustedKeys: the keys of a jwksUrl key set that the server does not verify
// with (an RSA key under 2048 bits, a key for encryption, a private key, a key it cannot read)
// sign no one in and change nothing; the set's other keys still do. (go-jose verifies with public
// keys only, so a published private key was refused before the set was filtered too; the case
// keeps it so.)
func TestJWTSSOKeySetUntrustedKeys(t *testing.T) {
	k := newTestKeys(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	published, _ := rsa.GenerateKey(rand.Reader, 2048)
	forEnc, _ := rsa.GenerateKey(rand.Reader, 2048)
	entry := func(key any, kid, use string) json.RawMessage {
		b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Use: use})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	set, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{
		entry(&weak.PublicKey, "weak", "sig"),
		entry(published, "private", "sig"),
		entry(&forEnc.PublicKey, "enc", "enc"),
		json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x25519","use":"enc","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`),
		entry(&k.rsa.PublicKey, "rsa-1", "sig"),
		entry(&k.ec.PublicKey, "ec-1", ""),
	}})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		c := app.Callers()
		keys := newJWKSServer(t)
		keys.set(set, 0)
		setKeys(t, app, c.Admin, nil, keys.URL+"/jwks.json")
		r := app.GQL(c.Admin, "", `mutation { updateJwtSsoSettings(input: {enabled: true}) { jwtSso { enabled } } }`, nil)
		if r.Code() != "" {
			t.Fatalf("%s", r.Raw)
		}
		for _, tc := range []struct {
			name   string
			method jwt.SigningMethod
			key    any
			kid    string
		}{
			{"RSA under 2048 bits", jwt.SigningMethodRS256, weak, "weak"},
			{"a published private key", jwt.SigningMethodRS256, published, "private"},
			{"a key for encryption", jwt.SigningMethodRS256, forEnc, "enc"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				token := authtest.Sign(t, tc.method, tc.key, authtest.ClaimsAt(time.Now(), nil), map[string]any{"kid": tc.kid})
				r := app.SSOGet(webtest.Browser(t), token, "/", "application/json")
				if r.Status != http.StatusUnauthorized || authtest.ErrorCode(r.Body) != "INVALID_TOKEN" {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}
		for kid, signer := range map[string]struct {
			method jwt.SigningMethod
			key    any
		}{"rsa-1": {jwt.SigningMethodRS256, k.rsa}, "ec-1": {jwt.SigningMethodES256, k.ec}} {
			token := authtest.Sign(t, signer.method, signer.key, authtest.ClaimsAt(time.Now(), nil), map[string]any{"kid": kid})
			if r := app.SSOGet(webtest.Browser(t), token, "/", "application/json"); r.Status != http.StatusSeeOther {
				t.Fatalf("%s beside the untrusted keys: %d %s", kid, r.Status, r.Body)
			}
		}
	})
}

// TestJWTSSOKeySetUnavailable: a key set that answers slower than IDP_TIMEOUT, more than
// oauth2sso.MaxResponseBytes, an error status or no JSON refuses the sign-in with
// IDP_UNAVAILABLE in bounded time, and changes nothing.
func TestJWTSSOKeySetUnavailable(t *testing.T) {
	k := newTestKeys(t)
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{Env: map[string]string{"IDP_TIMEOUT": "300ms"}})
		c := app.Callers()
		huge := `{"keys":[{"kty":"oct","k":"` + strings.Repeat("A", oauth2sso.MaxResponseBytes) + `"}]}`
		for _, tt := range []struct {
			name  string
			body  string
			delay time.Duration
		}{
			{"slow", `{"keys":[]}`, 3 * time.Second},
			{"oversized", huge, 0},
			{"not JSON", `<html>maintenance</html>`, 0},
		} {
			t.Run(tt.name, func(t *testing.T) {
				keys := newJWKSServer(t)
				keys.set([]byte(tt.body), tt.delay)
				r := app.GQL(c.Admin, "", `mutation($u: String) { updateJwtSsoSettings(input: {enabled: true, jwksUrl: $u}) { jwtSso { enabled } } }`, map[string]any{"u": keys.URL})
				if r.Code() != "" {
					t.Fatalf("%s", r.Raw)
				}
				before := storetest.Snapshot(t, db)
				start := time.Now()
				resp := app.SSOGet(webtest.Browser(t), authtest.Sign(t, jwt.SigningMethodRS256, k.rsa, authtest.Claims(nil), map[string]any{"kid": "rsa-1"}), "/", "application/json")
				if took := time.Since(start); took > 2*time.Second {
					t.Fatalf("the refusal took %v", took)
				}
				if resp.Status != http.StatusBadGateway || !strings.Contains(resp.Body, `"code":"IDP_UNAVAILABLE"`) {
					t.Fatalf("%d %s", resp.Status, resp.Body)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}
	})
}
