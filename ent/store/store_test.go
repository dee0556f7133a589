package store_test

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

func TestUniqueIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		ext := "ext-1"
		u1 := c.User.Create().SetEmail("ann@example.com").SetUsername("ann").SetExternalID(ext).SaveX(ctx)
		sp := c.Space.Create().SetName("General").SetSlug("general").SaveX(ctx)
		pf := c.ProfileField.Create().SetKey("company").SetName("Company").SetType(profilefield.TypeTEXT).SaveX(ctx)
		c.SpaceMembership.Create().SetUserID(u1.ID).SetSpaceID(sp.ID).SaveX(ctx)
		c.ProfileFieldValue.Create().SetUserID(u1.ID).SetFieldID(pf.ID).SetKey("company").SetValue("Acme").SaveX(ctx)

		tests := []struct {
			name string
			do   func() error
		}{
			{"email", func() error {
				return c.User.Create().SetEmail("ann@example.com").SetUsername("ann-2").Exec(ctx)
			}},
			{"external id", func() error {
				return c.User.Create().SetEmail("bob@example.com").SetUsername("bob").SetExternalID(ext).Exec(ctx)
			}},
			{"username", func() error {
				return c.User.Create().SetEmail("bob@example.com").SetUsername("ann").Exec(ctx)
			}},
			{"space slug", func() error {
				return c.Space.Create().SetName("Other").SetSlug("general").Exec(ctx)
			}},
			{"profile field key", func() error {
				return c.ProfileField.Create().SetKey("company").SetName("Other").Exec(ctx)
			}},
			{"membership user and space", func() error {
				return c.SpaceMembership.Create().SetUserID(u1.ID).SetSpaceID(sp.ID).Exec(ctx)
			}},
			{"field value user and field", func() error {
				return c.ProfileFieldValue.Create().SetUserID(u1.ID).SetFieldID(pf.ID).SetKey("company").SetValue("Other").Exec(ctx)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.do()
				if !ent.IsConstraintError(err) {
					t.Fatalf("want a constraint error, got %v", err)
				}
				if store.IsUnavailable(err) {
					t.Fatalf("a constraint error is not an outage: %v", err)
				}
			})
		}
		// Several users may have no external id.
		c.User.Create().SetEmail("cy@example.com").SetUsername("cy").ExecX(ctx)
		c.User.Create().SetEmail("di@example.com").SetUsername("di").ExecX(ctx)
		if n := c.User.Query().CountX(ctx); n != 3 {
			t.Fatalf("users = %d, want 3", n)
		}
	})
}

func TestIdentifiersMustBeCanonical(t *testing.T) {
	db := storetest.SQLite(t)
	for _, tc := range []struct {
		field string
		c     *ent.UserCreate
	}{
		{user.FieldEmail, db.Client.User.Create().SetEmail("Ann@Example.com").SetUsername("ann")},
		{user.FieldEmail, db.Client.User.Create().SetEmail("\u212Aim@example.com").SetUsername("kim")},
		{user.FieldEmail, db.Client.User.Create().SetEmail("ad\u200Bmin@example.com").SetUsername("admin")},
		{user.FieldExternalID, db.Client.User.Create().SetEmail("a@example.com").SetUsername("a").SetExternalID(" x ")},
		{user.FieldUsername, db.Client.User.Create().SetEmail("b@example.com").SetUsername("b\u00ADob")},
	} {
		err := tc.c.Exec(context.Background())
		var verr *ent.ValidationError
		if !errors.As(err, &verr) || verr.Name != tc.field {
			t.Errorf("want a validation error on %s, got %v", tc.field, err)
		}
	}
}

func TestCascadeAndSensitive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("ann@example.com").SetUsername("ann").SetPasswordHash("$argon2id$secret-hash").SaveX(ctx)
		c.Session.Create().SetUserID(u.ID).SetTokenHash(make([]byte, 32)).SetMethod(session.MethodPASSWORD).
			SetExpiresAt(u.CreatedAt.Add(1e12)).SetLastSeenAt(u.CreatedAt).SetRefreshToken([]byte("sealed-refresh")).SaveX(ctx)
		if s := fmt.Sprint(u); strings.Contains(s, "secret-hash") {
			t.Fatalf("User.String() shows the password hash: %s", s)
		}
		s := c.Session.Query().OnlyX(ctx)
		if str := s.String(); strings.Contains(str, "sealed-refresh") {
			t.Fatalf("Session.String() shows the refresh token: %s", str)
		}
		c.User.DeleteOne(u).ExecX(ctx)
		if n := c.Session.Query().CountX(ctx); n != 0 {
			t.Fatalf("sessions after deleting the user = %d, want 0", n)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name, driver, dsn string
	}{
		{"unreachable mysql", store.MySQL, "root:hunter2@tcp(" + addr + ")/test?parseTime=true&timeout=2s"},
		{"unknown driver", "postgres", "x"},
		{"sqlite in a missing folder", store.SQLite, store.SQLiteDSN("/nonexistent/folder/db.sqlite")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.Open(ctx, tt.driver, tt.dsn, store.Options{})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), "store: ") || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error %q: want a store: prefix and no password", err)
			}
		})
	}
}

