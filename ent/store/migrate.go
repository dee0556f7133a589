package store

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/mysql"
	atlas "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	entschema "entgo.io/ent/dialect/sql/schema"

	"github.com/community/sso/ent/migrate/migrations"
)

// Versioned migrations: the schema is the migration files of package migrations, applied in
// order by atlas's migrate.Executor, which records each in the revisions table (and, should a
// file fail part-way, how far it got, so that the next run resumes at the statement that
// failed). Everything a migration does runs on one connection, the one that holds the
// migration lock on MySQL/MariaDB.
//
// A database laid out by the automatic migration of the releases before versioned migrations has
// the tables but no revisions. It is brought to the baseline (the first file) with ent's
// automatic migration of the frozen baseline tables (migrations.Baseline), which also mends the
// layouts of older releases (TINYBLOB token hashes, folding collations on identifiers), verified
// to match it, and the baseline is recorded as applied; the later files then run.
//
// Indexes the schema does not know (an operator's) are never dropped: the files never name them,
// adoption drops only the indexes and tables earlier releases made and the baseline no longer
// has, and on SQLite, where atlas rebuilds a table to change it (dropping its indexes), every
// such index the migration took away is made again afterwards.

// revisionsTable records the migration files applied to the database, with atlas's columns.
const revisionsTable = "atlas_schema_revisions"

// operatorVersion is what the revisions record as the program that applied a file.
const operatorVersion = "community-sso"

// obsoleteIndexes are indexes of the schema's tables that earlier releases made and the
// baseline no longer has: security_events' rate-limit indexes, before login failures got a
// table of their own. Adoption drops these, and only these.
var obsoleteIndexes = map[string][]string{
	"security_events": {"securityevent_type_ip_created_at", "securityevent_type_subject_created_at"},
}

// obsoleteTables are tables of earlier releases that the baseline no longer has: login_failures
// gave way to login_throttles' counters (its rows only counted for 15 minutes, so nothing is
// carried over). Adoption drops them.
var obsoleteTables = []string{"login_failures"}

// MigrationStatus is where the database stands against the migration files built into the binary.
type MigrationStatus struct {
	// Current is the version of the last file applied (or adopted), "" when none is.
	Current string
	// Pending names the files that have not run yet, in the order they will; a file that failed
	// part-way is among them.
	Pending []string
	// Adopt says the database has the schema's tables but no revisions: the automatic
	// migration of the releases before versioned migrations laid it out. The baseline,
	// Pending[0], is then adopted rather than run.
	Adopt bool
	// Ahead lists the applied versions the binary has no file for: a newer release migrated
	// the database.
	Ahead []string
	// Dirty describes the file that failed part-way ("" when none did): its version, how many
	// of its statements ran, and the error.
	Dirty string
}

// Behind reports whether files are pending (or one failed part-way).
func (s *MigrationStatus) Behind() bool { return len(s.Pending) > 0 || s.Dirty != "" }

// MigrationReport is what MigrateUp did.
type MigrationReport struct {
	// Applied names the files applied, in order; an adopted baseline reads "NAME (adopted)".
	Applied []string
	// Warnings are what the operator should know, such as an index of theirs that a migration
	// took away and that could not be made again (a column it used is gone).
	Warnings []string
}

// Migrate applies the pending migration files (MigrateUp) and keeps only the error.
func (d *DB) Migrate(ctx context.Context) error {
	_, err := d.MigrateUp(ctx)
	return err
}

// MigrateUp brings the schema to the last migration file: it adopts a database of the releases
// before versioned migrations, then applies the pending files in order. On MySQL/MariaDB it holds
// an advisory lock meanwhile, so that replicas starting together apply each file once.
func (d *DB) MigrateUp(ctx context.Context) (*MigrationReport, error) {
	var rep *MigrationReport
	err := d.withMigrator(ctx, true, func(m *migrator) (err error) {
		rep, err = m.up(ctx)
		return err
	})
	if err != nil {
		return rep, fmt.Errorf("store: migrate: %w", err)
	}
	return rep, nil
}

