package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/community/sso/ent/store"
)

// Plan explains s on db, EXPLAIN QUERY PLAN on SQLite and EXPLAIN on MySQL/MariaDB, and returns
// one line per step, and the steps among them that may read all of one of tables, or all the rows
// a filter matches there, however few the statement returns:
//
//   - a scan of the table (SQLite "SCAN t", MySQL/MariaDB type ALL);
//   - a walk along an index that tests a filter row by row (SQLite "SCAN t USING INDEX i" in a
//     statement with a WHERE, MySQL/MariaDB type index "Using where");
//   - a sort of every matching row (SQLite "USE TEMP B-TREE FOR ORDER BY", MySQL/MariaDB
//     "Using filesort").
//
// A walk along an index in its order without a filter, which a LIMIT ends early, passes; so does
// a search of an index whose order is the statement's.
func Plan(ctx context.Context, db *store.DB, s Statement, tables ...string) (plan, fullScans []string, err error) {
	growing := map[string]bool{}
	for _, t := range tables {
		growing[t] = true
	}
	prefix := "EXPLAIN "
	if db.Driver == store.SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	filtered := strings.Contains(s.Query, " WHERE ")
	rows, err := db.SQL.QueryContext(ctx, prefix+s.Query, s.Args...)
	if err != nil {
		return nil, nil, fmt.Errorf("storetest: explain %s: %w", s.Query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := map[string]string{}
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
		}
		var line string
		full := false
		if db.Driver == store.SQLite {
			line = row["detail"]
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "SCAN" && growing[f[1]]:
				full = len(f) == 2 || filtered
			case strings.HasPrefix(line, "USE TEMP B-TREE FOR") && strings.Contains(line, "ORDER BY"):
				full = true
			}
		} else {
			line = fmt.Sprintf("table=%s type=%s key=%s rows=%s extra=%s", row["table"], row["type"], row["key"], row["rows"], row["extra"])
			full = growing[row["table"]] && (row["type"] == "ALL" ||
				row["type"] == "index" && strings.Contains(row["extra"], "Using where") ||
				strings.Contains(row["extra"], "Using filesort"))
		}
		plan = append(plan, line)
		if full {
			fullScans = append(fullScans, line)
		}
	}
	return plan, fullScans, rows.Err()
}
