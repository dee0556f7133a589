package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/space"
)

// openSQLiteFile opens and migrates a SQLite file database in a temporary folder, with the
// server's DSN but busyTimeout milliseconds of busy_timeout.
func openSQLiteFile(t *testing.T, busyTimeout int) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "split.db")
	dsn := fmt.Sprintf("file:%s?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(%d)&_txlock=immediate", filepath.ToSlash(path), busyTimeout)
	db, err := Open(context.Background(), SQLite, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestIsSelect(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"SELECT 1", true},
		{"  select `id` FROM users", true},
		{"(SELECT 1) UNION (SELECT 2)", true},
		{"INSERT INTO spaces (name) VALUES (?) RETURNING id", false},
		{"UPDATE users SET name = ? WHERE id = ? RETURNING id", false},
		{"WITH x AS (SELECT 1) DELETE FROM spaces", false},
		{"PRAGMA journal_mode", false},
		{"SEL", false},
		{"", false},
	} {
		t.Run(tc.query, func(t *testing.T) {
			if got := isSelect(tc.query); got != tc.want {
				t.Fatalf("isSelect(%q) = %v, want %v", tc.query, got, tc.want)
			}
		})
	}
}

// TestSQLiteSingleWriter: with no busy_timeout at all, writers from many goroutines (transactions,
// ent creates with RETURNING, raw statements) never see SQLITE_BUSY, because they queue for the
// one writer connection in the process. With a connection per writer, the same load fails at once.
func TestSQLiteSingleWriter(t *testing.T) {
	db := openSQLiteFile(t, 0)
	ctx := context.Background()
	const goroutines, rounds = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds*3)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				slug := fmt.Sprintf("s-%d-%d", g, r)
				err := func() error {
					tx, err := db.Client.Tx(ctx)
					if err != nil {
						return err
					}
					if _, err := tx.Space.Query().Count(ctx); err != nil {
						_ = tx.Rollback()
						return err
					}
					if _, err := tx.Space.Create().SetName("T").SetSlug(slug + "-tx").Save(ctx); err != nil {
						_ = tx.Rollback()
						return err
					}
					return tx.Commit()
				}()
				if err != nil {
					errs <- fmt.Errorf("transaction: %w", err)
				}
				if _, err := db.Client.Space.Create().SetName("C").SetSlug(slug).Save(ctx); err != nil {
					errs <- fmt.Errorf("create: %w", err)
				}
				if _, err := db.Client.ExecContext(ctx, "UPDATE spaces SET name = ? WHERE slug = ?", "U", slug); err != nil {
					errs <- fmt.Errorf("update: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, err := db.Client.Space.Query().Where(space.Name("U")).Count(ctx)
	if err != nil || n != goroutines*rounds {
		t.Fatalf("updated spaces: %d, %v; want %d", n, err, goroutines*rounds)
	}
	if s := db.SQL.Stats(); s.MaxOpenConnections != SQLiteWriters || s.OpenConnections > SQLiteWriters {
		t.Fatalf("writer pool: %+v", s)
	}
}

// TestSQLiteReadersDuringWrite: while a write transaction is open, reads outside it answer at once
// from the last commit (WAL), readiness stays up, and a second writer waits its turn.
func TestSQLiteReadersDuringWrite(t *testing.T) {
	db := openSQLiteFile(t, 5000)
	ctx := context.Background()
	if _, err := db.Client.Space.Create().SetName("A").SetSlug("a").Save(ctx); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Space.Create().SetName("B").SetSlug("b").Save(ctx); err != nil {
		t.Fatal(err)
	}

	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := db.Client.Space.Query().Count(short)
	if err != nil || n != 1 {
		t.Fatalf("read during a write transaction: %d, %v; want the 1 committed space", n, err)
	}
	if err := db.Check(short); err != nil {
		t.Fatalf("readiness during a write transaction: %v", err)
	}
	waiting, cancelWait := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelWait()
	if _, err := db.Client.Space.Create().SetName("C").SetSlug("c").Save(waiting); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second writer during a write transaction: %v; want it to wait for the writer", err)
	}

	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Client.Space.Query().Count(ctx); err != nil || n != 2 {
		t.Fatalf("after commit: %d, %v; want 2", n, err)
	}
	if _, err := db.Read.ExecContext(ctx, "INSERT INTO spaces (name, slug, created_at) VALUES ('R', 'r', CURRENT_TIMESTAMP)"); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

// TestSQLiteSplitStatementCache: the writer and the readers each keep their statements: a SELECT
// run outside a transaction is cached on a reader, an INSERT on the writer, and running them again
// prepares nothing new.
func TestSQLiteSplitStatementCache(t *testing.T) {
	db := openSQLiteFile(t, 5000)
	ctx := context.Background()
	write := func(i int) {
		t.Helper()
		if _, err := db.Client.Space.Create().SetName("S").SetSlug(fmt.Sprint("s", i)).Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	read := func() {
		t.Helper()
		if _, err := db.Client.Space.Query().Where(space.Slug("s0")).Only(ctx); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	read()
	writerBefore, readerBefore := cachedQueries(t, db.SQL), cachedQueries(t, db.Read)
	for i := 1; i <= 5; i++ {
		write(i)
		read()
	}
	writerAfter, readerAfter := cachedQueries(t, db.SQL), cachedQueries(t, db.Read)
	if fmt.Sprint(writerBefore) != fmt.Sprint(writerAfter) || fmt.Sprint(readerBefore) != fmt.Sprint(readerAfter) {
		t.Fatalf("running the same statements again changed the caches:\nwriter %v -> %v\nreader %v -> %v", writerBefore, writerAfter, readerBefore, readerAfter)
	}
	has := func(qs []string, prefix string) bool {
		for _, q := range qs {
			if len(q) >= len(prefix) && q[:len(prefix)] == prefix {
				return true
			}
		}
		return false
	}
	if !has(writerAfter, "INSERT INTO `spaces`") || has(writerAfter, "SELECT `spaces`") {
		t.Fatalf("writer cache %v: want the INSERT and not the SELECT", writerAfter)
	}
	if !has(readerAfter, "SELECT `spaces`") || has(readerAfter, "INSERT") {
		t.Fatalf("reader cache %v: want the SELECT and not the INSERT", readerAfter)
	}
}

// cachedQueries lists the statements a connection of pool keeps (used one at a time, as here, a
// pool has one connection).
func cachedQueries(t *testing.T, pool *sql.DB) []string {
	t.Helper()
	var qs []string
	conn, err := pool.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		for el := dc.(*cachingConn).lru.Front(); el != nil; el = el.Next() {
			qs = append(qs, el.Value.(*cachedStmt).query)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return qs
}

// TestSQLiteWritersInArrivalOrder: writers that wait for the writer get it in the order they came
// (database/sql alone would hand the connection to a random one of them).
func TestSQLiteWritersInArrivalOrder(t *testing.T) {
	db := openSQLiteFile(t, 5000)
	ctx := context.Background()
	tx, err := db.Client.Tx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.Client.Space.Create().SetName("W").SetSlug(fmt.Sprint("w", i)).Save(ctx); err != nil {
				t.Error(err)
			}
		}()
		time.Sleep(50 * time.Millisecond) // writer i waits before writer i+1 comes
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got, err := db.Client.Space.Query().Order(ent.Asc(space.FieldID)).Select(space.FieldSlug).Strings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[w0 w1 w2 w3 w4 w5 w6 w7]"; fmt.Sprint(got) != want {
		t.Fatalf("writers wrote in the order %v, want %s", got, want)
	}
}

// TestSQLiteTurnPassesWhenContextEnds: a write transaction whose context ends without a commit or
// a rollback gives the writer to the next one (database/sql rolls it back).
func TestSQLiteTurnPassesWhenContextEnds(t *testing.T) {
	db := openSQLiteFile(t, 5000)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := db.Client.Tx(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	short, cancelShort := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShort()
	if _, err := db.Client.Space.Create().SetName("N").SetSlug("n").Save(short); err != nil {
		t.Fatalf("a write after an abandoned transaction: %v", err)
	}
}