// MigrationStatus tells where the database stands against the migration files, changing nothing.
func (d *DB) MigrationStatus(ctx context.Context) (*MigrationStatus, error) {
	var st *MigrationStatus
	err := d.withMigrator(ctx, false, func(m *migrator) (err error) {
		st, err = m.status(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: migration status: %w", err)
	}
	return st, nil
}

// migrator is one migration's connection and what it works with.
type migrator struct {
	driver string // SQLite or MySQL
	conn   *sql.Conn
	dir    migrate.Dir
	atlas  migrate.Driver
	revs   *revisions
}

// withMigrator runs fn on a connection of its own, holding the migration lock on MySQL/MariaDB
// when lock is set.
func (d *DB) withMigrator(ctx context.Context, lock bool, fn func(*migrator) error) error {
	dir := d.migrations
	if dir == nil {
		var err error
		if dir, err = migrations.Dir(DialectOf(d.Driver)); err != nil {
			return err
		}
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return redact(err)
	}
	defer conn.Close()
	if lock && d.Driver == MySQL {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 120)", migrateLock).Scan(&got); err != nil {
			return fmt.Errorf("take lock: %w", redact(err))
		}
		if got.Int64 != 1 {
			return errors.New("another instance held the migration lock for 2 minutes")
		}
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", migrateLock) }()
		if d.galera {
			// GET_LOCK holds on one node only: replicas on other nodes meet at the lock row.
			release, err := d.takeLeaseLock(ctx)
			if err != nil {
				return err
			}
			defer release()
		}
	}
	m := &migrator{driver: d.Driver, conn: conn, dir: dir, revs: &revisions{conn: conn, driver: d.Driver}}
	if d.Driver == MySQL {
		m.atlas, err = mysql.Open(conn)
	} else {
		m.atlas, err = sqlite.Open(conn)
	}
	if err != nil {
		return redact(err)
	}
	return fn(m)
}

// migrateLock names the MySQL advisory lock that keeps replicas starting together from migrating
// the same schema at once.
const migrateLock = "community_sso_migrate"

// leaseTable holds the migration lock of a Galera cluster: one row, taken by an autocommitted
// conditional UPDATE. Galera certifies write sets cluster-wide, so of two nodes that take it at
// once one wins and the other's commit fails (1213) or changes no row; a lease that is not
// renewed (its holder died) expires.
const leaseTable = "sso_migration_lock"

// Lease timing of the Galera migration lock: how long a lease lasts unrenewed, how often its
// holder renews it, how long a migrator waits for it, and how long one renewal or the release
// may take.
//
// A schema change on Galera (total order isolation) holds every other commit of the cluster
// back while it runs, the holder's renewals included: the lease outlasts a long one, so that no
// other migrator takes it meanwhile, and a migrator waits longer than that for a holder that
// died mid-migration.
var (
	leaseTTL       = 10 * time.Minute
	leaseRenew     = 15 * time.Second
	leaseWaitFor   = leaseTTL + time.Minute
	leaseStatement = 30 * time.Second
)

// takeLeaseLock takes the Galera migration lock row, waiting for its holder (at most
// leaseWaitFor), and returns its release; a goroutine renews the lease until then.
func (d *DB) takeLeaseLock(ctx context.Context) (release func(), err error) {
	create := "CREATE TABLE IF NOT EXISTS `" + leaseTable + "` (`id` int NOT NULL, `holder` varchar(64) NOT NULL, " +
		"`expires` datetime(6) NOT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB"
	if _, err := d.SQL.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("create %s: %w", leaseTable, redact(err))
	}
	holder := randomToken()
	take := func() (bool, error) {
		if _, err := d.SQL.ExecContext(ctx, "INSERT IGNORE INTO `"+leaseTable+"` (`id`, `holder`, `expires`) VALUES (1, '', UTC_TIMESTAMP(6))"); err != nil {
			return false, err
		}
		res, err := d.SQL.ExecContext(ctx, "UPDATE `"+leaseTable+"` SET `holder` = ?, `expires` = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND "+
			"WHERE `id` = 1 AND (`holder` = '' OR `expires` < UTC_TIMESTAMP(6))", holder, leaseTTL.Microseconds())
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	deadline := time.Now().Add(leaseWaitFor)
	for attempt := 1; ; attempt++ {
		got, err := take()
		switch {
		case err != nil && !IsDeadlock(err):
			return nil, fmt.Errorf("take %s: %w", leaseTable, redact(err))
		case got:
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				t := time.NewTicker(leaseRenew)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						// A renewal that fails is tried at the next tick; the lease has minutes left.
						rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseStatement)
						_, _ = d.SQL.ExecContext(rctx, "UPDATE `"+leaseTable+"` SET `expires` = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND "+
							"WHERE `id` = 1 AND `holder` = ?", leaseTTL.Microseconds(), holder)
						cancel()
					}
				}
			}()
			return func() {
				close(stop)
				<-done
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseStatement)
				defer cancel()
				_ = Retry(rctx, 5, 20*time.Millisecond, IsDeadlock, func() error {
					_, err := d.SQL.ExecContext(rctx, "UPDATE `"+leaseTable+"` SET `holder` = '' WHERE `id` = 1 AND `holder` = ?", holder)
					return err
				})
			}, nil
		}
		// Lost the race (1213) or the lease is held: wait and look again.
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another instance held the migration lock for %v", leaseWaitFor)
		}
		if !Wait(ctx, Backoff(min(attempt, 4), 50*time.Millisecond)) {
			return nil, ctx.Err()
		}
	}
}

