package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

type fixture struct {
	db *store.DB
	p  *Provisioner
}

func newFixture(db *store.DB) *fixture {
	return &fixture{db: db, p: &Provisioner{
		DB:       db,
		Sessions: &auth.Sessions{Client: db.Client, Lifetime: time.Hour},
		Log:      slog.New(slog.DiscardHandler),
	}}
}

func (f *fixture) request(t testing.TB, js string, roles *RoleMapping) Request {
	t.Helper()
	return Request{Method: session.MethodJWT, Profile: mustMap(t, decode(t, js)), Roles: roles}
}

// login runs Provisioner.Login as the JWT SSO endpoint would.
func (f *fixture) login(t testing.TB, js string, roles *RoleMapping) (*Result, error) {
	t.Helper()
	return f.loginReq(f.request(t, js, roles))
}

func (f *fixture) loginReq(req Request) (*Result, error) {
	r := httptest.NewRequest(http.MethodGet, "/api/auth/sso", nil)
	r.Header.Set("User-Agent", "provision-test")
	return f.p.Login(auth.RequestContext(r), req)
}

// mustLogin logs in and fails the test on an error.
func (f *fixture) mustLogin(t testing.TB, js string, roles *RoleMapping) *Result {
	t.Helper()
	res, err := f.login(t, js, roles)
	if err != nil {
		t.Fatalf("Login(%s): %v", js, err)
	}
	if res == nil || res.User == nil {
		t.Fatalf("Login(%s): no user in %+v", js, res)
	}
	if !started(res) {
		t.Fatalf("Login(%s) set no session cookie", js)
	}
	return res
}

// started tells whether a login started a session: a token for the browser's cookie.
func started(res *Result) bool {
	return res != nil && res.Session.Token != "" && res.Session.ID != 0
}

type userOpt func(*ent.UserCreate)

func withExt(ext string) userOpt { return func(c *ent.UserCreate) { c.SetExternalID(ext) } }
func asAdmin(c *ent.UserCreate)  { c.SetRole(user.RoleADMIN) }
func suspended() userOpt {
	return func(c *ent.UserCreate) { c.SetStatus(user.StatusSUSPENDED) }
}

func mkUser(t testing.TB, db *store.DB, username, email, name string, opts ...userOpt) *ent.User {
	t.Helper()
	c := db.Client.User.Create().SetUsername(username).SetEmail(email).SetName(name)
	for _, o := range opts {
		o(c)
	}
	u, err := c.Save(context.Background())
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

func getUser(t testing.TB, db *store.DB, id int) *ent.User {
	t.Helper()
	u, err := db.Client.User.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get user %d: %v", id, err)
	}
	return u
}

