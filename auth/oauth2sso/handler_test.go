package oauth2sso_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	opstorage "github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// opApp serves the routes over db with op as the identity provider, and registers the community
// at op.
func opApp(t testing.TB, db *store.DB, op *authtest.OP, env map[string]string) *authtest.App {
	t.Helper()
	app := testserver.New(t, db, testserver.Options{Env: env, Deps: routes.Deps{IdPClient: op.Server.Client()}})
	op.Register(app.URL)
	return app
}

// TestOAuth2LoginWithOpenIDProvider signs a member in through a real OpenID Provider configured
// with the OKTA preset: login → provider → callback → session → me, on SQLite and MariaDB.
func TestOAuth2LoginWithOpenIDProvider(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := authtest.StartOP(t)
		app := opApp(t, db, op, nil)
		admin := app.AdminToken()
		app.EnableOAuth2(admin, map[string]any{
			"enabled": true, "provider": "OKTA", "domain": op.Domain(),
			"clientId": op.ClientID, "clientSecret": op.ClientSecret,
			"scopes": []string{"openid", "email", "profile", "custom_scope"}, "adminClaim": "custom_claim",
		})

		c := op.Member(t)
		start := app.Get(c, "/auth/login?redirect_uri=/spaces/welcome")
		// Email/password is on by default, so the login page offers the SSO button.
		if start.Status != http.StatusOK || !strings.Contains(start.Body, "/auth/oauth2/login?redirect_uri=%2Fspaces%2Fwelcome") {
			t.Fatalf("login page: %d %s", start.Status, start.Body)
		}
		resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login?redirect_uri=/spaces/welcome", "alice", "verysecure")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/spaces/welcome" {
			t.Fatalf("callback: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		var sessionCookie, flowCleared bool
		for _, ck := range resp.Cookies() {
			switch ck.Name {
			case "community_session":
				sessionCookie = ck.Value != "" && ck.HttpOnly && ck.SameSite == http.SameSiteLaxMode
			case "community_oauth2_flow":
				flowCleared = ck.MaxAge < 0
			}
		}
		if !sessionCookie || !flowCleared {
			t.Fatalf("cookies after callback: %v", resp.Header.Values("Set-Cookie"))
		}
		me := app.GQL(c, "", "{ me { externalId email name username role } }", nil)
		want := map[string]any{"externalId": "op-alice", "email": "alice@example.com", "name": "Alice Anders", "username": "alice", "role": "ADMIN"}
		for k, v := range want {
			if got := graphtest.Dig(me.Data, "me", k); got != v {
				t.Errorf("me.%s = %v, want %v (%s)", k, got, v, me.Raw)
			}
		}
		sess := db.Client.Session.Query().Where(session.MethodEQ(session.MethodOAUTH2)).OnlyX(context.Background())
		if len(sess.IDToken) == 0 {
			t.Error("the session keeps no id_token")
		}
		if strings.Contains(string(sess.IDToken), "eyJ") {
			t.Error("the id_token is stored unsealed")
		}
		if n := app.CountEvents(auth.EventLoginSucceeded); n != 1 {
			t.Errorf("LOGIN_SUCCEEDED events = %d, want 1", n)
		}

		// A second login updates the same member: no duplicate.
		c2 := op.Member(t)
		resp = op.SignIn(t, c2, app.URL+"/auth/oauth2/login", "alice", "verysecure")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
			t.Fatalf("second login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		if n := db.Client.User.Query().Where(user.ExternalID("op-alice")).CountX(context.Background()); n != 1 {
			t.Fatalf("%d users for op-alice", n)
		}
	})
}

