package auth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

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
		// Prune keeps every security event.
		c.SecurityEvent.Create().SetType("OLD").SetCreatedAt(now.AddDate(-5, 0, 0)).ExecX(ctx)
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
		if e := c.SecurityEvent.Query().CountX(ctx); e != 1 {
			t.Fatalf("left %d security events, want 1", e)
		}
	})
}

// deleteOf matches a DELETE statement and names its table.
var deleteOf = regexp.MustCompile("^DELETE FROM [`\"]([a-z_]+)[`\"]")

// TestPruneBatches seeds more expired rows than several batches hold in every table the pruner
// cleans, beside rows that must stay, and checks from the statements sent that no DELETE names
// more than a batch of rows, that each table takes the number of DELETEs its rows need, and that
// exactly the expired rows went.
func TestPruneBatches(t *testing.T) {
	const (
		batch     = 7
		expired   = 3*batch + 2 // four DELETEs: three full batches and a short one
		kept      = 5
		retention = 30 * 24 * time.Hour
	)
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			var log storetest.StatementLog
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			ctx := context.Background()
			c := db.Client
			now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			u := c.User.Create().SetEmail("p@example.com").SetUsername("p").SaveX(ctx)
			seed := func(i int, exp, created time.Time) {
				_, hash := auth.NewToken()
				c.Session.Create().SetTokenHash(hash).SetUserID(u.ID).SetMethod(session.MethodJWT).
					SetExpiresAt(exp).SetLastSeenAt(now).ExecX(ctx)
				key := fmt.Sprintf("%x", exp.UnixNano()+int64(i))
				c.ReplayMarker.Create().SetKey(key).SetExpiresAt(exp).ExecX(ctx)
				c.LoginThrottle.Create().SetKey(key).SetIP("192.0.2.1").SetFailures(1).SetLastAt(now).SetExpiresAt(exp).ExecX(ctx)
				_, hash = auth.NewToken()
				c.EmailToken.Create().SetPurpose(emailtoken.PurposeRESET_PASSWORD).SetTokenHash(hash).SetEmail("p@example.com").
					SetExpiresAt(exp.Add(-time.Hour)).ExecX(ctx)
				c.SecurityEvent.Create().SetType("LOGIN_SUCCEEDED").SetUserID(u.ID).SetCreatedAt(created).ExecX(ctx)
			}
			for i := range expired {
				seed(i, now.Add(-time.Duration(i+1)*time.Minute), now.Add(-retention-time.Duration(i+1)*time.Minute))
			}
			for i := range kept {
				seed(i, now.Add(time.Duration(i+1)*time.Second), now.Add(-retention+time.Duration(i+1)*time.Second))
			}

			log.Start()
			n, err := auth.Pruner{Client: c, EventsRetention: retention, Batch: batch, Pause: -1}.Prune(ctx, now)
			stmts := log.Stop()
			if err != nil || n != 5*expired {
				t.Fatalf("Prune = %d, %v; want %d", n, err, 5*expired)
			}
			deletes := map[string]int{}
			for _, q := range stmts {
				m := deleteOf.FindStringSubmatch(q)
				if m == nil {
					continue
				}
				deletes[m[1]]++
				// The ids, and for some tables the expiry once more.
				if args := strings.Count(q, "?"); args > batch+1 {
					t.Errorf("a DELETE with %d arguments, more than a batch of %d: %s", args, batch, q)
				}
			}
			for _, table := range []string{"sessions", "replay_markers", "login_throttles", "email_tokens", "security_events"} {
				if got, want := deletes[table], (expired+batch-1)/batch; got != want {
					t.Errorf("%s: %d DELETEs, want %d", table, got, want)
				}
			}
			counts := map[string]int{
				"sessions":                c.Session.Query().CountX(ctx),
				"replay markers":          c.ReplayMarker.Query().CountX(ctx),
				"login throttle counters": c.LoginThrottle.Query().CountX(ctx),
				"mailed links":            c.EmailToken.Query().CountX(ctx),
				"security events":         c.SecurityEvent.Query().CountX(ctx),
			}
			for what, left := range counts {
				if left != kept {
					t.Errorf("%d %s left, want the %d unexpired", left, what, kept)
				}
			}
			if n, err := (auth.Pruner{Client: c, EventsRetention: retention, Batch: batch}).Prune(ctx, now); n != 0 || err != nil {
				t.Errorf("a second Prune = %d, %v; want nothing to do", n, err)
			}
		})
	}
}

