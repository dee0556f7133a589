package jwtsso

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/replaymarker"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

const testSecret = "community-jwt-sso-secret-0123456789abcdef"

// testNow is the verifier's clock in these tests.
var testNow = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

func testSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{0x42}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testSettings(sealer *seal.Sealer) *ent.Settings {
	return &ent.Settings{JwtEnabled: true, JwtSecret: sealer.Seal(PurposeSecret, []byte(testSecret)), JwtMaxTokenAgeSeconds: 300}
}

func testVerifier(t testing.TB) (*Verifier, *ent.Settings) {
	sealer := testSealer(t)
	return &Verifier{Sealer: sealer, Now: func() time.Time { return testNow }}, testSettings(sealer)
}

// claimsAt returns valid claims at testNow, with over applied (a nil value deletes the claim).
func claimsAt(over map[string]any) jwt.MapClaims { return authtest.ClaimsAt(testNow, over) }

func hs256(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
}

// handMade builds a token from a raw header and payload, signed with HMAC-SHA256 of the secret.
func handMade(header, payload string) string {
	enc := base64.RawURLEncoding
	text := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(text))
	return text + "." + enc.EncodeToString(m.Sum(nil))
}

func secs(d time.Duration) int64 { return testNow.Add(d).Unix() }

func TestVerify(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		token func(t *testing.T) string
		st    func(st *ent.Settings)
		code  string // "" for success
		claim string
		check func(t *testing.T, tok *Token)
	}{
		{name: "valid", token: func(t *testing.T) string { return hs256(t, claimsAt(nil)) },
			check: func(t *testing.T, tok *Token) {
				if tok.JTI != "" || provision.String(tok.Claims["sub"]) != "cust-1" || !tok.ReplayUntil.Equal(testNow.Add(5*time.Minute+DefaultLeeway)) {
					t.Fatalf("token: %+v", tok)
				}
				if _, ok := tok.Claims["iat"].(json.Number); !ok {
					t.Fatalf("numbers are not json.Number: %T", tok.Claims["iat"])
				}
			}},
		{name: "kid jku and x5u are ignored", token: func(t *testing.T) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), claimsAt(nil), map[string]any{"kid": "../../etc/passwd", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/x5c"})
		}},
		{name: "exp 59s ago", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"exp": secs(-59 * time.Second)})) }},
		{name: "exp 61s ago", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"exp": secs(-61 * time.Second)})) }, code: auth.CodeTokenExpired},
		{name: "exp an hour ago", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"exp": secs(-time.Hour), "iat": secs(-2 * time.Hour)}))
		}, code: auth.CodeTokenExpired},
		{name: "exp as a string", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"exp": "tomorrow"})) }, code: auth.CodeInvalidClaim},
		{name: "nbf 59s ahead", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"nbf": secs(59 * time.Second)})) }},
		{name: "nbf 61s ahead", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"nbf": secs(61 * time.Second)})) }, code: auth.CodeInvalidToken},
		{name: "iat 59s ahead", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"iat": secs(59 * time.Second)})) }},
		{name: "iat 61s ahead", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"iat": secs(61 * time.Second)})) }, code: auth.CodeInvalidToken},
		// iat only: valid for the max age (300 s) plus the leeway (60 s).
		{name: "iat only, 359s old", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"exp": nil, "iat": secs(-359 * time.Second)}))
		}, check: func(t *testing.T, tok *Token) {
			if want := testNow.Add(time.Second); !tok.ReplayUntil.Equal(want) {
				t.Fatalf("ReplayUntil %v, want %v", tok.ReplayUntil, want)
			}
		}},
		{name: "iat only, 360s old", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"exp": nil, "iat": secs(-360 * time.Second)}))
		}},
		{name: "iat only, 361s old", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"exp": nil, "iat": secs(-361 * time.Second)}))
		}, code: auth.CodeTokenExpired},
		{name: "iat only, max age 0 means only the leeway", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"exp": nil, "iat": secs(-61 * time.Second)}))
		}, st: func(st *ent.Settings) { st.JwtMaxTokenAgeSeconds = 0 }, code: auth.CodeTokenExpired},
		{name: "neither exp nor iat", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"exp": nil, "iat": nil})) },
			code: auth.CodeMissingClaim, claim: "exp"},
		{name: "nbf alone is not enough", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"exp": nil, "iat": nil, "nbf": secs(-time.Second)}))
		}, code: auth.CodeMissingClaim, claim: "exp"},
		// The algorithm is HS256, whatever the header says.
		{name: "alg none", token: func(t *testing.T) string {
			return authtest.Sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claimsAt(nil), nil)
		}, code: auth.CodeInvalidToken},
		{name: "alg none with the HS256 signature", token: func(t *testing.T) string {
			good := strings.Split(hs256(t, claimsAt(nil)), ".")
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return h + "." + good[1] + "." + good[2]
		}, code: auth.CodeInvalidToken},
		{name: "alg None", token: func(t *testing.T) string {
			return handMade(`{"alg":"None"}`, `{"sub":"a","name":"b","email":"c@d.io","exp":9999999999}`) + ""
		},
			code: auth.CodeInvalidToken},
		{name: "alg hs256 lower case", token: func(t *testing.T) string {
			return handMade(`{"alg":"hs256","typ":"JWT"}`, `{"sub":"a","name":"b","email":"c@d.io","exp":9999999999}`)
		}, code: auth.CodeInvalidToken},
		{name: "alg HS384 with the secret", token: func(t *testing.T) string {
			return authtest.Sign(t, jwt.SigningMethodHS384, []byte(testSecret), claimsAt(nil), nil)
		}, code: auth.CodeInvalidToken},
		{name: "alg HS512 with the secret", token: func(t *testing.T) string {
			return authtest.Sign(t, jwt.SigningMethodHS512, []byte(testSecret), claimsAt(nil), nil)
		}, code: auth.CodeInvalidToken},
		{name: "alg RS256", token: func(t *testing.T) string { return authtest.Sign(t, jwt.SigningMethodRS256, rsaKey, claimsAt(nil), nil) },
			code: auth.CodeInvalidToken},
		{name: "alg ES256", token: func(t *testing.T) string { return authtest.Sign(t, jwt.SigningMethodES256, ecKey, claimsAt(nil), nil) },
			code: auth.CodeInvalidToken},
		{name: "HS256 with another secret", token: func(t *testing.T) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret+"x"), claimsAt(nil), nil)
		}, code: auth.CodeInvalidToken},
		{name: "tampered payload", token: func(t *testing.T) string {
			parts := strings.Split(hs256(t, claimsAt(nil)), ".")
			c, _ := json.Marshal(claimsAt(map[string]any{"sub": "admin"}))
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(c) + "." + parts[2]
		}, code: auth.CodeInvalidToken},
		{name: "signature stripped", token: func(t *testing.T) string {
			parts := strings.Split(hs256(t, claimsAt(nil)), ".")
			return parts[0] + "." + parts[1] + "."
		}, code: auth.CodeInvalidToken},
		{name: "an expired token with a bad signature is INVALID_TOKEN", token: func(t *testing.T) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, []byte("wrong"), claimsAt(map[string]any{"exp": secs(-time.Hour)}), nil)
		}, code: auth.CodeInvalidToken},
		{name: "two segments", token: func(t *testing.T) string { return "eyJhbGciOiJIUzI1NiJ9.e30" }, code: auth.CodeInvalidToken},
		{name: "four segments", token: func(t *testing.T) string { return hs256(t, claimsAt(nil)) + ".x" }, code: auth.CodeInvalidToken},
		{name: "not a token", token: func(t *testing.T) string { return "hello world" }, code: auth.CodeInvalidToken},
		{name: "empty", token: func(t *testing.T) string { return "" }, code: auth.CodeInvalidRequest},
		{name: "too long", token: func(t *testing.T) string {
			return hs256(t, claimsAt(map[string]any{"pad": strings.Repeat("x", MaxTokenLength)}))
		}, code: auth.CodeInvalidToken},
		// jti
		{name: "jti", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": "abc-123"})) },
			check: func(t *testing.T, tok *Token) {
				if tok.JTI != "abc-123" {
					t.Fatalf("JTI %q", tok.JTI)
				}
			}},
		{name: "jti of 256 bytes", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": strings.Repeat("j", 256)})) }},
		{name: "jti of 257 bytes", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": strings.Repeat("j", 257)})) },
			code: auth.CodeInvalidClaim, claim: "jti"},
		{name: "jti number", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": 12345})) },
			code: auth.CodeInvalidClaim, claim: "jti"},
		{name: "jti bool", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": true})) },
			code: auth.CodeInvalidClaim, claim: "jti"},
		{name: "jti list", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": []string{"a"}})) },
			code: auth.CodeInvalidClaim, claim: "jti"},
		{name: "jti empty", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": ""})) },
			code: auth.CodeInvalidClaim, claim: "jti"},
		{name: "jti null", token: func(t *testing.T) string {
			return handMade(`{"alg":"HS256"}`, `{"sub":"a","name":"b","email":"c@d.io","exp":`+jsonInt(secs(time.Minute))+`,"jti":null}`)
		}, code: auth.CodeInvalidClaim, claim: "jti"},
		{name: "requireJti without jti", token: func(t *testing.T) string { return hs256(t, claimsAt(nil)) },
			st: func(st *ent.Settings) { st.JwtRequireJti = true }, code: auth.CodeMissingClaim, claim: "jti"},
		{name: "requireJti with jti", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"jti": "j-1"})) },
			st: func(st *ent.Settings) { st.JwtRequireJti = true }},
		// Required claims.
		{name: "no sub", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"sub": nil})) }, code: auth.CodeMissingClaim, claim: "sub"},
		{name: "empty sub", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"sub": " "})) }, code: auth.CodeMissingClaim, claim: "sub"},
		{name: "numeric sub", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"sub": 4711})) }},
		{name: "no name", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"name": nil})) }, code: auth.CodeMissingClaim, claim: "name"},
		{name: "no email", token: func(t *testing.T) string { return hs256(t, claimsAt(map[string]any{"email": nil})) }, code: auth.CodeMissingClaim, claim: "email"},
		// Settings.
		{name: "disabled", token: func(t *testing.T) string { return hs256(t, claimsAt(nil)) },
			st: func(st *ent.Settings) { st.JwtEnabled = false }, code: auth.CodeSSODisabled},
		{name: "no secret", token: func(t *testing.T) string { return hs256(t, claimsAt(nil)) },
			st: func(st *ent.Settings) { st.JwtSecret = nil }, code: auth.CodeSSODisabled},
		{name: "disabled, even with an empty token", token: func(t *testing.T) string { return "" },
			st: func(st *ent.Settings) { st.JwtEnabled = false }, code: auth.CodeSSODisabled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, st := testVerifier(t)
			if tc.st != nil {
				tc.st(st)
			}
			tokenString := tc.token(t)
			tok, serr := v.Verify(tokenString, st)
			if tc.code == "" {
				if serr != nil {
					t.Fatalf("Verify: %v", serr)
				}
				if tok == nil || tok.Claims == nil {
					t.Fatal("no token")
				}
				if tc.check != nil {
					tc.check(t, tok)
				}
				return
			}
			if serr == nil {
				t.Fatalf("Verify succeeded, want %s", tc.code)
			}
			if tok != nil {
				t.Fatalf("a token beside the error: %+v", tok)
			}
			if serr.Code != tc.code {
				t.Fatalf("code %s (%v), want %s", serr.Code, serr, tc.code)
			}
			if tc.claim != "" {
				if got, _ := serr.Detail["claim"].(string); got != tc.claim {
					t.Fatalf("claim %q, want %q", got, tc.claim)
				}
			}
			if strings.Contains(serr.Message, testSecret) || (len(tokenString) > 20 && strings.Contains(serr.Error(), tokenString)) {
				t.Fatalf("the error echoes the secret or the token: %v", serr)
			}
		})
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestVerifyLeeway(t *testing.T) {
	v, st := testVerifier(t)
	v.Leeway = 5 * time.Second
	for _, tc := range []struct {
		exp  time.Duration
		code string
	}{
		{-4 * time.Second, ""},
		{-6 * time.Second, auth.CodeTokenExpired},
	} {
		_, serr := v.Verify(hs256(t, claimsAt(map[string]any{"exp": secs(tc.exp), "iat": secs(-time.Minute)})), st)
		if (serr == nil) != (tc.code == "") || (serr != nil && serr.Code != tc.code) {
			t.Fatalf("exp %v with a 5s leeway: %v, want %q", tc.exp, serr, tc.code)
		}
	}
}