// TestOAuth2LoginKeepsLastAdmin: the community's only admin signs in through the provider
// without the admin claim and is linked by email: the role stays ADMIN (ROLE_CHANGE_REFUSED in
// the security log), so the break-glass login and the admin's API token keep working.
func TestOAuth2LoginKeepsLastAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		op := authtest.StartOP(t)
		app := opApp(t, db, op, nil)
		alice := app.CreateUser("alice@example.com", authtest.Password, user.RoleADMIN)
		tok, _, err := auth.NewAPIToken(ctx, db.Client, alice, "script", nil)
		if err != nil {
			t.Fatal(err)
		}
		app.EnableOAuth2(tok, map[string]any{
			"enabled": true, "provider": "OKTA", "domain": op.Domain(),
			"clientId": op.ClientID, "clientSecret": op.ClientSecret, "adminClaim": "community_admin",
		})
		if r := app.GQL(nil, tok, `mutation { updateAuthSettings(input: {emailPasswordEnabled: false}) { emailPasswordEnabled } }`, nil); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		c := op.Member(t)
		resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", "alice", "verysecure")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback: %d", resp.StatusCode)
		}
		me := app.GQL(c, "", "{ me { id externalId role } }", nil)
		if graphtest.Dig(me.Data, "me", "id") != fmt.Sprint(alice.ID) || graphtest.Dig(me.Data, "me", "externalId") != "op-alice" || graphtest.Dig(me.Data, "me", "role") != "ADMIN" {
			t.Fatalf("after the SSO login: %s", me.Raw)
		}
		if n := app.CountEvents(auth.EventRoleChangeRefused); n != 1 {
			t.Fatalf("%d ROLE_CHANGE_REFUSED events", n)
		}
		if r := app.GQL(nil, tok, "{ users(first: 1) { totalCount } }", nil); len(r.Errors) > 0 {
			t.Fatalf("the admin's API token: %s", r.Raw)
		}
		app.Login(webtest.Browser(t), "alice@example.com", authtest.Password)
	})
}

// TestOAuth2OnlyMethodGoesStraightToProvider: with OAuth2 the only method, /auth/login and
// ?auth=true pages go straight to the provider, and the member comes back to the page.
func TestOAuth2OnlyMethodGoesStraightToProvider(t *testing.T) {
	op := authtest.StartOP(t)
	app := opApp(t, storetest.SQLite(t), op, nil)
	admin := app.AdminToken()
	app.EnableOAuth2(admin, map[string]any{
		"enabled": true, "provider": "AUTH0", "domain": op.Domain(), "issuer": op.Issuer,
		"clientId": op.ClientID, "clientSecret": op.ClientSecret,
	})
	if r := app.GQL(nil, admin, `mutation { updateAuthSettings(input: {emailPasswordEnabled: false}) { emailPasswordEnabled } }`, nil); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	c := op.Member(t)
	r := app.Get(c, "/?auth=true&tab=2")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("?auth=true: %d", r.Status)
	}
	r = app.Get(c, strings.TrimPrefix(r.Header.Get("Location"), app.URL))
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/auth/oauth2/login?") {
		t.Fatalf("/auth/login: %d %q", r.Status, r.Header.Get("Location"))
	}
	resp := op.SignIn(t, c, app.URL+r.Header.Get("Location"), "alice", "verysecure")
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/?tab=2" {
		t.Fatalf("callback: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if home := app.Get(c, "/"); !strings.Contains(home.Body, "Alice Anders") {
		t.Fatalf("home page does not show the member: %s", home.Body)
	}
}

