package provision

import (
	"errors"
	"strconv"
	"strings"
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
				res, err := f.login(t, tc.payload, nil)
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

// TestLoginEmailChangeAndVerification: a returning member whose address changes at the
// provider takes the new one with the payload's verification; an address another member holds
// unverified is released to a verified change and never taken by an unverified one (the login
// goes on, the change skipped); a verified payload verifies the member's own unverified address.
func TestLoginEmailChangeAndVerification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(db)
		for i, tc := range []struct {
			name        string
			holder      bool // another member holds new@example.com, unverified
			member      []userOpt
			payload     string
			wantEmail   string
			verified    bool
			released    bool
			skippedMail bool
		}{
			{name: "verified change to a free address", payload: `{"sub":"m","email":"new@example.com","name":"M"}`,
				wantEmail: "new@example.com", verified: true},
			{name: "unverified change to a free address", payload: `{"sub":"m","email":"new@example.com","name":"M","email_verified":false}`,
				wantEmail: "new@example.com"},
			{name: "verified change releases an unverified holder", holder: true, payload: `{"sub":"m","email":"new@example.com","name":"M"}`,
				wantEmail: "new@example.com", verified: true, released: true},
			{name: "unverified change never takes an unverified holder's address", holder: true,
				payload: `{"sub":"m","email":"new@example.com","name":"M","email_verified":false}`, wantEmail: "old@example.com", verified: true, skippedMail: true},
			{name: "a verified payload verifies the member's own address", member: []userOpt{unverified()},
				payload: `{"sub":"m","email":"old@example.com","name":"M"}`, wantEmail: "old@example.com", verified: true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := db.SQL.ExecContext(t.Context(), "DELETE FROM users"); err != nil {
					t.Fatal(err)
				}
				m := mkUser(t, db, "m"+strconv.Itoa(i), "old@example.com", "M", append([]userOpt{withExt("m")}, tc.member...)...)
				var holder *ent.User
				if tc.holder {
					holder = mkUser(t, db, "h"+strconv.Itoa(i), "new@example.com", "H", unverified())
				}
				before := len(events(t, db, auth.EventEmailReleased))
				res, err := f.login(t, tc.payload, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := getUser(t, db, m.ID)
				if res.User.ID != m.ID || got.Email != tc.wantEmail || got.EmailVerified != tc.verified {
					t.Fatalf("member %d: %s verified %v; want %s %v", res.User.ID, got.Email, got.EmailVerified, tc.wantEmail, tc.verified)
				}
				if n := len(events(t, db, auth.EventEmailReleased)) - before; (n == 1) != tc.released || n > 1 {
					t.Fatalf("%d EMAIL_RELEASED events", n)
				}
				if holder != nil {
					h := getUser(t, db, holder.ID)
					if tc.released != (h.Email == auth.ReleasedEmail(holder.ID)) {
						t.Fatalf("holder's email %s", h.Email)
					}
				}
				skipped := false
				for _, s := range res.Skipped {
					skipped = skipped || strings.HasPrefix(s, "email")
				}
				if skipped != tc.skippedMail {
					t.Fatalf("skipped %q", res.Skipped)
				}
			})
		}
	})
}