// randomToken names a lock holder.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// DialectOf is the ent dialect of a driver this package opens (SQLite or MySQL).
func DialectOf(driver string) string {
	if driver == MySQL {
		return dialect.MySQL
	}
	return dialect.SQLite
}

func (m *migrator) status(ctx context.Context) (*MigrationStatus, error) {
	if err := migrate.Validate(m.dir); err != nil {
		return nil, fmt.Errorf("migration files: %w", err)
	}
	files, err := m.dir.Files()
	if err != nil {
		return nil, err
	}
	revs, err := m.revs.readIfExists(ctx)
	if err != nil {
		return nil, err
	}
	st := &MigrationStatus{}
	if len(revs) == 0 {
		if st.Adopt, err = m.hasTable(ctx, "users"); err != nil {
			return nil, err
		}
		for _, f := range files {
			st.Pending = append(st.Pending, f.Name())
		}
		return st, nil
	}
	known := map[string]bool{}
	for _, f := range files {
		known[f.Version()] = true
	}
	for _, r := range revs {
		if !known[r.Version] {
			st.Ahead = append(st.Ahead, r.Version)
		}
		if r.Applied == r.Total && r.Error == "" {
			st.Current = r.Version
		} else {
			st.Dirty = fmt.Sprintf("%s_%s.sql: %d of %d statements applied", r.Version, r.Description, r.Applied, r.Total)
			if r.Error != "" {
				st.Dirty += ": " + r.Error
			}
		}
	}
	ex, err := migrate.NewExecutor(m.atlas, m.dir, m.revs)
	if err != nil {
		return nil, err
	}
	pending, err := ex.Pending(ctx)
	var missing *migrate.MissingMigrationError
	switch {
	case errors.Is(err, migrate.ErrNoPendingFiles), errors.As(err, &missing):
		// Nothing to run here; a part-way file of a newer release shows in Ahead and Dirty.
	case err != nil:
		return nil, err
	}
	for _, f := range pending {
		st.Pending = append(st.Pending, f.Name())
	}
	return st, nil
}

func (m *migrator) up(ctx context.Context) (*MigrationReport, error) {
	rep := &MigrationReport{}
	if err := migrate.Validate(m.dir); err != nil {
		return rep, fmt.Errorf("migration files: %w", err)
	}
	files, err := m.dir.Files()
	if err != nil {
		return rep, err
	}
	if len(files) == 0 {
		return rep, errors.New("no migration files")
	}
	if err := m.revs.create(ctx); err != nil {
		return rep, err
	}
	revs, err := m.revs.ReadRevisions(ctx)
	if err != nil {
		return rep, err
	}
	keep, err := m.foreignIndexes(ctx, files)
	if err != nil {
		return rep, err
	}
	log := &fileLog{}
	opts := []migrate.ExecutorOption{migrate.WithLogger(log), migrate.WithOperatorVersion(operatorVersion)}
	if len(revs) == 0 {
		legacy, err := m.hasTable(ctx, "users")
		if err != nil {
			return rep, err
		}
		if legacy {
			if err := m.adopt(ctx); err != nil {
				return rep, fmt.Errorf("adopt %s: %w", files[0].Name(), err)
			}
			opts = append(opts, migrate.WithBaselineVersion(files[0].Version()))
			rep.Applied = append(rep.Applied, files[0].Name()+" (adopted)")
		} else {
			// Tables of someone else's in the database are no reason to refuse.
			opts = append(opts, migrate.WithAllowDirty(true))
		}
	}
	ex, err := migrate.NewExecutor(m.atlas, m.dir, m.revs, opts...)
	if err != nil {
		return rep, err
	}
	err = ex.ExecuteN(ctx, 0)
	rep.Applied = append(rep.Applied, log.files...)
	var missing *migrate.MissingMigrationError
	switch {
	case errors.Is(err, migrate.ErrNoPendingFiles):
		err = nil
	case errors.As(err, &missing):
		err = fmt.Errorf("the database is ahead of this binary: %w", err)
	}
	rep.Warnings = append(rep.Warnings, m.restoreIndexes(ctx, keep)...)
	return rep, err
}

