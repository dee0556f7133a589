package migrations_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"

	"ariga.io/atlas/sql/migrate"
	entsql "entgo.io/ent/dialect/sql"

	entmigrate "github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestFilesMatchSchema replays the migration files of each database on a clean one and diffs the
// outcome against the ent schema: any difference means a schema change without its migration
// file (or a file edited by hand), and the test shows the file `go run ./ent/migrate/gen` would
// write. The sum file must match the files.
func TestFilesMatchSchema(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			d := store.DialectOf(backend)
			dir, err := migrations.Dir(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate.Validate(dir); err != nil {
				t.Fatalf("the sum file does not match the files (after a hand edit: go run ./ent/migrate/gen -hash): %v", err)
			}
			before, err := dir.Files()
			if err != nil || len(before) == 0 {
				t.Fatalf("files: %d, %v", len(before), err)
			}
			dev := storetest.OpenEmpty(t, backend, storetest.Options{})
			f, err := migrations.Formatter("99991231235959", d)
			if err != nil {
				t.Fatal(err)
			}
			err = migrations.Plan(context.Background(), entsql.OpenDB(d, dev.SQL), dir, f, "drift", entmigrate.Tables)
			if errors.Is(err, migrations.ErrNoChanges) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after, _ := dir.Files()
			t.Fatalf("the ent schema and the migration files differ: run `go run ./ent/migrate/gen NAME`; it would write:\n%s", after[len(after)-1].Bytes())
		})
	}
}

// TestVersionsAgree: every schema change has one version, the same in both directories.
func TestVersionsAgree(t *testing.T) {
	versions := func(d string) []string {
		dir, err := migrations.Dir(d)
		if err != nil {
			t.Fatal(err)
		}
		files, err := dir.Files()
		if err != nil {
			t.Fatal(err)
		}
		var v []string
		for _, f := range files {
			v = append(v, f.Name())
		}
		return v
	}
	if s, m := versions(store.DialectOf(store.SQLite)), versions(store.DialectOf(store.MySQL)); !slices.Equal(s, m) || len(s) == 0 {
		t.Fatalf("sqlite files %v, mysql files %v: want the same names", s, m)
	}
}

// TestBaselineIsTheFirstFile: the frozen baseline tables describe the layout the first file
// makes (store adopts older databases with them), checked by the same diff as the schema.
func TestBaselineIsTheFirstFile(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			d := store.DialectOf(backend)
			all, err := migrations.Dir(d)
			if err != nil {
				t.Fatal(err)
			}
			files, err := all.Files()
			if err != nil {
				t.Fatal(err)
			}
			dir := &migrate.MemDir{}
			if err := dir.CopyFiles(files[:1]); err != nil {
				t.Fatal(err)
			}
			dev := storetest.OpenEmpty(t, backend, storetest.Options{})
			f, _ := migrations.Formatter("99991231235959", d)
			err = migrations.Plan(context.Background(), entsql.OpenDB(d, dev.SQL), dir, f, "baseline", migrations.Baseline())
			if !errors.Is(err, migrations.ErrNoChanges) {
				after, _ := dir.Files()
				t.Fatalf("the baseline tables and %s differ (%v):\n%s", files[0].Name(), err, after[len(after)-1].Bytes())
			}
		})
	}
}

// TestMySQLFilesSuitMySQL8: the MySQL files serve MySQL and MariaDB; MySQL 8 refuses a literal
// default on a TEXT column, so none is written (Formatter makes them expressions).
func TestMySQLFilesSuitMySQL8(t *testing.T) {
	dir, err := migrations.Dir(store.DialectOf(store.MySQL))
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile("text( [A-Z]+ \\w+)* (NOT )?NULL DEFAULT '")
	for _, f := range files {
		if m := literal.Find(f.Bytes()); m != nil {
			t.Errorf("%s: a literal TEXT default: %s", f.Name(), m)
		}
	}
}