func events(t testing.TB, db *store.DB, typ string) []*ent.SecurityEvent {
	t.Helper()
	evs, err := db.Client.SecurityEvent.Query().Where(securityevent.Type(typ)).Order(ent.Asc(securityevent.FieldID)).All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func sessionsOf(t testing.TB, db *store.DB, userID int) int {
	t.Helper()
	n, err := db.Client.Session.Query().Where(session.UserID(userID)).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLoginDecisions(t *testing.T) {
	type env struct {
		t   *testing.T
		db  *store.DB
		f   *fixture
		ids map[string]int // users made by setup, by username
	}
	for _, tc := range []struct {
		name     string
		setup    func(e *env)
		payload  string
		decision string
		code     string // the *auth.SSOError code, "" for success
		check    func(e *env, res *Result)
	}{
		{
			name:     "create",
			payload:  `{"sub": "ext-new", "email": "New@Example.com", "name": "New Member", "username": "Newbie", "picture": "https://cdn.example.com/n.png", "tagline": "hi"}`,
			decision: DecisionCreate,
			check: func(e *env, res *Result) {
				u := getUser(e.t, e.db, res.User.ID)
				if !res.Created || u.ExternalID == nil || *u.ExternalID != "ext-new" || u.Email != "new@example.com" || u.Name != "New Member" ||
					u.Username != "newbie" || u.Picture != "https://cdn.example.com/n.png" || u.Tagline != "hi" || u.Role != user.RoleMEMBER || u.LastLoginAt == nil {
					e.t.Fatalf("created user: %+v (res %+v)", u, res)
				}
				evs := events(e.t, e.db, auth.EventUserCreated)
				if len(evs) != 1 || evs[0].UserID == nil || *evs[0].UserID != u.ID || evs[0].Detail["externalId"] != "ext-new" {
					e.t.Fatalf("USER_CREATED events: %+v", evs)
				}
				ok := events(e.t, e.db, auth.EventLoginSucceeded)
				if len(ok) != 1 || ok[0].Detail["decision"] != DecisionCreate || ok[0].Method != "JWT" || ok[0].UserAgent != "provision-test" {
					e.t.Fatalf("LOGIN_SUCCEEDED events: %+v", ok)
				}
			},
		},
		{
			name:     "create with a taken username gets a suffix",
			setup:    func(e *env) { e.ids["bob"] = mkUser(e.t, e.db, "bob", "bob@example.com", "Bob").ID },
			payload:  `{"sub": "ext-bob", "email": "bob2@example.net", "name": "Bob Two", "username": "bob"}`,
			decision: DecisionCreate,
			check: func(e *env, res *Result) {
				if res.User.Username != "bob2" {
					e.t.Fatalf("username %q, want bob2", res.User.Username)
				}
			},
		},
		{
			name:     "create without an email is MISSING_CLAIM",
			payload:  `{"sub": "ext-x", "name": "No Mail"}`,
			code:     auth.CodeMissingClaim,
			decision: DecisionReject,
		},
		{
			name: "update by externalId, email included",
			setup: func(e *env) {
				e.ids["old"] = mkUser(e.t, e.db, "old", "old@example.com", "Old Name", withExt("ext-1")).ID
			},
			payload:  `{"sub": "ext-1", "email": "NEW@example.com", "name": "New Name", "tagline": "t"}`,
			decision: DecisionUpdate,
			check: func(e *env, res *Result) {
				u := getUser(e.t, e.db, e.ids["old"])
				if res.User.ID != u.ID || u.Email != "new@example.com" || u.Name != "New Name" || u.Tagline != "t" || u.Username != "old" {
					e.t.Fatalf("updated user: %+v", u)
				}
				for _, f := range []string{"email", "name", "tagline"} {
					if !slices.Contains(res.Changed, f) {
						e.t.Fatalf("Changed %q lacks %s", res.Changed, f)
					}
				}
				if evs := events(e.t, e.db, auth.EventUserUpdated); len(evs) != 1 {
					e.t.Fatalf("USER_UPDATED events: %+v", evs)
				}
			},
		},
		{
			name: "update with nothing new changes nothing",
			setup: func(e *env) {
				e.ids["same"] = mkUser(e.t, e.db, "same", "same@example.com", "Same", withExt("ext-s")).ID
			},
			payload:  `{"sub": "ext-s", "email": "same@example.com", "name": "Same"}`,
			decision: DecisionUpdate,
			check: func(e *env, res *Result) {
				if len(res.Changed) != 0 || len(events(e.t, e.db, auth.EventUserUpdated)) != 0 {
					e.t.Fatalf("Changed %q, events %v", res.Changed, events(e.t, e.db, auth.EventUserUpdated))
				}
			},
		},
		{
			name:     "email_verified false still updates a user found by externalId",
			setup:    func(e *env) { e.ids["u"] = mkUser(e.t, e.db, "u", "u@example.com", "U", withExt("ext-u")).ID },
			payload:  `{"sub": "ext-u", "email": "u2@example.com", "name": "U", "email_verified": false}`,
			decision: DecisionUpdate,
		},
		{
			name:     "link by email",
			setup:    func(e *env) { e.ids["pat"] = mkUser(e.t, e.db, "pat", "pat@example.com", "Pat").ID },
			payload:  `{"sub": "ext-pat", "email": "Pat@Example.com", "name": "Pat Doe", "email_verified": true}`,
			decision: DecisionLink,
			check: func(e *env, res *Result) {
				u := getUser(e.t, e.db, e.ids["pat"])
				if u.ExternalID == nil || *u.ExternalID != "ext-pat" || u.Name != "Pat Doe" || res.User.ID != u.ID || res.Created {
					e.t.Fatalf("linked user: %+v", u)
				}
				evs := events(e.t, e.db, auth.EventUserLinked)
				if len(evs) != 1 || *evs[0].UserID != u.ID || evs[0].Detail["externalId"] != "ext-pat" {
					e.t.Fatalf("USER_LINKED events: %+v", evs)
				}
				if n, _ := e.db.Client.User.Query().Count(context.Background()); n != 1 {
					e.t.Fatalf("%d users", n)
				}
			},
		},
		{
			name:     "email_verified false never links",
			setup:    func(e *env) { e.ids["pat"] = mkUser(e.t, e.db, "pat", "pat@example.com", "Pat").ID },
			payload:  `{"sub": "ext-pat", "email": "pat@example.com", "name": "Pat Doe", "email_verified": false}`,
			decision: DecisionReject,
			code:     auth.CodeEmailNotVerified,
			check: func(e *env, res *Result) {
				if u := getUser(e.t, e.db, e.ids["pat"]); u.ExternalID != nil || u.Name != "Pat" {
					e.t.Fatalf("user changed: %+v", u)
				}
			},
		},
		{
			name:     "email_verified string false never links",
			setup:    func(e *env) { e.ids["pat"] = mkUser(e.t, e.db, "pat", "pat@example.com", "Pat").ID },
			payload:  `{"sub": "ext-pat", "email": "pat@example.com", "name": "Pat Doe", "email_verified": "false"}`,
			decision: DecisionReject,
			code:     auth.CodeEmailNotVerified,
		},
		{
			name:     "email_verified false creates a new user",
			payload:  `{"sub": "ext-nv", "email": "nv@example.com", "name": "NV", "email_verified": false}`,
			decision: DecisionCreate,
		},
		{
			name: "conflict: the email belongs to a user with another externalId",
			setup: func(e *env) {
				e.ids["pat"] = mkUser(e.t, e.db, "pat", "pat@example.com", "Pat", withExt("old-ext")).ID
			},
			payload:  `{"sub": "new-ext", "email": "pat@example.com", "name": "Imposter"}`,
			decision: DecisionConflict,
			code:     auth.CodeSSOConflict,
			check: func(e *env, res *Result) {
				if res.ConflictUserID != e.ids["pat"] || res.ConflictExternalID != "old-ext" || res.Reason != auth.CodeSSOConflict {
					e.t.Fatalf("result: %+v", res)
				}
				evs := events(e.t, e.db, auth.EventSSOConflict)
				if len(evs) != 1 {
					e.t.Fatalf("SSO_CONFLICT events: %+v", evs)
				}
				d := evs[0].Detail
				if *evs[0].UserID != e.ids["pat"] || d["existingUserId"] != strconv.Itoa(e.ids["pat"]) || d["existingExternalId"] != "old-ext" ||
					d["incomingExternalId"] != "new-ext" || d["email"] != "pat@example.com" {
					e.t.Fatalf("SSO_CONFLICT event: %+v %v", evs[0], d)
				}
			},
		},
		{
			name: "conflict: an email change into another user's email",
			setup: func(e *env) {
				e.ids["a"] = mkUser(e.t, e.db, "a", "a@example.com", "A", withExt("ext-a")).ID
				e.ids["b"] = mkUser(e.t, e.db, "b", "b@example.com", "B", withExt("ext-b")).ID
			},
			payload:  `{"sub": "ext-a", "email": "b@example.com", "name": "A renamed"}`,
			decision: DecisionConflict,
			code:     auth.CodeSSOConflict,
			check: func(e *env, res *Result) {
				if a := getUser(e.t, e.db, e.ids["a"]); a.Email != "a@example.com" || a.Name != "A" {
					e.t.Fatalf("user a changed: %+v", a)
				}
				if res.ConflictUserID != e.ids["b"] {
					e.t.Fatalf("ConflictUserID %d, want %d", res.ConflictUserID, e.ids["b"])
				}
				evs := events(e.t, e.db, auth.EventSSOConflict)
				if len(evs) != 1 || *evs[0].UserID != e.ids["b"] || evs[0].Detail["existingUserId"] != strconv.Itoa(e.ids["b"]) ||
					evs[0].Detail["incomingExternalId"] != "ext-a" {
					e.t.Fatalf("SSO_CONFLICT events: %+v", evs)
				}
			},
		},
		{
			name: "suspended user found by externalId is refused",
			setup: func(e *env) {
				e.ids["s"] = mkUser(e.t, e.db, "s", "s@example.com", "S", withExt("ext-s"), suspended()).ID
			},
			payload:  `{"sub": "ext-s", "email": "s@example.com", "name": "S new"}`,
			decision: DecisionReject,
			code:     auth.CodeUserSuspended,
			check: func(e *env, res *Result) {
				if u := getUser(e.t, e.db, e.ids["s"]); u.Name != "S" || u.LastLoginAt != nil {
					e.t.Fatalf("suspended user changed: %+v", u)
				}
			},
		},
		{
			name:     "suspended user found by email is refused and not linked",
			setup:    func(e *env) { e.ids["s"] = mkUser(e.t, e.db, "s", "s@example.com", "S", suspended()).ID },
			payload:  `{"sub": "ext-s", "email": "s@example.com", "name": "S"}`,
			decision: DecisionReject,
			code:     auth.CodeUserSuspended,
			check: func(e *env, res *Result) {
				if u := getUser(e.t, e.db, e.ids["s"]); u.ExternalID != nil {
					e.t.Fatalf("suspended user linked: %+v", u)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				e := &env{t: t, db: db, f: newFixture(db), ids: map[string]int{}}
				if tc.setup != nil {
					tc.setup(e)
				}
				before := storetest.State(t, db)
				res, err := e.f.login(t, tc.payload, nil)
				if tc.code == "" {
					if err != nil {
						t.Fatalf("Login: %v", err)
					}
					if res.Decision != tc.decision {
						t.Fatalf("Decision %q, want %q", res.Decision, tc.decision)
					}
					if !started(res) || sessionsOf(t, db, res.User.ID) != 1 {
						t.Fatalf("no session after a successful login")
					}
				} else {
					wantSSOError(t, err, tc.code, "")
					if res != nil && res.Decision != tc.decision {
						t.Fatalf("Decision %q, want %q", res.Decision, tc.decision)
					}
					if started(res) {
						t.Fatal("a failed login started a session")
					}
					// Nothing changes, except the security event of a conflict.
					after := storetest.State(t, db)
					if tc.code == auth.CodeSSOConflict {
						after["count:security_events"] = after["count:security_events"].(int) - 1
					}
					if d := storetest.Diff(before, after); len(d) > 0 {
						t.Fatalf("a failed login changed data:\n%s", strings.Join(d, "\n"))
					}
				}
				if tc.check != nil {
					tc.check(e, res)
				}
			})
		})
	}
}

// The SSO_CONFLICT event of an email change names the other user's externalId too, as the
// conflict on first login does, so the admin sees both sides.
func TestLoginEmailChangeConflictNamesExistingExternalID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		mkUser(t, db, "a", "a@example.com", "A", withExt("ext-a"))
		b := mkUser(t, db, "b", "b@example.com", "B", withExt("ext-b"))
		res, err := f.login(t, `{"sub": "ext-a", "email": "b@example.com", "name": "A"}`, nil)
		wantSSOError(t, err, auth.CodeSSOConflict, "")
		if res.ConflictExternalID != "ext-b" {
			t.Errorf("ConflictExternalID %q, want ext-b", res.ConflictExternalID)
		}
		evs := events(t, db, auth.EventSSOConflict)
		if len(evs) != 1 || evs[0].Detail["existingExternalId"] != "ext-b" || *evs[0].UserID != b.ID {
			t.Fatalf("SSO_CONFLICT events: %+v", evs)
		}
	})
}

func TestLoginBeforeFailureRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		before := storetest.State(t, db)
		req := f.request(t, `{"sub": "ext-1", "email": "b@example.com", "name": "B"}`, nil)
		req.Before = func(ctx context.Context, client *ent.Client) error {
			if err := client.Space.Create().SetName("tmp").SetSlug("tmp").Exec(ctx); err != nil {
				return err
			}
			return auth.NewSSOError(auth.CodeTokenReplayed, "used")
		}
		res, err := f.loginReq(req)
		wantSSOError(t, err, auth.CodeTokenReplayed, "")
		if started(res) {
			t.Fatal("session started")
		}
		if d := storetest.Diff(before, storetest.State(t, db)); len(d) > 0 {
			t.Fatalf("changed:\n%s", strings.Join(d, "\n"))
		}
	})
}

// TestLoginEndsWithItsRequest: the statements of a login run with a context that does not end
// (store.TxStatements), but the transaction ends with the request: a request that ends in the
// middle of a login leaves nothing behind, starts no session, and fails with the request's
// cause, and the pool's connection serves the next login.
func TestLoginEndsWithItsRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		before := storetest.State(t, db)
		r := httptest.NewRequest(http.MethodGet, "/api/auth/sso", nil)
		ctx, cancel := context.WithCancelCause(auth.RequestContext(r))
		gone := errors.New("the client went away")
		req := f.request(t, `{"sub": "ext-1", "email": "b@example.com", "name": "B"}`, nil)
		req.Before = func(ctx context.Context, client *ent.Client) error {
			if err := client.Space.Create().SetName("tmp").SetSlug("tmp").Exec(ctx); err != nil {
				return err
			}
			cancel(gone)
			return nil
		}
		res, err := f.p.Login(ctx, req)
		if !errors.Is(err, gone) {
			t.Fatalf("login whose request ended: %v, want the request's cause", err)
		}
		if started(res) {
			t.Fatal("session started")
		}
		if d := storetest.Diff(before, storetest.State(t, db)); len(d) > 0 {
			t.Fatalf("changed:\n%s", strings.Join(d, "\n"))
		}
		f.mustLogin(t, `{"sub": "ext-1", "email": "b@example.com", "name": "B"}`, nil)
	})
}

