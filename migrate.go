package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
)

// migrateUsage describes the migrate commands.
const migrateUsage = `usage:
  sso migrate status   print the database's migration version and the pending files
                       (exit 1 when the database is ahead of this binary or a file failed part-way)
  sso migrate up       apply the pending migration files and print them
They read DATABASE_URL as the server does.
`

// migrateAtStart does what MIGRATE (mode) says before the server serves: auto applies the
// pending migration files (and brings stored identifiers to their canonical form), check refuses
// to start while files are pending, off does neither.
func migrateAtStart(ctx context.Context, mode string, db *store.DB, log *slog.Logger) error {
	switch mode {
	case config.MigrateAuto:
		rep, err := db.MigrateUp(ctx)
		if err != nil {
			return err
		}
		for _, f := range rep.Applied {
			log.Info("migration applied", "file", f)
		}
		for _, w := range rep.Warnings {
			log.Warn("migration: " + w)
		}
		_, err = auth.CanonicalizeIdentifiers(ctx, db.Client, log, 1000)
		return err
	case config.MigrateCheck:
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		if st.Behind() {
			return fmt.Errorf("MIGRATE=check: the database is behind this release: %s; apply them with `sso migrate up` (or start with MIGRATE=auto)", describeBehind(st))
		}
		if len(st.Ahead) > 0 {
			log.Warn("the database was migrated by a newer release", "versions", st.Ahead)
		}
	}
	return nil
}

// describeBehind names what is pending.
func describeBehind(st *store.MigrationStatus) string {
	var parts []string
	if len(st.Pending) > 0 {
		parts = append(parts, "pending "+strings.Join(st.Pending, ", "))
	}
	if st.Dirty != "" {
		parts = append(parts, "failed part-way: "+st.Dirty)
	}
	return strings.Join(parts, "; ")
}

// migrateCommand runs `migrate status` or `migrate up` (args after "migrate") on the database
// of DATABASE_URL and returns the exit code.
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "status" && args[0] != "up") {
		fmt.Fprint(stderr, migrateUsage)
		return 2
	}
	dbc, shown, err := config.LoadDatabase(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "database: %s\n", shown)
	if args[0] == "status" && dbc.Path != "" {
		if _, err := os.Stat(dbc.Path); errors.Is(err, fs.ErrNotExist) {
			// Opening would create it: report what the first start or `migrate up` will do.
			dir, err := migrations.Dir(store.DialectOf(dbc.Driver))
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			files, err := dir.Files()
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			st := &store.MigrationStatus{}
			for _, f := range files {
				st.Pending = append(st.Pending, f.Name())
			}
			fmt.Fprintln(stdout, "the database file does not exist yet")
			printStatus(stdout, st)
			return 0
		}
	}
	db, err := store.Open(ctx, dbc.Driver, dbc.DSN, store.Options{Dir: dbc.Dir})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer db.Close()
	if args[0] == "up" {
		rep, err := db.MigrateUp(ctx)
		if rep != nil {
			for _, f := range rep.Applied {
				fmt.Fprintf(stdout, "applied %s\n", f)
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			if len(rep.Applied) == 0 && err == nil {
				fmt.Fprintln(stdout, "nothing to apply")
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if _, err := auth.CanonicalizeIdentifiers(ctx, db.Client, log, 1000); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	printStatus(stdout, st)
	if len(st.Ahead) > 0 || st.Dirty != "" {
		return 1
	}
	return 0
}

// printStatus writes st for an operator.
func printStatus(w io.Writer, st *store.MigrationStatus) {
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
