package auth

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/loginthrottle"
	"github.com/community/sso/ent/replaymarker"
	"github.com/community/sso/ent/session"
)

// PruneEvery is how often a server deletes expired sessions, replay markers, login throttle
// counters and mailed links.
const PruneEvery = 10 * time.Minute

// Prune deletes the sessions, JWT replay markers and login throttle counters that expired before
// now, and the mailed links that expired an hour before now (the rate limits count them that
// long), each in a statement of its own, and returns how many rows went.
func Prune(ctx context.Context, client *ent.Client, now time.Time) (int, error) {
	sessions, err := client.Session.Delete().Where(session.ExpiresAtLT(now)).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("auth: prune sessions: %w", err)
	}
	markers, err := client.ReplayMarker.Delete().Where(replaymarker.ExpiresAtLT(now)).Exec(ctx)
	if err != nil {
		return sessions, fmt.Errorf("auth: prune replay markers: %w", err)
	}
	counters, err := client.LoginThrottle.Delete().Where(loginthrottle.ExpiresAtLT(now)).Exec(ctx)
	if err != nil {
		return sessions + markers, fmt.Errorf("auth: prune login throttle counters: %w", err)
	}
	links, err := client.EmailToken.Delete().Where(emailtoken.ExpiresAtLT(now.Add(-emailTokenKept))).Exec(ctx)
	if err != nil {
		return sessions + markers + counters, fmt.Errorf("auth: prune mailed links: %w", err)
	}
	return sessions + markers + counters + links, nil
}

// PruneLoop runs Prune every PruneEvery (with jitter, so replicas spread out) until ctx ends.
// Failures are logged; the next round tries again.
func PruneLoop(ctx context.Context, client *ent.Client, log *slog.Logger) {
	for {
		wait := PruneEvery/2 + rand.N(PruneEvery)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if n, err := Prune(ctx, client, time.Now()); err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "auth: prune expired rows", "err", err)
			}
		} else if n > 0 {
			log.DebugContext(ctx, "auth: pruned expired rows", "rows", n)
		}
	}
}
