package jwtsso_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// syncPost posts a sync request: the token as a bearer ("header"), a form field ("form") or a
// JSON field ("json"), asking for HTML so that the answer's JSON is not the caller's choice.
func syncPost(app *authtest.App, token, as string) webtest.Response {
	app.T.Helper()
	var body, ctype string
	switch as {
	case "form":
		body, ctype = url.Values{"jwt": {token}}.Encode(), "application/x-www-form-urlencoded"
	case "json":
		b, _ := json.Marshal(map[string]string{"jwt": token})
		body, ctype = string(b), "application/json"
	}
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/api/auth/sso/sync", strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if as == "header" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "text/html")
	// A server's request from elsewhere: no cross-site check applies to it.
	req.Header.Set("Origin", "https://customer.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return app.Do(nil, req)
}

// syncAnswer decodes a successful sync's answer.
func syncAnswer(t *testing.T, r webtest.Response) jwtsso.SyncAnswer {
	t.Helper()
	var a jwtsso.SyncAnswer
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Set-Cookie") != "" ||
		r.Header.Get("Cache-Control") != "no-store" || json.Unmarshal([]byte(r.Body), &a) != nil {
		t.Fatalf("sync: %d %v %s", r.Status, r.Header, r.Body)
	}
	return a
}

// syncRefused checks a refused sync's JSON error.
func syncRefused(t *testing.T, r webtest.Response, status int, code string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if r.Status != status || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Set-Cookie") != "" ||
		json.Unmarshal([]byte(r.Body), &body) != nil || body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
	}
}

