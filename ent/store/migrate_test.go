package store_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"ariga.io/atlas/sql/migrate"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// baselineName is the name of the first migration file.
func baselineName(t *testing.T, backend string) string {
	t.Helper()
	return storetest.MigrationFiles(t, backend)[0].Name()
}

// tableRows dumps every row of every table but the revisions, in a stable order, without its
// NULL columns, and returns the columns each table has. With known (the columns of a dump
// before an upgrade), it leaves out the columns the upgrade added: a column a later migration
// file adds holds NULL or its default on old rows, and changes no value that was there.
func tableRows(t *testing.T, db *store.DB, known map[string][]string) (string, map[string][]string) {
	t.Helper()
	ctx := context.Background()
	tables := slices.DeleteFunc(storetest.Tables(t, db.SQL, db.Driver), func(name string) bool { return name == "atlas_schema_revisions" })
	var b strings.Builder
	columns := map[string][]string{}
	for _, table := range tables {
		rows, err := db.SQL.QueryContext(ctx, "SELECT * FROM `"+table+"` ORDER BY `id`")
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		columns[table] = cols
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s:", table)
			for i, v := range vals {
				if v == nil {
					continue // NULL, as a column a later migration file adds is on old rows
				}
				if known != nil && !slices.Contains(known[table], cols[i]) {
					continue // added by the upgrade
				}
				if bs, ok := v.([]byte); ok {
					v = fmt.Sprintf("%x", bs)
					if utf8.Valid(bs) && !slices.ContainsFunc([]rune(string(bs)), func(r rune) bool { return !unicode.IsPrint(r) }) {
						v = string(bs)
					}
				}
				fmt.Fprintf(&b, " %s=%v", cols[i], v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String(), columns
}

// TestUpgrade migrates (a) an empty database and (b) one laid out by the automatic migration of
// the releases before versioned migrations, with rows in every table: both reach the same layout,
// (b) keeps every row, its baseline is adopted rather than run, and a second run does nothing.
func TestUpgrade(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			base := baselineName(t, backend)
			files := storetest.MigrationFiles(t, backend)

			fresh := storetest.OpenEmpty(t, backend, storetest.Options{})
			st, err := fresh.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Adopt || st.Current != "" || len(st.Pending) != len(files) || !st.Behind() {
				t.Fatalf("status of an empty database: %+v", st)
			}
			rep, err := fresh.MigrateUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Applied) != len(files) || rep.Applied[0] != base {
				t.Fatalf("applied on the empty database: %q", rep.Applied)
			}

			old := storetest.OpenLegacy(t, backend)
			// The first file lays out what the automatic migration did (later files change the
			// fresh layout; the adopted database must reach the same one, checked below).
			if a, b := storetest.Layout(t, fresh), storetest.Layout(t, old); len(files) == 1 && a != b {
				t.Fatalf("layouts differ:\nfrom the files:\n%s\nby the automatic migration:\n%s", a, b)
			}
			rowsBefore, columnsBefore := tableRows(t, old, nil)
			if !strings.Contains(rowsBefore, "bob@example.com") || strings.Count(rowsBefore, "\n") < 20 {
				t.Fatalf("the legacy fixture has too few rows:\n%s", rowsBefore)
			}
			st, err = old.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Adopt || st.Current != "" || len(st.Pending) != len(files) || st.Pending[0] != base {
				t.Fatalf("status of the legacy database: %+v", st)
			}
			rep, err = old.MigrateUp(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Applied) != len(files) || rep.Applied[0] != base+" (adopted)" {
				t.Fatalf("applied on the legacy database: %q", rep.Applied)
			}

			if a, b := storetest.Layout(t, fresh), storetest.Layout(t, old); a != b {
				t.Fatalf("layouts differ:\nfrom the files:\n%s\nadopted:\n%s", a, b)
			}
			if rowsAfter, _ := tableRows(t, old, columnsBefore); rowsAfter != rowsBefore {
				t.Fatalf("rows changed:\nbefore:\n%s\nafter:\n%s", rowsBefore, rowsAfter)
			}
			for name, db := range map[string]*store.DB{"fresh": fresh, "adopted": old} {
				st, err := db.MigrationStatus(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if st.Behind() || st.Adopt || st.Current != files[len(files)-1].Version() || len(st.Ahead) > 0 {
					t.Errorf("%s: status after migrating: %+v", name, st)
				}
				rep, err := db.MigrateUp(ctx)
				if err != nil || len(rep.Applied) != 0 {
					t.Errorf("%s: second run applied %q, %v", name, rep.Applied, err)
				}
			}

			// The adopted database works: its rows are found, new ones are written in their
			// table's id range.
			h := sha256.Sum256([]byte("session-bob"))
			if s, err := old.Client.Session.Query().Where(session.TokenHash(h[:])).WithUser().Only(ctx); err != nil || s.Edges.User.Email != "bob@example.com" {
				t.Fatalf("session by hash: %v, %v", s, err)
			}
			u := old.Client.User.Create().SetEmail("new@example.com").SetUsername("new").SaveX(ctx)
			if u.ID>>32 != 9 {
				t.Errorf("new user id %d is out of the users range", u.ID)
			}
		})
	}
}

