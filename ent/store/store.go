// Package store opens the database behind the ent client: SQLite (modernc.org/sqlite, the
// embedded default) or MySQL/MariaDB (go-sql-driver/mysql), migrates it with the versioned
// migration files of ent/migrate/migrations (migrate.go), and watches its health.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"ariga.io/atlas/sql/migrate"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"entgo.io/ent/dialect"

	"github.com/community/sso/ent"
	_ "github.com/community/sso/ent/runtime" // schema defaults and validators
)

// Drivers this package opens.
const (
	SQLite = "sqlite"
	MySQL  = "mysql"
)

// DB is an open database: the ent client and the *sql.DB pools beneath it.
//
// On a SQLite file the client runs on two pools of the same file (see SQLiteWriters): SQL is the
// writer, one connection that every write transaction and write statement queues for, and Read is
// the pool of readers (query_only) that SELECTs outside a transaction use. Whoever holds a
// transaction on SQL holds up every writer of the process meanwhile. Everywhere else (MySQL,
// in-memory SQLite) Read is SQL.
type DB struct {
	Client *ent.Client
	SQL    *sql.DB
	Read   *sql.DB
	Driver string

	ready      atomic.Bool
	migrations migrate.Dir // the migration files; nil: those of package migrations
	galera     bool        // a Galera node (wsrep_on=ON)
	mariadb    bool        // the MySQL server is MariaDB

}

// Options tune Open.
type Options struct {
	// Dir is created (0700) before a SQLite file database is opened.
	Dir string
	// PingTimeout bounds the first connection; 0 means 10s.
	PingTimeout time.Duration
	// WrapDriver, when set, wraps the ent driver (tests count statements with it).
	WrapDriver func(dialect.Driver) dialect.Driver
}

// Open connects to the database named by driver and dsn and checks that it answers.
func Open(ctx context.Context, driverName, dsn string, opts Options) (*DB, error) {
	if opts.PingTimeout == 0 {
		opts.PingTimeout = 10 * time.Second
	}
	var dial string
	switch driverName {
	case SQLite:
		dial = dialect.SQLite
		if opts.Dir != "" {
			if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: create data folder: %w", err)
			}
		}
	case MySQL:
		dial = dialect.MySQL
		dsn = nodesDSN(dsn) // several nodes: each connection to the first that answers
	default:
		return nil, fmt.Errorf("store: unknown driver %q", driverName)
	}
	db, err := openCaching(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", driverName, err)
	}
	switch driverName {
	case SQLite:
		if isMemory(dsn) {
			// An in-memory database lives as long as its connection: keep exactly one.
			db.SetMaxOpenConns(1)
			db.SetMaxIdleConns(1)
			db.SetConnMaxLifetime(0)
			db.SetConnMaxIdleTime(0)
		} else {
			db.SetMaxOpenConns(SQLiteWriters)
			db.SetMaxIdleConns(SQLiteWriters)
			db.SetConnMaxLifetime(0)
			db.SetConnMaxIdleTime(0)
		}
	case MySQL:
		sizeMySQLPool(db)
	}
	pctx, cancel := context.WithTimeout(ctx, opts.PingTimeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", driverName, redact(err))
	}
	galera, mariadb := false, false
	if driverName == MySQL {
		if galera, mariadb, err = isGalera(pctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: connect to %s: %w", driverName, redact(err))
		}
		if galera {
			// Reads wait until the node has applied what the cluster committed before them,
			// so that a write on another node is seen at once (docs/SCALING.md).
			if db, err = reopenWithSyncWait(pctx, db, dsn); err != nil {
				return nil, fmt.Errorf("store: connect to %s: %w", driverName, redact(err))
			}
		}
	}
	var drv dialect.Driver = entsql.OpenDB(dial, db)
	read := db
	if driverName == SQLite && !isMemory(dsn) {
		// The writer's connection made the file and put it in WAL mode; the readers open it next.
		if read, err = openSQLiteReaders(pctx, dsn); err != nil {
			db.Close()
			return nil, err
		}
		drv = newSplitDriver(dial, db, read)
	}
	if opts.WrapDriver != nil {
		drv = opts.WrapDriver(drv)
	}
	d := &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: db, Read: read, Driver: driverName, galera: galera, mariadb: mariadb}
	d.Client.User.Use(keepAnAdmin)
	d.Client.Settings.Use(keepASignInMethod)
	d.ready.Store(true)
	return d, nil
}

