package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestIsRetryable classifies errors that the databases really return: the races a transaction
// run again can win are retryable, a refused statement is not, on either backend and through
// any wrapping.
func TestIsRetryable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("r@example.com").SetUsername("r").SaveX(ctx)
		now := time.Now()
		_, entDup := c.User.Create().SetEmail("r@example.com").SetUsername("r2").Save(ctx)
		_, rawDup := c.ExecContext(ctx, "INSERT INTO `users` (`created_at`, `updated_at`, `email`, `username`) VALUES (?, ?, ?, ?)", now, now, "r@example.com", "r3")
		_, rawFK := c.ExecContext(ctx, "INSERT INTO `sessions` (`created_at`, `token_hash`, `user_id`, `method`, `expires_at`, `last_seen_at`) VALUES (?, ?, ?, ?, ?, ?)",
			now, []byte("h"), u.ID+1000, "JWT", now, now)
		_, syntax := c.ExecContext(ctx, "SELECT nothing FROM nowhere")
		_, notNull := c.ExecContext(ctx, "INSERT INTO `users` (`created_at`, `updated_at`, `email`, `username`) VALUES (?, ?, NULL, ?)", now, now, "r4")
		tests := []struct {
			name string
			err  error
			want bool
		}{
			{"duplicate key through ent", entDup, true},
			{"duplicate key by hand, wrapped", fmt.Errorf("auth: create session: %w", rawDup), true},
			{"parent row missing", rawFK, true},
			{"unknown table", syntax, false},
			{"null in a required column", notNull, false},
			{"cancelled", context.Canceled, false},
			{"nil", nil, false},
		}
		// IsConstraint: the same errors, as the client's conflict, whoever sent the statement.
		for _, tt := range []struct {
			name string
			err  error
			want bool
		}{
			{"duplicate key through ent", entDup, true},
			{"duplicate key by hand, wrapped", fmt.Errorf("authdb: insert: %w", rawDup), true},
			{"parent row missing", rawFK, true},
			{"null in a required column", notNull, true},
			{"unknown table", syntax, false},
			{"cancelled", context.Canceled, false},
			{"nil", nil, false},
		} {
			t.Run("constraint/"+tt.name, func(t *testing.T) {
				if got := store.IsConstraint(tt.err); got != tt.want {
					t.Fatalf("IsConstraint(%v) = %v, want %v", tt.err, got, tt.want)
				}
			})
		}
		tests = append(tests, lockErrors(t, db)...)
		// IsDeadlock: the lock conflicts alone, and not SQLite's busy database, which already
		// waited its busy timeout.
		deadlocks := map[string]bool{"deadlock": true, "lock wait timeout": true, "locked": true}
		for _, tt := range tests {
			t.Run("deadlock/"+tt.name, func(t *testing.T) {
				if got := store.IsDeadlock(tt.err); got != deadlocks[tt.name] {
					t.Fatalf("IsDeadlock(%v) = %v, want %v", tt.err, got, deadlocks[tt.name])
				}
			})
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.err == nil && tt.name != "nil" {
					t.Fatal("the database returned no error to classify")
				}
				t.Logf("%v", tt.err)
				if got := store.IsRetryable(tt.err); got != tt.want {
					t.Fatalf("IsRetryable(%T %v) = %v, want %v", errors.Unwrap(tt.err), tt.err, got, tt.want)
				}
			})
		}
	})
}

type retryCase = struct {
	name string
	err  error
	want bool
}

// lockErrors makes the backend's lock conflicts happen for real: a deadlock and a lock wait
// timeout on MySQL/MariaDB, a busy and a locked database on SQLite.
func lockErrors(t *testing.T, db *store.DB) []retryCase {
	t.Helper()
	if db.Driver == store.MySQL {
		return mysqlLockErrors(t, db)
	}
	return sqliteLockErrors(t)
}

func mysqlLockErrors(t *testing.T, db *store.DB) []retryCase {
	ctx := context.Background()
	for _, id := range []int{1, 2} {
		if _, err := db.SQL.ExecContext(ctx, "INSERT INTO `spaces` (`id`, `created_at`, `name`, `slug`) VALUES (?, NOW(), ?, ?)", id, "s", fmt.Sprint("s", id)); err != nil {
			t.Fatal(err)
		}
	}
	begin := func() *sql.Tx {
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tx.Rollback() })
		return tx
	}
	lock := func(tx *sql.Tx, id int) error {
		_, err := tx.ExecContext(ctx, "UPDATE `spaces` SET `name` = 'x' WHERE `id` = ?", id)
		return err
	}

	// Deadlock: each transaction holds one row and asks for the other's.
	a, b := begin(), begin()
	if err := lock(a, 1); err != nil {
		t.Fatal(err)
	}
	if err := lock(b, 2); err != nil {
		t.Fatal(err)
	}
	var (
		wg     sync.WaitGroup
		errA   error
		errB   error
		second = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		close(second)
		errA = lock(a, 2)
		if errA == nil {
			_ = a.Rollback()
		}
	}()
	<-second
	time.Sleep(200 * time.Millisecond) // a waits for row 2
	errB = lock(b, 1)
	if errB == nil {
		_ = b.Rollback()
	}
	wg.Wait()
	deadlock := errors.Join(errA, errB)
	_, _ = a.Rollback(), b.Rollback()

	// Lock wait timeout: a second transaction waits a second for a row the first holds.
	c := begin()
	if err := lock(c, 1); err != nil {
		t.Fatal(err)
	}
	d := begin()
	if _, err := d.ExecContext(ctx, "SET SESSION innodb_lock_wait_timeout = 1"); err != nil {
		t.Fatal(err)
	}
	timeout := lock(d, 1)
	return []retryCase{
		{"deadlock", deadlock, true},
		{"lock wait timeout", timeout, true},
	}
}

func sqliteLockErrors(t *testing.T) []retryCase {
	ctx := context.Background()
	// Busy: a file database whose write lock another connection holds, with no busy timeout.
	dsn := "file:" + filepath.ToSlash(filepath.Join(t.TempDir(), "busy.db")) + "?_pragma=busy_timeout(0)&_txlock=immediate"
	open := func(dsn string) *sql.DB {
		db, err := sql.Open(store.SQLite, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	file := open(dsn)
	if _, err := file.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	holder, err := file.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	_, busy := file.BeginTx(ctx, nil)

	// Locked: a table dropped on the connection that is still reading it.
	conn, err := file.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE r (id INTEGER PRIMARY KEY); INSERT INTO r VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "SELECT id FROM r")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rows.Next()
	_, locked := conn.ExecContext(ctx, "DROP TABLE r")
	return []retryCase{
		{"busy", busy, true},
		{"locked", fmt.Errorf("provision: commit: %w", locked), true},
	}
}
