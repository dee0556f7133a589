// Command gen writes the next versioned migration file of each database from the ent schema.
//
// Run it from the repository root after changing ent/schema and running go generate:
//
//	go run ./ent/migrate/gen NAME
//
// For each dialect it replays the files of ent/migrate/migrations/<dialect> on a clean dev
// database, compares the outcome with the ent schema, writes what differs as VERSION_NAME.sql
// (one version for both dialects) and updates the directory's atlas.sum. SQLite's dev database
// lives in memory; MySQL's is a scratch database created on the server of -mysql (default
// $TEST_MYSQL_DSN) and dropped afterwards. After editing a file by hand (a data migration),
// `go run ./ent/migrate/gen -hash` recomputes the sum files.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite"

	entmigrate "github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/migrate/migrations"
)

func main() {
	var (
		dir      = flag.String("dir", filepath.Join("ent", "migrate", "migrations"), "the migrations package's directory")
		dialects = flag.String("dialect", "sqlite,mysql", "the databases to write files for")
		dsn      = flag.String("mysql", os.Getenv("TEST_MYSQL_DSN"), "a MySQL/MariaDB server DSN where a scratch database can be created (default $TEST_MYSQL_DSN)")
		version  = flag.String("version", migrate.NewVersion(), "the new files' version")
		hash     = flag.Bool("hash", false, "only recompute the sum files (after a hand edit)")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./ent/migrate/gen [flags] NAME\n       go run ./ent/migrate/gen -hash\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(context.Background(), *dir, strings.Split(*dialects, ","), *dsn, *version, *hash, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, root string, dialects []string, dsn, version string, hashOnly bool, args []string) error {
	if !hashOnly && (len(args) != 1 || args[0] == "") {
		return errors.New("gen: want one argument, the new files' name (e.g. add_user_bio)")
	}
	for _, d := range dialects {
		if d == "sqlite" {
			d = dialect.SQLite
		}
		folder, err := migrations.Folder(d)
		if err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		dir, err := migrate.NewLocalDir(filepath.Join(root, folder))
		if err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		if hashOnly {
			sum, err := dir.Checksum()
			if err != nil {
				return fmt.Errorf("gen: %s: %w", folder, err)
			}
			if err := migrate.WriteSumFile(dir, sum); err != nil {
				return fmt.Errorf("gen: %s: %w", folder, err)
			}
			fmt.Printf("%s: %s rewritten\n", folder, migrations.SumFile)
			continue
		}
		f, err := migrations.Formatter(version, d)
		if err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		dev, done, err := devDatabase(ctx, d, dsn)
		if err != nil {
			return err
		}
		err = migrations.Plan(ctx, dev, dir, f, args[0], entmigrate.Tables)
		done()
		switch {
		case errors.Is(err, migrations.ErrNoChanges):
			fmt.Printf("%s: no changes\n", folder)
		case err != nil:
			return fmt.Errorf("gen: %s: %w", folder, err)
		default:
			fmt.Printf("%s: wrote %s\n", folder, filepath.Join(dir.Path(), version+"_"+args[0]+".sql"))
		}
	}
	return nil
}

// devDatabase opens a clean database of the dialect and returns it with the function that
// disposes of it.
func devDatabase(ctx context.Context, d, dsn string) (dialect.Driver, func(), error) {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "sso_migrate_dev_" + hex.EncodeToString(suffix)
	switch d {
	case dialect.SQLite:
		db, err := sql.Open("sqlite", "file:"+name+"?mode=memory&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, nil, fmt.Errorf("gen: sqlite dev database: %w", err)
		}
		db.SetMaxOpenConns(1)
		return entsql.OpenDB(dialect.SQLite, db), func() { db.Close() }, nil
	case dialect.MySQL:
		if dsn == "" {
			return nil, nil, errors.New("gen: mysql needs a dev server: set -mysql or TEST_MYSQL_DSN (or run with -dialect sqlite)")
		}
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("gen: mysql dev server: %w", err)
		}
		cfg.DBName = ""
		admin, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return nil, nil, fmt.Errorf("gen: mysql dev server: %w", err)
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
			return nil, nil, fmt.Errorf("gen: create mysql dev database: %w", err)
		}
		drop := func() {
			if admin, err := sql.Open("mysql", cfg.FormatDSN()); err == nil {
				_, _ = admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS `"+name+"`")
				admin.Close()
			}
		}
		cfg.DBName, cfg.ParseTime = name, true
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			drop()
			return nil, nil, fmt.Errorf("gen: mysql dev database: %w", err)
		}
		return entsql.OpenDB(dialect.MySQL, db), func() { db.Close(); drop() }, nil
	}
	return nil, nil, fmt.Errorf("gen: unknown dialect %q", d)
}
