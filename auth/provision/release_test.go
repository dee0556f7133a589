package provision

import (
	"errors"
	"strconv"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

func unverified() userOpt { return func(c *ent.UserCreate) { c.SetEmailVerified(false) } }

// TestLoginUnverifiedEmail: an unverified address never links and never blocks an SSO login
// that brings it verified: the holder loses it (EMAIL_RELEASED names both users) and the login
// creates its member; an unverified email from SSO makes an unverified member.
func TestLoginUnverifiedEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		tests := []struct {
			name     string
			holder   []userOpt // the user holding x@example.com; nil: none
			payload  string
			decision string
			code     string // SSO error code, "" for success
			released bool
			verified bool // the login's member's emailVerified
		}{
			{name: "verified arrival releases an unverified holder with another externalId",
				holder: []userOpt{unverified(), withExt("old-1")}, payload: `{"sub":"new-1","email":"X@example.com","name":"X"}`,
				decision: DecisionCreate, released: true, verified: true},
			{name: "verified arrival releases an unverified holder without externalId instead of linking",
				holder: []userOpt{unverified()}, payload: `{"sub":"new-2","email":"x@example.com","name":"X","email_verified":true}`,
				decision: DecisionCreate, released: true, verified: true},
			{name: "unverified arrival and unverified holder: rejected, nothing changes",
				holder: []userOpt{unverified(), withExt("old-3")}, payload: `{"sub":"new-3","email":"x@example.com","name":"X","email_verified":false}`,
				decision: DecisionReject, code: auth.CodeEmailNotVerified},
			{name: "a verified holder without externalId still links",
				holder: []userOpt{}, payload: `{"sub":"new-4","email":"x@example.com","name":"X"}`,
				decision: DecisionLink, verified: true},
			{name: "a verified holder with another externalId is still a conflict",
				holder: []userOpt{withExt("old-5")}, payload: `{"sub":"new-5","email":"x@example.com","name":"X"}`,
				decision: DecisionConflict, code: auth.CodeSSOConflict},
			{name: "an unverified email from SSO makes an unverified member",
				payload: `{"sub":"new-6","email":"x@example.com","name":"X","email_verified":"false"}`, decision: DecisionCreate},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := db.Client.User.Delete().Exec(t.Context()); err != nil {
					t.Fatal(err)
				}
				var holder *ent.User
				if tc.holder != nil {
					holder = mkUser(t, db, "holder"+strconv.Itoa(i), "x@example.com", "Holder", tc.holder...)
				}
				before := len(events(t, db, auth.EventEmailReleased))
				res, _, err := f.login(t, tc.payload, nil)
				if tc.code != "" {
					var se *auth.SSOError
					if !errors.As(err, &se) || se.Code != tc.code {
						t.Fatalf("err = %v, want %s", err, tc.code)
					}
					if res == nil || res.Decision != tc.decision {
						t.Fatalf("result %+v", res)
					}
					if got := getUser(t, db, holder.ID); got.Email != "x@example.com" {
						t.Fatalf("holder's email became %q", got.Email)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Decision != tc.decision {
					t.Fatalf("decision %s, want %s", res.Decision, tc.decision)
				}
				u := getUser(t, db, res.User.ID)
				if u.Email != "x@example.com" || u.EmailVerified != tc.verified {
					t.Fatalf("member %s verified=%v", u.Email, u.EmailVerified)
				}
				evs := events(t, db, auth.EventEmailReleased)[before:]
				if !tc.released {
					if len(evs) != 0 {
						t.Fatalf("%d EMAIL_RELEASED events", len(evs))
					}
					return
				}
				h := getUser(t, db, holder.ID)
				if h.Email != auth.ReleasedEmail(holder.ID) || h.EmailVerified || u.ID == holder.ID {
					t.Fatalf("holder %d: %s verified=%v; member %d", h.ID, h.Email, h.EmailVerified, u.ID)
				}
				if _, err := auth.NormalizeEmail(h.Email); err != nil {
					t.Fatalf("released address %q is not a valid email: %v", h.Email, err)
				}
				if len(evs) != 1 || *evs[0].UserID != holder.ID || evs[0].Detail["releasedUserId"] != strconv.Itoa(holder.ID) ||
					evs[0].Detail["claimedByUserId"] != strconv.Itoa(u.ID) || evs[0].Detail["email"] != "x@example.com" || evs[0].Method != "JWT" {
					t.Fatalf("events %+v", evs)
				}
			})
		}
	})
}
