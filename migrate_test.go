package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// testDatabase makes a database of the backend that the server and the commands reach through
// DATABASE_URL: empty, or (legacy) as a release before versioned migrations left it
// (storetest.LoadLegacy) but without its key check, so that any SECRET_KEY fits. It returns the
// variables to reach it and an opener for the test's own look.
func testDatabase(t *testing.T, backend string, legacy bool) (map[string]string, func() *store.DB) {
	t.Helper()
	ctx := context.Background()
	var env map[string]string
	var driver, dsn, dir string
	switch backend {
	case store.SQLite:
		dir = filepath.Join(t.TempDir(), "data")
		path := filepath.Join(dir, "community.db")
		env = map[string]string{"DATABASE_URL": "sqlite://" + path}
		driver, dsn = store.SQLite, store.SQLiteDSN(path)
	case store.MySQL:
		dsn = storetest.NewMySQLDatabase(t)
		env = map[string]string{"DATABASE_URL": "mysql://" + dsn, "SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32))}
		driver = store.MySQL
	}
	open := func() *store.DB {
		t.Helper()
		db, err := store.Open(ctx, driver, dsn, store.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	if legacy {
		db := open()
		storetest.LoadLegacy(t, db)
		if _, err := db.SQL.ExecContext(ctx, "UPDATE settings SET key_check = NULL"); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	return env, open
}

// runArgs runs the program's command args with env and returns its exit code and output.
func runArgs(env map[string]string, args ...string) (int, string) {
	var out bytes.Buffer
	code := runCommand(args, "sso", func(k string) string { return env[k] }, &out, &out)
	return code, out.String()
}

func migrationNames(t *testing.T, backend string) []string {
	t.Helper()
	var names []string
	for _, f := range storetest.MigrationFiles(t, backend) {
		names = append(names, f.Name())
	}
	return names
}

// TestMigrateCommands: `migrate status` prints the version and the pending files and exits 0, or
// 1 when the database is ahead of the binary; `migrate up` applies the files, adopting a
// database of a release before versioned migrations, and prints what it applied.
func TestMigrateCommands(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			names := migrationNames(t, backend)
			base, last := names[0], names[len(names)-1]
			lastVersion := strings.SplitN(last, "_", 2)[0]

			env, open := testDatabase(t, backend, false)
			code, out := runArgs(env, "migrate", "status")
			if code != 0 || !strings.Contains(out, "current version: none\n") || !strings.Contains(out, "  "+base+"\n") {
				t.Fatalf("status of an empty database: %d\n%s", code, out)
			}
			if backend == store.SQLite {
				if !strings.Contains(out, "does not exist yet") {
					t.Errorf("status of a missing file:\n%s", out)
				}
				if _, err := os.Stat(filepath.Dir(strings.TrimPrefix(env["DATABASE_URL"], "sqlite://"))); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("status made the data folder: %v", err)
				}
			}
			code, out = runArgs(env, "migrate", "up")
			if code != 0 || !strings.Contains(out, "applied "+base+"\n") || !strings.Contains(out, "current version: "+lastVersion+"\n") || !strings.Contains(out, "pending: none\n") {
				t.Fatalf("up: %d\n%s", code, out)
			}
			if code, out = runArgs(env, "migrate", "up"); code != 0 || !strings.Contains(out, "nothing to apply\n") {
				t.Fatalf("up again: %d\n%s", code, out)
			}
			if strings.Contains(out, "hunter") || (backend == store.MySQL && !strings.Contains(out, "database: mysql://")) {
				t.Errorf("database line:\n%s", out)
			}

			// A newer release migrated the database.
			db := open()
			if _, err := db.SQL.ExecContext(context.Background(), "INSERT INTO atlas_schema_revisions (version, description, type, applied, total, executed_at, execution_time, hash, operator_version) VALUES ('99990101000000', 'newer', 2, 1, 1, ?, 0, '', 'x')", "2026-01-01 00:00:00"); err != nil {
				t.Fatal(err)
			}
			if code, out = runArgs(env, "migrate", "status"); code != 1 || !strings.Contains(out, "ahead: ") || !strings.Contains(out, "99990101000000") {
				t.Fatalf("status of a database ahead: %d\n%s", code, out)
			}

			legacyEnv, _ := testDatabase(t, backend, true)
			code, out = runArgs(legacyEnv, "migrate", "status")
			if code != 0 || !strings.Contains(out, "  "+base+" (adopt") {
				t.Fatalf("status of a legacy database: %d\n%s", code, out)
			}
			code, out = runArgs(legacyEnv, "migrate", "up")
			if code != 0 || !strings.Contains(out, "applied "+base+" (adopted)\n") || !strings.Contains(out, "pending: none\n") {
				t.Fatalf("up on a legacy database: %d\n%s", code, out)
			}
		})
	}
	for _, args := range [][]string{{"migrate"}, {"migrate", "down"}, {"migrate", "up", "now"}, {"frobnicate"}} {
		if code, out := runArgs(nil, args...); code != 2 || !strings.Contains(out, "migrate status") {
			t.Errorf("%q: %d\n%s", args, code, out)
		}
	}
	if code, out := runArgs(map[string]string{"DATABASE_URL": "postgres://db/app"}, "migrate", "status"); code != 1 || !strings.Contains(out, "DATABASE_URL") {
		t.Errorf("bad DATABASE_URL: %d\n%s", code, out)
	}
}