// adopt brings a database of the releases before versioned migrations to the baseline layout,
// dropping no index or column the baseline does not name (but the obsolete ones), and checks
// that nothing is left to change.
func (m *migrator) adopt(ctx context.Context) error {
	drv := &connDriver{Conn: entsql.Conn{ExecQuerier: m.conn}, conn: m.conn, dialect: DialectOf(m.driver)}
	opts := []entschema.MigrateOption{
		entschema.WithSkipChanges(entschema.DropColumn),
		entschema.WithDiffHook(keepUnknownIndexes),
	}
	mg, err := entschema.NewMigrate(drv, opts...)
	if err != nil {
		return err
	}
	if err := mg.Create(ctx, migrations.Baseline()...); err != nil {
		return redact(err)
	}
	for _, table := range obsoleteTables {
		if _, err := m.conn.ExecContext(ctx, "DROP TABLE IF EXISTS `"+table+"`"); err != nil {
			return fmt.Errorf("drop %s: %w", table, redact(err))
		}
	}
	// The check: planning again must find nothing to do.
	var left []string
	check, err := entschema.NewMigrate(drv, append(opts, entschema.WithApplyHook(func(entschema.Applier) entschema.Applier {
		return entschema.ApplyFunc(func(_ context.Context, _ dialect.ExecQuerier, plan *migrate.Plan) error {
			for _, c := range plan.Changes {
				left = append(left, c.Cmd)
			}
			return nil
		})
	}))...)
	if err != nil {
		return err
	}
	if err := check.Create(ctx, migrations.Baseline()...); err != nil {
		return redact(err)
	}
	if len(left) > 0 {
		return fmt.Errorf("the layout still differs from the baseline after the automatic migration: %s", strings.Join(left, "; "))
	}
	return nil
}

// keepUnknownIndexes is the diff hook of adoption: of the indexes the baseline does not have,
// only the obsolete ones are dropped (and those dropped to be made again in another form).
func keepUnknownIndexes(next entschema.Differ) entschema.Differ {
	return entschema.DiffFunc(func(current, desired *atlas.Schema) ([]atlas.Change, error) {
		changes, err := next.Diff(current, desired)
		if err != nil {
			return nil, err
		}
		for _, c := range changes {
			mt, ok := c.(*atlas.ModifyTable)
			if !ok {
				continue
			}
			added := map[string]bool{}
			for _, tc := range mt.Changes {
				if a, ok := tc.(*atlas.AddIndex); ok {
					added[a.I.Name] = true
				}
			}
			mt.Changes = slices.DeleteFunc(mt.Changes, func(tc atlas.Change) bool {
				di, ok := tc.(*atlas.DropIndex)
				return ok && !added[di.I.Name] && !slices.Contains(obsoleteIndexes[mt.T.Name], di.I.Name)
			})
		}
		return changes, nil
	})
}

// hasTable reports whether the database has the table.
func (m *migrator) hasTable(ctx context.Context, name string) (bool, error) {
	return tableExists(ctx, m.conn, m.driver, name)
}

// tableExists reports whether the database of conn (SQLite or MySQL, driver) has the table.
func tableExists(ctx context.Context, conn *sql.Conn, driver, name string) (bool, error) {
	q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if driver == MySQL {
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?"
	}
	var n int
	if err := conn.QueryRowContext(ctx, q, name).Scan(&n); err != nil {
		return false, redact(err)
	}
	return n > 0, nil
}

// foreignIndex is an index the migration files never name, with the statement that makes it.
type foreignIndex struct{ name, table, sql string }