func TestVerifySecretSealing(t *testing.T) {
	sealer := testSealer(t)
	other, err := seal.New(bytes.Repeat([]byte{0x43}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	tokenString := hs256(t, claimsAt(nil))
	for _, tc := range []struct {
		name   string
		secret []byte
	}{
		{"another purpose", sealer.Seal("setting:client-secret", []byte(testSecret))},
		{"another key", other.Seal(PurposeSecret, []byte(testSecret))},
		{"not sealed", []byte(testSecret)},
		{"truncated", sealer.Seal(PurposeSecret, []byte(testSecret))[:20]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{Sealer: sealer, Now: func() time.Time { return testNow }}
			_, serr := v.Verify(tokenString, &ent.Settings{JwtEnabled: true, JwtSecret: tc.secret, JwtMaxTokenAgeSeconds: 300})
			if serr == nil || serr.Code != auth.CodeSSODisabled {
				t.Fatalf("Verify: %v, want SSO_DISABLED", serr)
			}
			if strings.Contains(serr.Error(), testSecret) {
				t.Fatalf("error echoes the secret: %v", serr)
			}
		})
	}
}

func TestReplayKey(t *testing.T) {
	k := ReplayKey("abc")
	sum := sha256.Sum256([]byte("abc"))
	if k != hex.EncodeToString(sum[:]) || len(k) != 64 {
		t.Fatalf("ReplayKey(abc) = %q", k)
	}
	if ReplayKey("abc") != k || ReplayKey("abd") == k || ReplayKey(strings.Repeat("x", 256)) == k {
		t.Fatal("ReplayKey is not a function of the jti")
	}
}

// inTx runs fn in a transaction and commits it when fn succeeds.
func inTx(t testing.TB, db *store.DB, fn func(client *ent.Client) error) error {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func TestConsume(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := testNow
		tok := &Token{JTI: "jti-1", ReplayUntil: now.Add(5 * time.Minute)}
		consumeAt := func(tok *Token, at time.Time) error {
			return inTx(t, db, func(c *ent.Client) error { return consume(ctx, c, tok, at) })
		}
		wantCode := func(err error, code string) {
			t.Helper()
			if e := auth.AsSSOError(err); e == nil || e.Code != code {
				t.Fatalf("err %v, want %s", err, code)
			}
		}

		if used, err := Used(ctx, db.Client, "jti-1", now); err != nil || used {
			t.Fatalf("Used before consume: %v %v", used, err)
		}
		if err := consumeAt(tok, now); err != nil {
			t.Fatalf("first consume: %v", err)
		}
		if used, err := Used(ctx, db.Client, "jti-1", now); err != nil || !used {
			t.Fatalf("Used after consume: %v %v", used, err)
		}
		m, err := db.Client.ReplayMarker.Query().Where(replaymarker.Key(ReplayKey("jti-1"))).Only(ctx)
		if err != nil || !m.ExpiresAt.Equal(tok.ReplayUntil) {
			t.Fatalf("marker %+v, %v", m, err)
		}
		wantCode(consumeAt(tok, now), auth.CodeTokenReplayed)
		wantCode(consumeAt(tok, now.Add(4*time.Minute)), auth.CodeTokenReplayed)

		// Another jti is independent; no jti records nothing.
		if err := consumeAt(&Token{JTI: "jti-2", ReplayUntil: now.Add(time.Minute)}, now); err != nil {
			t.Fatal(err)
		}
		before := db.Client.ReplayMarker.Query().CountX(ctx)
		for range 3 {
			if err := consumeAt(&Token{ReplayUntil: now.Add(time.Hour)}, now); err != nil {
				t.Fatal(err)
			}
		}
		// The occasional cleanup may only remove expired markers, and none are expired yet.
		if after := db.Client.ReplayMarker.Query().CountX(ctx); after != before {
			t.Fatalf("markers %d -> %d for tokens without a jti", before, after)
		}

		// After the marker expires, Used says no, and a new token with the same jti (a new
		// validity window) may be used once more.
		later := tok.ReplayUntil.Add(time.Second)
		if used, err := Used(ctx, db.Client, "jti-1", later); err != nil || used {
			t.Fatalf("Used after expiry: %v %v", used, err)
		}
		again := &Token{JTI: "jti-1", ReplayUntil: later.Add(5 * time.Minute)}
		if err := consumeAt(again, later); err != nil {
			t.Fatalf("consume after expiry: %v", err)
		}
		if n := db.Client.ReplayMarker.Query().Where(replaymarker.Key(ReplayKey("jti-1"))).CountX(ctx); n != 1 {
			t.Fatalf("%d markers for jti-1", n)
		}
		wantCode(consumeAt(again, later), auth.CodeTokenReplayed)

		// A failed transaction leaves no marker.
		err = inTx(t, db, func(c *ent.Client) error {
			if err := consume(ctx, c, &Token{JTI: "jti-rollback", ReplayUntil: now.Add(time.Minute)}, now); err != nil {
				return err
			}
			return errors.New("later failure")
		})
		if err == nil {
			t.Fatal("no error")
		}
		if used, _ := Used(ctx, db.Client, "jti-rollback", now); used {
			t.Fatal("a rolled back login consumed its jti")
		}
	})
}

