package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

func TestPrune(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		u := c.User.Create().SetEmail("p@example.com").SetUsername("p").SaveX(ctx)
		for i, exp := range []time.Time{now.Add(-time.Hour), now.Add(time.Hour)} {
			_, hash := auth.NewToken()
			c.Session.Create().SetTokenHash(hash).SetUserID(u.ID).SetMethod(session.MethodJWT).
				SetExpiresAt(exp).SetLastSeenAt(now).ExecX(ctx)
			c.ReplayMarker.Create().SetKey(string(rune('a' + i))).SetExpiresAt(exp).ExecX(ctx)
			c.LoginThrottle.Create().SetKey(string(rune('a' + i))).SetIP("192.0.2.1").SetSubject("p@example.com").
				SetFailures(1).SetLastAt(now).SetExpiresAt(exp).ExecX(ctx)
		}
		// Mailed links stay an hour past their expiry, for the rate limits that count them.
		for _, exp := range []time.Time{now.Add(-61 * time.Minute), now.Add(-59 * time.Minute), now.Add(time.Hour)} {
			_, hash := auth.NewToken()
			c.EmailToken.Create().SetPurpose(emailtoken.PurposeRESET_PASSWORD).SetTokenHash(hash).SetEmail("p@example.com").
				SetExpiresAt(exp).ExecX(ctx)
		}
		n, err := auth.Prune(ctx, c, now)
		if err != nil || n != 4 {
			t.Fatalf("Prune = %d, %v; want 4", n, err)
		}
		if l := c.EmailToken.Query().CountX(ctx); l != 2 {
			t.Fatalf("left %d mailed links, want 2", l)
		}
		s, m, f := c.Session.Query().CountX(ctx), c.ReplayMarker.Query().CountX(ctx), c.LoginThrottle.Query().CountX(ctx)
		if s != 1 || m != 1 || f != 1 {
			t.Fatalf("left %d sessions, %d markers, %d login throttle counters; want the unexpired one of each", s, m, f)
		}
	})
}
