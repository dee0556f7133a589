package jwtsso_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// jwtApp serves the routes over db, signs the callers in, and has the admin turn JWT SSO on; it
// returns the secret tokens are signed with.
func jwtApp(t *testing.T, db *store.DB) (*authtest.App, authtest.Callers, []byte) {
	t.Helper()
	app := testserver.New(t, db, testserver.Options{})
	c := app.Callers()
	return app, c, []byte(app.EnableJWT(c.Admin))
}

func TestJWTSSOTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		secret := string(key)
		rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
		old := time.Now().Add(-time.Hour).Unix()

		valid := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(nil), nil)
		parts := strings.Split(valid, ".")
		tampered := parts[0] + "." + strings.TrimRight(authtest.Segment(t, authtest.Claims(map[string]any{"email": "admin@example.com"})), "=") + "." + parts[2]
		noneTok := authtest.Unsigned(t, map[string]any{"alg": "none", "typ": "JWT"}, authtest.Claims(nil))
		hsWithPublicKey := authtest.Sign(t, jwt.SigningMethodHS256, []byte("-----BEGIN PUBLIC KEY-----"), authtest.Claims(nil), nil)

		tests := []struct {
			name   string
			token  string
			status int
			code   string
		}{
			{"alg none", noneTok, 401, "INVALID_TOKEN"},
			{"HS384", authtest.Sign(t, jwt.SigningMethodHS384, key, authtest.Claims(nil), nil), 401, "INVALID_TOKEN"},
			{"HS512", authtest.Sign(t, jwt.SigningMethodHS512, key, authtest.Claims(nil), nil), 401, "INVALID_TOKEN"},
			{"RS256", authtest.Sign(t, jwt.SigningMethodRS256, rsaKey, authtest.Claims(nil), nil), 401, "INVALID_TOKEN"},
			{"HS256 with another key", hsWithPublicKey, 401, "INVALID_TOKEN"},
			{"wrong secret", authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret+"x"), authtest.Claims(nil), nil), 401, "INVALID_TOKEN"},
			{"tampered payload", tampered, 401, "INVALID_TOKEN"},
			{"garbage", "not.a.token", 401, "INVALID_TOKEN"},
			{"expired", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"exp": old, "iat": old - 60}), nil), 401, "TOKEN_EXPIRED"},
			{"not yet valid", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}), nil), 401, "INVALID_TOKEN"},
			{"issued in the future", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"iat": time.Now().Add(time.Hour).Unix()}), nil), 401, "INVALID_TOKEN"},
			{"iat too old without exp", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"exp": nil, "iat": old}), nil), 401, "TOKEN_EXPIRED"},
			{"neither exp nor iat", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"exp": nil, "iat": nil}), nil), 400, "MISSING_CLAIM"},
			{"no sub", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": nil}), nil), 400, "MISSING_CLAIM"},
			{"no email", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"email": nil}), nil), 400, "MISSING_CLAIM"},
			{"no name", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"name": ""}), nil), 400, "MISSING_CLAIM"},
			{"bad email", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"email": "pat at example"}), nil), 400, "INVALID_CLAIM"},
			{"sub too long", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": strings.Repeat("x", 51)}), nil), 400, "INVALID_CLAIM"},
			{"exp not a number", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"exp": "tomorrow"}), nil), 400, "INVALID_CLAIM"},
			{"iat not a number", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"iat": true}), nil), 400, "INVALID_CLAIM"},
			{"jti too long", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"jti": strings.Repeat("j", 257)}), nil), 400, "INVALID_CLAIM"},
			{"bad spacesOperation", authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"spacesOperation": "WIPE"}), nil), 400, "INVALID_CLAIM"},
			{"no token", "", 400, "INVALID_REQUEST"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				r := app.SSOGet(webtest.Browser(t), tt.token, "/spaces", "application/json")
				if r.Status != tt.status || !strings.Contains(r.Body, `"code":"`+tt.code+`"`) {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
				if r.Cookie("community_session") != nil || r.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("headers %v", r.Header)
				}
				if tt.token != "" && strings.Contains(r.Body, tt.token) {
					t.Fatal("the answer echoes the token")
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}
		if n := db.Client.SecurityEvent.Query().Where(securityevent.Type("LOGIN_FAILED"), securityevent.Method("JWT")).CountX(context.Background()); n != len(tests) {
			t.Fatalf("LOGIN_FAILED events = %d, want %d", n, len(tests))
		}
		if strings.Contains(app.Logs.String(), valid[:40]) || strings.Contains(app.Logs.String(), parts[2]) {
			t.Fatal("a token reached the log")
		}

		t.Run("html error page", func(t *testing.T) {
			r := app.SSOGet(webtest.Browser(t), "garbage", "/", "text/html")
			if r.Status != 401 || !strings.Contains(r.Body, "INVALID_TOKEN") || !strings.Contains(r.Body, "<html") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("valid token, ignored kid and jku", func(t *testing.T) {
			tok := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"tagline": "Hi"}), map[string]any{"kid": "../../etc/passwd", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/x5u"})
			b := webtest.Browser(t)
			r := app.SSOGet(b, tok, "/spaces?tab=1", "")
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/spaces?tab=1" || r.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("%d %v %s", r.Status, r.Header, r.Body)
			}
			me := app.GQL(b, "", "{ me { externalId email name tagline } }", nil)
			if graphtest.Dig(me.Data, "me", "externalId") != "cust-1" || graphtest.Dig(me.Data, "me", "tagline") != "Hi" {
				t.Fatalf("%s", me.Raw)
			}
			// Logout goes to the JWT SSO logout URL.
			if r := app.PostForm(b, "/auth/logout", nil); r.Header.Get("Location") != "https://customer.example/logout" {
				t.Fatalf("logout to %q", r.Header.Get("Location"))
			}
		})

		t.Run("jti is single-use", func(t *testing.T) {
			tok := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"jti": "once-123"}), nil)
			if r := app.SSOGet(webtest.Browser(t), tok, "/", ""); r.Status != http.StatusSeeOther {
				t.Fatalf("first use: %d %s", r.Status, r.Body)
			}
			if r := app.SSOGet(webtest.Browser(t), tok, "/", "application/json"); r.Status != 401 || !strings.Contains(r.Body, "TOKEN_REPLAYED") {
				t.Fatalf("second use: %d %s", r.Status, r.Body)
			}
		})

		t.Run("token= alias and open redirect", func(t *testing.T) {
			tok := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(nil), nil)
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/api/auth/sso?token="+tok+"&redirect_uri=//evil.example", nil)
			if r := app.Do(webtest.Browser(t), req); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
			}
		})

		t.Run("disabled", func(t *testing.T) {
			app.GQL(c.Admin, "", `mutation { updateJwtSsoSettings(input: {enabled: false}) { jwtSso { enabled } } }`, nil)
			defer app.GQL(c.Admin, "", `mutation { updateJwtSsoSettings(input: {enabled: true}) { jwtSso { enabled } } }`, nil)
			if r := app.SSOGet(webtest.Browser(t), valid, "/", "application/json"); r.Status != 404 || !strings.Contains(r.Body, "SSO_DISABLED") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	})
}

