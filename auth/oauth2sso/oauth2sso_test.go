package oauth2sso

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validFlow() flow {
	return flow{State: "state-1", Nonce: "nonce-1", Verifier: oauth2.GenerateVerifier(), Return: "/spaces", Expires: testNow.Add(FlowLifetime).Unix()}
}

func TestFlowCookie(t *testing.T) {
	s := testSealer(t)
	other, err := seal.New(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	good := sealFlow(s, validFlow())
	tampered := []byte(good)
	tampered[len(tampered)/2] ^= 1
	for _, tc := range []struct {
		name  string
		value string
		now   time.Time
		ok    bool
	}{
		{"round trip", good, testNow, true},
		{"just before expiry", good, testNow.Add(FlowLifetime - time.Second), true},
		{"expired", good, testNow.Add(FlowLifetime), false},
		{"tampered", string(tampered), testNow, false},
		{"another key", sealFlow(other, validFlow()), testNow, false},
		{"another purpose", base64.RawURLEncoding.EncodeToString(s.Seal("cookie:other", []byte(`{"s":"x","v":"y","e":9999999999}`))), testNow, false},
		{"empty", "", testNow, false},
		{"not base64", "%%%", testNow, false},
		{"too long", strings.Repeat("A", maxFlowCookie+1), testNow, false},
		{"sealed but no state", sealFlow(s, flow{Verifier: "v", Expires: testNow.Add(time.Minute).Unix()}), testNow, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := openFlow(s, tc.value, tc.now)
			if tc.ok != (err == nil) {
				t.Fatalf("openFlow: %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (f.State != "state-1" || f.Nonce != "nonce-1" || f.Return != "/spaces" || f.Verifier == "") {
				t.Fatalf("flow = %+v", f)
			}
			if !tc.ok && !errors.Is(err, errFlow) {
				t.Fatalf("error %v is not errFlow", err)
			}
		})
	}
	if len(good) > 600 {
		t.Errorf("flow cookie is %d bytes", len(good))
	}
}

func TestSameState(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"abc", "abc", true},
		{"abd", "abc", false},
		{"ab", "abc", false},
		{"", "", false},
		{"abc", "", false},
	} {
		if sameState(tc.got, tc.want) != tc.ok {
			t.Errorf("sameState(%q, %q) = %v", tc.got, tc.want, !tc.ok)
		}
	}
}

func TestFlowCookieAttributes(t *testing.T) {
	c := newFlowCookie(true, false, false, "v", 600)
	if c.Name != "__Host-community_oauth2_flow" || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 600 {
		t.Fatalf("secure cookie: %+v", c)
	}
	if c := newFlowCookie(false, false, false, "v", 600); c.Name != "community_oauth2_flow" || c.Secure || c.Partitioned {
		t.Fatalf("plain cookie: %+v", c)
	}
	if c := newFlowCookie(false, false, true, "v", 600); c.Name != "community_oauth2_flow" || !c.Secure || !c.Partitioned || c.SameSite != http.SameSiteNoneMode {
		t.Fatalf("framed cookie: %+v", c)
	}
}

