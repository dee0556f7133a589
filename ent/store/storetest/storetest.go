// Package storetest gives tests a fresh, migrated database per test, on SQLite (in memory) and,
// when TEST_MYSQL_DSN is set, on MySQL/MariaDB (a database created for the test and dropped after).
// Under CI=true a missing TEST_MYSQL_DSN fails the test instead of skipping the MySQL backend.
// SeedUsers fills a database with members and Snapshot tells whether a request wrote anything.
// OpenLegacy gives a database as the releases before versioned migrations left it, and Layout
// describes a database's schema for comparison.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/go-sql-driver/mysql"

	"github.com/community/sso/ent/store"
)

// Options tune the databases these helpers open.
type Options struct {
	// WrapDriver wraps the ent driver (for example to count statements).
	WrapDriver func(dialect.Driver) dialect.Driver
}

// Backends lists the backends Each runs on in this environment.
func Backends(t testing.TB) []string {
	b := []string{store.SQLite}
	if os.Getenv("TEST_MYSQL_DSN") != "" {
		return append(b, store.MySQL)
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("storetest: TEST_MYSQL_DSN is not set; under CI=true the MySQL backend must run")
	}
	return b
}

// Each runs fn as a subtest per backend ("sqlite", "mysql"), each with its own fresh database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, backend := range Backends(t) {
		t.Run(backend, func(t *testing.T) {
			fn(t, Open(t, backend, Options{}))
		})
	}
	if os.Getenv("TEST_MYSQL_DSN") == "" {
		t.Log("storetest: MySQL backend skipped: TEST_MYSQL_DSN is not set")
	}
}

// Open returns a fresh migrated database on the backend, closed (and dropped) when the test ends.
func Open(t testing.TB, backend string, opts Options) *store.DB {
	t.Helper()
	db := OpenEmpty(t, backend, opts)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("storetest: migrate %s: %v", backend, err)
	}
	return db
}

// OpenEmpty returns a fresh database on the backend without any table, closed (and dropped)
// when the test ends.
func OpenEmpty(t testing.TB, backend string, opts Options) *store.DB {
	t.Helper()
	ctx := context.Background()
	var (
		db  *store.DB
		err error
	)
	switch backend {
	case store.SQLite:
		db, err = store.Open(ctx, store.SQLite, store.SQLiteMemoryDSN("t"+randomHex(8)), store.Options{WrapDriver: opts.WrapDriver})
	case store.MySQL:
		dsn := NewMySQLDatabase(t)
		db, err = store.Open(ctx, store.MySQL, dsn, store.Options{WrapDriver: opts.WrapDriver})
	default:
		t.Fatalf("storetest: unknown backend %q", backend)
	}
	if err != nil {
		t.Fatalf("storetest: open %s: %v", backend, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLite returns a fresh migrated in-memory SQLite database.
func SQLite(t testing.TB) *store.DB { return Open(t, store.SQLite, Options{}) }

// MySQLDSN returns TEST_MYSQL_DSN, skipping the test when it is unset (failing under CI=true).
func MySQLDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("storetest: TEST_MYSQL_DSN is not set; under CI=true the MySQL backend must run")
		}
		t.Skip("storetest: TEST_MYSQL_DSN is not set")
	}
	return dsn
}

// NewMySQLDatabase creates an empty database on the TEST_MYSQL_DSN server for this test, drops it
// when the test ends, and returns its DSN.
func NewMySQLDatabase(t testing.TB) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(MySQLDSN(t))
	if err != nil {
		t.Fatalf("storetest: parse TEST_MYSQL_DSN: %v", err)
	}
	name := "t_" + randomHex(8)
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("storetest: open mysql: %v", err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", name)); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = db.ExecContext(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS `%s`", name))
	})
	cfg.DBName = name
	cfg.ParseTime = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["charset"] = "utf8mb4"
	return cfg.FormatDSN()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
