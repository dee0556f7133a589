package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/mail/mailtest"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// growingTables are the tables that grow with members and use; a statement may not read any of
// them whole. (settings, spaces and profile_fields stay small: an admin makes their rows.)
var growingTables = map[string]bool{
	"users": true, "sessions": true, "api_tokens": true, "security_events": true, "replay_markers": true,
	"space_memberships": true, "profile_field_values": true, "login_throttles": true, "email_tokens": true,
	"webhook_deliveries": true,
}

// planRows is how many members the query-plan test seeds: enough that a full scan costs more
// than an index to the planners, so the plans are the ones a large community gets.
const planRows = 3000

// seedPlanRows fills the growing tables with bulk inserts: planRows members with memberships
// and field values, two sessions, an API token, three security events, a replay marker, a login
// throttle counter and a mailed link each.
func seedPlanRows(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	c := db.Client
	users := storetest.SeedUsers(t, db, planRows, 3, 2)
	now := time.Now()
	var (
		sessions []*ent.SessionCreate
		tokens   []*ent.APITokenCreate
		events   []*ent.SecurityEventCreate
		markers  []*ent.ReplayMarkerCreate
		counters []*ent.LoginThrottleCreate
		links    []*ent.EmailTokenCreate
	)
	for i, u := range users {
		for j := range 2 {
			_, hash := auth.NewToken()
			sessions = append(sessions, c.Session.Create().SetTokenHash(hash).SetUserID(u.ID).SetMethod("JWT").
				SetExpiresAt(now.Add(time.Duration(i+j)*time.Minute)).SetLastSeenAt(now))
		}
		_, hash := auth.NewToken()
		tokens = append(tokens, c.APIToken.Create().SetName("script").SetTokenHash(hash).SetUserID(u.ID))
		for _, typ := range []string{auth.EventUserCreated, auth.EventSpaceMembershipChanged, auth.EventLoginSucceeded} {
			events = append(events, c.SecurityEvent.Create().SetType(typ).SetUserID(u.ID).SetMethod("JWT").SetIP("192.0.2.1"))
		}
		markers = append(markers, c.ReplayMarker.Create().SetKey(fmt.Sprintf("%064x", i)).SetExpiresAt(now.Add(time.Hour)))
		counters = append(counters, c.LoginThrottle.Create().SetKey(fmt.Sprintf("%064x", i)).SetIP("192.0.2.1").SetSubject(u.Email).
			SetFailures(1).SetLastAt(now).SetExpiresAt(now.Add(time.Hour)))
		_, hash = auth.NewToken()
		links = append(links, c.EmailToken.Create().SetPurpose(emailtoken.PurposeRESET_PASSWORD).SetTokenHash(hash).SetUserID(u.ID).
			SetEmail(u.Email).SetIP("192.0.2.1").SetExpiresAt(now.Add(time.Hour)))
	}
	inChunks(sessions, func(b ...*ent.SessionCreate) { c.Session.CreateBulk(b...).ExecX(ctx) })
	inChunks(tokens, func(b ...*ent.APITokenCreate) { c.APIToken.CreateBulk(b...).ExecX(ctx) })
	inChunks(events, func(b ...*ent.SecurityEventCreate) { c.SecurityEvent.CreateBulk(b...).ExecX(ctx) })
	inChunks(markers, func(b ...*ent.ReplayMarkerCreate) { c.ReplayMarker.CreateBulk(b...).ExecX(ctx) })
	inChunks(counters, func(b ...*ent.LoginThrottleCreate) { c.LoginThrottle.CreateBulk(b...).ExecX(ctx) })
	inChunks(links, func(b ...*ent.EmailTokenCreate) { c.EmailToken.CreateBulk(b...).ExecX(ctx) })
	if db.Driver == store.MySQL {
		// The statistics a running server has for these tables (InnoDB refreshes them by itself
		// after a while; a test does not wait).
		for table := range growingTables {
			if _, err := db.SQL.ExecContext(ctx, "ANALYZE TABLE `"+table+"`"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// inChunks saves items 500 at a time: one INSERT each, within SQLite's limit on arguments.
func inChunks[T any](items []T, save func(...T)) {
	for len(items) > 0 {
		k := min(len(items), 500)
		save(items[:k]...)
		items = items[k:]
	}
}

// fullScans explains every statement that reads rows and returns the full scans of growing
// tables among their plans, one line each: a scan of the table or of a whole index, or a range
// the planner expects to read a tenth of the seeded rows or more.
func fullScans(t *testing.T, db *store.DB, stmts []storetest.Statement) []string {
	t.Helper()
	var out []string
	for _, s := range stmts {
		// An INSERT … VALUES reads no table. (SQLite's plan for one lists the child tables of
		// its foreign keys, which it reads only while a deferred constraint is violated;
		// MySQL's names the table written, type ALL.)
		q := strings.ToUpper(s.Query)
		if strings.HasPrefix(q, "INSERT") && !strings.Contains(q, "SELECT") {
			continue
		}
		steps, err := storetest.Explain(context.Background(), db, s.Query, s.Args...)
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range steps {
			// A range over most of the table is a full scan too (MySQL/MariaDB estimate rows).
			// So is a walk along a whole index that tests each row against a filter.
			walk := step.IndexWalk && strings.Contains(q, " WHERE ")
			if growingTables[step.Table] && (step.FullScan || walk || step.Rows > planRows/10) {
				out = append(out, fmt.Sprintf("%s: %s\n    in %s", step.Table, step.Detail, s.Query))
			}
		}
	}
	return out
}

// TestQueryPlans: no statement of a login (JWT SSO, the OAuth2 callback, both through
// provisioning; with and without an old session cookie; direct, after a failed one), of the
// viewer lookup (cookie and API token), of a logout, of revokeUserSessions, of an OAuth2 refresh
// revalidation, of a back-channel logout (by sid, by sub), of a password reset (the mailed link)
// or of a member sync (POST /api/auth/sso/sync and syncMembers) reads a whole
// table that grows with use, on tables seeded with thousands of rows: EXPLAIN (MySQL/MariaDB)
// and EXPLAIN QUERY PLAN (SQLite) of each statement the paths sent, with its arguments.
func TestQueryPlans(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			log := &storetest.StatementLog{}
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			op := authtest.StartOP(t)
			smtp := mailtest.Start(t, mailtest.Options{Username: "relay", Password: "relay-password-1"})
			app := newAppWith(t, db, smtp.Env(), deps{Deps: routes.Deps{IdPClient: op.Server.Client()}})
			op.Register(app.URL)
			admin := adminToken(t, app)
			enableOAuth2(t, app, admin, map[string]any{
				"enabled": true, "provider": "CUSTOM", "issuer": op.Issuer,
				"clientId": op.ClientID, "clientSecret": op.ClientSecret, "refreshMinutes": 5,
			})
			r := app.gql(nil, admin, `mutation { regenerateJwtSsoSecret }`, nil)
			secret, _ := r.Data["regenerateJwtSsoSecret"].(string)
			if r = app.gql(nil, admin, `mutation { updateJwtSsoSettings(input: {enabled: true}) { jwtSso { enabled } } }`, nil); secret == "" || r.Code() != "" {
				t.Fatalf("enable JWT SSO: %s", r.Raw)
			}
			seedPlanRows(t, db)
			// The seeded fields take their values from the logins' claims.
			db.Client.ProfileField.Update().Where(profilefield.Key("field_0")).SetExternalKeys([]string{"company"}).ExecX(ctx)
			op.SetClaims("op-alice", map[string]any{"spaceIds": []any{"space-0", "space-2"}, "company": "Acme"})
			const pass, newPass = "plan-password-1", "plan-password-2"
			app.createUser("plan-direct@example.com", pass, user.RoleMEMBER)

			jwtLogin := func(c *http.Client, over map[string]any) {
				t.Helper()
				over["jti"] = fmt.Sprintf("plan-%d", time.Now().UnixNano()) // single use
				tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), authtest.Claims(over), nil)
				if r := app.ssoGet(c, tok, "/", "application/json"); r.Status != http.StatusSeeOther {
					t.Fatalf("JWT SSO login %v: %d %s", over, r.Status, r.Body)
				}
			}
			signedIn := func(c *http.Client, bearer string) {
				t.Helper()
				if r := app.gql(c, bearer, "{ me { id spaces { space { slug } } fields { key value } } }", nil); graphtest.Dig(r.Data, "me", "id") == nil {
					t.Fatalf("not signed in: %s", r.Raw)
				}
			}
			// past moves the sessions' last use and revalidation time into the past, so the
			// next request writes the sliding expiry and revalidates (outside the log).
			past := func() {
				t.Helper()
				old := time.Now().Add(-10 * time.Minute)
				if _, err := db.SQL.ExecContext(ctx, "UPDATE sessions SET last_seen_at = ?, revalidate_at = CASE WHEN revalidate_at IS NULL THEN NULL ELSE ? END WHERE created_at > ?", old, old, time.Now().Add(-time.Hour)); err != nil {
					t.Fatal(err)
				}
			}

			log.Start()
			// JWT SSO: a new member, then the same browser again (its old session ends), then a
			// seeded member returning with new spaces.
			b := browser(t)
			jwtLogin(b, map[string]any{"sub": "plan-new", "email": "plan-new@example.com", "spaceIds": []any{"space-0", "space-1"}, "company": "Acme"})
			jwtLogin(b, map[string]any{"sub": "plan-new", "email": "plan-new@example.com", "spaceIds": []any{"space-1"}, "spacesOperation": "REPLACE", "company": "Beta"})
			jwtLogin(browser(t), map[string]any{"sub": "ext-1234", "email": "user1234@example.com", "name": "User 1234", "spaceIds": []any{"space-1"}})
			// The viewer by cookie (with the sliding expiry written) and by API token.
			past()
			signedIn(b, "")
			signedIn(nil, admin)
			// OAuth2: the callback, then a due refresh revalidation.
			c := op.Member(t)
			resp := op.SignIn(t, c, app.URL+"/auth/oauth2/login", "alice", "verysecure")
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("OAuth2 login: %d", resp.StatusCode)
			}
			past()
			signedIn(c, "")
			if app.countEvents(auth.EventSessionRevalidated) != 1 {
				t.Fatalf("no revalidation:\n%s", app.Logs)
			}
			// Back-channel logout by the provider's session id: a second browser of alice's ends.
			c2 := op.Member(t)
			resp = op.SignIn(t, c2, app.URL+"/auth/oauth2/login", "alice", "verysecure")
			resp.Body.Close()
			sids := op.SessionIDs("op-alice")
			if r := app.client().BackchannelLogout(op.SignLogout(t, op.LogoutClaims(map[string]any{"sid": sids[len(sids)-1]}))); r.Status != http.StatusOK {
				t.Fatalf("back-channel logout by sid: %d %s", r.Status, r.Body)
			}
			if r := app.gql(c2, "", "{ me { id } }", nil); graphtest.Dig(r.Data, "me") != nil {
				t.Fatal("still signed in after the back-channel logout")
			}
			// A direct login after a failed one (the throttle's counters), and a password reset
			// (the mailed link).
			d := browser(t)
			if r := app.postForm(d, "/auth/login/direct", url.Values{"email": {"plan-direct@example.com"}, "password": {"wrong-password"}, "redirect_uri": {"/"}}); r.Status == http.StatusSeeOther {
				t.Fatal("a wrong password signed in")
			}
			app.login(d, "plan-direct@example.com", pass)
			if r := app.postForm(nil, "/auth/password/forgot", url.Values{"email": {"plan-direct@example.com"}}); r.Status != http.StatusOK {
				t.Fatalf("forgot: %d %s", r.Status, r.Body)
			}
			link := app.client().MailedLink(smtp.Wait(t, 1), "/auth/password/reset")
			if r := app.get(nil, link); r.Status != http.StatusOK {
				t.Fatalf("reset form: %d %s", r.Status, r.Body)
			}
			tok := strings.TrimPrefix(link, "/auth/password/reset?token=")
			if r := app.postForm(nil, "/auth/password/reset", url.Values{"token": {tok}, "password": {newPass}, "password2": {newPass}}); r.Status >= 300 && r.Status != http.StatusSeeOther {
				t.Fatalf("reset: %d %s", r.Status, r.Body)
			}
			// Logout, and revokeUserSessions.
			if r := app.postForm(b, "/auth/logout", nil); r.Status != http.StatusSeeOther {
				t.Fatalf("logout: %d", r.Status)
			}
			me := app.gql(c, "", "{ me { id } }", nil)
			if r := app.gql(nil, admin, `mutation($id: ID!) { revokeUserSessions(userId: $id) }`, map[string]any{"id": graphtest.Dig(me.Data, "me", "id")}); r.Code() != "" {
				t.Fatalf("revokeUserSessions: %s", r.Raw)
			}
			// Back-channel logout by sub: the member's OAuth2 sessions (none left by now).
			if r := app.client().BackchannelLogout(op.SignLogout(t, op.LogoutClaims(map[string]any{"sub": "op-alice"}))); r.Status != http.StatusOK {
				t.Fatalf("back-channel logout by sub: %d %s", r.Status, r.Body)
			}
			// A member's profile fields set through the API (the one writer of field values).
			if r := app.gql(nil, admin, `mutation($id: ID!) { updateUser(id: $id, input: {fields: [{key: "field_0", value: "Plan"}, {key: "field_1", value: ""}]}) { id } }`, map[string]any{"id": graphtest.Dig(me.Data, "me", "id")}); r.Code() != "" {
				t.Fatalf("updateUser fields: %s", r.Raw)
			}
			// The security log of one member, found by its email (the API's filter through the
			// event's user).
			if r := app.gql(nil, admin, `{ securityEvents(first: 20, where: {hasUserWith: [{email: "user7@example.com"}]}) { edges { node { type } } } }`, nil); r.Code() != "" || len(graphtest.Dig(r.Data, "securityEvents", "edges").([]any)) == 0 {
				t.Fatalf("a member's security log: %s", r.Raw)
			}
			// A member synced without a login (suspended, so its sessions end), and syncMembers
			// (a new member; the same member reinstated).
			syncTok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), authtest.Claims(map[string]any{
				"sub": "ext-1235", "email": "user1235@example.com", "name": "User 1235 Synced", "spaceIds": []any{"space-2"},
				"suspended": true, "jti": fmt.Sprintf("plan-sync-%d", time.Now().UnixNano()),
			}), nil)
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/api/auth/sso/sync", nil)
			req.Header.Set("Authorization", "Bearer "+syncTok)
			if r := app.do(nil, req); r.Status != http.StatusOK || !strings.Contains(r.Body, `"UPDATED"`) {
				t.Fatalf("sync: %d %s", r.Status, r.Body)
			}
			if r := app.gql(nil, admin, `mutation($p: [JSON!]!) { syncMembers(input: {payloads: $p}) { created updated failed } }`, map[string]any{"p": []any{
				map[string]any{"sub": "plan-sync", "email": "plan-sync@example.com", "name": "Plan Sync", "spaceIds": []any{"space-0"}, "company": "Acme"},
				map[string]any{"sub": "ext-1235", "email": "user1235@example.com", "name": "User 1235 Synced", "suspended": false},
			}}); r.Code() != "" || graphtest.Dig(r.Data, "syncMembers", "created") != 1.0 || graphtest.Dig(r.Data, "syncMembers", "updated") != 1.0 {
				t.Fatalf("syncMembers: %s", r.Raw)
			}
			stmts := log.StopWithArgs()
			if len(stmts) < 20 {
				t.Fatalf("only %d statements recorded", len(stmts))
			}
			for _, table := range []string{"sessions", "api_tokens", "users", "security_events", "replay_markers", "space_memberships", "profile_field_values", "login_throttles", "email_tokens"} {
				found := false
				for _, s := range stmts {
					found = found || strings.Contains(s.Query, "`"+table+"`")
				}
				if !found {
					t.Errorf("no statement on %s recorded", table)
				}
			}
			if scans := fullScans(t, db, stmts); len(scans) > 0 {
				t.Fatalf("%d full scans of growing tables:\n%s", len(scans), strings.Join(scans, "\n"))
			}

			if backend != store.MySQL {
				return
			}
			// The test sees what it is for: with the token hashes of old (a TINYBLOB with
			// MariaDB's hash-only unique index) the lookups by hash read the whole table.
			for _, table := range []string{"sessions", "api_tokens", "email_tokens"} {
				if _, err := db.SQL.ExecContext(ctx, "ALTER TABLE `"+table+"` DROP INDEX `token_hash`, MODIFY `token_hash` tinyblob NOT NULL, ADD UNIQUE KEY `token_hash` (`token_hash`) USING HASH"); err != nil {
					t.Fatal(err)
				}
			}
			scans := strings.Join(fullScans(t, db, stmts), "\n")
			for _, table := range []string{"sessions", "api_tokens", "email_tokens"} {
				if !strings.Contains(scans, table+": ") {
					t.Errorf("with the old %s.token_hash no full scan of it was found:\n%s", table, scans)
				}
			}
		})
	}
}