// Galera reports whether the database is a MariaDB Galera node (wsrep_on=ON), where the server
// takes its migration lock in a row and its connections wait for causality (wsrep_sync_wait).
func (d *DB) Galera() bool { return d.galera }

// GaleraSyncWait is the wsrep_sync_wait the connections to a Galera node set unless the DSN sets
// its own: 1, reads (SELECT, SHOW, BEGIN) wait until the node has applied every write the
// cluster committed before them.
const GaleraSyncWait = "1"

// isGalera reports whether the MySQL server behind db runs with wsrep_on=ON, and whether it is
// MariaDB.
func isGalera(ctx context.Context, db *sql.DB) (galera, mariadb bool, err error) {
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return false, false, err
	}
	mariadb = strings.Contains(strings.ToLower(version), "mariadb")
	var name, value string
	err = db.QueryRowContext(ctx, "SHOW VARIABLES LIKE 'wsrep_on'").Scan(&name, &value)
	if errors.Is(err, sql.ErrNoRows) {
		return false, mariadb, nil
	}
	if err != nil {
		return false, mariadb, err
	}
	return strings.EqualFold(value, "ON"), mariadb, nil
}

// checkQuery is the round trip of Check. On a MariaDB Galera node it asks whether the node
// answers, not whether it caught up with the cluster: a read that waits for causality
// (wsrep_sync_wait) waits meanwhile for a node the cluster is evicting.
func (d *DB) checkQuery() string {
	if d.galera && d.mariadb {
		return "SET STATEMENT wsrep_sync_wait = 0 FOR SELECT 1"
	}
	return "SELECT 1"
}