func TestLoginRoleMapping(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		mkUser(t, db, "owner", "owner@example.com", "Owner", asAdmin) // not the last admin
		roles := &RoleMapping{AdminClaim: "groups", AdminValue: "admins", ModeratorClaim: "groups", ModeratorValue: "mods"}
		base := `"sub": "ext-r", "email": "r@example.com", "name": "R"`
		var id int
		prev := user.RoleMEMBER // a new member's role
		for i, step := range []struct {
			name    string
			extra   string
			roles   *RoleMapping
			want    user.Role
			changed bool
			events  int // ROLE_CHANGED events so far
		}{
			{"first login as admin", `, "groups": ["users", "admins"]`, roles, user.RoleADMIN, true, 1},
			{"admin again: no change", `, "groups": "admins"`, roles, user.RoleADMIN, false, 1},
			{"demoted to moderator", `, "groups": ["mods"]`, roles, user.RoleMODERATOR, true, 2},
			{"claim gone: member", ``, roles, user.RoleMEMBER, true, 3},
			{"member again: no change", `, "groups": []`, roles, user.RoleMEMBER, false, 3},
			{"no mapping configured: role kept", `, "groups": ["admins"]`, nil, user.RoleMEMBER, false, 3},
			{"empty mapping: role kept", `, "groups": ["admins"]`, &RoleMapping{}, user.RoleMEMBER, false, 3},
			{"admin by presence", `, "is_admin": true`, &RoleMapping{AdminClaim: "is_admin"}, user.RoleADMIN, true, 4},
		} {
			t.Run(step.name, func(t *testing.T) {
				res := f.mustLogin(t, "{"+base+step.extra+"}", step.roles)
				if i == 0 {
					id = res.User.ID
				} else if res.User.ID != id {
					t.Fatalf("another user: %d", res.User.ID)
				}
				if got := getUser(t, db, id).Role; got != step.want || res.User.Role != step.want {
					t.Fatalf("role %s (result %s), want %s", got, res.User.Role, step.want)
				}
				if slices.Contains(res.Changed, "role") != step.changed {
					t.Fatalf("Changed %q, role changed want %v", res.Changed, step.changed)
				}
				i := slices.IndexFunc(res.Changes, func(c Change) bool { return c.Field == "role" })
				if (i >= 0) != step.changed || (i >= 0 && (res.Changes[i].Old != string(prev) || res.Changes[i].New != string(step.want))) {
					t.Fatalf("Changes %+v, want role %s → %s: %v", res.Changes, prev, step.want, step.changed)
				}
				prev = step.want
				evs := events(t, db, auth.EventRoleChanged)
				if len(evs) != step.events {
					t.Fatalf("%d ROLE_CHANGED events, want %d", len(evs), step.events)
				}
				if step.changed {
					last := evs[len(evs)-1]
					if last.Detail["to"] != string(step.want) || last.Detail["source"] != "claims" || *last.UserID != id {
						t.Fatalf("ROLE_CHANGED event: %+v", last.Detail)
					}
				}
			})
		}
	})
}

// TestLoginKeepsLastAdmin: an SSO login whose claims would demote the community's last active
// admin keeps the role, records ROLE_CHANGE_REFUSED with the claims it saw, and still signs in.
func TestLoginKeepsLastAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		admin := mkUser(t, db, "admin", "admin@example.com", "Admin", asAdmin)
		roles := &RoleMapping{AdminClaim: "groups", AdminValue: "admins"}
		res, err := f.login(t, `{"sub": "ext-a", "email": "admin@example.com", "name": "Admin", "groups": ["staff"]}`, roles)
		if err != nil {
			t.Fatal(err)
		}
		if res.User.ID != admin.ID || res.Decision != DecisionLink || !started(res) {
			t.Fatalf("login: user %d decision %s session %v", res.User.ID, res.Decision, started(res))
		}
		if got := getUser(t, db, admin.ID).Role; got != user.RoleADMIN || res.User.Role != user.RoleADMIN {
			t.Fatalf("the last admin became %s", got)
		}
		if slices.Contains(res.Changed, "role") || len(events(t, db, auth.EventRoleChanged)) != 0 {
			t.Fatalf("a role change was reported: %q", res.Changed)
		}
		refused := events(t, db, auth.EventRoleChangeRefused)
		if len(refused) != 1 {
			t.Fatalf("%d ROLE_CHANGE_REFUSED events", len(refused))
		}
		d := refused[0].Detail
		claims, _ := d["claims"].(map[string]any)
		if *refused[0].UserID != admin.ID || d["from"] != "ADMIN" || d["to"] != "MEMBER" || d["reason"] != "LAST_ADMIN" ||
			fmt.Sprint(claims["groups"]) != "[staff]" {
			t.Fatalf("ROLE_CHANGE_REFUSED detail: %+v", d)
		}

		// With a second active admin the same login demotes.
		mkUser(t, db, "second", "second@example.com", "Second", asAdmin)
		res = f.mustLogin(t, `{"sub": "ext-a", "email": "admin@example.com", "name": "Admin", "groups": ["staff"]}`, roles)
		if got := getUser(t, db, admin.ID).Role; got != user.RoleMEMBER || !slices.Contains(res.Changed, "role") {
			t.Fatalf("role %s, changed %q: want MEMBER", got, res.Changed)
		}
	})
}

