package storetest

import (
	"bufio"
	"context"
	"embed"
	"strings"
	"testing"

	"github.com/community/sso/ent/store"
)

// legacy holds, per backend, a database laid out by the automatic migration of the releases
// before versioned migrations (main at a218c3f), with rows in every table: one SQL statement a
// line, made by legacy/dump.go.
//
//go:embed legacy/sqlite.sql legacy/mysql.sql
var legacy embed.FS

// OpenLegacy returns a fresh database on the backend holding the legacy fixture (LoadLegacy).
// It is not migrated.
func OpenLegacy(t testing.TB, backend string) *store.DB {
	t.Helper()
	db := OpenEmpty(t, backend, Options{})
	LoadLegacy(t, db)
	return db
}

// LoadLegacy fills db, an empty database, with the legacy fixture of its backend: the schema's
// tables as the automatic migration laid them out, without the revisions table, and rows.
func LoadLegacy(t testing.TB, db *store.DB) {
	t.Helper()
	b, err := legacy.ReadFile("legacy/" + db.Driver + ".sql")
	if err != nil {
		t.Fatalf("storetest: legacy fixture: %v", err)
	}
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx) // the fixture turns foreign key checks off for its connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if _, err := conn.ExecContext(ctx, line); err != nil {
			t.Fatalf("storetest: legacy fixture: %s: %v", line, err)
		}
	}
}