func TestPresets(t *testing.T) {
	for _, tc := range []struct {
		kind   settings.Oauth2Provider
		domain string
		want   preset
	}{
		{settings.Oauth2ProviderOKTA, "dev-1.okta.com", preset{issuer: "https://dev-1.okta.com"}},
		{settings.Oauth2ProviderOKTA, "dev-1.okta.com/oauth2/default", preset{issuer: "https://dev-1.okta.com/oauth2/default"}},
		{settings.Oauth2ProviderAUTH0, "tenant.eu.auth0.com", preset{issuer: "https://tenant.eu.auth0.com/"}},
		{settings.Oauth2ProviderAUTH0, "tenant.eu.auth0.com/", preset{issuer: "https://tenant.eu.auth0.com/"}},
		{settings.Oauth2ProviderOUTSETA, "acme.outseta.com", preset{issuer: "https://acme.outseta.com", scopes: []string{"openid", "profile", "email", "outseta"}}},
		{settings.Oauth2ProviderWORDPRESS, "blog.example.com", preset{authURL: "https://blog.example.com/oauth/authorize", tokenURL: "https://blog.example.com/oauth/token", userInfo: "https://blog.example.com/oauth/me", scopes: []string{"basic"}}},
		{settings.Oauth2ProviderMEMBERFUL, "acme.memberful.com", preset{authURL: "https://acme.memberful.com/oauth", tokenURL: "https://acme.memberful.com/oauth/token",
			userInfo: "https://acme.memberful.com/api/graphql/member?query=" + url.QueryEscape("{currentMember{id email fullName username}}")}},
		{settings.Oauth2ProviderCUSTOM, "ignored.example.com", preset{}},
		{settings.Oauth2ProviderOKTA, "https://dev-1.okta.com/oauth2/default/", preset{issuer: "https://dev-1.okta.com/oauth2/default"}},
		{settings.Oauth2ProviderAUTH0, "HTTPS://tenant.eu.auth0.com//", preset{issuer: "https://tenant.eu.auth0.com/"}},
	} {
		t.Run(string(tc.kind)+" "+tc.domain, func(t *testing.T) {
			got := presetFor(tc.kind, tc.domain)
			if got.issuer != tc.want.issuer || got.authURL != tc.want.authURL || got.tokenURL != tc.want.tokenURL || got.userInfo != tc.want.userInfo || !slices.Equal(got.scopes, tc.want.scopes) {
				t.Fatalf("preset = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestNormalizeDomain: an https:// prefix and trailing slashes are removed; another scheme is
// refused.
func TestNormalizeDomain(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"dev-123.okta.com", "dev-123.okta.com", true},
		{" dev-123.okta.com/ ", "dev-123.okta.com", true},
		{"https://dev-123.okta.com", "dev-123.okta.com", true},
		{"https://dev-123.okta.com/oauth2/default/", "dev-123.okta.com/oauth2/default", true},
		{"HTTPS://Dev-123.okta.com//", "Dev-123.okta.com", true},
		{"", "", true},
		{"http://dev-123.okta.com", "", false},
		{"ftp://dev-123.okta.com", "", false},
		{"://dev-123.okta.com", "", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeDomain(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("NormalizeDomain(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
			}
		})
	}
}

// TestResolve covers what Resolve makes of the settings: explicit URLs win over presets, a plain
// provider needs a user info URL, OIDC scopes always hold openid, refresh revalidation asks for
// offline_access, and discovery is cached.
func TestResolve(t *testing.T) {
	s := testSealer(t)
	var discoveries int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		discoveries++
		w.Header().Set("Content-Type", "application/json")
		base := "http://" + r.Host
		_, _ = io.WriteString(w, `{"issuer":"`+base+`","authorization_endpoint":"`+base+`/authorize","token_endpoint":"`+base+`/token",`+
			`"userinfo_endpoint":"`+base+`/userinfo","jwks_uri":"`+base+`/jwks","end_session_endpoint":"`+base+`/logout","scopes_supported":["openid","offline_access"]}`)
	}))
	defer srv.Close()
	now := testNow
	d := &Discovery{Client: NewHTTPClient(nil, time.Second), Now: func() time.Time { return now }}
	secret := s.Seal(PurposeClientSecret, []byte("shh"))

	oidcSettings := &ent.Settings{Oauth2Provider: settings.Oauth2ProviderCUSTOM, Oauth2Issuer: srv.URL, Oauth2ClientID: "c", Oauth2ClientSecret: secret, Oauth2RefreshMinutes: 30, Oauth2Scopes: []string{"email"}}
	p, err := d.Resolve(context.Background(), oidcSettings, s)
	if err != nil {
		t.Fatal(err)
	}
	if !p.OIDC() || p.ClientSecret != "shh" || p.TokenURL != srv.URL+"/token" || p.UserInfoURL != srv.URL+"/userinfo" || p.EndSessionURL != srv.URL+"/logout" {
		t.Fatalf("provider = %+v", p)
	}
	if !slices.Equal(p.Scopes, []string{"openid", "email", "offline_access"}) {
		t.Fatalf("scopes = %q", p.Scopes)
	}
	oidcSettings.Oauth2TokenURL = srv.URL + "/explicit-token"
	if p, _ = d.Resolve(context.Background(), oidcSettings, s); p.TokenURL != srv.URL+"/explicit-token" {
		t.Fatalf("explicit token URL lost: %q", p.TokenURL)
	}
	if discoveries != 1 {
		t.Fatalf("%d discoveries, want 1 (cached)", discoveries)
	}
	now = now.Add(DiscoveryTTL)
	if _, err := d.Resolve(context.Background(), oidcSettings, s); err != nil || discoveries != 2 {
		t.Fatalf("after the TTL: %v, %d discoveries", err, discoveries)
	}

	plain := &ent.Settings{Oauth2Provider: settings.Oauth2ProviderCUSTOM, Oauth2AuthorizationURL: "https://idp.example/a", Oauth2TokenURL: "https://idp.example/t"}
	if _, err := d.Resolve(context.Background(), plain, s); auth.AsSSOError(err) == nil || auth.AsSSOError(err).Code != auth.CodeIDPError {
		t.Fatalf("plain provider without user info URL: %v", err)
	}
	bad := &ent.Settings{Oauth2Provider: settings.Oauth2ProviderOKTA, Oauth2Domain: "x", Oauth2ClientSecret: []byte("not sealed")}
	if _, err := d.Resolve(context.Background(), bad, s); auth.AsSSOError(err) == nil {
		t.Fatalf("unreadable secret: %v", err)
	}
	wrongIssuer := &ent.Settings{Oauth2Provider: settings.Oauth2ProviderCUSTOM, Oauth2Issuer: srv.URL + "/"}
	if _, err := d.Resolve(context.Background(), wrongIssuer, s); auth.AsSSOError(err) == nil || auth.AsSSOError(err).Code != auth.CodeIDPError {
		t.Fatalf("issuer mismatch (trailing slash): %v", err)
	}
}

func TestLimitedBody(t *testing.T) {
	for _, tc := range []struct {
		size int
		ok   bool
	}{
		{0, true}, {100, true}, {MaxResponseBytes, true}, {MaxResponseBytes + 1, false}, {3 * MaxResponseBytes, false},
	} {
		b := &limitedBody{rc: io.NopCloser(bytes.NewReader(make([]byte, tc.size))), left: MaxResponseBytes}
		n, err := io.Copy(io.Discard, b)
		if tc.ok && (err != nil || n != int64(tc.size)) {
			t.Errorf("size %d: %d %v", tc.size, n, err)
		}
		if !tc.ok && !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("size %d: %v, want ErrResponseTooLarge", tc.size, err)
		}
	}
}