// TestJWTSSOSeedToken signs in with a token made exactly as a customer's server makes one
// (jsonwebtoken's jwt.sign({sub, email, name, tagline, iat, exp}, secret) with HS256), computed
// outside this code base and kept as a literal.
func TestJWTSSOSeedToken(t *testing.T) {
	const secret = "7f3c9a1e5b2d4f6a8c0e1d3b5a7f9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a"
	const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjdXN0b21lci0xMDAxIiwiZW1haWwiOiJDYXNleS5DdXN0b21lckBFeGFtcGxlLm9yZyIsIm5hbWUiOiJDYXNleSBDdXN0b21lciIsInRhZ2xpbmUiOiJMb3ZlcyB0aGUgY29tbXVuaXR5IiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9._dpQ5-Rv5Mmm7uSnVketE7Gxujgnn58d4iwQH1MZvRw"
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		sealer, err := seal.New(app.Cfg.SecretKey)
		if err != nil {
			t.Fatal(err)
		}
		app.Settings().Update().SetJwtEnabled(true).SetJwtSecret(sealer.Seal(jwtsso.PurposeSecret, []byte(secret))).ExecX(context.Background())
		b := webtest.Browser(t)
		r := app.SSOGet(b, token, "/welcome-back", "")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/welcome-back" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		me := app.GQL(b, "", "{ me { externalId email name tagline role } }", nil)
		want := map[string]any{"externalId": "customer-1001", "email": "casey.customer@example.org", "name": "Casey Customer", "tagline": "Loves the community", "role": "MEMBER"}
		for k, v := range want {
			if graphtest.Dig(me.Data, "me", k) != v {
				t.Errorf("me.%s = %v, want %v", k, graphtest.Dig(me.Data, "me", k), v)
			}
		}
	})
}

