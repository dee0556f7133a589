package jwtsso

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
)

// FuzzVerify feeds arbitrary token strings to Verify: it never panics, answers only with known
// codes, and accepts a token only when its HS256 signature verifies with the secret.
func FuzzVerify(f *testing.F) {
	valid := hs256(f, claimsAt(map[string]any{"jti": "seed-jti"}))
	parts := strings.Split(valid, ".")
	bigB64 := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("A", 6000)))
	for _, seed := range []string{
		valid,
		hs256(f, claimsAt(map[string]any{"exp": nil, "iat": secs(-100e9)})),
		hs256(f, claimsAt(map[string]any{"sub": 4711, "name": "Ünïcødé 名前", "data": map[string]any{"x": []any{1, 2}}})),
		authtest.Sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claimsAt(nil), nil),
		authtest.Sign(f, jwt.SigningMethodHS512, []byte(testSecret), claimsAt(nil), nil),
		handMade(`{"alg":"HS256","crit":["exp"],"b64":false}`, `{"sub":"a","name":"b","email":"c@d.io","exp":1e400}`),
		handMade(`{"alg":"HS256"}`, `{"sub":"a","name":"b","email":"c@d.io","exp":-9223372036854775809}`),
		handMade(`{"alg":"HS256"}`, `[1,2,3]`),
		handMade(`{"alg":"HS256"}`, "{\"sub\":\"\xff\",\"name\":\"b\",\"email\":\"c@d.io\",\"iat\":1}"),
		valid[:len(valid)/2],
		valid[:len(valid)-1],
		valid + "=",
		valid + ".",
		parts[0] + ".." + parts[1] + "." + parts[2],
		"...",
		"..",
		".",
		"",
		parts[0] + "." + bigB64 + "." + parts[2],
		bigB64 + "." + bigB64 + "." + bigB64,
		strings.Repeat("a", MaxTokenLength+1),
		"Bearer " + valid,
		" " + valid + " ",
	} {
		f.Add(seed)
	}
	v, st := testVerifier(f)
	f.Fuzz(func(t *testing.T, tokenString string) {
		tok, serr := v.Verify(tokenString, st)
		if serr != nil {
			if tok != nil {
				t.Fatal("a token beside an error")
			}
			if _, known := knownCodes[serr.Code]; !known {
				t.Fatalf("unknown code %q: %v", serr.Code, serr)
			}
			if strings.Contains(serr.Error(), testSecret) {
				t.Fatalf("the error echoes the secret: %v", serr)
			}
			return
		}
		if tok == nil || tok.Claims == nil {
			t.Fatal("neither a token nor an error")
		}
		// The signature must verify with the secret, by golang-jwt ...
		if _, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation()).Parse(tokenString, func(*jwt.Token) (any, error) {
			return []byte(testSecret), nil
		}); err != nil {
			t.Fatalf("Verify accepted %q, golang-jwt says: %v", tokenString, err)
		}
		// ... and by hand: three segments, an HS256 header, the HMAC-SHA256 of the first two.
		seg := strings.Split(tokenString, ".")
		if len(seg) != 3 {
			t.Fatalf("accepted a token of %d segments", len(seg))
		}
		hdr, err := base64.RawURLEncoding.DecodeString(seg[0])
		if err != nil {
			t.Fatalf("accepted an undecodable header: %v", err)
		}
		var h map[string]any
		if err := json.Unmarshal(hdr, &h); err != nil || h["alg"] != "HS256" {
			t.Fatalf("accepted header %s (%v)", hdr, err)
		}
		sig, err := base64.RawURLEncoding.DecodeString(seg[2])
		if err != nil {
			t.Fatalf("accepted an undecodable signature: %v", err)
		}
		m := hmac.New(sha256.New, []byte(testSecret))
		m.Write([]byte(seg[0] + "." + seg[1]))
		if !hmac.Equal(sig, m.Sum(nil)) {
			t.Fatalf("accepted a token whose signature is not the HMAC of its content")
		}
		for _, c := range []string{"sub", "name", "email"} {
			if _, ok := tok.Claims[c]; !ok {
				t.Fatalf("accepted a token without %s", c)
			}
		}
		if tok.ReplayUntil.IsZero() {
			t.Fatal("accepted token without a replay deadline")
		}
	})
}

var knownCodes = map[string]struct{}{
	auth.CodeSSODisabled: {}, auth.CodeInvalidToken: {}, auth.CodeTokenExpired: {}, auth.CodeMissingClaim: {},
	auth.CodeInvalidClaim: {}, auth.CodeInvalidRequest: {},
}

// FuzzParsePublicKey: whatever an admin pastes as a public key, ParsePublicKey answers without
// panicking, and a key it takes verifies only asymmetric algorithms of one key type.
func FuzzParsePublicKey(f *testing.F) {
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, pub := range []crypto.PublicKey{&r.PublicKey, &ec.PublicKey, edPub} {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		j, _ := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: "k1", Use: "sig"})
		f.Add(string(j))
	}
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&r.PublicKey)})))
	f.Add(`{"kty":"oct","k":"c2VjcmV0"}`)
	f.Add(`{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}`)
	f.Add("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		_, methods, err := ParsePublicKey(s)
		if err != nil {
			if len(methods) != 0 {
				t.Fatal("methods beside an error")
			}
			return
		}
		groups := [][]string{{"RS256", "PS256"}, {"ES256"}, {"EdDSA"}}
		if !slices.ContainsFunc(groups, func(g []string) bool {
			return len(methods) > 0 && !slices.ContainsFunc(methods, func(m string) bool { return !slices.Contains(g, m) })
		}) {
			t.Fatalf("a key that verifies %q", methods)
		}
	})
}