// TestOAuth2RefreshRevalidation: a session older than refreshMinutes is revalidated with a
// refresh-token grant on its next request; a transient provider failure keeps it; a refresh
// token the provider revoked ends it.
func TestOAuth2RefreshRevalidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		op := authtest.StartOP(t)
		app := opApp(t, db, op, map[string]string{"LOG_LEVEL": "debug"})
		admin := app.AdminToken()
		app.EnableOAuth2(admin, map[string]any{
			// CUSTOM with only an issuer: discovery supplies the URLs.
			"enabled": true, "provider": "CUSTOM", "issuer": op.Issuer,
			"clientId": op.ClientID, "clientSecret": op.ClientSecret, "refreshMinutes": 5,
		})
		c := op.Member(t)
		resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", "alice", "verysecure")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		sess := db.Client.Session.Query().OnlyX(ctx)
		if len(sess.RefreshToken) == 0 || sess.RevalidateAt == nil {
			t.Fatalf("session without refresh token or revalidation time: %+v", sess)
		}
		if d := time.Until(*sess.RevalidateAt); d < 4*time.Minute || d > 6*time.Minute {
			t.Fatalf("revalidateAt in %v, want about 5m", d)
		}
		due := func() {
			t.Helper()
			db.Client.Session.UpdateOneID(sess.ID).SetRevalidateAt(time.Now().Add(-time.Second)).ExecX(ctx)
		}
		signedIn := func() bool {
			t.Helper()
			me := app.GQL(c, "", "{ me { id } }", nil)
			return graphtest.Dig(me.Data, "me", "id") != nil
		}

		// Due: revalidated, the session goes on.
		due()
		if !signedIn() {
			t.Fatal("a revalidated session was ended")
		}
		sess = db.Client.Session.GetX(ctx, sess.ID)
		if sess.RevalidateAt == nil || time.Until(*sess.RevalidateAt) < 4*time.Minute {
			t.Fatalf("revalidateAt not moved on: %v\n%s", sess.RevalidateAt, app.Logs)
		}
		if app.CountEvents(auth.EventSessionRevalidated) != 1 {
			t.Fatal("no SESSION_REVALIDATED event")
		}

		// The provider is down: the session goes on and is retried a minute later.
		due()
		// Two failures: x/oauth2 tries the client credentials in the header, then in the body.
		op.TokenFailures.Store(2)
		if !signedIn() {
			t.Fatal("a transient provider failure ended the session")
		}
		sess = db.Client.Session.GetX(ctx, sess.ID)
		if d := time.Until(*sess.RevalidateAt); d <= 0 || d > 2*time.Minute {
			t.Fatalf("after a transient failure revalidateAt is in %v, want about 1m (failures left %d)\n%s", d, op.TokenFailures.Load(), app.Logs)
		}
		if app.CountEvents(auth.EventRevalidationDeferred) != 1 {
			t.Fatal("no SESSION_REVALIDATION_DEFERRED event")
		}

		// The provider revokes the grant: the next request ends the session.
		sealer, err := seal.New(app.Cfg.SecretKey)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := sealer.Open(oauth2sso.PurposeRefreshToken, sess.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		op.Revoke(t, string(rt))
		due()
		me := app.GQL(c, "", "{ me { id } authSettings { emailPasswordEnabled } }", nil)
		if graphtest.Dig(me.Data, "me") != nil || me.Code() != "UNAUTHENTICATED" {
			t.Fatalf("after revocation: %s", me.Raw)
		}
		if n := db.Client.Session.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d sessions left", n)
		}
		if app.CountEvents(auth.EventSessionRevoked) != 1 {
			t.Fatal("no SESSION_REVOKED event")
		}
		// A page visit with ?auth=true goes to login.
		if r := app.Get(c, "/?auth=true"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/auth/login") {
			t.Fatalf("page after revocation: %d %q", r.Status, r.Header.Get("Location"))
		}
	})
}