func TestJWTSSOProvisioning(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		ctx := context.Background()
		login := func(over map[string]any, target string) (webtest.Response, *http.Client) {
			b := webtest.Browser(t)
			return app.SSOGet(b, authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(over), nil), target, "application/json"), b
		}
		app.GQL(c.Admin, "", `mutation { a: createSpace(input: {name: "General", slug: "general"}) { id } b: createSpace(input: {name: "Gold", slug: "gold"}) { id } c: createSpace(input: {name: "Old", slug: "old"}) { id } }`, nil)
		app.GQL(c.Admin, "", `mutation { a: createProfileField(input: {key: "company", name: "Company", type: TEXT, externalKeys: ["company", "organization"]}) { id } b: createProfileField(input: {key: "seats", name: "Seats", type: NUMBER, externalKeys: ["seats"]}) { id } }`, nil)

		t.Run("new member lands on the new users homepage", func(t *testing.T) {
			app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: "/welcome"}) { newUsersHomepage } }`, nil)
			r, b := login(map[string]any{"sub": 4711, "email": "new@example.com", "name": "New Member", "spaceIds": []any{"general", "nope"},
				"organization": "Acme", "seats": "many"}, "/spaces")
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/welcome" {
				t.Fatalf("%d %q %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			me := app.GQL(b, "", "{ me { externalId username spaces { role space { slug } } fields { key value } } }", nil)
			if graphtest.Dig(me.Data, "me", "externalId") != "4711" || graphtest.Dig(me.Data, "me", "username") != "new-member" ||
				graphtest.Dig(me.Data, "me", "spaces", 0, "space", "slug") != "general" || len(graphtest.Dig(me.Data, "me", "fields").([]any)) != 1 ||
				graphtest.Dig(me.Data, "me", "fields", 0, "value") != "Acme" {
				t.Fatalf("%s", me.Raw)
			}
			// The second login is not new: redirect_uri wins.
			r, _ = login(map[string]any{"sub": "4711", "email": "new@example.com", "name": "New Member"}, "/spaces")
			if r.Header.Get("Location") != "/spaces" {
				t.Fatalf("returning member to %q", r.Header.Get("Location"))
			}
			app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {newUsersHomepage: ""}) { newUsersHomepage } }`, nil)
		})

		t.Run("spaces: roles, leave and replace", func(t *testing.T) {
			r, b := login(map[string]any{"sub": "sp-1", "email": "sp@example.com", "name": "Spacey", "spaces": []any{
				map[string]any{"spaceId": "gold", "role": "ADMIN"}, map[string]any{"spaceId": "old"}}}, "/")
			if r.Status != http.StatusSeeOther {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			r, _ = login(map[string]any{"sub": "sp-1", "email": "sp@example.com", "name": "Spacey", "spaces": []any{map[string]any{"spaceId": "old", "action": "LEAVE"}}}, "/")
			me := app.GQL(b, "", "{ me { spaces { role space { slug } } } }", nil)
			if s := graphtest.Dig(me.Data, "me", "spaces").([]any); len(s) != 1 || graphtest.Dig(s, 0, "role") != "ADMIN" {
				t.Fatalf("after LEAVE: %s", me.Raw)
			}
			login(map[string]any{"sub": "sp-1", "email": "sp@example.com", "name": "Spacey", "spaceIds": "general", "spacesOperation": "REPLACE"}, "/")
			me = app.GQL(b, "", "{ me { spaces { role space { slug } } } }", nil)
			if s := graphtest.Dig(me.Data, "me", "spaces").([]any); len(s) != 1 || graphtest.Dig(s, 0, "space", "slug") != "general" {
				t.Fatalf("after REPLACE: %s", me.Raw)
			}
		})

		t.Run("pre-provisioned member is linked by email", func(t *testing.T) {
			app.GQL(c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "pre@example.com", "name": "Pre"}})
			r, _ := login(map[string]any{"sub": "crm-77", "email": "PRE@example.com", "name": "Pre Provisioned"}, "/")
			if r.Status != http.StatusSeeOther {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			u := db.Client.User.Query().Where(user.Email("pre@example.com")).OnlyX(ctx)
			if u.ExternalID == nil || *u.ExternalID != "crm-77" || u.Name != "Pre Provisioned" || app.CountEvents("USER_LINKED") != 1 {
				t.Fatalf("%+v", u)
			}
		})

		t.Run("conflict changes nothing and names both sides", func(t *testing.T) {
			before := storetest.Snapshot(t, db)
			r, _ := login(map[string]any{"sub": "someone-else", "email": "pre@example.com", "name": "Impostor"}, "/")
			if r.Status != http.StatusConflict || !strings.Contains(r.Body, "SSO_CONFLICT") || r.Cookie("community_session") != nil {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if storetest.Snapshot(t, db) != before {
				t.Fatal("data changed")
			}
			ev := db.Client.SecurityEvent.Query().Where(securityevent.Type("SSO_CONFLICT")).OnlyX(ctx)
			if ev.Detail["incomingExternalId"] != "someone-else" || ev.Detail["existingExternalId"] != "crm-77" || ev.UserID == nil {
				t.Fatalf("event %+v", ev.Detail)
			}
			// The HTML page tells the member to ask an admin.
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/api/auth/sso?jwt="+authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": "someone-else", "email": "pre@example.com"}), nil), nil)
			if page := app.Do(nil, req); page.Status != 409 || !strings.Contains(page.Body, "admins") {
				t.Fatalf("%d %s", page.Status, page.Body)
			}
			// The admin fixes it with updateUser; the next login links.
			u := db.Client.User.Query().Where(user.Email("pre@example.com")).OnlyX(ctx)
			fix := app.GQL(c.Admin, "", graphtest.UpdateUser, map[string]any{"id": u.ID, "in": map[string]any{"externalId": "someone-else"}})
			if fix.Code() != "" {
				t.Fatalf("%s", fix.Raw)
			}
			if r, _ := login(map[string]any{"sub": "someone-else", "email": "pre@example.com", "name": "Fixed"}, "/"); r.Status != http.StatusSeeOther {
				t.Fatalf("after the fix: %d %s", r.Status, r.Body)
			}
		})

		t.Run("unverified email never links", func(t *testing.T) {
			app.GQL(c.Admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "unverified@example.com"}})
			before := storetest.Snapshot(t, db)
			// Only true (or "true") vouches for an address: 0 and "no" do not either.
			for _, verified := range []any{false, 0, "no"} {
				r, _ := login(map[string]any{"sub": "u-1", "email": "unverified@example.com", "email_verified": verified}, "/")
				if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "EMAIL_NOT_VERIFIED") || storetest.Snapshot(t, db) != before {
					t.Fatalf("email_verified %#v: %d %s", verified, r.Status, r.Body)
				}
			}
		})

		t.Run("suspended member is refused", func(t *testing.T) {
			r, _ := login(map[string]any{"sub": "sus-1", "email": "sus@example.com"}, "/")
			if r.Status != http.StatusSeeOther {
				t.Fatal(r.Body)
			}
			db.Client.User.Update().Where(user.Email("sus@example.com")).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
			before := storetest.Snapshot(t, db)
			r, _ = login(map[string]any{"sub": "sus-1", "email": "sus@example.com", "name": "Changed"}, "/")
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "USER_SUSPENDED") || storetest.Snapshot(t, db) != before {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("taken username gets a suffix", func(t *testing.T) {
			r, b := login(map[string]any{"sub": "m-1", "email": "m1@example.com", "username": "member"}, "/")
			if r.Status != http.StatusSeeOther {
				t.Fatal(r.Body)
			}
			if me := app.GQL(b, "", "{ me { username } }", nil); graphtest.Dig(me.Data, "me", "username") != "member2" {
				t.Fatalf("%s", me.Raw)
			}
		})

		t.Run("inspect is a dry run", func(t *testing.T) {
			q := `query($t: String!) { inspectJwtSsoToken(token: $t) { decision reason profile { email externalId spaces { space } } user { email } skipped } }`
			before := storetest.Snapshot(t, db)
			for _, tt := range []struct {
				over     map[string]any
				decision string
				reason   string
			}{
				{map[string]any{"sub": "dry-1", "email": "dry@example.com", "spaceIds": []any{"nope"}}, "CREATE", ""},
				{map[string]any{"sub": "4711", "email": "new@example.com", "name": "Renamed"}, "UPDATE", ""},
				{map[string]any{"sub": "other", "email": "new@example.com"}, "CONFLICT", "SSO_CONFLICT"},
				{map[string]any{"email": nil}, "REJECT", "MISSING_CLAIM"},
			} {
				r := app.GQL(c.Admin, "", q, map[string]any{"t": authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(tt.over), nil)})
				got := graphtest.Dig(r.Data, "inspectJwtSsoToken")
				if graphtest.Dig(got, "decision") != tt.decision || (tt.reason != "" && graphtest.Dig(got, "reason") != tt.reason) {
					t.Errorf("%v: %s", tt.over, r.Raw)
				}
			}
			if r := app.GQL(c.Admin, "", q, map[string]any{"t": "garbage"}); graphtest.Dig(r.Data, "inspectJwtSsoToken", "reason") != "INVALID_TOKEN" {
				t.Errorf("%s", r.Raw)
			}
			if r := app.GQL(c.Member, "", q, map[string]any{"t": "garbage"}); r.Code() != "FORBIDDEN" {
				t.Errorf("%s", r.Raw)
			}
			if after := storetest.Snapshot(t, db); after != before {
				t.Fatalf("the dry run wrote:\n%s\n%s", before, after)
			}
		})
	})
}