func TestProviderError(t *testing.T) {
	resp := func(code int) *http.Response { return &http.Response{StatusCode: code} }
	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"invalid_grant", &oauth2.RetrieveError{Response: resp(400), ErrorCode: "invalid_grant"}, auth.CodeIDPError},
		{"token endpoint 503", &oauth2.RetrieveError{Response: resp(503)}, auth.CodeIDPUnavailable},
		{"rate limited", &oauth2.RetrieveError{Response: resp(429)}, auth.CodeIDPUnavailable},
		{"deadline", context.DeadlineExceeded, auth.CodeIDPUnavailable},
		{"discovery 502", errors.New("502 Bad Gateway: upstream"), auth.CodeIDPUnavailable},
		{"nonsense", errors.New("oidc: failed to decode provider discovery object"), auth.CodeIDPError},
	} {
		if got := providerError("step", tc.err); got.Code != tc.code {
			t.Errorf("%s: %s, want %s", tc.name, got.Code, tc.code)
		}
	}
	if e := providerError("exchange", &oauth2.RetrieveError{Response: resp(400), ErrorCode: "<bad>\ncode"}); e.Detail["idpError"] != "badcode" {
		t.Errorf("idpError detail = %v", e.Detail)
	}
}

func TestRedact(t *testing.T) {
	got := redact(map[string]any{"sub": "1", "at_hash": "h", "nonce": "n", "refresh_token": "r", "email": "e@x"})
	if got["sub"] != "1" || got["email"] != "e@x" || got["at_hash"] != "[redacted]" || got["nonce"] != "[redacted]" || got["refresh_token"] != "[redacted]" {
		t.Fatalf("redact = %v", got)
	}
}