func TestSQLiteFileCreatesFolder(t *testing.T) {
	dir := t.TempDir() + "/nested/data"
	db, err := store.Open(context.Background(), store.SQLite, store.SQLiteDSN(dir+"/community.db"), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.SQL.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.SQL.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if err := db.Check(context.Background()); err != nil || !db.Ready() {
		t.Fatalf("Check = %v, Ready = %v", err, db.Ready())
	}
}

// TestConcurrentMigrations: replicas that start together on an empty MySQL/MariaDB database
// migrate one after the other, and all of them start.
func TestConcurrentMigrations(t *testing.T) {
	dsn := storetest.NewMySQLDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := store.Open(context.Background(), store.MySQL, dsn, store.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(context.Background())
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migration: %v", err)
		}
	}
}

// TestStatementCacheOnMySQL counts, with the server's own counter, the statements one connection
// prepares: a statement with arguments is prepared once and then only executed, in and out of
// transactions.
func TestStatementCacheOnMySQL(t *testing.T) {
	db := storetest.Open(t, store.MySQL, storetest.Options{})
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prepares := func() int {
		t.Helper()
		var name string
		var n int
		if err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Com_stmt_prepare'").Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const q = "SELECT COUNT(*) FROM users WHERE email <> ?"
	before := prepares()
	for i := range 5 {
		var n int
		if err := conn.QueryRowContext(ctx, q, fmt.Sprint("x", i)).Scan(&n); err != nil || n != 0 {
			t.Fatalf("run %d: %d, %v", i, n, err)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := tx.ExecContext(ctx, "INSERT INTO spaces (name, slug, created_at) VALUES (?, ?, NOW())", "S", fmt.Sprint("s", i)); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, q, "y").Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := prepares() - before; got != 2 {
		t.Fatalf("the connection prepared %d statements for 11 runs of 2, want 2", got)
	}
	if n := db.Client.Space.Query().CountX(ctx); n != 3 {
		t.Fatalf("%d spaces, want 3", n)
	}
}

// TestMigrateDropsOldIndexes upgrades a database that still has the rate-limit indexes
// security_events had before login failures got a table of their own: adopting it drops them.
func TestMigrateDropsOldIndexes(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			db := storetest.OpenLegacy(t, backend)
			ctx := context.Background()
			old := map[string]string{
				"securityevent_type_ip_created_at":      "type, ip, created_at",
				"securityevent_type_subject_created_at": "type, subject, created_at",
			}
			for name, cols := range old {
				if _, err := db.SQL.ExecContext(ctx, fmt.Sprintf("CREATE INDEX %s ON security_events (%s)", name, cols)); err != nil {
					t.Fatal(err)
				}
			}
			indexes := func() map[string]bool {
				t.Helper()
				q := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'security_events'"
				if db.Driver == store.MySQL {
					q = "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'security_events'"
				}
				rows, err := db.SQL.QueryContext(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				got := map[string]bool{}
				for rows.Next() {
					var name string
					if err := rows.Scan(&name); err != nil {
						t.Fatal(err)
					}
					got[name] = true
				}
				return got
			}
			if got := indexes(); !got["securityevent_type_ip_created_at"] {
				t.Fatalf("the old index was not created: %v", got)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got := indexes()
			for name := range old {
				if got[name] {
					t.Errorf("%s is still there after the migration", name)
				}
			}
			for _, keep := range []string{"securityevent_created_at", "securityevent_type_created_at"} {
				if !got[keep] {
					t.Errorf("%s went too: %v", keep, got)
				}
			}
		})
	}
}

// TestMigrateDropsOldTables upgrades a database that still has login_failures, which the login
// throttle's counters (login_throttles) replaced: adopting it drops the table.
func TestMigrateDropsOldTables(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			db := storetest.OpenLegacy(t, backend)
			ctx := context.Background()
			if _, err := db.SQL.ExecContext(ctx, "CREATE TABLE login_failures (id INTEGER PRIMARY KEY, ip VARCHAR(64) NOT NULL)"); err != nil {
				t.Fatal(err)
			}
			tables := func() map[string]bool {
				t.Helper()
				got := map[string]bool{}
				for _, name := range storetest.Tables(t, db.SQL, db.Driver) {
					got[name] = true
				}
				return got
			}
			if !tables()["login_failures"] {
				t.Fatal("the old table was not created")
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got := tables()
			if got["login_failures"] {
				t.Error("login_failures is still there after the migration")
			}
			if !got["login_throttles"] || !got["users"] {
				t.Errorf("tables after the migration: %v", got)
			}
		})
	}
}