// TestJWTSSOConcurrentFirstLogins: 50 simultaneous first logins of one person make one user,
// and every one of them signs in (303): the races between them are the server's to resolve.
func TestJWTSSOConcurrentFirstLogins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, _, key := jwtApp(t, db)
		const n = 50
		tokens := make([]string, n)
		for i := range tokens {
			tokens[i] = authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": "same-person", "email": "same@example.com", "name": "Same Person", "jti": fmt.Sprint("race-", i)}), nil)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		statuses := make([]int, n)
		bodies := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := app.SSOGet(webtest.Browser(t), tokens[i], "/", "application/json")
				statuses[i], bodies[i] = r.Status, r.Body
			}()
		}
		close(start)
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusSeeOther {
				t.Errorf("login %d: %d %s", i, s, bodies[i])
			}
		}
		// Each login that lost the race to create the member retries once and finds it: the
		// statements' lock order leaves no deadlock to retry (auth/provision).
		if retries := strings.Count(app.Logs.String(), "lost a race"); retries > n-1 {
			t.Errorf("%d retries for %d logins", retries, n)
		}
		ctx := context.Background()
		if n := db.Client.User.Query().Where(user.Email("same@example.com")).CountX(ctx); n != 1 {
			t.Fatalf("%d users", n)
		}
		if got := db.Client.User.Query().Where(user.Email("same@example.com")).QuerySessions().CountX(ctx); got != n {
			t.Fatalf("%d sessions for %d logins", got, n)
		}
	})
}

