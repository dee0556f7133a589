package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// counts tallies what the real driver beneath the cache is asked to do. With a limit, preparing
// fails with errFull while limit statements are open, as a server at max_prepared_stmt_count does.
type counts struct {
	prepared, closed atomic.Int64
	limit            int64
}

var errFull = errors.New("too many prepared statements")

// countingConnector wraps the real SQLite driver's connector and counts the statements its
// connections prepare and close.
type countingConnector struct {
	driver.Connector
	n *counts
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, n: c.n}, nil
}

type countingConn struct {
	driver.Conn
	n *counts
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.n.limit > 0 && c.n.prepared.Load()-c.n.closed.Load() >= c.n.limit {
		return nil, errFull
	}
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.n.prepared.Add(1)
	return &countingStmt{Stmt: st, n: c.n}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

type countingStmt struct {
	driver.Stmt
	n *counts
}

func (s *countingStmt) Close() error { s.n.closed.Add(1); return s.Stmt.Close() }
func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
}
func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

// openCounted opens a one-connection in-memory SQLite pool whose statement cache holds size
// statements, and returns it with the counts of the driver beneath.
func openCounted(t *testing.T, size int) (*sql.DB, *counts) {
	return openCountedWith(t, cachingConnector{size: size, noArgs: true}, &counts{})
}

// openCountedWith is openCounted with the cache's settings in cc and the driver's counts in n.
func openCountedWith(t *testing.T, cc cachingConnector, n *counts) (*sql.DB, *counts) {
	t.Helper()
	probe, err := sql.Open(SQLite, SQLiteMemoryDSN("cache"))
	if err != nil {
		t.Fatal(err)
	}
	real, err := connectorFor(probe.Driver(), SQLiteMemoryDSN("cache"))
	probe.Close()
	if err != nil {
		t.Fatal(err)
	}
	cc.Connector = countingConnector{Connector: real, n: n}
	db := sql.OpenDB(cc)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db, n
}