func TestJWTSSOSync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app, c, key := jwtApp(t, db)
		ctx := context.Background()
		sign := func(over map[string]any) string {
			return authtest.Sign(t, jwt.SigningMethodHS256, key, authtest.Claims(over), nil)
		}
		if r := app.GQL(c.Admin, "", `mutation { createSpace(input: {name: "General", slug: "general"}) { id } }`, nil); r.Code() != "" {
			t.Fatal(r.Raw)
		}
		synced := func(decision string) int { // MEMBER_SYNCED events from the endpoint with decision
			n := 0
			for _, e := range db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventMemberSynced)).AllX(ctx) {
				if e.Detail["source"] == "sync_endpoint" && e.Detail["decision"] == decision {
					n++
				}
			}
			return n
		}
		var patID string

		steps := []struct {
			name     string
			as       string
			over     map[string]any
			decision string
			changes  []jwtsso.SyncedChange
		}{
			{"create", "header", map[string]any{"sub": "sync-1", "spaceIds": []string{"general"}}, "CREATED",
				[]jwtsso.SyncedChange{{Field: "spaces.general", New: "MEMBER"}}},
			{"update", "json", map[string]any{"sub": "sync-1", "name": "Pat Smith", "tagline": "Hi"}, "UPDATED",
				[]jwtsso.SyncedChange{{Field: "name", Old: "Pat Doe", New: "Pat Smith"}, {Field: "tagline", New: "Hi"}}},
			{"unchanged", "form", map[string]any{"sub": "sync-1", "name": "Pat Smith", "spaceIds": []string{"general"}}, "UNCHANGED",
				[]jwtsso.SyncedChange{}},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				before := synced(s.decision)
				logins := app.CountEvents(auth.EventLoginSucceeded)
				a := syncAnswer(t, syncPost(app, sign(s.over), s.as))
				if a.Decision != s.decision || a.User.ExternalID != "sync-1" || a.User.Email != "pat@example.com" || a.User.ID == "" ||
					!slices.Equal(a.Changes, s.changes) {
					t.Fatalf("answer %+v, want %s %+v", a, s.decision, s.changes)
				}
				if patID == "" {
					patID = a.User.ID
				} else if a.User.ID != patID {
					t.Fatalf("user %s, want %s", a.User.ID, patID)
				}
				u := db.Client.User.Query().Where(user.ExternalID("sync-1")).OnlyX(ctx)
				if u.LastLoginAt != nil || db.Client.Session.Query().Where(session.UserID(u.ID)).CountX(ctx) != 0 ||
					app.CountEvents(auth.EventLoginSucceeded) != logins || synced(s.decision) != before+1 {
					t.Fatalf("a sync signed the member in, or was not recorded: %+v", u)
				}
			})
		}

		t.Run("conflict", func(t *testing.T) {
			snap := storetest.Snapshot(t, db)
			conflicts, failed := app.CountEvents(auth.EventSSOConflict), app.CountEvents(auth.EventMemberSyncFailed)
			syncRefused(t, syncPost(app, sign(map[string]any{"sub": "sync-2", "name": "Other"}), "header"), http.StatusConflict, auth.CodeSSOConflict)
			if storetest.Snapshot(t, db) != snap || app.CountEvents(auth.EventSSOConflict) != conflicts+1 || app.CountEvents(auth.EventMemberSyncFailed) != failed+1 {
				t.Fatal("a conflict changed data or was not recorded")
			}
			if u := db.Client.User.Query().Where(user.ExternalID("sync-1")).OnlyX(ctx); u.Name != "Pat Smith" {
				t.Fatalf("member changed: %+v", u)
			}
		})

		t.Run("refused", func(t *testing.T) {
			expired := authtest.Sign(t, jwt.SigningMethodHS256, key,
				authtest.ClaimsAt(time.Now().Add(-time.Hour), map[string]any{"sub": "sync-3", "email": "sam@example.com"}), nil)
			replay := sign(map[string]any{"sub": "sync-3", "email": "sam@example.com", "jti": "sync-once"})
			syncAnswer(t, syncPost(app, replay, "header"))
			for _, c := range []struct {
				name, token, as string
				status          int
				code            string
			}{
				{"bad signature", authtest.Sign(t, jwt.SigningMethodHS256, []byte("not the secret"), authtest.Claims(nil), nil), "header", 401, auth.CodeInvalidToken},
				{"expired", expired, "json", 401, auth.CodeTokenExpired},
				{"replayed", replay, "header", 401, auth.CodeTokenReplayed},
				{"no email", sign(map[string]any{"sub": "sync-4", "email": nil}), "form", 400, auth.CodeMissingClaim},
				{"bad suspended", sign(map[string]any{"sub": "sync-3", "email": "sam@example.com", "suspended": "yes"}), "header", 400, auth.CodeInvalidClaim},
				{"no token", "", "json", 400, auth.CodeInvalidRequest},
			} {
				t.Run(c.name, func(t *testing.T) {
					snap := storetest.Snapshot(t, db)
					syncRefused(t, syncPost(app, c.token, c.as), c.status, c.code)
					if storetest.Snapshot(t, db) != snap {
						t.Fatal("a refused sync changed data")
					}
				})
			}
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/api/auth/sso/sync", nil)
			req.Header.Set("Authorization", "Basic "+sign(nil))
			syncRefused(t, app.Do(nil, req), 400, auth.CodeInvalidRequest)
		})

		t.Run("suspension", func(t *testing.T) {
			me := func() any {
				r := app.GQL(c.Member, "", `{ me { email } }`, nil)
				return r.Data["me"]
			}
			sessions := func() int { return db.Client.Session.Query().Where(session.UserID(c.MemberUser.ID)).CountX(ctx) }
			if me() == nil || sessions() == 0 {
				t.Fatal("the member is not signed in")
			}
			// The member signed in with a password is linked by email, and suspended.
			a := syncAnswer(t, syncPost(app, sign(map[string]any{"sub": "member-1", "email": "member@example.com", "suspended": true}), "header"))
			if a.Decision != "UPDATED" || !slices.Contains(a.Changes, jwtsso.SyncedChange{Field: "status", Old: "ACTIVE", New: "SUSPENDED"}) {
				t.Fatalf("suspend: %+v", a)
			}
			if me() != nil || sessions() != 0 || db.Client.User.GetX(ctx, c.MemberUser.ID).Status != user.StatusSUSPENDED || app.CountEvents(auth.EventStatusChanged) == 0 {
				t.Fatal("the suspended member is still signed in or active")
			}
			// Suspended: it can be synced, not signed in.
			a = syncAnswer(t, syncPost(app, sign(map[string]any{"sub": "member-1", "email": "member@example.com", "name": "Mem Ber"}), "json"))
			if a.Decision != "UPDATED" || !slices.Equal(a.Changes, []jwtsso.SyncedChange{{Field: "name", Old: "Pat Doe", New: "Mem Ber"}}) {
				t.Fatalf("sync of a suspended member: %+v", a)
			}
			r := app.SSOGet(nil, sign(map[string]any{"sub": "member-1", "email": "member@example.com", "name": "Mem Ber"}), "", "application/json")
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, auth.CodeUserSuspended) {
				t.Fatalf("a suspended member signed in: %d %s", r.Status, r.Body)
			}
			// suspended: false lifts it, and the member signs in again.
			a = syncAnswer(t, syncPost(app, sign(map[string]any{"sub": "member-1", "email": "member@example.com", "name": "Mem Ber", "suspended": false}), "header"))
			if a.Decision != "UPDATED" || !slices.Equal(a.Changes, []jwtsso.SyncedChange{{Field: "status", Old: "SUSPENDED", New: "ACTIVE"}}) {
				t.Fatalf("reinstate: %+v", a)
			}
			r = app.SSOGet(nil, sign(map[string]any{"sub": "member-1", "email": "member@example.com", "name": "Mem Ber"}), "", "")
			if r.Status != http.StatusSeeOther {
				t.Fatalf("a reinstated member cannot sign in: %d %s", r.Status, r.Body)
			}
		})

		t.Run("last admin", func(t *testing.T) {
			snap := storetest.Snapshot(t, db)
			syncRefused(t, syncPost(app, sign(map[string]any{"sub": "admin-1", "email": "admin@example.com", "name": "Admin", "suspended": true}), "header"),
				http.StatusBadRequest, auth.CodeInvalidClaim)
			u := db.Client.User.GetX(ctx, c.AdminUser.ID)
			if storetest.Snapshot(t, db) != snap || u.Status != user.StatusACTIVE || u.ExternalID != nil {
				t.Fatalf("the last admin was changed: %+v", u)
			}
			if r := app.GQL(c.Admin, "", `{ me { email } }`, nil); r.Data["me"] == nil {
				t.Fatal("the admin's session ended")
			}
		})
	})
}
