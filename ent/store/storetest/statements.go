package storetest

import (
	"context"
	"database/sql"
	"sync"

	"entgo.io/ent/dialect"
)

// StatementLog records the statements sent through the ent driver it wraps (Wrap, for
// Options.WrapDriver), in and out of transactions, while it is on.
type StatementLog struct {
	mu   sync.Mutex
	on   bool
	list []Statement
}

// Statement is one statement a StatementLog recorded, with its arguments.
type Statement struct {
	Query string
	Args  []any
}

// Start clears the log and starts recording.
func (l *StatementLog) Start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on, l.list = true, nil
}

// Stop stops recording and returns what was recorded.
func (l *StatementLog) Stop() []string {
	var qs []string
	for _, s := range l.StopStatements() {
		qs = append(qs, s.Query)
	}
	return qs
}

// StopStatements stops recording and returns what was recorded, with the arguments.
func (l *StatementLog) StopStatements() []Statement {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = false
	return l.list
}

// Wrap is the driver that records into l (Options.WrapDriver).
func (l *StatementLog) Wrap(d dialect.Driver) dialect.Driver { return loggingDriver{d, l} }

func (l *StatementLog) add(q string, args any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.on {
		a, _ := args.([]any)
		l.list = append(l.list, Statement{Query: q, Args: a})
	}
}

type loggingDriver struct {
	dialect.Driver
	log *StatementLog
}

func (d loggingDriver) Query(ctx context.Context, q string, args, v any) error {
	d.log.add(q, args)
	return d.Driver.Query(ctx, q, args, v)
}

func (d loggingDriver) Exec(ctx context.Context, q string, args, v any) error {
	d.log.add(q, args)
	return d.Driver.Exec(ctx, q, args, v)
}

func (d loggingDriver) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	d.log.add(q, args)
	return d.Driver.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}).ExecContext(ctx, q, args...)
}

func (d loggingDriver) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	d.log.add(q, args)
	return d.Driver.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(ctx, q, args...)
}

func (d loggingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return loggingTx{tx, d.log}, nil
}

type loggingTx struct {
	dialect.Tx
	log *StatementLog
}

func (t loggingTx) Query(ctx context.Context, q string, args, v any) error {
	t.log.add(q, args)
	return t.Tx.Query(ctx, q, args, v)
}

func (t loggingTx) Exec(ctx context.Context, q string, args, v any) error {
	t.log.add(q, args)
	return t.Tx.Exec(ctx, q, args, v)
}

func (t loggingTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	t.log.add(q, args)
	return t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
	}).ExecContext(ctx, q, args...)
}

func (t loggingTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	t.log.add(q, args)
	return t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}).QueryContext(ctx, q, args...)
}