// TestMigrateHashColumnsToBinary upgrades a MySQL/MariaDB database whose token hashes are
// TINYBLOB columns with MariaDB's hash-only unique index (what the schema made before): adopting
// it turns them into BINARY(32) with a B-tree unique index, keeps every row, and a lookup by the
// hash then reads the index instead of the whole table.
func TestMigrateHashColumnsToBinary(t *testing.T) {
	db := storetest.OpenLegacy(t, store.MySQL)
	ctx := context.Background()
	u := db.Client.User.Create().SetEmail("old@example.com").SetUsername("old").SaveX(ctx)
	tables := []string{"sessions", "api_tokens", "email_tokens"}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.SQL.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, table := range tables {
		exec("ALTER TABLE `" + table + "` DROP INDEX `token_hash`, MODIFY `token_hash` tinyblob NOT NULL, ADD UNIQUE KEY `token_hash` (`token_hash`) USING HASH")
	}
	indexType := func(table string) string {
		t.Helper()
		var typ string
		err := db.SQL.QueryRowContext(ctx, "SELECT index_type FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = 'token_hash'", table).Scan(&typ)
		if err != nil {
			t.Fatal(err)
		}
		return typ
	}
	columnType := func(table string) string {
		t.Helper()
		var typ string
		err := db.SQL.QueryRowContext(ctx, "SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'token_hash'", table).Scan(&typ)
		if err != nil {
			t.Fatal(err)
		}
		return typ
	}
	for _, table := range tables {
		if typ, idx := columnType(table), indexType(table); typ != "tinyblob" || idx != "HASH" {
			t.Fatalf("the old %s.token_hash was not made: %s, index %s", table, typ, idx)
		}
	}
	hash := func(i int) []byte {
		h := sha256.Sum256(fmt.Appendf(nil, "token-%d", i))
		return h[:]
	}
	count := func(table string) int {
		t.Helper()
		var n int
		if err := db.SQL.QueryRowContext(ctx, "SELECT COUNT(*) FROM `"+table+"`").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const rows = 300
	before := map[string]int{}
	for _, table := range tables {
		before[table] = count(table) + rows
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := 0; i < rows; i++ {
		exec("INSERT INTO sessions (created_at, token_hash, user_id, method, expires_at, last_seen_at) VALUES (?, ?, ?, 'JWT', ?, ?)", now, hash(i), u.ID, now.Add(time.Hour), now)
		exec("INSERT INTO api_tokens (created_at, name, token_hash, user_id) VALUES (?, 'script', ?, ?)", now, hash(i), u.ID)
		exec("INSERT INTO email_tokens (created_at, purpose, token_hash, user_id, email, expires_at) VALUES (?, 'VERIFY_EMAIL', ?, ?, 'new@example.com', ?)", now, hash(i), u.ID, now.Add(time.Hour))
	}
	fullScan := func(table string, h []byte) (bool, string) {
		t.Helper()
		steps, err := storetest.Explain(ctx, db, "SELECT COUNT(*) FROM `"+table+"` WHERE `token_hash` = ?", h)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			if s.FullScan {
				return true, s.Detail
			}
		}
		return false, fmt.Sprint(steps)
	}
	// What the migration is for: the hash index cannot answer `=`.
	for _, table := range tables {
		if full, plan := fullScan(table, hash(1)); !full {
			t.Fatalf("%s: before the migration a lookup by hash uses an index: %s", table, plan)
		}
	}

	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		if typ, idx := columnType(table), indexType(table); typ != "binary(32)" || idx != "BTREE" {
			t.Errorf("%s.token_hash after the migration: %s, index %s; want binary(32), BTREE", table, typ, idx)
		}
		if n := count(table); n != before[table] {
			t.Errorf("%s has %d rows after the migration, want %d", table, n, before[table])
		}
		var n int
		// Every row is found by its hash, through the unique index.
		for _, i := range []int{0, rows / 2, rows - 1} {
			q := "SELECT COUNT(*) FROM `" + table + "` WHERE `token_hash` = ?"
			if err := db.SQL.QueryRowContext(ctx, q, hash(i)).Scan(&n); err != nil || n != 1 {
				t.Errorf("%s: %d rows with the hash of token %d (%v), want 1", table, n, i, err)
			}
			if full, plan := fullScan(table, hash(i)); full {
				t.Errorf("%s: a lookup by hash reads the whole table: %s", table, plan)
			}
		}
	}
	if got := db.Client.Session.Query().Where(session.TokenHash(hash(7))).OnlyX(ctx); got.UserID != u.ID {
		t.Errorf("session of token 7 belongs to %d, want %d", got.UserID, u.ID)
	}
}

// TestIsUnavailable: a cancelled or timed-out context is not an outage of the database, even
// though context.DeadlineExceeded is a net.Error.
func TestIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{fmt.Errorf("ent: query: %w", context.DeadlineExceeded), false},
		{driver.ErrBadConn, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("store: %w", syscall.ECONNRESET), true},
		{errors.New("UNIQUE constraint failed"), false},
	} {
		if got := store.IsUnavailable(tc.err); got != tc.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
