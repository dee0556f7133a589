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
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
)

// PruneEvery is how often a server deletes expired sessions, replay markers, login throttle
// counters, mailed links and security events.
const PruneEvery = 10 * time.Minute

// PruneBatch is the most rows one cleanup statement deletes. A DELETE of this many sessions by
// their ids took 3 to 6 ms (median) on SQLite and MariaDB, from a table of 200,000 expired ones
// (BenchmarkPrune), so writers wait about that long behind a cleanup, however much expired at
// once; 500 rows took 7 to 25 ms.
const PruneBatch = 100

// PrunePause is the shortest wait between two batches of one table, in which other writers take
// the lock; a batch that took longer is followed by a wait as long as it took.
const PrunePause = 10 * time.Millisecond

// Pruner deletes what the server no longer needs: the sessions, JWT replay markers and login
// throttle counters that expired, the mailed links an hour after they expired (the rate limits
// count them that long), and the security events older than EventsRetention.
//
// Each table is cleaned in batches: a SELECT of up to Batch ids of expired rows, oldest first, by
// the index on the expiry (or creation) column, then a DELETE of those ids, committed on its own,
// until a SELECT finds fewer than Batch rows. No statement holds the write lock for long, and
// other writers get it between batches.
type Pruner struct {
	Client *ent.Client
	// EventsRetention is how long security events are kept (SECURITY_EVENTS_RETENTION); 0 keeps
	// every event.
	EventsRetention time.Duration
	// Batch is the most rows one DELETE removes; 0 means PruneBatch.
	Batch int
	// Pause is the shortest wait between two batches of one table; 0 means PrunePause, < 0 no
	// wait at all.
	Pause time.Duration
	// Now is Loop's clock; nil means time.Now.
	Now func() time.Time
	// Log receives Loop's failures and counts; nil discards them.
	Log *slog.Logger
}

// Prune deletes the sessions, JWT replay markers and login throttle counters that expired before
// now and the mailed links that expired an hour before now, and returns how many rows went. It
// keeps every security event: it is Pruner{Client: client}.Prune.
func Prune(ctx context.Context, client *ent.Client, now time.Time) (int, error) {
	return Pruner{Client: client}.Prune(ctx, now)
}

// Prune deletes, batch by batch, every row that is no longer needed at now, and returns how many
// went. On an error it stops and returns the rows deleted until then.
func (p Pruner) Prune(ctx context.Context, now time.Time) (int, error) {
	c := p.Client
	tables := []pruneTable{
		{
			"sessions",
			func(ctx context.Context, limit int) ([]int, error) {
				return c.Session.Query().Where(session.ExpiresAtLT(now)).
					Order(session.ByExpiresAt()).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []int) (int, error) {
				return c.Session.Delete().Where(session.IDIn(ids...), session.ExpiresAtLT(now)).Exec(ctx)
			},
		},
		{
			"replay markers",
			func(ctx context.Context, limit int) ([]int, error) {
				return c.ReplayMarker.Query().Where(replaymarker.ExpiresAtLT(now)).
					Order(replaymarker.ByExpiresAt()).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []int) (int, error) {
				return c.ReplayMarker.Delete().Where(replaymarker.IDIn(ids...), replaymarker.ExpiresAtLT(now)).Exec(ctx)
			},
		},
		{
			"login throttle counters",
			func(ctx context.Context, limit int) ([]int, error) {
				return c.LoginThrottle.Query().Where(loginthrottle.ExpiresAtLT(now)).
					Order(loginthrottle.ByExpiresAt()).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []int) (int, error) {
				// A counter counted again meanwhile has a later expiry, and stays.
				return c.LoginThrottle.Delete().Where(loginthrottle.IDIn(ids...), loginthrottle.ExpiresAtLT(now)).Exec(ctx)
			},
		},
		{
			"mailed links",
			func(ctx context.Context, limit int) ([]int, error) {
				return c.EmailToken.Query().Where(emailtoken.ExpiresAtLT(now.Add(-emailTokenKept))).
					Order(emailtoken.ByExpiresAt()).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []int) (int, error) {
				return c.EmailToken.Delete().Where(emailtoken.IDIn(ids...)).Exec(ctx)
			},
		},
	}
	if p.EventsRetention > 0 {
		before := now.Add(-p.EventsRetention)
		tables = append(tables, pruneTable{
			"security events",
			func(ctx context.Context, limit int) ([]int, error) {
				return c.SecurityEvent.Query().Where(securityevent.CreatedAtLT(before)).
					Order(securityevent.ByCreatedAt()).Limit(limit).IDs(ctx)
			},
			func(ctx context.Context, ids []int) (int, error) {
				return c.SecurityEvent.Delete().Where(securityevent.IDIn(ids...)).Exec(ctx)
			},
		})
	}
	total := 0
	for _, t := range tables {
		n, err := p.batches(ctx, t)
		total += n
		if err != nil {
			return total, fmt.Errorf("auth: prune %s: %w", t.what, err)
		}
	}
	return total, nil
}

// pruneTable is how Prune cleans one table: ids selects up to limit ids of rows to delete,
// oldest first; del deletes those of them that are still to go.
type pruneTable struct {
	what string
	ids  func(ctx context.Context, limit int) ([]int, error)
	del  func(ctx context.Context, ids []int) (int, error)
}

// batches deletes the rows t.ids selects, at most p.Batch at a time, until a selection comes back
// short, pausing between batches.
func (p Pruner) batches(ctx context.Context, t pruneTable) (int, error) {
	limit, pause := p.Batch, p.Pause
	if limit <= 0 {
		limit = PruneBatch
	}
	if pause == 0 {
		pause = PrunePause
	}
	total := 0
	for {
		batch, err := t.ids(ctx, limit)
		if err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		start := time.Now()
		n, err := t.del(ctx, batch)
		total += n
		if err != nil || len(batch) < limit {
			return total, err
		}
		if pause > 0 {
			// At least as long as the DELETE took: a slow database gets the cleanup at
			// most half the time.
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(max(pause, time.Since(start))):
			}
		}
	}
}

// Loop runs Prune every PruneEvery (with jitter, so replicas spread out) until ctx ends.
// Failures are logged; the next round tries again.
func (p Pruner) Loop(ctx context.Context) {
	now, log := p.Now, p.Log
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		wait := PruneEvery/2 + rand.N(PruneEvery)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if n, err := p.Prune(ctx, now()); err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "auth: prune expired rows", "err", err)
			}
		} else if n > 0 {
			log.DebugContext(ctx, "auth: pruned expired rows", "rows", n)
		}
	}
}