// foreignIndexes lists, on SQLite, the indexes the migration files never name (an operator's),
// which a table rebuild would take away. MySQL/MariaDB change tables in place and keep them.
func (m *migrator) foreignIndexes(ctx context.Context, files []migrate.File) ([]foreignIndex, error) {
	if m.driver != SQLite {
		return nil, nil
	}
	rows, err := m.conn.QueryContext(ctx, "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []foreignIndex
	for rows.Next() {
		var ix foreignIndex
		if err := rows.Scan(&ix.name, &ix.table, &ix.sql); err != nil {
			return nil, err
		}
		named := slices.Contains(obsoleteIndexes[ix.table], ix.name) || slices.ContainsFunc(files, func(f migrate.File) bool {
			return strings.Contains(string(f.Bytes()), "`"+ix.name+"`")
		})
		if !named {
			out = append(out, ix)
		}
	}
	return out, rows.Err()
}

// restoreIndexes makes again the indexes of keep that are gone while their table is still there,
// and returns a warning for each it could not make.
func (m *migrator) restoreIndexes(ctx context.Context, keep []foreignIndex) []string {
	var warnings []string
	for _, ix := range keep {
		var n int
		err := m.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?", ix.name).Scan(&n)
		if err == nil && n > 0 {
			continue // still there
		}
		if err == nil {
			var table bool
			if table, err = m.hasTable(ctx, ix.table); err == nil && !table {
				continue // its table is gone
			}
		}
		if err == nil {
			_, err = m.conn.ExecContext(ctx, ix.sql)
		}
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("index %s on %s, which a migration took away, could not be made again: %v", ix.name, ix.table, err))
		}
	}
	return warnings
}

// fileLog collects the names of the files the executor starts.
type fileLog struct{ files []string }

func (l *fileLog) Log(e migrate.LogEntry) {
	if f, ok := e.(migrate.LogFile); ok {
		l.files = append(l.files, f.File.Name())
	}
}

// connDriver is an ent driver on one connection, transactions included.
type connDriver struct {
	entsql.Conn
	conn    *sql.Conn
	dialect string
}

func (d *connDriver) Dialect() string { return d.dialect }
func (d *connDriver) Close() error    { return nil }

func (d *connDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: tx}, Tx: tx}, nil
}

// revisions is the revisions table, atlas's migrate.RevisionReadWriter, on the migration's
// connection.
type revisions struct {
	conn   *sql.Conn
	driver string
}

var _ migrate.RevisionReadWriter = (*revisions)(nil)

// Ident names the table, so that atlas does not count it as a table of the schema.
func (r *revisions) Ident() *migrate.TableIdent { return &migrate.TableIdent{Name: revisionsTable} }

// create makes the table when it is missing.
func (r *revisions) create(ctx context.Context) error {
	q := "CREATE TABLE IF NOT EXISTS `" + revisionsTable + "` (`version` text NOT NULL PRIMARY KEY, " +
		"`description` text NOT NULL, `type` integer NOT NULL DEFAULT 2, `applied` integer NOT NULL DEFAULT 0, " +
		"`total` integer NOT NULL DEFAULT 0, `executed_at` datetime NOT NULL, `execution_time` integer NOT NULL, " +
		"`error` text NULL, `error_stmt` text NULL, `hash` text NOT NULL, `partial_hashes` json NULL, " +
		"`operator_version` text NOT NULL)"
	if r.driver == MySQL {
		q = "CREATE TABLE IF NOT EXISTS `" + revisionsTable + "` (`version` varchar(255) NOT NULL, " +
			"`description` varchar(255) NOT NULL, `type` bigint unsigned NOT NULL DEFAULT 2, " +
			"`applied` bigint NOT NULL DEFAULT 0, `total` bigint NOT NULL DEFAULT 0, `executed_at` datetime(6) NOT NULL, " +
			"`execution_time` bigint NOT NULL, `error` longtext NULL, `error_stmt` longtext NULL, " +
			"`hash` varchar(255) NOT NULL, `partial_hashes` json NULL, `operator_version` varchar(255) NOT NULL, " +
			"PRIMARY KEY (`version`)) CHARSET utf8mb4 COLLATE utf8mb4_bin"
	}
	if _, err := r.conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("create %s: %w", revisionsTable, redact(err))
	}
	return nil
}

// readIfExists reads the revisions, none when the table is missing.
func (r *revisions) readIfExists(ctx context.Context) ([]*migrate.Revision, error) {
	exists, err := tableExists(ctx, r.conn, r.driver, revisionsTable)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	return r.ReadRevisions(ctx)
}

const revisionColumns = "`version`, `description`, `type`, `applied`, `total`, `executed_at`, `execution_time`, " +
	"`error`, `error_stmt`, `hash`, `partial_hashes`, `operator_version`"

// ReadRevisions returns every revision, in version order.
func (r *revisions) ReadRevisions(ctx context.Context) ([]*migrate.Revision, error) {
	return r.query(ctx, "SELECT "+revisionColumns+" FROM `"+revisionsTable+"` ORDER BY `version`")
}