// FuzzFlowCookie: no input opens as a flow unless this server sealed it, and nothing panics.
func FuzzFlowCookie(f *testing.F) {
	s := testSealer(f)
	good := sealFlow(s, validFlow())
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add("")
	f.Add("e30")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"s":"x","v":"y","e":9999999999}`)))
	f.Add(strings.Repeat("A", 4000))
	f.Fuzz(func(t *testing.T, value string) {
		fl, err := openFlow(s, value, testNow)
		if err == nil && value != good {
			// Only a value sealed with the key opens; a forgery would need the key.
			if _, err2 := base64.RawURLEncoding.DecodeString(value); err2 != nil {
				t.Fatalf("opened a value that is not base64: %q", value)
			}
			if fl.State == "" || fl.Verifier == "" {
				t.Fatalf("opened an incomplete flow: %+v", fl)
			}
		}
	})
}

// TestKeySetTransport: the key set's URL is fetched at most once per KeySetRefreshInterval (the
// last answer is served in between, whole, to each caller); an answer other than 200 is not
// kept; other requests always go through.
func TestKeySetTransport(t *testing.T) {
	var fetches, others atomic.Int32
	status := atomic.Int32{}
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/keys" {
			others.Add(1)
			return
		}
		n := fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		fmt.Fprintf(w, `{"keys":[],"n":%d}`, n)
	}))
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	c := &http.Client{Transport: &keySetTransport{url: srv.URL + "/keys", next: http.DefaultTransport, now: func() time.Time { return now }}}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name    string
		advance time.Duration
		path    string
		status  int
		want    string // the answer's body
		fetches int32  // of the key set so far
	}{
		{"first fetch", 0, "/keys", http.StatusOK, `{"keys":[],"n":1}`, 1},
		{"within the interval: the last answer", KeySetRefreshInterval - time.Second, "/keys", http.StatusOK, `{"keys":[],"n":1}`, 1},
		{"again", 0, "/keys", http.StatusOK, `{"keys":[],"n":1}`, 1},
		{"another URL goes through", 0, "/other", http.StatusOK, "", 1},
		{"after the interval: fetched", time.Second, "/keys", http.StatusOK, `{"keys":[],"n":2}`, 2},
		{"an error answer is not kept", KeySetRefreshInterval, "/keys", http.StatusServiceUnavailable, `{"keys":[],"n":3}`, 3},
		{"so the next call fetches", 0, "/keys", http.StatusOK, `{"keys":[],"n":4}`, 4},
		{"and that answer is kept", 0, "/keys", http.StatusOK, `{"keys":[],"n":4}`, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(tc.advance)
			status.Store(int32(tc.status))
			code, body := get(tc.path)
			if tc.path == "/keys" && (code != tc.status || body != tc.want) {
				t.Fatalf("got %d %s, want %d %s", code, body, tc.status, tc.want)
			}
			if fetches.Load() != tc.fetches {
				t.Fatalf("%d fetches, want %d", fetches.Load(), tc.fetches)
			}
		})
	}
	if others.Load() != 1 {
		t.Fatalf("%d requests to another URL went through, want 1", others.Load())
	}
}

// TestTrustedKeys: a key set keeps the public signing keys a provider publishes (RSA of 2048 bits
// or more, with or without its certificate chain, EC on P-256, P-384 and P-521, Ed25519, with
// "use" "sig" or none) and loses the others; a set that loses nothing, or a body that is not a
// key set, is kept byte for byte.
func TestTrustedKeys(t *testing.T) {
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec := func(c elliptic.Curve) *ecdsa.PublicKey {
		k, _ := ecdsa.GenerateKey(c, rand.Reader)
		return &k.PublicKey
	}
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "idp"}, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsa2048.PublicKey, rsa2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	jwk := func(k jose.JSONWebKey) string {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name string
		key  string
		kept bool
	}{
		{"RSA 2048", jwk(jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "a", Use: "sig", Algorithm: "RS256"}), true},
		{"RSA 2048 with its certificate", jwk(jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "a", Certificates: []*x509.Certificate{cert}}), true},
		{"EC P-256", jwk(jose.JSONWebKey{Key: ec(elliptic.P256()), KeyID: "a"}), true},
		{"EC P-384", jwk(jose.JSONWebKey{Key: ec(elliptic.P384()), KeyID: "a", Use: "sig"}), true},
		{"EC P-521", jwk(jose.JSONWebKey{Key: ec(elliptic.P521()), KeyID: "a"}), true},
		{"Ed25519", jwk(jose.JSONWebKey{Key: edPub, KeyID: "a"}), true},
		{"RSA 1024", jwk(jose.JSONWebKey{Key: &rsa1024.PublicKey, KeyID: "a", Use: "sig"}), false},
		{"for encryption", jwk(jose.JSONWebKey{Key: &rsa2048.PublicKey, KeyID: "a", Use: "enc"}), false},
		{"private", jwk(jose.JSONWebKey{Key: rsa2048, KeyID: "a"}), false},
		{"symmetric", jwk(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "a"}), false},
		{"unreadable", `{"kty":"RSA","kid":"a"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"keys":[` + tc.key + `]}`
			got := string(trustedKeys([]byte(body)))
			if tc.kept && got != body {
				t.Fatalf("rewritten: %s", got)
			}
			if !tc.kept && got != `{"keys":[]}` {
				t.Fatalf("kept: %s", got)
			}
		})
	}
	for _, body := range []string{`not json`, `{"n":1}`, `{"keys":[]}`} {
		if got := string(trustedKeys([]byte(body))); got != body {
			t.Fatalf("%s became %s", body, got)
		}
	}
	// The kept keys keep their JSON as published, in order.
	good := jwk(jose.JSONWebKey{Key: ec(elliptic.P256()), KeyID: "b"})
	body := `{"keys":[` + good + `,` + jwk(jose.JSONWebKey{Key: &rsa1024.PublicKey, KeyID: "c"}) + `,` + good + `]}`
	if got := string(trustedKeys([]byte(body))); got != `{"keys":[`+good+`,`+good+`]}` {
		t.Fatalf("mixed set became %s", got)
	}
}