// TestMigrationStatusAheadAndDirty: a database a newer release migrated is ahead; a file that
// failed part-way leaves the database dirty and behind, and the error names it.
func TestMigrationStatusAheadAndDirty(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.SQL.ExecContext(ctx, "INSERT INTO atlas_schema_revisions (version, description, type, applied, total, executed_at, execution_time, hash, operator_version) VALUES ('99990101000000', 'newer', 2, 1, 1, ?, 0, '', 'x')", "2026-01-01 00:00:00"); err != nil {
			t.Fatal(err)
		}
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.Ahead, []string{"99990101000000"}) || st.Behind() || st.Current != "99990101000000" {
			t.Fatalf("ahead: %+v", st)
		}
		if _, err := db.SQL.ExecContext(ctx, "DELETE FROM atlas_schema_revisions WHERE version = '99990101000000'"); err != nil {
			t.Fatal(err)
		}

		// A file whose second statement fails.
		dir := &migrate.MemDir{}
		files := storetest.MigrationFiles(t, db.Driver)
		broken := migrate.NewLocalFile("99990101000000_broken.sql", []byte("CREATE TABLE `extra` (`id` integer NOT NULL);\nINSERT INTO `no_such_table` VALUES (1);\n"))
		if err := dir.CopyFiles(append(slices.Clone(files), broken)); err != nil {
			t.Fatal(err)
		}
		store.SetMigrations(db, dir)
		_, err = db.MigrateUp(ctx)
		if err == nil || !strings.Contains(err.Error(), "99990101000000") || !strings.Contains(err.Error(), "no_such_table") {
			t.Fatalf("MigrateUp with a broken file: %v", err)
		}
		st, err = db.MigrationStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Behind() || !strings.HasPrefix(st.Dirty, "99990101000000_broken.sql: 1 of 2 statements applied: ") ||
			!slices.Equal(st.Pending, []string{"99990101000000_broken.sql"}) || st.Current != files[len(files)-1].Version() {
			t.Fatalf("dirty: %+v", st)
		}
	})
}

