// Package migrations holds the schema's versioned migration files, one directory per database
// (sqlite, mysql), each with its integrity file atlas.sum, and plans the next file from the ent
// schema (Plan; `go run ./ent/migrate/gen NAME` writes it). ent/store applies them.
//
// The first file of each directory, the baseline, lays out the schema exactly as the automatic
// migration of the releases before versioned migrations did; Baseline describes that layout in
// ent's terms, so that a database those releases made can be brought to it and adopted.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"text/template"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
)

//go:embed sqlite/*.sql sqlite/atlas.sum mysql/*.sql mysql/atlas.sum
var files embed.FS

// SumFile is the integrity file of a migration directory (atlas's).
const SumFile = migrate.HashFileName

// Folder is the directory under this package of the dialect's files: sqlite for dialect.SQLite,
// mysql for dialect.MySQL (MySQL and MariaDB).
func Folder(dialectName string) (string, error) {
	switch dialectName {
	case dialect.SQLite:
		return "sqlite", nil
	case dialect.MySQL:
		return "mysql", nil
	}
	return "", fmt.Errorf("migrations: no migrations for dialect %q", dialectName)
}

// Dir returns the migration files of the dialect (dialect.SQLite or dialect.MySQL) built into
// the binary, with their sum file.
func Dir(dialectName string) (migrate.Dir, error) {
	folder, err := Folder(dialectName)
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(files, folder)
	if err != nil {
		return nil, fmt.Errorf("migrations: read %s: %w", folder, err)
	}
	dir := &migrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(files, path.Join(folder, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", e.Name(), err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, fmt.Errorf("migrations: read %s: %w", e.Name(), err)
		}
	}
	return dir, nil
}

// Formatter names a new file of the dialect version_name.sql, with the version given (so that one
// schema change has one version in both directories), and writes atlas's default content. For
// MySQL it writes the default of a TEXT column as an expression, DEFAULT ('x') for DEFAULT 'x':
// the files serve MySQL and MariaDB, and MySQL 8 refuses a literal default on TEXT, which atlas
// writes when its dev database is a MariaDB (MariaDB reads both alike).
func Formatter(version, dialectName string) (migrate.Formatter, error) {
	if err := migrate.CheckVersion(version); err != nil {
		return nil, fmt.Errorf("migrations: version %q: %w", version, err)
	}
	name, err := template.New("name").Parse(version + "{{ with .Name }}_{{ . }}{{ end }}.sql")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	f := migrate.TemplateFormatter{{N: name, C: migrate.DefaultFormatter[0].C}}
	if dialectName == dialect.MySQL {
		return textDefaults{f}, nil
	}
	return f, nil
}

// textDefault is a TEXT column's literal default in a MySQL statement.
var textDefault = regexp.MustCompile("(`\\w+` (?:tiny|medium|long)?text(?: CHARACTER SET \\w+)?(?: COLLATE \\w+)? (?:NOT )?NULL DEFAULT )('(?:[^']|'')*')")

// textDefaults writes the TEXT defaults of a plan as expressions before formatting it.
type textDefaults struct{ migrate.Formatter }

func (f textDefaults) Format(p *migrate.Plan) ([]migrate.File, error) {
	for _, c := range p.Changes {
		c.Cmd = textDefault.ReplaceAllString(c.Cmd, "${1}(${2})")
	}
	return f.Formatter.Format(p)
}

// ErrNoChanges is what Plan returns when the files already lay out the ent schema.
var ErrNoChanges = errors.New("migrations: the migration files already match the ent schema")

// Plan replays dir's files on dev, a clean database of the dialect that Plan leaves clean,
// compares the outcome with tables (the ent schema's: ent/migrate.Tables), and writes what
// differs to dir as a new file (in f's name and format) and updates its sum file. It returns
// ErrNoChanges when nothing differs. Columns and indexes the files made and tables no longer
// have are dropped; indexes the files never made (an operator's) are out of its sight.
func Plan(ctx context.Context, dev dialect.Driver, dir migrate.Dir, f migrate.Formatter, name string, tables []*schema.Table) error {
	m, err := schema.NewMigrate(dev,
		schema.WithDir(dir),
		schema.WithFormatter(f),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
	)
	if err != nil {
		return fmt.Errorf("migrations: plan: %w", err)
	}
	switch err := m.NamedDiff(ctx, name, tables...); {
	case errors.Is(err, migrate.ErrNoPlan):
		return ErrNoChanges
	case err != nil:
		return fmt.Errorf("migrations: plan: %w", err)
	}
	return nil
}
