package provision

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// TestApply: a payload re-applied to a member changes its profile, role, spaces and fields as a
// login would, in one transaction, and starts no session; a payload for another member, a
// suspended member and an email conflict change nothing.
func TestApply(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(db)
		db.Client.Space.Create().SetName("Gold").SetSlug("gold").ExecX(ctx)
		db.Client.ProfileField.Create().SetKey("company").SetName("Company").SetType(profilefield.TypeTEXT).SetExternalKeys([]string{"company"}).ExecX(ctx)
		roles := &RoleMapping{AdminClaim: "groups", AdminValue: "admins"}
		member := f.mustLogin(t, `{"sub": "ext-ap", "email": "ap@example.com", "name": "Ap", "company": "Acme"}`, roles).User
		other := mkUser(t, db, "other", "other@example.com", "Other", withExt("ext-other"))
		mkUser(t, db, "owner", "owner@example.com", "Owner", asAdmin) // so the member is not the last admin
		sessionsBefore := sessionsOf(t, db, member.ID)
		apply := func(js string, before func(context.Context, *ent.Client) error) (*Result, error) {
			t.Helper()
			req := f.request(t, js, roles)
			req.Method = session.MethodOAUTH2
			req.Before = before
			return f.p.Apply(ctx, req, member.ID)
		}

		t.Run("re-applies everything", func(t *testing.T) {
			ran := false
			res, err := apply(`{"sub": "ext-ap", "email": "ap2@example.com", "name": "Ap Two", "groups": ["admins"], "spaceIds": ["gold"], "company": null}`,
				func(context.Context, *ent.Client) error { ran = true; return nil })
			if err != nil {
				t.Fatal(err)
			}
			u := getUser(t, db, member.ID)
			if u.Email != "ap2@example.com" || u.Name != "Ap Two" || u.Role != user.RoleADMIN {
				t.Fatalf("member after Apply: %+v", u)
			}
			if m := memberships(t, db, member.ID); m["gold"] != "MEMBER" {
				t.Fatalf("memberships %v", m)
			}
			if n := db.Client.ProfileFieldValue.Query().CountX(ctx); n != 0 {
				t.Fatalf("%d field values left, want the company cleared", n)
			}
			for _, c := range []string{"email", "name", "role", "fields.company"} {
				if !slices.Contains(res.Changed, c) {
					t.Fatalf("changed %q lacks %s", res.Changed, c)
				}
			}
			if !ran || res.Decision != DecisionUpdate || res.Created {
				t.Fatalf("Before ran %v, result %+v", ran, res)
			}
			if n := sessionsOf(t, db, member.ID); n != sessionsBefore {
				t.Fatalf("%d sessions, want %d: Apply starts none", n, sessionsBefore)
			}
			if evs := events(t, db, auth.EventRoleChanged); len(evs) != 1 || *evs[0].UserID != member.ID {
				t.Fatalf("ROLE_CHANGED events: %d", len(evs))
			}
		})

		for _, tc := range []struct {
			name    string
			payload string
			setup   func()
			code    string
			other   bool
		}{
			{"another member's externalId", `{"sub": "ext-other", "email": "ap2@example.com", "name": "X"}`, nil, "", true},
			{"an unknown externalId", `{"sub": "ext-new", "email": "new@example.com", "name": "X"}`, nil, "", true},
			{"no externalId", `{"email": "ap2@example.com", "name": "X"}`, nil, "", true},
			{"an email another member holds", `{"sub": "ext-ap", "email": "other@example.com", "name": "X"}`, nil, auth.CodeSSOConflict, false},
			{"a suspended member", `{"sub": "ext-ap", "email": "ap2@example.com", "name": "X"}`, func() {
				db.Client.User.UpdateOneID(member.ID).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
			}, auth.CodeUserSuspended, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.setup != nil {
					tc.setup()
				}
				before := storetest.State(t, db)
				conflicts := len(events(t, db, auth.EventSSOConflict))
				touched := false
				_, err := apply(tc.payload, func(ctx context.Context, c *ent.Client) error {
					touched = true
					return c.User.UpdateOneID(other.ID).SetName("touched").Exec(ctx)
				})
				switch {
				case tc.other && !errors.Is(err, ErrOtherMember):
					t.Fatalf("error %v, want ErrOtherMember", err)
				case !tc.other:
					wantSSOError(t, err, tc.code, "")
				}
				if !touched {
					t.Fatal("Before did not run")
				}
				diff := storetest.Diff(before, storetest.State(t, db))
				if tc.code == auth.CodeSSOConflict {
					// The conflict's security event, written after the rollback.
					diff = slices.DeleteFunc(diff, func(d string) bool { return strings.HasPrefix(d, "count:security_events:") })
				}
				if len(diff) > 0 {
					t.Fatalf("a refused Apply changed %v", diff)
				}
				if n := len(events(t, db, auth.EventSSOConflict)); (tc.code == auth.CodeSSOConflict) != (n == conflicts+1) {
					t.Fatalf("SSO_CONFLICT events %d → %d", conflicts, n)
				}
			})
		}
	})
}
