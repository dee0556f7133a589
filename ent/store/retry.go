package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-sql-driver/mysql"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/community/sso/ent"
)

// MySQL/MariaDB error numbers that IsRetryable reads.
const (
	mysqlDuplicateKey    = 1062 // ER_DUP_ENTRY: a concurrent transaction inserted the same key
	mysqlLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT
	mysqlDeadlock        = 1213 // ER_LOCK_DEADLOCK: the server rolled the transaction back
	mysqlNoReferencedRow = 1452 // ER_NO_REFERENCED_ROW_2: a concurrent transaction deleted the parent row
	mysqlRowIsReferenced = 1451 // ER_ROW_IS_REFERENCED_2: a child row still points at the row
	mysqlBadNull         = 1048 // ER_BAD_NULL_ERROR
)

// IsConstraint reports whether err is a constraint violation: ent's constraint errors, and the
// drivers' own for statements sent without ent (a unique, primary key, foreign key, not-null or
// check constraint; MySQL/MariaDB 1062, 1451, 1452, 1048, SQLite's SQLITE_CONSTRAINT codes). It
// reads the drivers' error types, never their messages, through any wrapping. Callers turn it
// into a conflict for the client.
func IsConstraint(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case mysqlDuplicateKey, mysqlNoReferencedRow, mysqlRowIsReferenced, mysqlBadNull:
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	return ent.IsConstraintError(err)
}

// IsRetryable reports whether err is a conflict with a concurrent transaction that the same
// transaction, run again from its start, can resolve: on MySQL/MariaDB a deadlock (1213), a lock
// wait timeout (1205), a duplicate key (1062) or a parent row deleted meanwhile (1452); on
// SQLite a busy or locked database (SQLITE_BUSY, SQLITE_LOCKED and their extended codes) or a
// unique, primary key or foreign key violation; and any of ent's constraint errors (which wrap
// the driver's). It reads the drivers' error types, never their messages, through any wrapping.
//
// Only a caller that runs the whole transaction again, with what it reads again, may retry: a
// duplicate key is a lost race there, but a value the client chose elsewhere.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case mysqlDeadlock, mysqlLockWaitTimeout, mysqlDuplicateKey, mysqlNoReferencedRow:
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch code := se.Code(); {
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED:
			return true
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
			code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return true
		}
		return false
	}
	return ent.IsConstraintError(err)
}

// Backoff is how long to wait before the attempt-th retry (from 1) of work that lost a race:
// between half and all of base·2^attempt, at most base·32, at random, so that the work that met
// once does not meet again at once.
func Backoff(attempt int, base time.Duration) time.Duration {
	ceiling := base << min(attempt, 5)
	return ceiling/2 + rand.N(ceiling/2+1)
}

// Wait waits d, or less when ctx ends first; it reports whether ctx is still live.
func Wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// IsDeadlock reports whether err is a lock conflict that running the same transaction again
// resolves, and nothing else: on MySQL/MariaDB a deadlock (1213, also how Galera reports a
// write set that lost certification to another node's) or a lock wait timeout (1205); on
// SQLite a locked table, or a read transaction whose snapshot another writer made stale
// (SQLITE_BUSY_SNAPSHOT). A plain busy SQLite database is not one: the connection already
// waited busy_timeout for it. Unlike IsRetryable it leaves out constraint violations, so that
// a write whose duplicate key is a real conflict (a name the client chose) may retry through
// it.
func IsDeadlock(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == mysqlDeadlock || me.Number == mysqlLockWaitTimeout
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_LOCKED || se.Code() == sqlite3.SQLITE_BUSY_SNAPSHOT
	}
	return false
}

// Retry runs fn, and again up to attempts times in all while it fails with an error retryable
// reports (IsRetryable when nil), waiting Backoff(attempt, base) between attempts. It returns
// nil, fn's first error that is not retryable, or fn's last error when the attempts ran out or
// ctx ended between them. fn must run its whole transaction each time, reading again what it
// reads.
func Retry(ctx context.Context, attempts int, base time.Duration, retryable func(error) bool, fn func() error) error {
	if retryable == nil {
		retryable = IsRetryable
	}
	var err error
	for i := range max(attempts, 1) {
		if i > 0 && !Wait(ctx, Backoff(i, base)) {
			break
		}
		if err = fn(); err == nil || !retryable(err) {
			return err
		}
	}
	return err
}

// TxStatements returns the context for the statements of a short transaction begun with ctx:
// ctx's values without its end. The transaction itself keeps ctx: once ctx ends, database/sql
// rolls it back as soon as the statement running then returns, and the transaction's next
// statement or its commit fails (TxEnded reports why). What this saves is the drivers' watch of
// every statement: modernc.org/sqlite starts a goroutine and installs a progress handler for
// each statement whose context can end, and go-sql-driver/mysql stops a query whose context
// ended by closing its connection, so a client that goes away in the middle of a login would
// cost the pool a connection. Only for transactions of index lookups and single-row writes (a
// login), whose statements end on their own: a statement that waits for a lock another
// transaction holds waits at most the database's lock timeout after its request ended (SQLite's
// busy_timeout, 5 s; MariaDB's innodb_lock_wait_timeout, 50 s unless the server sets less).
func TxStatements(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// TxEnded is err, or, when ctx (the context a transaction began with) has ended, ctx's cause
// wrapping err: a transaction rolled back because its request ended fails its next statement
// with sql.ErrTxDone, which says less.
func TxEnded(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}