// TestPruneStopsWithItsContext checks that a round ends in its pause when its context ends.
func TestPruneStopsWithItsContext(t *testing.T) {
	db := storetest.SQLite(t)
	c := db.Client
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		c.ReplayMarker.Create().SetKey(fmt.Sprint(i)).SetExpiresAt(now.Add(-time.Hour)).ExecX(context.Background())
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	n, err := auth.Pruner{Client: c, Batch: 2, Pause: time.Hour}.Prune(ctx, now)
	if n != 2 || !errors.Is(err, context.Canceled) {
		t.Fatalf("Prune = %d, %v; want the first batch of 2, then the cancellation", n, err)
	}
}

// slowestDelete is a driver that times every DELETE sent through it.
type slowestDelete struct {
	dialect.Driver
	mu      sync.Mutex
	took    []time.Duration
	maxRows int
}

func (d *slowestDelete) Exec(ctx context.Context, q string, args, v any) error {
	if !strings.HasPrefix(q, "DELETE") {
		return d.Driver.Exec(ctx, q, args, v)
	}
	start := time.Now()
	err := d.Driver.Exec(ctx, q, args, v)
	took := time.Since(start)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.took = append(d.took, took)
	d.maxRows = max(d.maxRows, strings.Count(q, "?"))
	return err
}

// BenchmarkPrune seeds 200,000 expired sessions (PRUNE_BENCH_ROWS to change it) on each backend
// (SQLite in a file, as a server keeps it) and prunes them with the server's batch size
// (PRUNE_BENCH_BATCH to try another) and no pause, reporting how long the DELETEs took, the
// longest included: how long a cleanup holds the write lock.
func BenchmarkPrune(b *testing.B) {
	rows, batch := 200_000, auth.PruneBatch
	for name, v := range map[string]*int{"PRUNE_BENCH_ROWS": &rows, "PRUNE_BENCH_BATCH": &batch} {
		if s := os.Getenv(name); s != "" {
			if _, err := fmt.Sscan(s, v); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
		}
	}
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			timer := &slowestDelete{}
			wrap := func(d dialect.Driver) dialect.Driver { timer.Driver = d; return timer }
			var db *store.DB
			if backend == store.SQLite {
				var err error
				db, err = store.Open(context.Background(), store.SQLite, store.SQLiteDSN(filepath.Join(b.TempDir(), "prune.db")), store.Options{WrapDriver: wrap})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				if err := db.Migrate(context.Background()); err != nil {
					b.Fatal(err)
				}
			} else {
				db = storetest.Open(b, backend, storetest.Options{WrapDriver: wrap})
			}
			ctx := context.Background()
			now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			u := db.Client.User.Create().SetEmail("p@example.com").SetUsername("p").SaveX(ctx)
			for b.Loop() {
				b.StopTimer()
				seedSessions(b, db, u.ID, rows, now)
				timer.mu.Lock()
				timer.took, timer.maxRows = nil, 0
				timer.mu.Unlock()
				b.StartTimer()
				n, err := auth.Pruner{Client: db.Client, Batch: batch, Pause: -1}.Prune(ctx, now)
				if err != nil || n != rows {
					b.Fatalf("Prune = %d, %v; want %d", n, err, rows)
				}
			}
			slices.Sort(timer.took)
			ms := func(q float64) float64 {
				return float64(timer.took[int(q*float64(len(timer.took)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.5), "p50-delete-ms")
			b.ReportMetric(ms(0.99), "p99-delete-ms")
			b.ReportMetric(ms(1), "max-delete-ms")
			b.ReportMetric(float64(len(timer.took)), "deletes")
			b.ReportMetric(float64(timer.maxRows-1), "rows/delete")
		})
	}
}

// seedSessions inserts n sessions of user that expired before now, a day apart at most, in
// multi-row INSERTs.
func seedSessions(b *testing.B, db *store.DB, user, n int, now time.Time) {
	b.Helper()
	ctx := context.Background()
	const per = 500
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	for i := 0; i < n; i += per {
		k := min(per, n-i)
		var q strings.Builder
		q.WriteString("INSERT INTO sessions (token_hash, user_id, method, expires_at, last_seen_at, ip, user_agent, created_at) VALUES ")
		args := make([]any, 0, 8*k)
		for j := range k {
			if j > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, 'JWT', ?, ?, '192.0.2.1', 'bench', ?)")
			hash := make([]byte, 32)
			rand.Read(hash)
			exp := now.Add(-time.Duration(i+j+1) * 400 * time.Millisecond)
			args = append(args, hash, user, exp, exp.Add(-time.Hour), exp.Add(-720*time.Hour))
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