func memberships(t testing.TB, db *store.DB, userID int) map[string]string {
	t.Helper()
	ms, err := db.Client.SpaceMembership.Query().Where(spacemembership.UserID(userID)).WithSpace().All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range ms {
		out[m.Edges.Space.Slug] = string(m.Role)
	}
	return out
}

func TestLoginSpaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(db)
		ids := map[string]int{}
		for _, slug := range []string{"general", "news", "vip"} {
			s, err := db.Client.Space.Create().SetName(slug).SetSlug(slug).Save(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ids[slug] = s.ID
		}
		base := `"sub": "ext-sp", "email": "sp@example.com", "name": "Sp"`
		var uid int
		for i, step := range []struct {
			name    string
			extra   string
			want    map[string]string
			skipped []string
			event   bool // a SPACE_MEMBERSHIP_CHANGED event
		}{
			{"spaceIds join as member", `, "spaceIds": "general, news"`, map[string]string{"general": "MEMBER", "news": "MEMBER"}, nil, true},
			{"ADD keeps others, changes a role, joins by id",
				fmt.Sprintf(`, "spaces": [{"spaceId": "news", "role": "admin"}, {"id": %d}]`, ids["vip"]),
				map[string]string{"general": "MEMBER", "news": "ADMIN", "vip": "MEMBER"}, nil, true},
			{"no spaces in the payload: nothing changes", ``, map[string]string{"general": "MEMBER", "news": "ADMIN", "vip": "MEMBER"}, nil, false},
			{"LEAVE", `, "spaces": [{"spaceId": "general", "action": "LEAVE"}]`, map[string]string{"news": "ADMIN", "vip": "MEMBER"}, nil, true},
			{"LEAVE a space not joined", `, "spaces": [{"slug": "general", "action": "leave"}]`, map[string]string{"news": "ADMIN", "vip": "MEMBER"}, nil, false},
			{"unknown spaces are skipped, never a failed login", `, "spaceIds": ["nope", 999999]`,
				map[string]string{"news": "ADMIN", "vip": "MEMBER"}, []string{"space:nope", "space:999999"}, false},
			{"REPLACE", fmt.Sprintf(`, "spacesOperation": "REPLACE", "spaceIds": [%d, "nope"]`, ids["general"]),
				map[string]string{"general": "MEMBER"}, []string{"space:nope"}, true},
			{"REPLACE with no spaces leaves every space", `, "spacesOperation": "replace", "spaceIds": []`, map[string]string{}, nil, true},
		} {
			t.Run(step.name, func(t *testing.T) {
				evBefore := len(events(t, db, auth.EventSpaceMembershipChanged))
				updBefore := len(events(t, db, auth.EventUserUpdated))
				res := f.mustLogin(t, "{"+base+step.extra+"}", nil)
				if i == 0 {
					uid = res.User.ID
				}
				if got := memberships(t, db, uid); !reflect.DeepEqual(got, step.want) {
					t.Fatalf("memberships %v, want %v", got, step.want)
				}
				for _, s := range step.skipped {
					if !slices.Contains(res.Skipped, s) {
						t.Fatalf("Skipped %q lacks %q", res.Skipped, s)
					}
				}
				if got := len(events(t, db, auth.EventSpaceMembershipChanged)) - evBefore; got != map[bool]int{true: 1, false: 0}[step.event] {
					t.Fatalf("%d SPACE_MEMBERSHIP_CHANGED events, want event=%v", got, step.event)
				}
				if len(step.skipped) > 0 {
					upd := events(t, db, auth.EventUserUpdated)
					if len(upd) != updBefore+1 {
						t.Fatalf("skipped spaces not recorded: %d USER_UPDATED events", len(upd)-updBefore)
					}
					rec, _ := upd[len(upd)-1].Detail["skipped"].([]any)
					for _, s := range step.skipped {
						if !slices.Contains(rec, any(s)) {
							t.Fatalf("recorded skipped %v lacks %q", rec, s)
						}
					}
				}
			})
		}
	})
}

func TestLoginCustomFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(db)
		for _, pf := range []struct {
			key  string
			typ  profilefield.Type
			keys []string
			opts []string
		}{
			{"company", profilefield.TypeTEXT, []string{"company", "org", "organisation"}, nil},
			{"age", profilefield.TypeNUMBER, []string{"age"}, nil},
			{"newsletter", profilefield.TypeBOOLEAN, []string{"newsletter", "subscribed"}, nil},
			{"site", profilefield.TypeURL, []string{"website"}, nil},
			{"plan", profilefield.TypeSELECT, []string{"plan"}, []string{"free", "pro"}},
			{"birthday", profilefield.TypeDATE, []string{"dob"}, nil},
		} {
			if err := db.Client.ProfileField.Create().SetKey(pf.key).SetName(pf.key).SetType(pf.typ).SetExternalKeys(pf.keys).SetOptions(pf.opts).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		values := func(uid int) map[string]string {
			vs, err := db.Client.ProfileFieldValue.Query().Where(profilefieldvalue.UserID(uid)).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]string{}
			for _, v := range vs {
				out[v.Key] = v.Value
			}
			return out
		}
		base := `"sub": "ext-f", "email": "f@example.com", "name": "F"`
		var uid int
		for i, step := range []struct {
			name    string
			extra   string
			want    map[string]string
			changed []string
			skipped []string
		}{
			{"first non-empty key wins, invalid values skipped",
				`, "company": "  ", "org": "Acme", "organisation": "Other", "age": "abc", "newsletter": "yes", "subscribed": false, "website": "javascript:alert(1)", "plan": "gold", "dob": "2001-02-03T10:00:00Z"`,
				map[string]string{"company": "Acme", "newsletter": "true", "birthday": "2001-02-03"},
				[]string{"fields.company", "fields.newsletter", "fields.birthday"},
				[]string{"field:age (age)", "field:site (website)", "field:plan (plan)"}},
			{"updates, numbers, kept values",
				`, "company": "NewCo", "org": "Acme", "age": 42, "plan": "pro", "website": "https://f.example/me"`,
				map[string]string{"company": "NewCo", "newsletter": "true", "birthday": "2001-02-03", "age": "42", "plan": "pro", "site": "https://f.example/me"},
				[]string{"fields.company", "fields.age", "fields.plan", "fields.site"}, nil},
			{"same values: no change",
				`, "company": "NewCo", "age": "42.0", "plan": "pro"`,
				map[string]string{"company": "NewCo", "newsletter": "true", "birthday": "2001-02-03", "age": "42", "plan": "pro", "site": "https://f.example/me"},
				nil, nil},
			{"an invalid value keeps the old one",
				`, "age": "forty", "newsletter": "maybe"`,
				map[string]string{"company": "NewCo", "newsletter": "true", "birthday": "2001-02-03", "age": "42", "plan": "pro", "site": "https://f.example/me"},
				nil, []string{"field:age (age)", "field:newsletter (newsletter)"}},
		} {
			t.Run(step.name, func(t *testing.T) {
				updBefore := len(events(t, db, auth.EventUserUpdated))
				res := f.mustLogin(t, "{"+base+step.extra+"}", nil)
				if i == 0 {
					uid = res.User.ID
				}
				if got := values(uid); !reflect.DeepEqual(got, step.want) {
					t.Fatalf("values %v, want %v", got, step.want)
				}
				var fieldChanges []string
				for _, c := range res.Changed {
					if strings.HasPrefix(c, "fields.") {
						fieldChanges = append(fieldChanges, c)
					}
				}
				slices.Sort(fieldChanges)
				wantChanged := slices.Clone(step.changed)
				slices.Sort(wantChanged)
				if !slices.Equal(fieldChanges, wantChanged) {
					t.Fatalf("field changes %q, want %q", fieldChanges, wantChanged)
				}
				if !slices.Equal(res.Skipped, step.skipped) && !(len(res.Skipped) == 0 && len(step.skipped) == 0) {
					got, want := slices.Clone(res.Skipped), slices.Clone(step.skipped)
					slices.Sort(got)
					slices.Sort(want)
					if !slices.Equal(got, want) {
						t.Fatalf("Skipped %q, want %q", res.Skipped, step.skipped)
					}
				}
				upd := events(t, db, auth.EventUserUpdated)[updBefore:]
				var recorded []any
				for _, e := range upd {
					if s, ok := e.Detail["skipped"].([]any); ok {
						recorded = append(recorded, s...)
					}
				}
				if len(recorded) != len(step.skipped) {
					t.Fatalf("recorded skipped %v, want %q", recorded, step.skipped)
				}
			})
		}
	})
}

func TestDryRun(t *testing.T) {
	type env struct {
		t   *testing.T
		db  *store.DB
		ids map[string]int
	}
	roles := &RoleMapping{AdminClaim: "groups", AdminValue: "admins"}
	for _, tc := range []struct {
		name     string
		setup    func(e *env)
		payload  string
		decision string
		reason   string
	}{
		{name: "create", payload: `{"sub": "e1", "email": "n@example.com", "name": "N", "groups": ["admins"], "spaceIds": ["general"], "company": "Acme"}`, decision: DecisionCreate},
		{name: "update", setup: func(e *env) { mkUser(e.t, e.db, "u", "u@example.com", "U", withExt("e1")) },
			payload: `{"sub": "e1", "email": "u2@example.com", "name": "U2", "groups": "admins", "spacesOperation": "REPLACE", "spaceIds": "news", "company": "NewCo"}`, decision: DecisionUpdate},
		{name: "link", setup: func(e *env) { mkUser(e.t, e.db, "u", "u@example.com", "U") },
			payload: `{"sub": "e1", "email": "u@example.com", "name": "U", "spaces": [{"spaceId": "general", "action": "LEAVE"}]}`, decision: DecisionLink},
		{name: "conflict", setup: func(e *env) { mkUser(e.t, e.db, "u", "u@example.com", "U", withExt("other")) },
			payload: `{"sub": "e1", "email": "u@example.com", "name": "U"}`, decision: DecisionConflict, reason: auth.CodeSSOConflict},
		{name: "email change conflict", setup: func(e *env) {
			mkUser(e.t, e.db, "a", "a@example.com", "A", withExt("e1"))
			mkUser(e.t, e.db, "b", "b@example.com", "B")
		}, payload: `{"sub": "e1", "email": "b@example.com", "name": "A"}`, decision: DecisionConflict, reason: auth.CodeSSOConflict},
		{name: "unverified email", setup: func(e *env) { mkUser(e.t, e.db, "u", "u@example.com", "U") },
			payload: `{"sub": "e1", "email": "u@example.com", "name": "U", "email_verified": false}`, decision: DecisionReject, reason: auth.CodeEmailNotVerified},
		{name: "suspended", setup: func(e *env) { mkUser(e.t, e.db, "u", "u@example.com", "U", withExt("e1"), suspended()) },
			payload: `{"sub": "e1", "email": "u@example.com", "name": "U"}`, decision: DecisionReject, reason: auth.CodeUserSuspended},
		{name: "no email for a new user", payload: `{"sub": "e1", "name": "U"}`, decision: DecisionReject, reason: auth.CodeMissingClaim},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				e := &env{t: t, db: db, ids: map[string]int{}}
				for _, slug := range []string{"general", "news"} {
					db.Client.Space.Create().SetName(slug).SetSlug(slug).ExecX(ctx)
				}
				db.Client.ProfileField.Create().SetKey("company").SetName("Company").SetExternalKeys([]string{"company"}).ExecX(ctx)
				if tc.setup != nil {
					tc.setup(e)
					// Existing users are members of general.
					us := db.Client.User.Query().AllX(ctx)
					gen := db.Client.Space.Query().FirstX(ctx)
					for _, u := range us {
						db.Client.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(gen.ID).ExecX(ctx)
					}
				}
				f := newFixture(db)
				before := storetest.State(t, db)
				req := f.request(t, tc.payload, roles)
				res, err := f.p.DryRun(ctx, req)
				if err != nil {
					t.Fatalf("DryRun: %v", err)
				}
				if d := storetest.Diff(before, storetest.State(t, db)); len(d) > 0 {
					t.Fatalf("DryRun wrote:\n%s", strings.Join(d, "\n"))
				}
				if res.Decision != tc.decision || res.Reason != tc.reason {
					t.Fatalf("DryRun: decision %q reason %q, want %q %q", res.Decision, res.Reason, tc.decision, tc.reason)
				}
				// The real login decides the same.
				lres, lerr := f.loginReq(f.request(t, tc.payload, roles))
				if tc.reason == "" {
					if lerr != nil {
						t.Fatalf("Login after DryRun: %v", lerr)
					}
				} else {
					wantSSOError(t, lerr, tc.reason, "")
				}
				if lres != nil && lres.Decision != "" && lres.Decision != res.Decision {
					t.Fatalf("Login decided %q, DryRun %q", lres.Decision, res.Decision)
				}
			})
		})
	}
}