// TestOAuth2Logout: an OIDC session ends with RP-initiated logout at the provider's
// end_session_endpoint, carrying id_token_hint and post_logout_redirect_uri.
func TestOAuth2Logout(t *testing.T) {
	op := authtest.StartOP(t)
	app := opApp(t, storetest.SQLite(t), op, nil)
	admin := app.AdminToken()
	app.EnableOAuth2(admin, map[string]any{
		"enabled": true, "provider": "OKTA", "domain": op.Domain(),
		"clientId": op.ClientID, "clientSecret": op.ClientSecret, "logoutUrl": app.URL + "/goodbye",
	})
	c := op.Member(t)
	resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", "alice", "verysecure")
	resp.Body.Close()
	r := app.PostForm(c, "/auth/logout", nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Status)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), op.Issuer+"/") {
		t.Fatalf("logout goes to %q, want the provider", r.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("id_token_hint") == "" || q.Get("post_logout_redirect_uri") != app.URL+"/goodbye" || q.Get("client_id") != op.ClientID {
		t.Fatalf("end session query: %v", q)
	}
	// The provider accepts the hint: it answers with a redirect, not an error page. (The example
	// provider's clients cannot register post-logout URIs, so that parameter is left out here.)
	q.Del("post_logout_redirect_uri")
	loc.RawQuery = q.Encode()
	end, err := c.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	end.Body.Close()
	if end.StatusCode != http.StatusFound && end.StatusCode != http.StatusSeeOther {
		t.Fatalf("provider end_session: %d", end.StatusCode)
	}
	if me := app.GQL(c, "", "{ me { id } }", nil); graphtest.Dig(me.Data, "me") != nil {
		t.Fatal("still signed in after logout")
	}
}

// TestOAuth2TestMode: an admin runs the whole flow with ?test=true and sees the claims and the
// decision; nothing is written and the admin's own session is untouched. Others may not.
func TestOAuth2TestMode(t *testing.T) {
	ctx := context.Background()
	op := authtest.StartOP(t)
	db := storetest.SQLite(t)
	app := opApp(t, db, op, nil)
	admin := app.AdminToken()
	// Configured but not enabled yet: the admin checks it first.
	app.EnableOAuth2(admin, map[string]any{
		"provider": "OKTA", "domain": op.Domain(), "clientId": op.ClientID, "clientSecret": op.ClientSecret,
	})
	app.CreateUser("boss@example.com", "correct horse battery", user.RoleADMIN)
	app.CreateUser("member@example.com", "correct horse battery", user.RoleMEMBER)
	db.Client.User.Create().SetEmail("alice@example.com").SetUsername("alice-old").SetExternalID("someone-else").SaveX(ctx)

	c := op.Member(t)
	app.Login(c, "boss@example.com", "correct horse battery")
	users := db.Client.User.Query().CountX(ctx)
	before := storetest.Snapshot(t, db)
	resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login?test=true", "alice", "verysecure")
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("test mode: %d %s", resp.StatusCode, body)
	}
	for _, want := range []string{`id="decision">CONFLICT`, "op-alice", "alice@example.com", "id_token claims", "[redacted]"} {
		if !strings.Contains(body, want) {
			t.Errorf("test page lacks %q", want)
		}
	}
	if strings.Contains(body, op.ClientSecret) {
		t.Error("test page shows the client secret")
	}
	if got := db.Client.User.Query().CountX(ctx); got != users {
		t.Fatalf("test mode wrote users: %d → %d", users, got)
	}
	_ = before
	if me := app.GQL(c, "", "{ me { email } }", nil); graphtest.Dig(me.Data, "me", "email") != "boss@example.com" {
		t.Fatalf("the admin's session changed: %s", me.Raw)
	}

	// A member, or nobody, may not run the test.
	m := op.Member(t)
	app.Login(m, "member@example.com", "correct horse battery")
	for _, cl := range []*http.Client{m, op.Member(t)} {
		r := app.Get(cl, "/auth/oauth2/login?test=true")
		if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "FORBIDDEN") {
			t.Fatalf("test mode for a non-admin: %d", r.Status)
		}
	}
	// Disabled, a normal login is refused.
	if r := app.Get(op.Member(t), "/auth/oauth2/login"); r.Status != http.StatusNotFound || !strings.Contains(r.Body, "SSO_DISABLED") {
		t.Fatalf("disabled: %d", r.Status)
	}
}