// A token whose exp is far in the future (a signer's bug, but a valid signature) is refused with
// INVALID_CLAIM, never an internal database error from a marker expiry the time column cannot hold.
func TestConsumeFarFutureExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		v, st := testVerifier(t)
		for _, exp := range []int64{1e12, testNow.Add(MaxLifetime + time.Hour).Unix()} {
			_, serr := v.Verify(hs256(t, claimsAt(map[string]any{"jti": "far", "exp": exp})), st)
			if serr == nil || serr.Code != auth.CodeInvalidClaim {
				t.Fatalf("Verify(exp=%d) = %v, want INVALID_CLAIM", exp, serr)
			}
		}
		// Within the bound, the marker fits the database.
		tok, serr := v.Verify(hs256(t, claimsAt(map[string]any{"jti": "near", "exp": testNow.Add(MaxLifetime - time.Hour).Unix()})), st)
		if serr != nil {
			t.Fatal(serr)
		}
		if err := inTx(t, db, func(c *ent.Client) error { return consume(context.Background(), c, tok, testNow) }); err != nil {
			t.Fatalf("consume: %v", err)
		}
	})
}

// Two browsers using one token at the same moment: one signs in, the other is told the token
// was used.
func TestConcurrentLoginsWithOneJTI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		v, st := testVerifier(t)
		tok, serr := v.Verify(hs256(t, claimsAt(map[string]any{"jti": "once"})), st)
		if serr != nil {
			t.Fatal(serr)
		}
		pr, err := provision.Map(tok.Claims, "externalId", "email", "name")
		if err != nil {
			t.Fatal(err)
		}
		p := &provision.Provisioner{DB: db, Sessions: &auth.Sessions{Client: db.Client, Lifetime: time.Hour}, Log: slog.New(slog.DiscardHandler)}
		const n = 12
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = p.Login(context.Background(), provision.Request{
					Method:  session.MethodJWT,
					Profile: pr,
					Before:  func(ctx context.Context, c *ent.Client) error { return consume(ctx, c, tok, testNow) },
				})
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if e := auth.AsSSOError(err); e == nil || (e.Code != auth.CodeTokenReplayed && e.Code != auth.CodeTryAgain) {
				t.Errorf("login %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d logins succeeded with one jti, want 1", ok)
		}
		if c := db.Client.Session.Query().CountX(context.Background()); c != 1 {
			t.Fatalf("%d sessions, want 1", c)
		}
	})
}