// ReadRevision returns the revision of version, or migrate.ErrRevisionNotExist.
func (r *revisions) ReadRevision(ctx context.Context, version string) (*migrate.Revision, error) {
	revs, err := r.query(ctx, "SELECT "+revisionColumns+" FROM `"+revisionsTable+"` WHERE `version` = ?", version)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, migrate.ErrRevisionNotExist
	}
	return revs[0], nil
}

func (r *revisions) query(ctx context.Context, q string, args ...any) ([]*migrate.Revision, error) {
	rows, err := r.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", revisionsTable, redact(err))
	}
	defer rows.Close()
	var revs []*migrate.Revision
	for rows.Next() {
		var (
			rev              migrate.Revision
			elapsed          int64
			errText, errStmt sql.NullString
			partial          sql.NullString
			executedAt       time.Time
		)
		if err := rows.Scan(&rev.Version, &rev.Description, &rev.Type, &rev.Applied, &rev.Total, &executedAt,
			&elapsed, &errText, &errStmt, &rev.Hash, &partial, &rev.OperatorVersion); err != nil {
			return nil, fmt.Errorf("read %s: %w", revisionsTable, err)
		}
		rev.ExecutedAt, rev.ExecutionTime = executedAt, time.Duration(elapsed)
		rev.Error, rev.ErrorStmt = errText.String, errStmt.String
		if partial.Valid && partial.String != "" {
			if err := json.Unmarshal([]byte(partial.String), &rev.PartialHashes); err != nil {
				return nil, fmt.Errorf("read %s: partial hashes of %s: %w", revisionsTable, rev.Version, err)
			}
		}
		revs = append(revs, &rev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", revisionsTable, redact(err))
	}
	return revs, nil
}

// WriteRevision inserts or replaces the revision.
func (r *revisions) WriteRevision(ctx context.Context, rev *migrate.Revision) error {
	var partial any
	if len(rev.PartialHashes) > 0 {
		b, err := json.Marshal(rev.PartialHashes)
		if err != nil {
			return err
		}
		partial = string(b)
	}
	nullable := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	_, err := r.conn.ExecContext(ctx, "REPLACE INTO `"+revisionsTable+"` ("+revisionColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		rev.Version, rev.Description, uint64(rev.Type), rev.Applied, rev.Total, rev.ExecutedAt.UTC(), int64(rev.ExecutionTime),
		nullable(rev.Error), nullable(rev.ErrorStmt), rev.Hash, partial, rev.OperatorVersion)
	if err != nil {
		return fmt.Errorf("write %s: %w", revisionsTable, redact(err))
	}
	return nil
}

// DeleteRevision deletes the revision of version.
func (r *revisions) DeleteRevision(ctx context.Context, version string) error {
	if _, err := r.conn.ExecContext(ctx, "DELETE FROM `"+revisionsTable+"` WHERE `version` = ?", version); err != nil {
		return fmt.Errorf("delete from %s: %w", revisionsTable, redact(err))
	}
	return nil
}

// DescribeBehind names what is pending: the files, and the one that failed part-way.
func (st *MigrationStatus) DescribeBehind() string {
	var parts []string
	if len(st.Pending) > 0 {
		parts = append(parts, "pending "+strings.Join(st.Pending, ", "))
	}
	if st.Dirty != "" {
		parts = append(parts, "failed part-way: "+st.Dirty)
	}
	return strings.Join(parts, "; ")
}

// Print writes st for an operator, as `migrate status` shows it.
func (st *MigrationStatus) Print(w io.Writer) {
	switch {
	case st.Current != "":
		fmt.Fprintf(w, "current version: %s\n", st.Current)
	case st.Adopt:
		fmt.Fprintln(w, "current version: none: the tables of a release before versioned migrations, adopted by the baseline")
	default:
		fmt.Fprintln(w, "current version: none")
	}
	if len(st.Pending) == 0 {
		fmt.Fprintln(w, "pending: none")
	} else {
		fmt.Fprintf(w, "pending: %d\n", len(st.Pending))
		for i, f := range st.Pending {
			if i == 0 && st.Adopt {
				f += " (adopt: the layout is brought to it, no index of yours is dropped, then it is recorded as applied)"
			}
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if len(st.Ahead) > 0 {
		fmt.Fprintf(w, "ahead: the database has versions this release does not know (a newer release migrated it): %s\n", strings.Join(st.Ahead, ", "))
	}
	if st.Dirty != "" {
		fmt.Fprintf(w, "dirty: %s\n", st.Dirty)
	}
}