// readAll reads the body of resp and closes it.
func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// TestOAuth2RevalidationReappliesProfile: a refresh revalidation re-applies what the provider
// now says (the new id_token and user info) as a login would: profile, username (with
// syncUsername), role, spaces and fields, and clears what it now sends empty; the session goes
// on. An email another member holds ends the session and changes nothing.
func TestOAuth2RevalidationReappliesProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		op := authtest.StartOP(t)
		app := opApp(t, db, op, nil)
		admin := app.AdminToken()
		app.EnableOAuth2(admin, map[string]any{
			"enabled": true, "provider": "CUSTOM", "issuer": op.Issuer,
			"clientId": op.ClientID, "clientSecret": op.ClientSecret, "refreshMinutes": 5,
			"moderatorClaim": "groups", "moderatorClaimValue": "mods",
		})
		for _, q := range []string{
			`mutation { updateAuthSettings(input: {syncUsername: true}) { syncUsername } }`,
			`mutation { createSpace(input: {name: "Gold", slug: "gold"}) { id } }`,
			`mutation { a: createProfileField(input: {key: "teams", name: "Teams", type: TEXT, externalKeys: ["teams"]}) { id }
				b: createProfileField(input: {key: "tier", name: "Tier", type: SELECT, options: ["free", "gold"], externalKeys: ["tiers"]}) { id } }`,
		} {
			if r := app.GQL(nil, admin, q, nil); len(r.Errors) > 0 {
				t.Fatal(r.Raw)
			}
		}
		op.SetClaims("op-alice", map[string]any{"groups": []any{"users"}, "teams": []any{"red"}, "tiers": "free", "tagline": "hello"})
		c := op.Member(t)
		resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", "alice", "verysecure")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		const meQ = "{ me { email name username role tagline spaces { space { slug } } fields { key value } } }"
		check := func(want map[string]any, fields map[string]string, spaces int) {
			t.Helper()
			me := app.GQL(c, "", meQ, nil)
			for k, v := range want {
				if got := graphtest.Dig(me.Data, "me", k); got != v {
					t.Errorf("me.%s = %v, want %v (%s)", k, got, v, me.Raw)
				}
			}
			got := map[string]string{}
			for _, f := range graphtest.Dig(me.Data, "me", "fields").([]any) {
				got[graphtest.Dig(f, "key").(string)] = graphtest.Dig(f, "value").(string)
			}
			if len(got) != len(fields) {
				t.Errorf("fields %v, want %v", got, fields)
			}
			for k, v := range fields {
				if got[k] != v {
					t.Errorf("fields %v, want %v", got, fields)
				}
			}
			if n := len(graphtest.Dig(me.Data, "me", "spaces").([]any)); n != spaces {
				t.Errorf("%d spaces, want %d (%s)", n, spaces, me.Raw)
			}
		}
		check(map[string]any{"name": "Alice Anders", "username": "alice", "role": "MEMBER", "tagline": "hello"}, map[string]string{"teams": "red", "tier": "free"}, 0)
		sess := db.Client.Session.Query().OnlyX(ctx)
		due := func() {
			t.Helper()
			db.Client.Session.UpdateOneID(sess.ID).SetRevalidateAt(time.Now().Add(-time.Second)).ExecX(ctx)
		}

		// The provider changes the member; the next due request re-applies it.
		op.EditUser("op-alice", func(u *opstorage.User) { u.LastName = "Berg"; u.Username = "alice.berg" })
		op.SetClaims("op-alice", map[string]any{"groups": []any{"users", "mods"}, "teams": []any{"red", "blue"}, "tiers": []any{"platinum", "gold"},
			"tagline": nil, "spaceIds": []any{"gold"}})
		due()
		check(map[string]any{"name": "Alice Berg", "username": "alice.berg", "role": "MODERATOR", "tagline": ""}, map[string]string{"teams": "red, blue", "tier": "gold"}, 1)
		if app.CountEvents(auth.EventSessionRevalidated) != 1 || app.CountEvents(auth.EventRoleChanged) != 1 {
			t.Fatalf("events: %d SESSION_REVALIDATED, %d ROLE_CHANGED", app.CountEvents(auth.EventSessionRevalidated), app.CountEvents(auth.EventRoleChanged))
		}
		if sess = db.Client.Session.GetX(ctx, sess.ID); time.Until(*sess.RevalidateAt) < 4*time.Minute {
			t.Fatalf("revalidateAt not moved on: %v", sess.RevalidateAt)
		}

		// Fields absent from the provider's answer stay; an explicit null clears.
		op.SetClaims("op-alice", map[string]any{"groups": []any{"mods"}, "teams": nil})
		due()
		check(map[string]any{"role": "MODERATOR"}, map[string]string{"tier": "gold"}, 1)

		// The provider now gives an email another member holds: the session ends, nothing changes.
		app.CreateUser("taken@example.com", authtest.Password, user.RoleMEMBER)
		before := db.Client.User.Query().Where(user.ExternalID("op-alice")).OnlyX(ctx)
		op.EditUser("op-alice", func(u *opstorage.User) { u.Email = "taken@example.com"; u.LastName = "Changed" })
		due()
		if me := app.GQL(c, "", "{ me { id } }", nil); graphtest.Dig(me.Data, "me") != nil {
			t.Fatalf("the session survived a conflict: %s", me.Raw)
		}
		after := db.Client.User.GetX(ctx, before.ID)
		if after.Email != before.Email || after.Name != before.Name {
			t.Fatalf("a refused revalidation changed the member: %+v", after)
		}
		revoked := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventSessionRevoked)).OnlyX(ctx)
		if revoked.Detail["reason"] != auth.CodeSSOConflict || app.CountEvents(auth.EventSSOConflict) != 1 {
			t.Fatalf("SESSION_REVOKED %v, %d SSO_CONFLICT", revoked.Detail, app.CountEvents(auth.EventSSOConflict))
		}
	})
}