// TestJWTSSOUnicodeIdentities: correctly signed tokens whose email only looks like, or folds
// into, an existing member's never sign in as that member: they are refused (INVALID_CLAIM,
// nothing written) or make a member of their own.
func TestJWTSSOUnicodeIdentities(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		ctx := context.Background()
		kim := app.CreateUser("kim.park@example.com", "", user.RoleMEMBER)
		login := func(sub, email string) (webtest.Response, *http.Client) {
			b := webtest.Browser(t)
			tok := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": sub, "email": email}), nil)
			return app.SSOGet(b, tok, "/", "application/json"), b
		}
		for _, tc := range []struct {
			name, email string
			refused     bool
		}{
			{"U+0130 dotted capital I", "admİn@example.com", false},
			{"U+212A Kelvin sign", "\u212Aim.park@example.com", true},
			{"U+017F long s", "\u017Fam@example.com", true},
			{"fullwidth letters", "ａｄｍｉｎ@example.com", true},
			{"zero-width space", "ad\u200Bmin@example.com", true},
			{"soft hyphen", "ad\u00ADmin@example.com", true},
			{"Cyrillic a", "\u0430dmin@example.com", true},
			{"trailing dot", "admin@example.com.", true},
			{"bidi override", "\u202Emoc.elpmaxe@nimda", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				users := db.Client.User.Query().CountX(ctx)
				r, b := login("x-"+tc.name, tc.email)
				if tc.refused {
					if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, `"INVALID_CLAIM"`) || r.Header.Get("Set-Cookie") != "" {
						t.Fatalf("%d %s", r.Status, r.Body)
					}
					if n := db.Client.User.Query().CountX(ctx); n != users {
						t.Fatalf("%d users after a refused login, %d before", n, users)
					}
					return
				}
				if r.Status != http.StatusSeeOther {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				me := app.GQL(b, "", "{ me { id email role } }", nil)
				if id := graphtest.Dig(me.Data, "me", "id"); id == fmt.Sprint(c.AdminUser.ID) || id == fmt.Sprint(kim.ID) ||
					graphtest.Dig(me.Data, "me", "role") != "MEMBER" || graphtest.Dig(me.Data, "me", "email") != tc.email {
					t.Fatalf("signed in as %s", me.Raw)
				}
			})
		}
		if got := db.Client.User.GetX(ctx, c.AdminUser.ID); got.ExternalID != nil || got.Role != user.RoleADMIN {
			t.Fatalf("the admin changed: %+v", got)
		}
		if got := db.Client.User.GetX(ctx, kim.ID); got.ExternalID != nil {
			t.Fatalf("kim was linked: %+v", got)
		}
	})
}

// TestJWTSSOExternalIDExact: a sub with spaces around it is refused (INVALID_CLAIM), never
// trimmed into the member whose externalId is the bare id: " acct-7" may be another account at
// the customer's site. Nothing changes but the refusal's security event, the member's email
// included.
func TestJWTSSOExternalIDExact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, _, key := jwtApp(t, db)
		login := func(sub, email string) webtest.Response {
			tok := authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": sub, "email": email}), nil)
			return app.SSOGet(webtest.Browser(t), tok, "/", "application/json")
		}
		if r := login("acct-7", "acct7@example.com"); r.Status != http.StatusSeeOther {
			t.Fatalf("first login: %d %s", r.Status, r.Body)
		}
		for _, sub := range []string{" acct-7", "acct-7 ", "\tacct-7", "acct-7\n", "acct-7\u00a0", "\u3000acct-7"} {
			t.Run(fmt.Sprintf("%q", sub), func(t *testing.T) {
				before := storetest.State(t, db)
				r := login(sub, "someone.else@example.com")
				if r.Status != http.StatusBadRequest || authtest.ErrorCode(r.Body) != "INVALID_CLAIM" || r.Cookie("community_session") != nil {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				after := storetest.State(t, db)
				if n := after["count:security_events"].(int) - before["count:security_events"].(int); n != 1 {
					t.Fatalf("%d security events, want the one refusal", n)
				}
				delete(before, "count:security_events")
				delete(after, "count:security_events")
				if d := storetest.Diff(before, after); len(d) != 0 {
					t.Fatalf("changed: %v", d)
				}
			})
		}
	})
}