func TestLoginConcurrentFirstLogins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(db)
		logs := &bytes.Buffer{} // slog writes each record under its lock
		f.p.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		db.Client.Space.Create().SetName("general").SetSlug("general").ExecX(ctx)
		const n = 30
		payload := `{"sub": "ext-race", "email": "race@example.com", "name": "Race", "username": "race", "spaceIds": ["general"]}`
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
			users = make([]int, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := f.login(t, payload, nil)
				errs[i] = err
				if err == nil {
					users[i] = res.User.ID
				}
			}()
		}
		close(start)
		wg.Wait()
		uid := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("login %d: %v (every login must succeed)", i, err)
				continue
			}
			if uid == 0 {
				uid = users[i]
			} else if users[i] != uid {
				t.Errorf("login %d got user %d, another got %d", i, users[i], uid)
			}
		}
		retries := strings.Count(logs.String(), "lost a race")
		t.Logf("%d logins, %d retries", n, retries)
		// Each login that lost the race to create the member retries once and then finds it; the
		// lock order leaves no deadlock to retry after that.
		if retries > n-1 {
			t.Errorf("%d retries for %d logins:\n%s", retries, n, logs.String())
		}
		if c := db.Client.User.Query().CountX(ctx); c != 1 {
			t.Fatalf("%d users, want 1", c)
		}
		if c := db.Client.SpaceMembership.Query().CountX(ctx); c != 1 {
			t.Fatalf("%d memberships, want 1", c)
		}
		if c := len(events(t, db, auth.EventUserCreated)); c != 1 {
			t.Fatalf("%d USER_CREATED events, want 1", c)
		}
		if c := sessionsOf(t, db, uid); c != n {
			t.Fatalf("%d sessions for %d logins", c, n)
		}
	})
}

// TestRetryable: a login that lost a race is retried whether the unique key it hit was written
// through ent or by a statement written by hand; a refusal, a broken statement or an error that
// only reads like a race is not (store.TestIsRetryable classifies real lock errors).
func TestRetryable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("r@example.com").SetUsername("r").SaveX(ctx)
		_, entErr := c.User.Create().SetEmail("r@example.com").SetUsername("r2").Save(ctx)
		sessions := &auth.Sessions{Client: c, Lifetime: time.Hour}
		if _, err := sessions.Start(ctx, c, u.ID, session.MethodJWT, auth.SessionOptions{}); err != nil {
			t.Fatal(err)
		}
		_, rawErr := c.ExecContext(ctx, "INSERT INTO `users` (`created_at`, `updated_at`, `email`, `username`) VALUES (?, ?, ?, ?)", time.Now(), time.Now(), "r@example.com", "r3")
		_, fkErr := sessions.Start(ctx, c, u.ID+1000, session.MethodJWT, auth.SessionOptions{})
		_, badErr := c.ExecContext(ctx, "SELECT nothing FROM nowhere")
		for _, tc := range []struct {
			name string
			err  error
			want bool
		}{
			{"ent unique key", entErr, true},
			{"driver unique key", fmt.Errorf("auth: create session: %w", rawErr), true},
			{"driver foreign key", fkErr, true},
			{"text that reads like a deadlock", errors.New("Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction"), false},
			{"refusal", auth.NewSSOError(auth.CodeUserSuspended, "suspended"), false},
			{"refusal over a lost race", &auth.SSOError{Code: auth.CodeTokenReplayed, Err: entErr}, false},
			{"broken statement", badErr, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.err == nil {
					t.Fatal("no error to classify")
				}
				if got := retryable(tc.err); got != tc.want {
					t.Fatalf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
				}
			})
		}
	})
}

