package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"
	"sync"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// Connections of a SQLite file database. SQLite lets one transaction write at a time: a single
// writer connection makes writers queue in the process, in arrival order, instead of each
// starting BEGIN IMMEDIATE on a connection of its own and polling busy_timeout for the lock. In
// WAL mode readers do not wait for the writer, so reads get a pool of their own.
const (
	SQLiteWriters = 1
	SQLiteReaders = 8
)

// splitDriver is the ent driver of a SQLite file database: transactions, Exec and every statement
// that is not a SELECT go to the writer pool (one connection, immediate transactions); a SELECT
// outside a transaction goes to the reader pool (deferred transactions, query_only). A
// transaction's statements all stay on its connection. A read-only transaction
// (BeginTx with ReadOnly) runs on a reader.
//
// Writers take turns in arrival order: database/sql hands a freed connection to a random waiter,
// which at 16 waiting writers leaves the unlucky ones waiting many turns (a p99 many times the
// p50). A writer first takes turn, a channel whose waiting senders are served first come, first
// served, and holds it for its statement or until its transaction ends.
type splitDriver struct {
	*entsql.Driver // the writer
	read           *entsql.Driver
	turn           chan struct{}
}

// newSplitDriver is the driver over the writer and reader pools of one SQLite file.
func newSplitDriver(dial string, writer, reader *sql.DB) splitDriver {
	return splitDriver{Driver: entsql.OpenDB(dial, writer), read: entsql.OpenDB(dial, reader), turn: make(chan struct{}, 1)}
}

// take waits for the writer's turn, or for ctx to end; release gives the turn to the next writer.
func (d splitDriver) take(ctx context.Context) (release func(), err error) {
	select {
	case d.turn <- struct{}{}:
		return sync.OnceFunc(func() { <-d.turn }), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Exec runs a statement on the writer, in its turn.
func (d splitDriver) Exec(ctx context.Context, query string, args, v any) error {
	release, err := d.take(ctx)
	if err != nil {
		return err
	}
	defer release()
	return d.Driver.Exec(ctx, query, args, v)
}

// ExecContext is Exec for the generated client's raw ExecContext.
func (d splitDriver) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	release, err := d.take(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return d.Driver.ExecContext(ctx, query, args...)
}

// Query sends a SELECT to a reader and anything else (INSERT … RETURNING, UPDATE … RETURNING) to
// the writer, in its turn.
func (d splitDriver) Query(ctx context.Context, query string, args, v any) error {
	if isSelect(query) {
		return d.read.Query(ctx, query, args, v)
	}
	release, err := d.take(ctx)
	if err != nil {
		return err
	}
	defer release()
	return d.Driver.Query(ctx, query, args, v)
}

// QueryContext is Query for the generated client's raw QueryContext.
func (d splitDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if isSelect(query) {
		return d.read.QueryContext(ctx, query, args...)
	}
	release, err := d.take(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	return d.Driver.QueryContext(ctx, query, args...)
}

// Tx starts a write transaction.
func (d splitDriver) Tx(ctx context.Context) (dialect.Tx, error) { return d.BeginTx(ctx, nil) }

// BeginTx starts a transaction on the writer, in its turn, or on a reader when opts asks for a
// read-only one. The turn passes on when the transaction commits or rolls back, or when ctx ends
// (database/sql rolls the transaction back then).
func (d splitDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	if opts != nil && opts.ReadOnly {
		return d.read.BeginTx(ctx, opts)
	}
	release, err := d.take(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := d.Driver.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	stop := context.AfterFunc(ctx, release)
	return &turnTx{Tx: tx.(*entsql.Tx), end: func() { stop(); release() }}, nil
}

// turnTx is a write transaction that holds the writer's turn until it ends.
type turnTx struct {
	*entsql.Tx
	end func()
}

func (t *turnTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

func (t *turnTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

// Close closes both pools.
func (d splitDriver) Close() error {
	return errors.Join(d.read.Close(), d.Driver.Close())
}

// isSelect reports whether query is a SELECT, the one statement that cannot write. Everything
// else, including a WITH that may end in an INSERT, goes to the writer.
func isSelect(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// sqliteReaderDSN is dsn for the reader pool: deferred transactions (a reader never takes the
// write lock) and query_only, so a write sent to a reader by mistake fails instead of competing
// with the writer.
func sqliteReaderDSN(dsn string) (string, error) {
	path, query, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", err
	}
	q.Set("_txlock", "deferred")
	q.Add("_pragma", "query_only(1)")
	return path + "?" + q.Encode(), nil
}