// TestJWTSSOIdentityClaims, through real HTTP: the externalId is the token's sub even beside an
// id claim; the admin/moderator claim settings map roles, an empty claim counting as present;
// syncUsername renames; array claims fill fields; explicit empty values clear fields, tagline
// and picture.
func TestJWTSSOIdentityClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		b := webtest.Browser(t)
		login := func(t *testing.T, over map[string]any) {
			t.Helper()
			all := authtest.Claims(map[string]any{"sub": "cust-42", "email": "jo@example.com", "name": "Jo Doe"})
			for k, v := range over {
				all[k] = v
			}
			tok := authtest.Sign(t, jwt.SigningMethodHS256, key, all, nil)
			if r := app.SSOGet(b, tok, "/", "application/json"); r.Status != http.StatusSeeOther {
				t.Fatalf("login with %v: %d %s", over, r.Status, r.Body)
			}
		}
		me := func(t *testing.T) graphtest.Result {
			t.Helper()
			return app.GQL(b, "", "{ me { externalId username role tagline picture fields { key value } } }", nil)
		}
		field := func(r graphtest.Result, key string) any {
			for _, f := range graphtest.Dig(r.Data, "me", "fields").([]any) {
				if graphtest.Dig(f, "key") == key {
					return graphtest.Dig(f, "value")
				}
			}
			return nil
		}

		t.Run("sub is the externalId, id is not", func(t *testing.T) {
			login(t, map[string]any{"id": "crm-7", "username": "jo", "tagline": "hi", "picture": "https://cdn.example.com/jo.png"})
			r := me(t)
			if graphtest.Dig(r.Data, "me", "externalId") != "cust-42" || graphtest.Dig(r.Data, "me", "username") != "jo" {
				t.Fatalf("%s", r.Raw)
			}
			if n := db.Client.User.Query().Where(user.ExternalID("crm-7")).CountX(context.Background()); n != 0 {
				t.Fatal("the id claim was stored as an externalId")
			}
			in := app.GQL(c.Admin, "", `query($t: String!) { inspectJwtSsoToken(token: $t) { decision profile { externalId } } }`,
				map[string]any{"t": authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(map[string]any{"sub": "cust-42", "id": "crm-7", "email": "jo@example.com"}), nil)})
			if graphtest.Dig(in.Data, "inspectJwtSsoToken", "profile", "externalId") != "cust-42" || graphtest.Dig(in.Data, "inspectJwtSsoToken", "decision") != "UPDATE" {
				t.Fatalf("inspection: %s", in.Raw)
			}
		})

		t.Run("role mapping", func(t *testing.T) {
			r := app.GQL(c.Admin, "", `mutation { updateJwtSsoSettings(input: {adminClaim: "roles", adminClaimValue: "owner", moderatorClaim: "moderator"}) {
				jwtSso { adminClaim adminClaimValue moderatorClaim moderatorClaimValue } } }`, nil)
			want := map[string]any{"adminClaim": "roles", "adminClaimValue": "owner", "moderatorClaim": "moderator", "moderatorClaimValue": ""}
			for k, v := range want {
				if got := graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", k); got != v {
					t.Fatalf("jwtSso.%s = %v, want %v: %s", k, got, v, r.Raw)
				}
			}
			if r := app.GQL(c.Admin, "", `mutation { updateJwtSsoSettings(input: {adminClaim: "`+strings.Repeat("x", 201)+`"}) { jwtSso { adminClaim } } }`, nil); r.Code() != "BAD_USER_INPUT" {
				t.Fatalf("a 201-character claim: %s", r.Raw)
			}
			for _, step := range []struct {
				name  string
				over  map[string]any
				role  string
				event int
			}{
				{"admin by value", map[string]any{"roles": []any{"staff", "owner"}}, "ADMIN", 1},
				{"moderator by an empty claim", map[string]any{"moderator": ""}, "MODERATOR", 2},
				{"moderator by an empty array", map[string]any{"moderator": []any{}}, "MODERATOR", 2},
				{"null is absent", map[string]any{"moderator": nil}, "MEMBER", 3},
			} {
				t.Run(step.name, func(t *testing.T) {
					over := step.over
					if v, ok := over["moderator"]; ok && v == nil {
						// authtest.Claims() drops nil values: sign the null explicitly.
						over = map[string]any{"moderator": json.RawMessage("null")}
					}
					login(t, over)
					if got := graphtest.Dig(me(t).Data, "me", "role"); got != step.role {
						t.Fatalf("role %v, want %s", got, step.role)
					}
					if n := app.CountEvents("ROLE_CHANGED"); n != step.event {
						t.Fatalf("%d ROLE_CHANGED events, want %d", n, step.event)
					}
				})
			}
		})

		t.Run("syncUsername", func(t *testing.T) {
			login(t, map[string]any{"username": "jo-renamed"})
			if got := graphtest.Dig(me(t).Data, "me", "username"); got != "jo" {
				t.Fatalf("username followed the claim with syncUsername off: %v", got)
			}
			r := app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {syncUsername: true}) { syncUsername } }`, nil)
			if graphtest.Dig(r.Data, "updateAuthSettings", "syncUsername") != true {
				t.Fatalf("%s", r.Raw)
			}
			if r := app.GQL(c.Admin, "", `{ authSettings { syncUsername } }`, nil); graphtest.Dig(r.Data, "authSettings", "syncUsername") != true {
				t.Fatalf("%s", r.Raw)
			}
			login(t, map[string]any{"username": "jo-renamed"})
			if got := graphtest.Dig(me(t).Data, "me", "username"); got != "jo-renamed" {
				t.Fatalf("username %v, want jo-renamed", got)
			}
			// A name another member holds gets a suffix.
			app.CreateUser("taken@example.com", authtest.Password, user.RoleMEMBER)
			db.Client.User.Update().Where(user.Email("taken@example.com")).SetUsername("taken").ExecX(context.Background())
			login(t, map[string]any{"username": "Taken"})
			if got := graphtest.Dig(me(t).Data, "me", "username"); got != "taken2" {
				t.Fatalf("username %v, want taken2", got)
			}
			app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {syncUsername: false}) { syncUsername } }`, nil)
		})

		t.Run("arrays fill fields, empty values clear", func(t *testing.T) {
			app.GQL(c.Admin, "", `mutation { a: createProfileField(input: {key: "teams", name: "Teams", type: TEXT, externalKeys: ["teams"]}) { id }
				b: createProfileField(input: {key: "plan", name: "Plan", type: SELECT, options: ["free", "gold"], externalKeys: ["plans"]}) { id } }`, nil)
			login(t, map[string]any{"teams": []any{"red", "blue"}, "plans": []any{"platinum", "gold"}})
			r := me(t)
			if field(r, "teams") != "red, blue" || field(r, "plan") != "gold" {
				t.Fatalf("%s", r.Raw)
			}
			login(t, nil)
			if r := me(t); field(r, "teams") != "red, blue" || graphtest.Dig(r.Data, "me", "tagline") != "hi" {
				t.Fatalf("absent claims changed the profile: %s", r.Raw)
			}
			login(t, map[string]any{"teams": json.RawMessage("null"), "plans": "", "tagline": "", "picture": json.RawMessage("null")})
			r = me(t)
			if field(r, "teams") != nil || field(r, "plan") != nil || graphtest.Dig(r.Data, "me", "tagline") != "" || graphtest.Dig(r.Data, "me", "picture") != "" {
				t.Fatalf("explicit empty values did not clear: %s", r.Raw)
			}
		})
	})
}