// TestOAuth2DomainWithScheme: a preset domain typed as a URL (https://…/) is stored as the host
// and path, and signs in; another scheme is refused.
func TestOAuth2DomainWithScheme(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := authtest.StartOP(t)
		app := opApp(t, db, op, nil)
		admin := app.AdminToken()
		q := `mutation($in: UpdateOAuth2SettingsInput!) { updateOAuth2Settings(input: $in) { oauth2 { domain } } }`
		r := app.GQL(nil, admin, q, map[string]any{"in": map[string]any{"domain": "http://" + op.Domain()}})
		if r.Code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "domain" {
			t.Fatalf("http:// domain: %s", r.Raw)
		}
		r = app.GQL(nil, admin, q, map[string]any{"in": map[string]any{
			"enabled": true, "provider": "OKTA", "domain": " HTTPS://" + op.Domain() + "/ ",
			"clientId": op.ClientID, "clientSecret": op.ClientSecret,
		}})
		if got := graphtest.Dig(r.Data, "updateOAuth2Settings", "oauth2", "domain"); got != op.Domain() {
			t.Fatalf("domain stored as %v, want %s: %s", got, op.Domain(), r.Raw)
		}
		c := op.Member(t)
		resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", "alice", "verysecure")
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		if me := app.GQL(c, "", "{ me { externalId } }", nil); graphtest.Dig(me.Data, "me", "externalId") != "op-alice" {
			t.Fatalf("%s", me.Raw)
		}
	})
}

// TestOAuth2FlowCookieInFrame: while the community may be embedded, a flow that starts inside a
// frame (Sec-Fetch-Dest: iframe) gets a SameSite=None; Secure; Partitioned flow cookie, and its
// framed callback clears it with those attributes; a flow in a top-level window keeps
// SameSite=Lax, and so does a framed one while embedding is off.
func TestOAuth2FlowCookieInFrame(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		op := authtest.StartOP(t)
		app := opApp(t, db, op, nil)
		admin := app.AdminToken()
		app.EnableOAuth2(admin, map[string]any{
			"enabled": true, "provider": "OKTA", "domain": op.Domain(), "clientId": op.ClientID, "clientSecret": op.ClientSecret,
		})
		get := func(path string, frame bool) *http.Cookie {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, app.URL+path, nil)
			if frame {
				req.Header.Set("Sec-Fetch-Dest", "iframe")
			}
			r := app.Do(nil, req)
			c := r.Cookie("community_oauth2_flow")
			if c == nil {
				t.Fatalf("%s: no flow cookie: %d %v", path, r.Status, r.Header)
			}
			return c
		}
		lax := func(c *http.Cookie) bool { return c.SameSite == http.SameSiteLaxMode && !c.Partitioned }
		framed := func(c *http.Cookie) bool {
			return c.SameSite == http.SameSiteNoneMode && c.Secure && c.Partitioned && strings.Contains(c.Raw, "; Partitioned")
		}
		if c := get("/auth/oauth2/login", true); !lax(c) {
			t.Fatalf("framed, not embedding: %+v", c)
		}
		if r := app.GQL(nil, admin, `mutation { updateAuthSettings(input: {embedOrigins: ["https://app.example.com"]}) { embedOrigins } }`, nil); len(r.Errors) > 0 {
			t.Fatal(r.Raw)
		}
		if c := get("/auth/oauth2/login", false); !lax(c) || c.MaxAge <= 0 {
			t.Fatalf("top-level: %+v", c)
		}
		if c := get("/auth/oauth2/login", true); !framed(c) || c.MaxAge <= 0 {
			t.Fatalf("framed: %+v", c)
		}

		// A whole sign-in inside a frame: the callback clears the flow cookie as it was set and
		// sets the partitioned session cookie. (Go's cookie jar keeps Secure cookies from plain
		// http but sends them only over https: the test hands the flow cookie over itself.)
		c := op.Member(t)
		c.Transport = inFrame{c.Transport}
		cb := op.ToCallback(t, c, app.URL+"/auth/oauth2/login?redirect_uri=/spaces", "alice", "verysecure")
		u, _ := url.Parse(app.URL)
		u.Scheme = "https"
		req, _ := http.NewRequest(http.MethodGet, cb, nil)
		for _, ck := range c.Jar.Cookies(u) {
			req.AddCookie(ck)
		}
		r := app.Do(c, req)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/spaces" {
			t.Fatalf("framed callback: %d %s", r.Status, r.Body)
		}
		if ck := r.Cookie("community_oauth2_flow"); ck == nil || !framed(ck) || ck.MaxAge >= 0 {
			t.Fatalf("framed callback's clearing: %+v", ck)
		}
		if ck := r.Cookie("community_session"); ck == nil || !framed(ck) || ck.MaxAge < 0 {
			t.Fatalf("framed callback's session cookie: %+v", ck)
		}
	})
}

// inFrame sends every request as a frame's navigation does.
type inFrame struct{ next http.RoundTripper }

func (f inFrame) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Sec-Fetch-Dest", "iframe")
	return f.next.RoundTrip(r)
}