// TestLoginFieldArraysAndClears: array claims fill TEXT and SELECT fields; an explicit null or
// empty value deletes the member's value; an absent key keeps it.
func TestLoginFieldArraysAndClears(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(db)
		for _, pf := range []struct {
			key  string
			typ  profilefield.Type
			keys []string
			opts []string
		}{
			{"teams", profilefield.TypeTEXT, []string{"teams"}, nil},
			{"plan", profilefield.TypeSELECT, []string{"plans"}, []string{"free", "gold"}},
			{"age", profilefield.TypeNUMBER, []string{"age"}, nil},
		} {
			db.Client.ProfileField.Create().SetKey(pf.key).SetName(pf.key).SetType(pf.typ).SetExternalKeys(pf.keys).SetOptions(pf.opts).ExecX(ctx)
		}
		values := func(uid int) map[string]string {
			out := map[string]string{}
			for _, v := range db.Client.ProfileFieldValue.Query().Where(profilefieldvalue.UserID(uid)).AllX(ctx) {
				out[v.Key] = v.Value
			}
			return out
		}
		base := `"sub": "ext-arr", "email": "arr@example.com", "name": "Arr"`
		for _, step := range []struct {
			name    string
			extra   string
			want    map[string]string
			changed []string
		}{
			{"arrays", `, "teams": ["red", "blue"], "plans": ["platinum", "gold", "free"], "age": 30`,
				map[string]string{"teams": "red, blue", "plan": "gold", "age": "30"}, []string{"fields.age", "fields.plan", "fields.teams"}},
			{"absent keys keep the values", ``,
				map[string]string{"teams": "red, blue", "plan": "gold", "age": "30"}, nil},
			{"null and empty string clear", `, "teams": null, "age": ""`,
				map[string]string{"plan": "gold"}, []string{"fields.age", "fields.teams"}},
			{"clearing what is not there changes nothing", `, "teams": null, "age": "  "`,
				map[string]string{"plan": "gold"}, nil},
			{"an empty array clears", `, "plans": []`,
				map[string]string{}, []string{"fields.plan"}},
		} {
			t.Run(step.name, func(t *testing.T) {
				res := f.mustLogin(t, "{"+base+step.extra+"}", nil)
				if got := values(res.User.ID); !reflect.DeepEqual(got, step.want) {
					t.Fatalf("values %v, want %v", got, step.want)
				}
				var fields []string
				for _, c := range res.Changed {
					if strings.HasPrefix(c, "fields.") {
						fields = append(fields, c)
					}
				}
				slices.Sort(fields)
				if !slices.Equal(fields, step.changed) {
					t.Fatalf("changed %q, want %q", fields, step.changed)
				}
			})
		}
	})
}

// TestLoginClearsTaglineAndPicture: an explicit empty tagline or picture clears it; an empty
// name never clears the name; absent keys keep everything.
func TestLoginClearsTaglineAndPicture(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		res := f.mustLogin(t, `{"sub": "ext-tp", "email": "tp@example.com", "name": "Tee Pee", "tagline": "hello", "picture": "https://cdn.example.com/tp.png"}`, nil)
		id := res.User.ID
		f.mustLogin(t, `{"sub": "ext-tp", "email": "tp@example.com"}`, nil)
		if u := getUser(t, db, id); u.Tagline != "hello" || u.Picture == "" || u.Name != "Tee Pee" {
			t.Fatalf("absent keys changed the profile: %+v", u)
		}
		res = f.mustLogin(t, `{"sub": "ext-tp", "email": "tp@example.com", "name": "", "tagline": null, "picture": ""}`, nil)
		if u := getUser(t, db, id); u.Tagline != "" || u.Picture != "" || u.Name != "Tee Pee" {
			t.Fatalf("after explicit empty values: %+v", u)
		}
		if !slices.Contains(res.Changed, "tagline") || !slices.Contains(res.Changed, "picture") || slices.Contains(res.Changed, "name") {
			t.Fatalf("changed %q", res.Changed)
		}
		res = f.mustLogin(t, `{"sub": "ext-tp", "email": "tp@example.com", "tagline": "", "picture": null}`, nil)
		if len(res.Changed) != 0 {
			t.Fatalf("clearing empty values changed %q", res.Changed)
		}
	})
}

// TestLoginSyncUsername: off, a username is set once; on, a changed username claim renames the
// member, with a numeric suffix when another member holds the name.
func TestLoginSyncUsername(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		mkUser(t, db, "taken", "taken@example.com", "Taken")
		login := func(username string, sync bool) *Result {
			t.Helper()
			req := f.request(t, `{"sub": "ext-u", "email": "u@example.com", "name": "U", "username": "`+username+`"}`, nil)
			req.SyncUsername = sync
			res, err := f.loginReq(req)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		id := login("first", false).User.ID
		for _, step := range []struct {
			name, claim string
			sync        bool
			want        string
			changed     bool
		}{
			{"off: the name stays", "second", false, "first", false},
			{"on: renamed", "Second Name", true, "second-name", true},
			{"on: same name, no change", "second-name", true, "second-name", false},
			{"on: a taken name gets a suffix", "taken", true, "taken2", true},
			{"on: the suffixed name is kept", "taken", true, "taken2", false},
			{"off again: kept", "third", false, "taken2", false},
		} {
			t.Run(step.name, func(t *testing.T) {
				res := login(step.claim, step.sync)
				if got := getUser(t, db, id).Username; got != step.want {
					t.Fatalf("username %q, want %q", got, step.want)
				}
				if slices.Contains(res.Changed, "username") != step.changed {
					t.Fatalf("changed %q, username changed want %v", res.Changed, step.changed)
				}
			})
		}
		// The holder of the name leaves it: the next login takes the name itself.
		db.Client.User.Update().Where(user.Username("taken")).SetUsername("gone").ExecX(context.Background())
		login("taken", true)
		if got := getUser(t, db, id).Username; got != "taken" {
			t.Fatalf("username %q once the name is free, want taken", got)
		}
	})
}