// TestMigrateCheck: with MIGRATE=check the server refuses to start on a database that is behind,
// naming the pending files, and starts once `migrate up` has run.
func TestMigrateCheck(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env, _ := testDatabase(t, backend, false)
			env["MIGRATE"] = "check"
			env["ADDR"] = "127.0.0.1:0"
			err := run(context.Background(), func(k string) string { return env[k] }, &bytes.Buffer{}, nil)
			base := migrationNames(t, backend)[0]
			if err == nil || !strings.Contains(err.Error(), "MIGRATE=check") || !strings.Contains(err.Error(), base) || !strings.Contains(err.Error(), "migrate up") {
				t.Fatalf("start with MIGRATE=check on an empty database: %v", err)
			}
			if code, out := runArgs(env, "migrate", "up"); code != 0 {
				t.Fatalf("up: %d\n%s", code, out)
			}
			url, _, _, _ := started(t, env)
			resp, err := http.Get(url + "/readyz")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("readyz: %v %v", resp, err)
			}
			resp.Body.Close()
		})
	}
}

// TestStartAdoptsAndKeepsExtraIndexes: the first start of this release with MIGRATE=auto on a
// database of an earlier release adopts it, keeps an index an operator added to it, and serves.
func TestStartAdoptsAndKeepsExtraIndexes(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			env, open := testDatabase(t, backend, true)
			db := open()
			if _, err := db.SQL.ExecContext(ctx, "CREATE INDEX ops_users_name_tagline ON users (name, tagline)"); err != nil {
				t.Fatal(err)
			}
			db.Close()
			env["MIGRATE"] = "auto"
			url, out, _, _ := started(t, env)
			resp, err := http.Get(url + "/readyz")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("readyz: %v %v", resp, err)
			}
			resp.Body.Close()
			base := migrationNames(t, backend)[0]
			if !strings.Contains(out.String(), `"msg":"migration applied","file":"`+base+` (adopted)"`) {
				t.Errorf("the log does not say the baseline was adopted:\n%s", out)
			}
			db = open()
			q := "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'ops_users_name_tagline'"
			if backend == store.MySQL {
				q = "SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'ops_users_name_tagline'"
			}
			var n int
			if err := db.SQL.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 1 {
				t.Fatalf("the operator's index after the start: %d, %v", n, err)
			}
			if n := db.Client.User.Query().CountX(ctx); n != 3 {
				t.Fatalf("%d users after the start, want the fixture's 3", n)
			}
			st, err := db.MigrationStatus(ctx)
			if err != nil || st.Behind() {
				t.Fatalf("status after the start: %+v, %v", st, err)
			}
		})
	}
}
