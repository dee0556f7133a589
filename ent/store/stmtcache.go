package store

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"reflect"
)

// How many prepared statements each database connection keeps.
//
// On MySQL/MariaDB every cached statement holds a server-side prepared statement: with 32
// connections per replica that is up to 1,024 a replica, and the default
// max_prepared_stmt_count (16,382) fits 15 replicas. When the server's limit is reached all the
// same, a connection drops its own cache and prepares again (see cachingConn.stmt).
const (
	SQLiteStatementCacheSize = 64
	MySQLStatementCacheSize  = 32
)

// cachingConnector opens connections that keep their most recently used prepared statements.
//
// A statement seen before on the same connection runs again without being parsed (SQLite) or
// prepared in a round trip of its own (MySQL: database/sql prepares, executes and closes every
// statement with arguments). On MySQL, statements without arguments go straight to the driver as
// before: they take one round trip anyway, and some of them cannot be prepared.
type cachingConnector struct {
	driver.Connector
	size int
	// noArgs caches statements without arguments too (SQLite).
	noArgs bool
	// full reports an error that says the server holds too many prepared statements.
	full func(error) bool
	// begin, when set (SQLite), is the statement that begins a transaction; BeginTx then runs
	// it, COMMIT and ROLLBACK through the cache (cachedTx).
	begin string
}

// Connect opens a connection of the wrapped driver and gives it a statement cache.
func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, size: c.size, noArgs: c.noArgs, full: c.full, begin: c.begin, byQuery: map[string]*list.Element{}, lru: list.New()}, nil
}

// dsnConnector is the connector of a driver that has no OpenConnector of its own.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// connectorFor returns drv's connector for dsn.
func connectorFor(drv driver.Driver, dsn string) (driver.Connector, error) {
	if dc, ok := drv.(driver.DriverContext); ok {
		return dc.OpenConnector(dsn)
	}
	return dsnConnector{dsn: dsn, drv: drv}, nil
}

// cachingConn is a driver connection with a least-recently-used cache of prepared statements.
// database/sql uses a connection from one goroutine at a time, so the cache needs no lock.
type cachingConn struct {
	driver.Conn
	size    int
	noArgs  bool
	full    func(error) bool
	begin   string
	byQuery map[string]*list.Element
	lru     *list.List // of *cachedStmt, most recently used first
}

// cachedStmt is one prepared statement; busy while rows read from it are open.
type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool
}

// stmt returns the cached statement for query, preparing it on a miss. It answers driver.ErrSkip
// when the statement is in use by rows still open, so database/sql prepares a one-off statement.
func (c *cachingConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.byQuery[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, driver.ErrSkip
		}
		c.lru.MoveToFront(el)
		return cs, nil
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil && c.full != nil && c.full(err) && c.lru.Len() > 0 {
		// The server is out of prepared statements: give back this connection's, then retry.
		c.evict(0)
		st, err = c.PrepareContext(ctx, query)
	}
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.byQuery[query] = c.lru.PushFront(cs)
	c.evict(c.size)
	return cs, nil
}

// evict closes the least recently used statements until at most keep are left, skipping any in
// use.
func (c *cachingConn) evict(keep int) {
	for el := c.lru.Back(); el != nil && c.lru.Len() > keep; {
		prev := el.Prev()
		if cs := el.Value.(*cachedStmt); !cs.busy {
			c.lru.Remove(el)
			delete(c.byQuery, cs.query)
			_ = cs.stmt.Close()
		}
		el = prev
	}
}

// QueryContext runs a statement with arguments through the cache.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 && !c.noArgs {
		if q, ok := c.Conn.(driver.QueryerContext); ok {
			return q.QueryContext(ctx, query, args)
		}
		return nil, driver.ErrSkip
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	q, ok := cs.stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cs.busy = true
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		cs.busy = false
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() { cs.busy = false }}, nil
}

// ExecContext runs a statement with arguments through the cache.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 && !c.noArgs {
		if e, ok := c.Conn.(driver.ExecerContext); ok {
			return e.ExecContext(ctx, query, args)
		}
		return nil, driver.ErrSkip
	}
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	e, ok := cs.stmt.(driver.StmtExecContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cs.busy = true
	defer func() { cs.busy = false }()
	return e.ExecContext(ctx, args)
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	for el := c.lru.Front(); el != nil; el = el.Next() {
		_ = el.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.byQuery)
	return c.Conn.Close()
}

// The optional interfaces below pass through to the wrapped connection; where it lacks one,
// each answers what database/sql does for a driver without it.

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Prepare(query)
}

// BeginTx begins a transaction. With c.begin set (SQLite) and the default isolation, the
// BEGIN, and the transaction's COMMIT or ROLLBACK, are statements of the cache (cachedTx):
// modernc.org/sqlite would parse each of them again for every transaction.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.begin != "" && opts.Isolation == driver.IsolationLevel(sql.LevelDefault) {
		begin := c.begin
		if opts.ReadOnly {
			begin = "BEGIN" // as the driver does: a read-only transaction takes no lock up front
		}
		if _, err := c.ExecContext(ctx, begin, nil); err != nil {
			// The statement may have run before ctx ended (the driver then reports ctx's error):
			// the connection must not go back to the pool inside that transaction.
			_, _ = c.ExecContext(context.Background(), "ROLLBACK", nil)
			return nil, err
		}
		return &cachedTx{c: c, ctx: ctx}, nil
	}
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Begin() //nolint:staticcheck // the fallback database/sql itself uses
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// cachedRows releases its statement when closed.
type cachedRows struct {
	driver.Rows
	release func()
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.release != nil {
		r.release()
		r.release = nil
	}
	return err
}

func (r *cachedRows) HasNextResultSet() bool {
	n, ok := r.Rows.(driver.RowsNextResultSet)
	return ok && n.HasNextResultSet()
}

func (r *cachedRows) NextResultSet() error {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// cachedTx is a SQLite transaction begun by cachingConn.BeginTx, which ends it with the cache's
// COMMIT or ROLLBACK. Its COMMIT runs with ctx's values but not its end: the driver reports a
// statement whose context ended while it ran as failed, and a commit that took effect must not be
// reported so (database/sql does not commit once ctx has ended; a wait for a lock is bounded by
// busy_timeout). A failed commit is rolled back, as modernc.org/sqlite's own transaction does, so
// that the connection goes back to the pool outside any transaction.
type cachedTx struct {
	c   *cachingConn
	ctx context.Context
}

func (t *cachedTx) Commit() error {
	_, err := t.c.ExecContext(context.WithoutCancel(t.ctx), "COMMIT", nil)
	if err != nil {
		// SQLite keeps the transaction open after some failed commits (a busy database); after
		// others it has rolled back already, and this ROLLBACK fails harmlessly.
		_, _ = t.c.ExecContext(context.Background(), "ROLLBACK", nil)
	}
	return err
}

func (t *cachedTx) Rollback() error {
	_, err := t.c.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}
