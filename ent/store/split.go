package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strings"

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
type splitDriver struct {
	*entsql.Driver // the writer
	read           *entsql.Driver
}

// Query sends a SELECT to a reader and anything else (INSERT … RETURNING, UPDATE … RETURNING) to
// the writer.
func (d splitDriver) Query(ctx context.Context, query string, args, v any) error {
	if isSelect(query) {
		return d.read.Query(ctx, query, args, v)
	}
	return d.Driver.Query(ctx, query, args, v)
}

// QueryContext is Query for the generated client's raw QueryContext.
func (d splitDriver) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if isSelect(query) {
		return d.read.QueryContext(ctx, query, args...)
	}
	return d.Driver.QueryContext(ctx, query, args...)
}

// BeginTx starts a transaction on the writer, or on a reader when opts asks for a read-only one.
func (d splitDriver) BeginTx(ctx context.Context, opts *sql.TxOptions) (dialect.Tx, error) {
	if opts != nil && opts.ReadOnly {
		return d.read.BeginTx(ctx, opts)
	}
	return d.Driver.BeginTx(ctx, opts)
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
	q.Del("_txlock")
	q.Set("_txlock", "deferred")
	q.Add("_pragma", "query_only(1)")
	return path + "?" + q.Encode(), nil
}