// cached returns how many statements the pool's one connection keeps.
func cached(t *testing.T, db *sql.DB) int {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n int
	if err := conn.Raw(func(dc any) error { n = dc.(*cachingConn).lru.Len(); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func value(t *testing.T, db *sql.DB, id int) string {
	t.Helper()
	var v string
	if err := db.QueryRow(`SELECT v FROM t WHERE id = ?`, id).Scan(&v); err != nil {
		t.Fatalf("select %d: %v", id, err)
	}
	return v
}

func TestStatementCache(t *testing.T) {
	t.Run("a statement is prepared once per connection", func(t *testing.T) {
		db, n := openCounted(t, 8)
		before := n.prepared.Load()
		for i := 1; i <= 5; i++ {
			if _, err := db.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, fmt.Sprint("v", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 5; i++ {
			if got, want := value(t, db, i), fmt.Sprint("v", i); got != want {
				t.Fatalf("row %d: got %q, want %q", i, got, want)
			}
		}
		if got := n.prepared.Load() - before; got != 2 {
			t.Fatalf("prepared %d statements for 10 runs of 2 statements, want 2", got)
		}
		if n.closed.Load() != 0 {
			t.Fatalf("%d cached statements were closed", n.closed.Load())
		}
	})

	t.Run("the same statement while its rows are open", func(t *testing.T) {
		db, n := openCounted(t, 8)
		ctx := context.Background()
		for i, v := range []string{"a", "b"} {
			if _, err := db.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i+1, v); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		const q = `SELECT v FROM t WHERE id >= ? ORDER BY id`
		outer, err := tx.Query(q, 1)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for outer.Next() {
			var v string
			if err := outer.Scan(&v); err != nil {
				t.Fatal(err)
			}
			// The cached statement is busy with outer: this one runs on a statement of its own.
			var inner string
			if err := tx.QueryRow(q, 2).Scan(&inner); err != nil {
				t.Fatal(err)
			}
			got = append(got, v+inner)
		}
		if err := outer.Close(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != "[ab bb]" {
			t.Fatalf("got %v, want [ab bb]", got)
		}
		// The one-off statements were closed; the cached one is free again and reused.
		closed := n.closed.Load()
		if closed != 2 {
			t.Fatalf("closed %d one-off statements, want 2", closed)
		}
		prepared := n.prepared.Load()
		var v string
		if err := tx.QueryRow(q, 1).Scan(&v); err != nil || v != "a" {
			t.Fatalf("after: %q, %v", v, err)
		}
		if n.prepared.Load() != prepared {
			t.Fatal("the cached statement was not reused once its rows were closed")
		}
	})

	t.Run("least recently used statements are closed beyond the size", func(t *testing.T) {
		db, n := openCounted(t, 4)
		for i := 0; i < 10; i++ {
			var x int
			if err := db.QueryRow(fmt.Sprintf(`SELECT ? + %d`, i), 1).Scan(&x); err != nil || x != i+1 {
				t.Fatalf("statement %d: %d, %v", i, x, err)
			}
		}
		if got := cached(t, db); got != 4 {
			t.Fatalf("the cache holds %d statements, want 4", got)
		}
		// CREATE TABLE and the first 7 SELECTs went; the last 4 SELECTs stay.
		if got := n.closed.Load(); got != 7 {
			t.Fatalf("closed %d statements, want 7", got)
		}
		prepared := n.prepared.Load()
		var x int
		if err := db.QueryRow(`SELECT ? + 9`, 1).Scan(&x); err != nil || n.prepared.Load() != prepared {
			t.Fatalf("a statement still in the cache was prepared again (%v)", err)
		}
		if err := db.QueryRow(`SELECT ? + 0`, 1).Scan(&x); err != nil || n.prepared.Load() != prepared+1 {
			t.Fatalf("an evicted statement was not prepared again (%v)", err)
		}
	})

	t.Run("errors leave the cache usable", func(t *testing.T) {
		db, _ := openCounted(t, 8)
		const ins = `INSERT INTO t (id, v) VALUES (?, ?)`
		if _, err := db.Exec(ins, 1, "a"); err != nil {
			t.Fatal(err)
		}
		size := cached(t, db)
		if _, err := db.Exec(ins, 1, "again"); err == nil {
			t.Fatal("a duplicate primary key was accepted")
		}
		if _, err := db.Exec(`INSERT INTO nowhere VALUES (?)`, 1); err == nil {
			t.Fatal("a statement on a missing table ran")
		}
		if got := cached(t, db); got != size {
			t.Fatalf("a statement that failed to prepare was cached: %d statements, want %d", got, size)
		}
		if _, err := db.Exec(ins, 2, "b"); err != nil {
			t.Fatalf("the cached statement failed after a constraint error: %v", err)
		}
		if value(t, db, 1) != "a" || value(t, db, 2) != "b" {
			t.Fatal("the rows are not what was written")
		}
	})

	t.Run("closing the pool closes every cached statement", func(t *testing.T) {
		db, n := openCounted(t, 8)
		for i := 0; i < 3; i++ {
			var x int
			if err := db.QueryRow(fmt.Sprintf(`SELECT ? * %d`, i), 2).Scan(&x); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if p, c := n.prepared.Load(), n.closed.Load(); p != c || p != 4 {
			t.Fatalf("prepared %d, closed %d; want 4 and 4", p, c)
		}
	})

	t.Run("a server out of prepared statements", func(t *testing.T) {
		n := &counts{limit: 3}
		db, _ := openCountedWith(t, cachingConnector{size: 8, noArgs: true, full: func(err error) bool { return errors.Is(err, errFull) }}, n)
		// CREATE TABLE holds the first statement; two SELECTs fill the server up.
		for i := 0; i < 3; i++ {
			var x int
			if err := db.QueryRow(fmt.Sprintf(`SELECT ? + %d`, i), 1).Scan(&x); err != nil || x != i+1 {
				t.Fatalf("statement %d: %d, %v", i, x, err)
			}
		}
		// The third SELECT found the server full: the connection gave back its statements and
		// prepared again.
		if got := cached(t, db); got != 1 {
			t.Fatalf("the cache holds %d statements after the server was full, want 1", got)
		}
		if open := n.prepared.Load() - n.closed.Load(); open > n.limit {
			t.Fatalf("%d statements open, the server allows %d", open, n.limit)
		}
	})

	t.Run("a cancelled context", func(t *testing.T) {
		db, _ := openCounted(t, 8)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := db.ExecContext(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 1, "a"); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if _, err := db.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, 1, "a"); err != nil {
			t.Fatal(err)
		}
		if value(t, db, 1) != "a" {
			t.Fatal("the row is not what was written")
		}
	})
}

func TestTooManyPrepared(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"max_prepared_stmt_count", &mysql.MySQLError{Number: 1461, Message: "Can't create more than max_prepared_stmt_count statements"}, true},
		{"wrapped", fmt.Errorf("prepare: %w", &mysql.MySQLError{Number: 1461}), true},
		{"duplicate entry", &mysql.MySQLError{Number: 1062}, false},
		{"syntax", &mysql.MySQLError{Number: 1064}, false},
		{"not a MySQL error", errors.New("1461"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tooManyPrepared(tt.err); got != tt.want {
				t.Fatalf("tooManyPrepared(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestCachedTransactions: on SQLite the cache also holds BEGIN, COMMIT and ROLLBACK (cachedTx),
// and its transactions behave as the driver's own.
func TestCachedTransactions(t *testing.T) {
	t.Run("each statement of a transaction is prepared once", func(t *testing.T) {
		db, n := openCountedWith(t, cachingConnector{size: 8, noArgs: true, begin: "BEGIN"}, &counts{})
		before := n.prepared.Load()
		for i := 1; i <= 10; i++ {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO t (id, v) VALUES (?, ?)`, i, "v"); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := n.prepared.Load() - before; got != 4 {
			t.Fatalf("10 transactions prepared %d statements, want 4 (BEGIN, INSERT, COMMIT, ROLLBACK)", got)
		}
		var ids []int
		rows, err := db.Query(`SELECT id FROM t ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id int
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if fmt.Sprint(ids) != "[2 4 6 8 10]" {
			t.Fatalf("rows %v, want the committed ones [2 4 6 8 10]", ids)
		}
	})
	t.Run("a failed commit leaves no transaction open", func(t *testing.T) {
		db, _ := openCountedWith(t, cachingConnector{size: 8, noArgs: true, begin: "BEGIN"}, &counts{})
		if _, err := db.Exec(`CREATE TABLE c (id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t (id))`); err != nil {
			t.Fatal(err)
		}
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		// A deferred foreign key fails at COMMIT, and SQLite keeps the transaction open.
		for _, q := range []string{`PRAGMA defer_foreign_keys = ON`, `INSERT INTO c (id, t_id) VALUES (1, 99)`} {
			if _, err := tx.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err == nil {
			t.Fatal("a commit that breaks a foreign key succeeded")
		}
		tx, err = db.Begin() // fails "within a transaction" if the last one was left open
		if err != nil {
			t.Fatalf("begin after a failed commit: %v", err)
		}
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM c`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows of the failed transaction: %d, %v", n, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a context that ends while the statement runs", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "late.db")
		db, err := openCaching(SQLite, "file:"+filepath.ToSlash(path)+"?_pragma=journal_mode(WAL)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if _, err := db.Exec(`CREATE TABLE r (id INTEGER PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			c := dc.(*cachingConn)
			for i := range 300 {
				// A BEGIN whose context ends as it runs: whatever it answers, no transaction is
				// left open on the connection.
				if tx, err := c.BeginTx(newLateContext(), driver.TxOptions{}); err == nil {
					_ = tx.Rollback()
				}
				// A transaction whose context ends as its COMMIT runs: the commit took effect
				// and says so.
				late := newLateContext()
				late.live = true
				tx, err := c.BeginTx(late, driver.TxOptions{})
				if err != nil {
					return fmt.Errorf("begin after a late BEGIN: %w", err)
				}
				if _, err := c.ExecContext(ctx, `INSERT INTO r (id) VALUES (?)`, []driver.NamedValue{{Ordinal: 1, Value: int64(i)}}); err != nil {
					return err
				}
				late.live = false
				if err := tx.Commit(); err != nil {
					return fmt.Errorf("commit %d whose context ended as it ran: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		conn.Close() // the pool's one connection
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM r`).Scan(&n); err != nil || n != 300 {
			t.Fatalf("%d rows committed, %v; want 300", n, err)
		}
	})
	t.Run("the DSN's _txlock", func(t *testing.T) {
		for dsn, want := range map[string]string{
			"file:a.db":                               "BEGIN",
			"file:a.db?_txlock=immediate":             "BEGIN IMMEDIATE",
			"file:a.db?_pragma=x(1)&_txlock=Deferred": "BEGIN DEFERRED",
			"file:a.db?_txlock=exclusive":             "BEGIN EXCLUSIVE",
		} {
			if got := sqliteBegin(dsn); got != want {
				t.Errorf("sqliteBegin(%q) = %q, want %q", dsn, got, want)
			}
		}
		// An immediate transaction holds the write lock from its BEGIN; a read-only one does not.
		path := filepath.Join(t.TempDir(), "lock.db")
		dsn := "file:" + filepath.ToSlash(path) + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(0)&_txlock=immediate"
		a, err := openCaching(SQLite, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := openCaching(SQLite, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ctx := context.Background()
		for _, tt := range []struct {
			readOnly, busy bool
		}{{false, true}, {true, false}} {
			held, err := a.BeginTx(ctx, &sql.TxOptions{ReadOnly: tt.readOnly})
			if err != nil {
				t.Fatal(err)
			}
			other, err := b.BeginTx(ctx, nil)
			if busy := err != nil; busy != tt.busy {
				t.Fatalf("read-only %v: a second writer's BEGIN IMMEDIATE: %v, want busy %v", tt.readOnly, err, tt.busy)
			}
			if other != nil {
				_ = other.Rollback()
			}
			if err := held.Rollback(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// lateContext has not ended when the driver first looks at it and has ended at every later look:
// it ends while the statement runs. With live set, it has not ended at any look.
type lateContext struct {
	context.Context
	live  bool
	looks int
}

func newLateContext() *lateContext { return &lateContext{Context: context.Background()} }

var (
	notEnded = make(chan struct{})
	ended    = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
)

func (c *lateContext) Done() <-chan struct{} {
	c.looks++
	if c.live || c.looks == 1 {
		return notEnded
	}
	return ended
}

func (c *lateContext) Err() error {
	if c.live || c.looks <= 1 {
		return nil
	}
	return context.Canceled
}