// reopenWithSyncWait closes db and opens the pool again with wsrep_sync_wait set on each
// connection (GaleraSyncWait), unless the DSN sets it already.
func reopenWithSyncWait(ctx context.Context, db *sql.DB, dsn string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, ok := cfg.Params["wsrep_sync_wait"]; ok {
		return db, nil
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["wsrep_sync_wait"] = GaleraSyncWait
	db.Close()
	next, err := openCaching(MySQL, cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	sizeMySQLPool(next)
	if err := next.PingContext(ctx); err != nil {
		next.Close()
		return nil, err
	}
	return next, nil
}

// sizeMySQLPool sets the limits of a MySQL pool.
func sizeMySQLPool(db *sql.DB) {
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(16)
	db.SetConnMaxLifetime(5 * time.Minute)
	db.SetConnMaxIdleTime(time.Minute)
}

// openCaching opens a pool whose connections keep their prepared statements (see
// SQLiteStatementCacheSize).
func openCaching(driverName, dsn string) (*sql.DB, error) {
	probe, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	_ = probe.Close()
	if driverName == SQLite {
		conn, err := connectorFor(drv, dsn)
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(cachingConnector{Connector: conn, size: SQLiteStatementCacheSize, noArgs: true, begin: sqliteBegin(dsn)}), nil
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var conn driver.Connector
	if cfg.Net == nodesNet {
		conn, err = newNodesConnector(drv, cfg)
	} else {
		conn, err = mysql.NewConnector(cfg)
	}
	if err != nil {
		return nil, err
	}
	if cfg.InterpolateParams {
		// The driver puts the arguments into the text itself: nothing is prepared, so there is
		// nothing to keep.
		return sql.OpenDB(conn), nil
	}
	return sql.OpenDB(cachingConnector{Connector: conn, size: MySQLStatementCacheSize, full: tooManyPrepared}), nil
}

// sqliteBegin is the statement that begins a transaction on the SQLite database at dsn: BEGIN
// with the DSN's _txlock mode (deferred, immediate or exclusive; the driver refuses others), as
// modernc.org/sqlite begins one.
func sqliteBegin(dsn string) string {
	_, query, _ := strings.Cut(dsn, "?")
	q, _ := url.ParseQuery(query)
	if mode := q.Get("_txlock"); mode != "" {
		return "BEGIN " + strings.ToUpper(mode)
	}
	return "BEGIN"
}

// openSQLiteReaders opens and pings the reader pool of the SQLite file database at dsn.
func openSQLiteReaders(ctx context.Context, dsn string) (*sql.DB, error) {
	rdsn, err := sqliteReaderDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite readers: %w", err)
	}
	read, err := openCaching(SQLite, rdsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite readers: %w", err)
	}
	read.SetMaxOpenConns(SQLiteReaders)
	read.SetMaxIdleConns(SQLiteReaders)
	if err := read.PingContext(ctx); err != nil {
		read.Close()
		return nil, fmt.Errorf("store: connect to sqlite readers: %w", err)
	}
	return read, nil
}

// tooManyPrepared reports MySQL's "Can't create more than max_prepared_stmt_count statements".
func tooManyPrepared(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1461
}

func isMemory(dsn string) bool {
	return strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// redact keeps a driver error but drops anything that could carry a password.
func redact(err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Errorf("mysql error %d: %s", me.Number, me.Message)
	}
	return err
}

// Close closes the client and the connections.
func (d *DB) Close() error {
	return d.Client.Close()
}

// Check pings the database within two seconds and records the outcome for Ready. It asks the
// read pool, so that a long write transaction on a SQLite file does not read as an outage.
func (d *DB) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := d.Read.PingContext(ctx)
	if err == nil {
		// A ping can succeed on an idle pooled connection while the server is gone;
		// a real round trip tells.
		var one int
		err = d.Read.QueryRowContext(ctx, d.checkQuery()).Scan(&one)
	}
	d.ready.Store(err == nil)
	if err != nil {
		return fmt.Errorf("store: database unavailable: %w", redact(err))
	}
	return nil
}

// Ready reports the outcome of the last Check (or of a failure seen by MarkFailure).
func (d *DB) Ready() bool { return d.ready.Load() }

// MarkFailure records err when it says the database is out of reach, so that requests are
// refused quickly until the next successful Check.
func (d *DB) MarkFailure(err error) {
	if IsUnavailable(err) {
		d.ready.Store(false)
	}
}

// Watch checks the database every interval until ctx ends.
func (d *DB) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = d.Check(ctx)
		}
	}
}

// IsUnavailable reports whether err says the database cannot be reached (as opposed to a
// query that the database refused).
func IsUnavailable(err error) bool {
	// A cancelled or timed-out context says nothing of the database (context.DeadlineExceeded
	// is also a net.Error, tested below).
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe)
}

// SQLiteDSN is the DSN for a SQLite file database with the pragmas the server needs:
// foreign keys on, WAL, a busy timeout, and write transactions that take the lock up front. Open
// derives the readers' DSN from it (deferred transactions, query_only).
func SQLiteDSN(path string) string {
	return "file:" + filepath.ToSlash(path) + "?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"
}

// SQLiteMemoryDSN is the DSN for a private in-memory SQLite database.
func SQLiteMemoryDSN(name string) string {
	return "file:" + name + "?mode=memory&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)"
}

// driverLogger sends the MySQL driver's own messages (dropped connections and the like) to the
// server's structured log instead of standard error.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Print(v ...any) {
	l.log.Warn("store: mysql driver", "msg", strings.TrimSpace(fmt.Sprint(v...)))
}

// SetDriverLog routes the MySQL driver's messages to log (the driver's logger is process-wide).
func SetDriverLog(log *slog.Logger) {
	_ = mysql.SetLogger(driverLogger{log})
}
