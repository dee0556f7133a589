package authdb

import (
	"context"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// hash is a token hash that differs from the others of a test in its first byte.
func hash(b byte) []byte {
	h := make([]byte, 32)
	h[0] = b
	return h
}

// TestSessionRows: the viewer's session is found by its token's hash with its member, its sliding
// expiry is written, logout takes it (read, then deleted), and a revocation ends all of one
// member's sessions and no other's; a row gone meanwhile is ent's not-found error, which the
// callers tell apart.
func TestSessionRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("v@example.com").SetUsername("v").SaveX(ctx)
		other := c.User.Create().SetEmail("w@example.com").SetUsername("w").SaveX(ctx)
		at := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
		create := func(userID int, h byte) *ent.Session {
			return c.Session.Create().SetTokenHash(hash(h)).SetUserID(userID).SetMethod(session.MethodJWT).
				SetCreatedAt(at).SetLastSeenAt(at).SetExpiresAt(at.Add(time.Hour)).SaveX(ctx)
		}
		s1, s2 := create(u.ID, 1), create(u.ID, 2)
		create(other.ID, 3)

		got, err := SessionByToken(ctx, c, hash(1))
		if err != nil || got == nil || got.ID != s1.ID || got.Edges.User == nil || got.Edges.User.ID != u.ID || got.Edges.User.Email != u.Email {
			t.Fatalf("by token: %+v, %v", got, err)
		}
		if got, err := SessionByToken(ctx, c, hash(9)); err != nil || got != nil {
			t.Fatalf("unknown token: %+v, %v", got, err)
		}
		if m, err := Member(ctx, c, u.ID); err != nil || m == nil || m.Username != "v" {
			t.Fatalf("member: %+v, %v", m, err)
		}
		if m, err := Member(ctx, c, other.ID+100); err != nil || m != nil {
			t.Fatalf("no such member: %+v, %v", m, err)
		}

		seen := at.Add(5 * time.Minute)
		if err := TouchSession(ctx, c, got, seen, seen.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if s := c.Session.GetX(ctx, s1.ID); !s.LastSeenAt.Equal(seen) || !s.ExpiresAt.Equal(seen.Add(time.Hour)) {
			t.Fatalf("touched: seen %v, expires %v", s.LastSeenAt, s.ExpiresAt)
		}

		taken, err := TakeSession(ctx, c, hash(1))
		if err != nil || taken == nil || taken.ID != s1.ID || taken.Method != session.MethodJWT {
			t.Fatalf("take: %+v, %v", taken, err)
		}
		if n := c.Session.Query().Where(session.ID(s1.ID)).CountX(ctx); n != 0 {
			t.Fatal("a taken session is still there")
		}
		if taken, err := TakeSession(ctx, c, hash(1)); err != nil || taken != nil {
			t.Fatalf("take again: %+v, %v", taken, err)
		}
		if err := TouchSession(ctx, c, got, seen, seen.Add(time.Hour)); !ent.IsNotFound(err) {
			t.Fatalf("touching a session that ended: %v", err)
		}

		create(u.ID, 4)
		if n, err := EndMemberSessions(ctx, c, u.ID); err != nil || n != 2 {
			t.Fatalf("ended %d, %v; want 2", n, err)
		}
		if c.Session.Query().Where(session.ID(s2.ID)).ExistX(ctx) || c.Session.Query().CountX(ctx) != 1 {
			t.Fatal("the member's sessions are not all gone, or another member's went too")
		}
	})
}

// TestAPITokenRows: an API token is found by its hash with its member and its last use is
// written (no other token's); touching a revoked one is ent's not-found error.
func TestAPITokenRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("a@example.com").SetUsername("a").SaveX(ctx)
		tok := c.APIToken.Create().SetName("script").SetTokenHash(hash(1)).SetUserID(u.ID).SaveX(ctx)
		other := c.APIToken.Create().SetName("other").SetTokenHash(hash(2)).SetUserID(u.ID).SaveX(ctx)

		got, err := APITokenByToken(ctx, c, hash(1))
		if err != nil || got == nil || got.ID != tok.ID || got.Edges.User == nil || got.Edges.User.ID != u.ID {
			t.Fatalf("by token: %+v, %v", got, err)
		}
		if got, err := APITokenByToken(ctx, c, hash(9)); err != nil || got != nil {
			t.Fatalf("unknown token: %+v, %v", got, err)
		}
		at := time.Date(2026, 11, 30, 15, 0, 0, 0, time.UTC)
		if err := TouchAPIToken(ctx, c, got, at); err != nil {
			t.Fatal(err)
		}
		if used := c.APIToken.GetX(ctx, tok.ID).LastUsedAt; used == nil || !used.Equal(at) {
			t.Fatalf("last used %v", used)
		}
		if used := c.APIToken.GetX(ctx, other.ID).LastUsedAt; used != nil {
			t.Fatalf("another token's last use was written: %v", used)
		}
		c.APIToken.DeleteOneID(tok.ID).ExecX(ctx)
		if err := TouchAPIToken(ctx, c, got, at); !ent.IsNotFound(err) {
			t.Fatalf("touching a revoked token: %v", err)
		}
	})
}

// TestOIDCSessionRows: the OAUTH2 sessions of one OpenID Connect session id, or of one member, are
// found (never a session of another method, sid or member) and ended by id.
func TestOIDCSessionRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("v@example.com").SetUsername("v").SaveX(ctx)
		other := c.User.Create().SetEmail("w@example.com").SetUsername("w").SaveX(ctx)
		at := time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC)
		create := func(userID int, h byte, method session.Method, sid string) int {
			id, err := InsertSession(ctx, c, Session{TokenHash: hash(h), UserID: userID, Method: method, At: at, ExpiresAt: at.Add(time.Hour), SID: sid})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		a := create(u.ID, 1, session.MethodOAUTH2, "sid-a")
		b := create(u.ID, 2, session.MethodOAUTH2, "sid-b")
		create(u.ID, 3, session.MethodJWT, "")
		shared := create(other.ID, 4, session.MethodOAUTH2, "sid-a")
		create(other.ID, 5, session.MethodPASSWORD, "")
		ids := func(ss []*ent.Session, err error) []int {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			var out []int
			for _, s := range ss {
				if s.UserID == 0 {
					t.Fatalf("session %d without its member", s.ID)
				}
				out = append(out, s.ID)
			}
			return out
		}
		if got := ids(OIDCSessions(ctx, c, "sid-a")); len(got) != 2 || got[0] != a || got[1] != shared {
			t.Fatalf("sid-a: %v", got)
		}
		if got := ids(OIDCSessions(ctx, c, "sid-none")); len(got) != 0 {
			t.Fatalf("an unknown sid: %v", got)
		}
		if got := ids(MemberOAuth2Sessions(ctx, c, u.ID)); len(got) != 2 || got[0] != a || got[1] != b {
			t.Fatalf("the member's OAuth2 sessions: %v", got)
		}
		if n, err := EndSessions(ctx, c); err != nil || n != 0 {
			t.Fatalf("no ids: %d, %v", n, err)
		}
		if n, err := EndSessions(ctx, c, a, b, b+1000); err != nil || n != 2 {
			t.Fatalf("ended %d, %v; want 2", n, err)
		}
		if n := c.Session.Query().CountX(ctx); n != 3 {
			t.Fatalf("%d sessions left, want 3", n)
		}
	})
}
