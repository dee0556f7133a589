package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"ariga.io/atlas/sql/migrate"
	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
)

// Tables lists the tables of the database db (of driver, store.SQLite or store.MySQL) by name,
// SQLite's own tables left out.
func Tables(t testing.TB, db *sql.DB, driver string) []string {
	t.Helper()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
	if driver == store.MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name"
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("list the tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("list the tables: %v", err)
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("list the tables: %v", err)
	}
	return names
}

// Layout describes the schema of db, one line per table, column, index, foreign key and check,
// in a stable order (indexes by name), leaving out the migration revisions table and what
// depends on the rows (AUTO_INCREMENT counters, SQLite's sequences). Two databases with equal
// layouts have the same tables, columns, types, collations, defaults, indexes and keys.
func Layout(t testing.TB, db *store.DB) string {
	t.Helper()
	ctx := context.Background()
	var queries []string
	if db.Driver == store.MySQL {
		queries = []string{
			`SELECT CONCAT_WS(' ', 'table', table_name, engine, table_collation) FROM information_schema.tables
			 WHERE table_schema = DATABASE() AND table_name <> 'atlas_schema_revisions' ORDER BY table_name`,
			`SELECT CONCAT_WS(' ', 'column', table_name, ordinal_position, column_name, column_type, is_nullable,
			   IFNULL(column_default, '-'), IFNULL(collation_name, '-'), extra) FROM information_schema.columns
			 WHERE table_schema = DATABASE() AND table_name <> 'atlas_schema_revisions' ORDER BY table_name, ordinal_position`,
			`SELECT CONCAT_WS(' ', 'index', table_name, index_name, non_unique, index_type,
			   GROUP_CONCAT(CONCAT(column_name, IFNULL(CONCAT('(', sub_part, ')'), ''), IFNULL(collation, '')) ORDER BY seq_in_index))
			 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name <> 'atlas_schema_revisions'
			 GROUP BY table_name, index_name, non_unique, index_type ORDER BY table_name, index_name`,
			`SELECT CONCAT_WS(' ', 'foreign-key', k.table_name, k.constraint_name, GROUP_CONCAT(k.column_name ORDER BY k.ordinal_position),
			   k.referenced_table_name, GROUP_CONCAT(k.referenced_column_name ORDER BY k.ordinal_position), r.update_rule, r.delete_rule)
			 FROM information_schema.key_column_usage k JOIN information_schema.referential_constraints r
			   ON r.constraint_schema = k.constraint_schema AND r.constraint_name = k.constraint_name AND r.table_name = k.table_name
			 WHERE k.table_schema = DATABASE() GROUP BY k.table_name, k.constraint_name, k.referenced_table_name, r.update_rule, r.delete_rule
			 ORDER BY k.table_name, k.constraint_name`,
			`SELECT CONCAT_WS(' ', 'check', table_name, constraint_name, check_clause) FROM information_schema.check_constraints
			 WHERE constraint_schema = DATABASE() AND table_name <> 'atlas_schema_revisions' ORDER BY table_name, constraint_name`,
		}
	} else {
		const tables = `SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'atlas_schema_revisions'`
		queries = []string{
			`SELECT 'table ' || name || (CASE WHEN sql LIKE '%AUTOINCREMENT%' THEN ' autoincrement' ELSE '' END) FROM (` + tables + `) ORDER BY name`,
			`SELECT 'column ' || t.name || ' ' || c.cid || ' ' || c.name || ' ' || c.type || ' notnull=' || c."notnull" ||
			   ' default=' || IFNULL(c.dflt_value, '-') || ' pk=' || c.pk
			 FROM (` + tables + `) t, pragma_table_info(t.name) c ORDER BY t.name, c.cid`,
			`SELECT 'index ' || t.name || ' ' || l.name || ' unique=' || l."unique" || ' origin=' || l.origin || ' partial=' || l.partial ||
			   ' ' || (SELECT GROUP_CONCAT(name, ',') FROM (SELECT i.name FROM pragma_index_info(l.name) i ORDER BY i.seqno))
			 FROM (` + tables + `) t, pragma_index_list(t.name) l ORDER BY t.name, l.name`,
			`SELECT 'foreign-key ' || t.name || ' ' || f."from" || ' ' || f."table" || ' ' || f."to" || ' ' || f.on_update || ' ' || f.on_delete
			 FROM (` + tables + `) t, pragma_foreign_key_list(t.name) f ORDER BY t.name, f."from"`,
		}
	}
	var b strings.Builder
	for _, q := range queries {
		rows, err := db.SQL.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("storetest: layout: %v\n%s", err, q)
		}
		for rows.Next() {
			var line sql.NullString
			if err := rows.Scan(&line); err != nil {
				t.Fatalf("storetest: layout: %v", err)
			}
			fmt.Fprintln(&b, line.String)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("storetest: layout: %v", err)
		}
		rows.Close()
	}
	return b.String()
}

// MigrationFiles returns the migration files of backend (store.SQLite or store.MySQL), in the
// order they run.
func MigrationFiles(t testing.TB, backend string) []migrate.File {
	t.Helper()
	dir, err := migrations.Dir(store.DialectOf(backend))
	if err != nil {
		t.Fatal(err)
	}
	files, err := dir.Files()
	if err != nil {
		t.Fatal(err)
	}
	return files
}
