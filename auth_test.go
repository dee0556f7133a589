package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/loginfailure"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

const adminPass = "correct horse battery staple"

// cookieOf returns the last cookie of that name the response sets: the one a browser keeps.
func cookieOf(r response, name string) *http.Cookie {
	var last *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			last = c
		}
	}
	return last
}

func TestDirectLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		ctx := context.Background()
		admin := app.createUser("admin@example.com", adminPass, user.RoleADMIN)

		t.Run("form renders", func(t *testing.T) {
			r := app.get(nil, "/auth/login/direct?redirect_uri=/spaces")
			if r.Status != 200 || !strings.Contains(r.Body, `name="password"`) || !strings.Contains(r.Body, `value="/spaces"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("success sets a fresh session cookie and redirects", func(t *testing.T) {
			c := browser(t)
			// A cookie planted before login must not survive it (no session fixation).
			u, _ := url.Parse(app.URL)
			c.Jar.SetCookies(u, []*http.Cookie{{Name: "community_session", Value: "planted-by-attacker", Path: "/"}})
			r := app.postForm(c, "/auth/login/direct", url.Values{"email": {"Admin@Example.com "}, "password": {adminPass}, "redirect_uri": {"/spaces/general?tab=1"}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/spaces/general?tab=1" {
				t.Fatalf("%d %q %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			ck := cookieOf(r, "community_session")
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Value == "planted-by-attacker" || len(ck.Value) < 43 {
				t.Fatalf("session cookie %+v", ck)
			}
			if me := app.gql(c, "", "{ me { id email role lastLoginAt } }", nil); me.Data["me"].(map[string]any)["email"] != "admin@example.com" {
				t.Fatalf("me: %s", me.Raw)
			}
			// The database holds only the token's hash.
			s := db.Client.Session.Query().Where(session.UserID(admin.ID)).FirstX(ctx)
			if string(s.TokenHash) == ck.Value || len(s.TokenHash) != 32 || s.Method != session.MethodPASSWORD {
				t.Fatalf("stored session %+v", s)
			}
			// Logging in again gives a new token.
			r2 := app.postForm(c, "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {adminPass}})
			if ck2 := cookieOf(r2, "community_session"); ck2 == nil || ck2.Value == ck.Value {
				t.Fatal("a second login must issue a new token")
			}
			if app.countEvents("LOGIN_SUCCEEDED") < 2 {
				t.Fatal("LOGIN_SUCCEEDED not recorded")
			}
		})

		t.Run("open redirects become /", func(t *testing.T) {
			for _, target := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "/%2f%2fevil.example", "javascript:alert(1)", " /x"} {
				r := app.postForm(browser(t), "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {adminPass}, "redirect_uri": {target}})
				if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
					t.Fatalf("target %q: %d %q", target, r.Status, r.Header.Get("Location"))
				}
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			before := app.countEvents("LOGIN_FAILED")
			for _, form := range []url.Values{
				{"email": {"admin@example.com"}, "password": {"wrong"}},
				{"email": {"nobody@example.com"}, "password": {adminPass}},
				{"email": {"not an email"}, "password": {adminPass}},
			} {
				r := app.postForm(browser(t), "/auth/login/direct", form)
				if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "The email or password is incorrect.") || cookieOf(r, "community_session") != nil {
					t.Fatalf("%v: %d %s", form, r.Status, r.Body)
				}
			}
			if got := app.countEvents("LOGIN_FAILED") - before; got != 3 {
				t.Fatalf("LOGIN_FAILED events = %d, want 3", got)
			}
		})

		t.Run("cross-site form post refused", func(t *testing.T) {
			n := db.Client.Session.Query().CountX(ctx)
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/login/direct", strings.NewReader(url.Values{"email": {"admin@example.com"}, "password": {adminPass}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			r := app.do(nil, req)
			if r.Status != http.StatusForbidden || cookieOf(r, "community_session") != nil {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if db.Client.Session.Query().CountX(ctx) != n {
				t.Fatal("a session was created")
			}
		})

		t.Run("suspended user", func(t *testing.T) {
			app.createUser("sus@example.com", adminPass, user.RoleMEMBER)
			c := browser(t)
			app.login(c, "sus@example.com", adminPass)
			db.Client.User.Update().Where(user.Email("sus@example.com")).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
			if me := app.gql(c, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatalf("a suspended user's session still works: %s", me.Raw)
			}
			r := app.postForm(browser(t), "/auth/login/direct", url.Values{"email": {"sus@example.com"}, "password": {adminPass}})
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "suspended") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("email and password disabled: admins only", func(t *testing.T) {
			app.createUser("member@example.com", adminPass, user.RoleMEMBER)
			st := mustSettings(t, app)
			st.Update().SetEmailPasswordEnabled(false).ExecX(ctx)
			defer st.Update().SetEmailPasswordEnabled(true).ExecX(ctx)
			r := app.postForm(browser(t), "/auth/login/direct", url.Values{"email": {"member@example.com"}, "password": {adminPass}})
			if r.Status != http.StatusForbidden || cookieOf(r, "community_session") != nil {
				t.Fatalf("member: %d %s", r.Status, r.Body)
			}
			app.login(browser(t), "admin@example.com", adminPass)
		})
	})
}

func TestDirectLoginRateLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		fail := func(t *testing.T, app *testApp, email string) {
			t.Helper()
			r := app.postForm(browser(t), "/auth/login/direct", url.Values{"email": {email}, "password": {"guess"}})
			if r.Status != http.StatusUnauthorized {
				t.Fatalf("failed login for %s: %d", email, r.Status)
			}
		}
		signIn := func(app *testApp, email string) response {
			return app.postForm(browser(t), "/auth/login/direct", url.Values{"email": {email}, "password": {adminPass}})
		}
		locked := func(t *testing.T, r response) {
			t.Helper()
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || cookieOf(r, "community_session") != nil {
				t.Fatalf("want 429 with Retry-After and no session, got %d %s", r.Status, r.Body)
			}
		}

		t.Run("five failures lock the email", func(t *testing.T) {
			app := newApp(t, db, nil)
			app.createUser("ann@example.com", adminPass, user.RoleMEMBER)
			for range 5 {
				fail(t, app, "ann@example.com")
			}
			// The right password no longer helps: the email is locked for the window.
			locked(t, signIn(app, "ann@example.com"))
			if n := db.Client.LoginFailure.Query().Where(loginfailure.Subject("ann@example.com")).CountX(ctx); n != 6 {
				t.Fatalf("%d login failures recorded for the email, want 6 (the locked attempt counts)", n)
			}
		})

		t.Run("twenty failures lock the address", func(t *testing.T) {
			db.Client.LoginFailure.Delete().ExecX(ctx)
			app := newApp(t, db, nil)
			app.createUser("bea@example.com", adminPass, user.RoleMEMBER)
			for i := range 20 {
				fail(t, app, fmt.Sprintf("nobody%d@example.com", i))
			}
			locked(t, signIn(app, "bea@example.com"))
		})

		t.Run("failures past the window no longer count", func(t *testing.T) {
			if _, err := db.SQL.ExecContext(ctx, "UPDATE login_failures SET created_at = ?", time.Now().Add(-auth.DefaultRateLimit.Window-time.Minute)); err != nil {
				t.Fatal(err)
			}
			app := newApp(t, db, nil)
			if r := signIn(app, "bea@example.com"); r.Status != http.StatusSeeOther || cookieOf(r, "community_session") == nil {
				t.Fatalf("want 303 with a session, got %d %s", r.Status, r.Body)
			}
		})

		t.Run("failed SSO logins do not lock direct login", func(t *testing.T) {
			db.Client.LoginFailure.Delete().ExecX(ctx)
			app := newApp(t, db, nil)
			for range 25 {
				r := app.get(browser(t), "/api/auth/sso?jwt=not.a.token")
				if r.Status < 400 {
					t.Fatalf("a bad token: %d", r.Status)
				}
			}
			if n := app.countEvents(auth.EventLoginFailed); n < 25 {
				t.Fatalf("%d LOGIN_FAILED events, want the 25 SSO failures in the security log", n)
			}
			if r := signIn(app, "bea@example.com"); r.Status != http.StatusSeeOther {
				t.Fatalf("want 303, got %d %s", r.Status, r.Body)
			}
		})
	})
}

func TestSessionCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		ctx := context.Background()
		app.createUser("admin@example.com", adminPass, user.RoleADMIN)

		t.Run("tampered cookie is no session and is cleared", func(t *testing.T) {
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			u, _ := url.Parse(app.URL)
			ck := c.Jar.Cookies(u)[0]
			c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value[:len(ck.Value)-2] + "xx", Path: "/"}})
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/", nil)
			r := app.do(c, req)
			if cleared := cookieOf(r, "community_session"); r.Status != 200 || strings.Contains(r.Body, "admin@example.com") || cleared == nil || cleared.MaxAge >= 0 {
				t.Fatalf("%d cleared=%+v", r.Status, cleared)
			}
		})

		t.Run("expired session is no session", func(t *testing.T) {
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			db.Client.Session.Update().SetExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
			if me := app.gql(c, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatalf("expired session works: %s", me.Raw)
			}
		})

		t.Run("sliding expiry", func(t *testing.T) {
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			old := time.Now().Add(-10 * time.Minute)
			db.Client.Session.Update().SetLastSeenAt(old).SetExpiresAt(time.Now().Add(time.Hour)).ExecX(ctx)
			app.gql(c, "", "{ me { id } }", nil)
			s := db.Client.Session.Query().Order(session.ByLastSeenAt()).Where().AllX(ctx)
			last := s[len(s)-1]
			if !last.ExpiresAt.After(time.Now().Add(app.Cfg.SessionLifetime - time.Minute)) {
				t.Fatalf("expiry not extended: %v", last.ExpiresAt)
			}
		})
	})
}

func TestLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := newApp(t, db, nil)
		ctx := context.Background()
		app.createUser("admin@example.com", adminPass, user.RoleADMIN)

		t.Run("post ends the session", func(t *testing.T) {
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			u, _ := url.Parse(app.URL)
			old := c.Jar.Cookies(u)[0].Value
			r := app.postForm(c, "/auth/logout", nil)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
			}
			if ck := cookieOf(r, "community_session"); ck == nil || ck.MaxAge >= 0 {
				t.Fatalf("cookie not cleared: %+v", ck)
			}
			// The old token no longer works even if a copy of it was kept.
			c2 := browser(t)
			c2.Jar.SetCookies(u, []*http.Cookie{{Name: "community_session", Value: old, Path: "/"}})
			if me := app.gql(c2, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatalf("old token works after logout: %s", me.Raw)
			}
			if app.countEvents("LOGOUT") != 1 {
				t.Fatal("LOGOUT not recorded")
			}
		})

		t.Run("JWT session goes to the JWT logout URL", func(t *testing.T) {
			mustSettings(t, app).Update().SetJwtLogoutURL("https://customer.example/logout").ExecX(ctx)
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			db.Client.Session.Update().Where(session.MethodEQ(session.MethodPASSWORD)).ExecX(ctx)
			// Re-label the session as made by JWT SSO.
			_, err := db.SQL.ExecContext(ctx, "UPDATE sessions SET method = 'JWT'")
			if err != nil {
				t.Fatal(err)
			}
			r := app.postForm(c, "/auth/logout", nil)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "https://customer.example/logout" {
				t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
			}
		})

		t.Run("cross-site GET asks to confirm", func(t *testing.T) {
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/auth/logout", nil)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			r := app.do(c, req)
			if r.Status != 200 || !strings.Contains(r.Body, `method="post" action="/auth/logout"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if me := app.gql(c, "", "{ me { id } }", nil); me.Data["me"] == nil {
				t.Fatal("a cross-site GET ended the session")
			}
			r = app.get(c, "/auth/logout")
			if r.Status != http.StatusSeeOther {
				t.Fatalf("same-site GET logout: %d", r.Status)
			}
			if me := app.gql(c, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatal("GET logout did not end the session")
			}
		})

		t.Run("cross-site POST refused", func(t *testing.T) {
			c := browser(t)
			app.login(c, "admin@example.com", adminPass)
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/logout", nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			if r := app.do(c, req); r.Status != http.StatusForbidden {
				t.Fatalf("%d", r.Status)
			}
			if me := app.gql(c, "", "{ me { id } }", nil); me.Data["me"] == nil {
				t.Fatal("a cross-site POST ended the session")
			}
		})
	})
}