// TestExtraIndexesSurvive: indexes an operator added, which the schema does not know, survive a
// migration that changes their table (on SQLite atlas rebuilds the table for it) and the
// adoption of a database of the releases before versioned migrations.
func TestExtraIndexesSurvive(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			extra := map[string]string{
				"ops_spaces_name_created": "CREATE INDEX ops_spaces_name_created ON spaces (name, created_at)",
				"ops_users_tagline":       "CREATE INDEX ops_users_tagline ON users (tagline)",
			}
			indexes := func(db *store.DB) []string {
				t.Helper()
				q := "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ops_%' ORDER BY name"
				if db.Driver == store.MySQL {
					q = "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name LIKE 'ops_%' ORDER BY index_name"
				}
				rows, err := db.SQL.QueryContext(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var got []string
				for rows.Next() {
					var n string
					if err := rows.Scan(&n); err != nil {
						t.Fatal(err)
					}
					got = append(got, n)
				}
				return got
			}
			want := []string{"ops_spaces_name_created", "ops_users_tagline"}
			addExtra := func(db *store.DB) {
				t.Helper()
				for _, q := range extra {
					if _, err := db.SQL.ExecContext(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
			}

			t.Run("adoption", func(t *testing.T) {
				db := storetest.OpenLegacy(t, backend)
				addExtra(db)
				if err := db.Migrate(ctx); err != nil {
					t.Fatal(err)
				}
				if got := indexes(db); !slices.Equal(got, want) {
					t.Fatalf("indexes after the adoption: %v, want %v", got, want)
				}
			})

			t.Run("a file that changes the table", func(t *testing.T) {
				db := storetest.Open(t, backend, storetest.Options{})
				addExtra(db)
				db.Client.Space.Create().SetName("General").SetSlug("general").ExecX(ctx)
				// The next schema: spaces.name may be NULL, which SQLite cannot ALTER.
				tables := migrations.Baseline()
				for _, tb := range tables {
					if tb.Name == "spaces" {
						c, _ := tb.Column("name")
						c.Nullable = true
					}
				}
				dir, err := migrations.Dir(store.DialectOf(backend))
				if err != nil {
					t.Fatal(err)
				}
				dev := storetest.OpenEmpty(t, backend, storetest.Options{})
				f, _ := migrations.Formatter("99990101000000", store.DialectOf(backend))
				if err := migrations.Plan(ctx, entsql.OpenDB(store.DialectOf(backend), dev.SQL), dir, f, "nullable_space_name", tables); err != nil {
					t.Fatal(err)
				}
				files, _ := dir.Files()
				next := string(files[len(files)-1].Bytes())
				if backend == store.SQLite && !strings.Contains(next, "DROP TABLE `spaces`") {
					t.Fatalf("the SQLite file does not rebuild spaces:\n%s", next)
				}
				store.SetMigrations(db, dir)
				rep, err := db.MigrateUp(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(rep.Applied, []string{"99990101000000_nullable_space_name.sql"}) || len(rep.Warnings) > 0 {
					t.Fatalf("report: %+v", rep)
				}
				if got := indexes(db); !slices.Equal(got, want) {
					t.Fatalf("indexes after %s:\n%s\ngot %v, want %v", files[len(files)-1].Name(), next, got, want)
				}
				if n := db.Client.Space.Query().CountX(ctx); n != 1 {
					t.Fatalf("%d spaces after the migration, want 1", n)
				}
				if !strings.Contains(storetest.Layout(t, db), "spaces") {
					t.Fatal("no spaces table")
				}
			})
		})
	}
}

// TestConcurrentAdoption: replicas of the new release that start together on a database of the
// releases before versioned migrations adopt it once, apply the later files once, and all of
// them start.
func TestConcurrentAdoption(t *testing.T) {
	dsn := storetest.NewMySQLDatabase(t)
	ctx := context.Background()
	seed, err := store.Open(ctx, store.MySQL, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	storetest.LoadLegacy(t, seed)
	seed.Close()
	var (
		mu      sync.Mutex
		applied []string
		wg      sync.WaitGroup
		errs    = make(chan error, 4)
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := store.Open(ctx, store.MySQL, dsn, store.Options{})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			rep, err := db.MigrateUp(ctx)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			applied = append(applied, rep.Applied...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent adoption: %v", err)
	}
	// The baseline is adopted once, and the files after it are applied once, in order.
	files := storetest.MigrationFiles(t, store.MySQL)
	want := []string{files[0].Name() + " (adopted)"}
	for _, f := range files[1:] {
		want = append(want, f.Name())
	}
	if !slices.Equal(applied, want) {
		t.Fatalf("applied %q, want %q: the baseline adopted once, then each later file once", applied, want)
	}
}

// TestMigrateRefusesABrokenSum: a migration file edited without its sum file stops the migration.
func TestMigrateRefusesABrokenSum(t *testing.T) {
	db := storetest.OpenEmpty(t, store.SQLite, storetest.Options{})
	files := storetest.MigrationFiles(t, store.SQLite)
	dir := &migrate.MemDir{}
	if err := dir.CopyFiles(files); err != nil {
		t.Fatal(err)
	}
	if err := dir.WriteFile(files[0].Name(), append(files[0].Bytes(), "-- edited\n"...)); err != nil {
		t.Fatal(err)
	}
	store.SetMigrations(db, dir)
	_, err := db.MigrateUp(context.Background())
	if !errors.Is(err, migrate.ErrChecksumMismatch) {
		t.Fatalf("MigrateUp with an edited file: %v, want a checksum mismatch", err)
	}
	if st, err := db.MigrationStatus(context.Background()); err == nil {
		t.Fatalf("status with an edited file: %+v, want an error", st)
	}
}