// TestJWTSSOReadsSettingsOnce: a JWT SSO login, for a browser and for an app, reads the settings
// row with one statement, which carries the embed origins its answer follows as well as the
// login's own settings (the cookie is the framed one and the policy names the origin) and
// whether any webhook is enabled: with none, the login does not read the webhooks again.
func TestJWTSSOReadsSettingsOnce(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			log := &storetest.StatementLog{}
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			app, c, key := jwtApp(t, db)
			const origin = "https://app.example.com"
			if r := app.GQL(c.Admin, "", `mutation { updateAuthSettings(input: {embedOrigins: ["`+origin+`"]}) { embedOrigins } }`, nil); r.Code() != "" {
				t.Fatalf("embed origins: %s", r.Raw)
			}
			settingsReads := func(stmts []string) int {
				n := 0
				for _, q := range stmts {
					if strings.Contains(strings.NewReplacer("`", "", `"`, "").Replace(q), "FROM settings") {
						n++
					}
				}
				return n
			}
			for _, tt := range []struct {
				name  string
				login func() webtest.Response
				want  int
			}{
				{"browser", func() webtest.Response {
					return app.SSOGet(webtest.Browser(t), authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(nil), nil), "/", "")
				}, http.StatusSeeOther},
				{"app", func() webtest.Response {
					body, _ := json.Marshal(map[string]string{"jwt": authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(nil), nil)})
					return app.SSOTokenPost("application/json", string(body), "")
				}, http.StatusOK},
			} {
				t.Run(tt.name, func(t *testing.T) {
					log.Start()
					r := tt.login()
					stmts := log.Stop()
					if r.Status != tt.want {
						t.Fatalf("login: %d %s", r.Status, r.Body)
					}
					if n := settingsReads(stmts); n != 1 {
						t.Fatalf("the login read the settings row %d times, want 1:\n%s", n, strings.Join(stmts, "\n"))
					}
					for _, q := range stmts {
						if strings.Contains(strings.NewReplacer("`", "", `"`, "").Replace(q), "FROM webhooks") && settingsReads([]string{q}) == 0 {
							t.Fatalf("with no webhook, the login read the webhooks: %s", q)
						}
					}
					if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+origin) {
						t.Fatalf("policy %q does not name the embed origin", csp)
					}
					if ck := r.Cookie("community_session"); tt.name == "browser" && (ck == nil || ck.SameSite != http.SameSiteNoneMode || !ck.Partitioned) {
						t.Fatalf("session cookie %+v, want SameSite=None; Partitioned", ck)
					}
				})
			}
		})
	}
}

// TestJWTSSOSecretRotation: after regenerateJwtSsoSecret(graceSeconds), tokens signed with the
// previous secret sign in and sync until the period ends, each recorded as a
// JWT_PREVIOUS_SECRET_USED event naming the member; tokens signed with the new secret record
// none; after the period the previous secret is INVALID_TOKEN and nothing changes.
func TestJWTSSOSecretRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, oldKey := jwtApp(t, db)
		ctx := context.Background()
		r := app.GQL(c.Admin, "", `mutation { regenerateJwtSsoSecret(graceSeconds: 3600) }`, nil)
		newKey, _ := r.Data["regenerateJwtSsoSecret"].(string)
		if newKey == "" || newKey == string(oldKey) {
			t.Fatalf("%s", r.Raw)
		}
		events := func() []int {
			var ids []int
			for _, e := range db.Client.SecurityEvent.Query().Where(securityevent.Type("JWT_PREVIOUS_SECRET_USED")).AllX(ctx) {
				if e.UserID == nil || e.Method != "JWT" {
					t.Fatalf("event %+v", e)
				}
				ids = append(ids, *e.UserID)
			}
			return ids
		}
		member := func(sub string) int {
			return db.Client.User.Query().Where(user.ExternalID(sub)).OnlyIDX(ctx)
		}

		old := authtest.Sign(t, jwt.SigningMethodHS256, oldKey, authtest.Claims(map[string]any{"sub": "rot-1", "email": "rot1@example.com"}), nil)
		if r := app.SSOGet(webtest.Browser(t), old, "/", ""); r.Status != http.StatusSeeOther {
			t.Fatalf("previous secret in the period: %d %s", r.Status, r.Body)
		}
		if got := events(); len(got) != 1 || got[0] != member("rot-1") {
			t.Fatalf("events %v", got)
		}
		fresh := authtest.Sign(t, jwt.SigningMethodHS256, []byte(newKey), authtest.Claims(map[string]any{"sub": "rot-2", "email": "rot2@example.com"}), nil)
		if r := app.SSOGet(webtest.Browser(t), fresh, "/", ""); r.Status != http.StatusSeeOther {
			t.Fatalf("new secret: %d %s", r.Status, r.Body)
		}
		syncTok := authtest.Sign(t, jwt.SigningMethodHS256, oldKey, authtest.Claims(map[string]any{"sub": "rot-3", "email": "rot3@example.com"}), nil)
		if r := syncPost(app, syncTok, "header"); r.Status != http.StatusOK {
			t.Fatalf("sync with the previous secret: %d %s", r.Status, r.Body)
		}
		if got := events(); len(got) != 2 || got[1] != member("rot-3") {
			t.Fatalf("events %v", got)
		}
		if strings.Contains(app.Logs.String(), string(oldKey)) || strings.Contains(app.Logs.String(), newKey) {
			t.Fatal("a secret reached the log")
		}

		// The period over, the previous secret is refused and nothing changes.
		app.Settings().Update().SetJwtPreviousSecretExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
		before := storetest.Snapshot(t, db)
		late := authtest.Sign(t, jwt.SigningMethodHS256, oldKey, authtest.Claims(map[string]any{"sub": "rot-4", "email": "rot4@example.com"}), nil)
		if r := app.SSOGet(webtest.Browser(t), late, "/", "application/json"); r.Status != 401 || !strings.Contains(r.Body, `"code":"INVALID_TOKEN"`) {
			t.Fatalf("after the period: %d %s", r.Status, r.Body)
		}
		if after := storetest.Snapshot(t, db); after != before {
			t.Fatalf("data changed:\n%s\n%s", before, after)
		}
		if got := events(); len(got) != 2 {
			t.Fatalf("events %v", got)
		}
	})
}