// TestVerifyPreviousSecret: after a rotation with a grace period, a token signed with the
// previous secret verifies (Key says so) until the period's end, and not from that instant on;
// the current secret always verifies, as the previous one never does without a period.
func TestVerifyPreviousSecret(t *testing.T) {
	const previous = "the-secret-before-the-rotation-0123456789"
	sealer := testSealer(t)
	expires := testNow.Add(time.Hour)
	st := testSettings(sealer)
	st.JwtPreviousSecret = sealer.Seal(PurposeSecret, []byte(previous))
	st.JwtPreviousSecretExpiresAt = &expires
	oldTok := func(at time.Time) string {
		return authtest.Sign(t, jwt.SigningMethodHS256, []byte(previous), authtest.ClaimsAt(at, nil), nil)
	}
	tests := []struct {
		name    string
		at      time.Time
		token   func(at time.Time) string
		st      func() *ent.Settings
		wantKey string
		code    string
	}{
		{"current secret", testNow, func(at time.Time) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, []byte(testSecret), authtest.ClaimsAt(at, nil), nil)
		}, func() *ent.Settings { return st }, KeySecret, ""},
		{"previous secret inside the period", testNow, oldTok, func() *ent.Settings { return st }, KeyPreviousSecret, ""},
		{"previous secret just before the end", expires.Add(-time.Millisecond), oldTok, func() *ent.Settings { return st }, KeyPreviousSecret, ""},
		{"previous secret at the end", expires, oldTok, func() *ent.Settings { return st }, "", auth.CodeInvalidToken},
		{"previous secret just after the end", expires.Add(time.Millisecond), oldTok, func() *ent.Settings { return st }, "", auth.CodeInvalidToken},
		{"previous secret without a period", testNow, oldTok, func() *ent.Settings {
			c := *st
			c.JwtPreviousSecretExpiresAt = nil
			return &c
		}, "", auth.CodeInvalidToken},
		{"another secret inside the period", testNow, func(at time.Time) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, []byte("neither"), authtest.ClaimsAt(at, nil), nil)
		}, func() *ent.Settings { return st }, "", auth.CodeInvalidToken},
		{"expired token signed with the previous secret", testNow, func(at time.Time) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, []byte(previous), authtest.ClaimsAt(at, map[string]any{"exp": at.Add(-time.Hour).Unix(), "iat": at.Add(-2 * time.Hour).Unix()}), nil)
		}, func() *ent.Settings { return st }, "", auth.CodeTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &Verifier{Sealer: sealer, Now: func() time.Time { return tt.at }}
			tok, serr := v.Verify(tt.token(tt.at), tt.st())
			if tt.code != "" {
				if serr == nil || serr.Code != tt.code {
					t.Fatalf("got %+v, %v; want %s", tok, serr, tt.code)
				}
				return
			}
			if serr != nil || tok.Key != tt.wantKey {
				t.Fatalf("got %+v, %v; want key %q", tok, serr, tt.wantKey)
			}
		})
	}
}