// TestJWTSSOIssuerAudience: with issuer and audience set, a token signs in only when its iss
// equals the issuer and its aud is or contains the audience; otherwise MISSING_CLAIM or
// INVALID_CLAIM naming the claim, and nothing changes. Cleared, neither is checked.
func TestJWTSSOIssuerAudience(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		const set = `mutation($i: String, $a: String) { updateJwtSsoSettings(input: {issuer: $i, audience: $a}) { jwtSso { issuer audience } } }`
		if r := app.GQL(c.Admin, "", set, map[string]any{"i": "https://customer.example", "a": "community"}); graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "audience") != "community" {
			t.Fatalf("%s", r.Raw)
		}
		sign := func(over map[string]any) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(over), nil)
		}
		tests := []struct {
			name        string
			over        map[string]any
			status      int
			code, claim string
		}{
			{"both match", map[string]any{"iss": "https://customer.example", "aud": "community"}, 303, "", ""},
			{"aud list", map[string]any{"iss": "https://customer.example", "aud": []any{"other", "community"}}, 303, "", ""},
			{"no iss", map[string]any{"aud": "community"}, 400, "MISSING_CLAIM", "iss"},
			{"other iss", map[string]any{"iss": "https://evil.example", "aud": "community"}, 400, "INVALID_CLAIM", "iss"},
			{"iss differs in case", map[string]any{"iss": "https://Customer.example", "aud": "community"}, 400, "INVALID_CLAIM", "iss"},
			{"iss not a string", map[string]any{"iss": 7, "aud": "community"}, 400, "INVALID_CLAIM", "iss"},
			{"no aud", map[string]any{"iss": "https://customer.example"}, 400, "MISSING_CLAIM", "aud"},
			{"other aud", map[string]any{"iss": "https://customer.example", "aud": "another-community"}, 400, "INVALID_CLAIM", "aud"},
			{"aud list without it", map[string]any{"iss": "https://customer.example", "aud": []any{"a", "b"}}, 400, "INVALID_CLAIM", "aud"},
			{"aud not a string", map[string]any{"iss": "https://customer.example", "aud": 5}, 400, "INVALID_CLAIM", "aud"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := storetest.Snapshot(t, db)
				r := app.SSOGet(webtest.Browser(t), sign(tt.over), "/", "application/json")
				if r.Status != tt.status {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
				if tt.code == "" {
					return
				}
				if !strings.Contains(r.Body, `"code":"`+tt.code+`"`) {
					t.Fatalf("got %d %s", r.Status, r.Body)
				}
				// The claim is named in the security log, not to the member.
				ev := db.Client.SecurityEvent.Query().Where(securityevent.Type("LOGIN_FAILED")).Order(ent.Desc(securityevent.FieldID)).FirstX(context.Background())
				if ev.Detail["claim"] != tt.claim {
					t.Fatalf("event detail %v, want claim %s", ev.Detail, tt.claim)
				}
				if after := storetest.Snapshot(t, db); after != before {
					t.Fatalf("data changed:\n%s\n%s", before, after)
				}
			})
		}
		t.Run("cleared", func(t *testing.T) {
			app.GQL(c.Admin, "", set, map[string]any{"i": "", "a": ""})
			if r := app.SSOGet(webtest.Browser(t), sign(map[string]any{"iss": "anyone", "aud": 5}), "/", ""); r.Status != http.StatusSeeOther {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	})
}
