package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/community/sso/ent/store"
)

// PlanStep is one table access in a statement's query plan.
type PlanStep struct {
	// Table is the table read, an alias resolved to its table ("" for a derived table or a
	// subquery's temporary result).
	Table string
	// FullScan says the access reads the whole table: MySQL/MariaDB type ALL or index (a full
	// index scan); SQLite SCAN without an index.
	FullScan bool
	// IndexWalk says the access walks a whole index, in its order (MySQL/MariaDB type index,
	// SQLite SCAN … USING INDEX): as costly as a full scan when each row is tested against a
	// filter, cheap when a LIMIT ends it early.
	IndexWalk bool
	// Sort says the step sorts every row it is given (MySQL/MariaDB "Using filesort", SQLite
	// "USE TEMP B-TREE FOR ORDER BY").
	Sort bool
	// Rows is the number of rows MySQL/MariaDB expects the step to read (0 on SQLite, whose
	// plan has no estimate).
	Rows int64
	// Detail is the backend's own description of the step.
	Detail string
}

// aliasPattern finds `table` AS `alias` in a statement (ent writes aliases so, quoted or not).
var aliasPattern = regexp.MustCompile("`?(\\w+)`?\\s+AS\\s+`?(\\w+)`?")

// Explain returns the query plan of the statement q run with args on db: EXPLAIN on
// MySQL/MariaDB, EXPLAIN QUERY PLAN on SQLite.
func Explain(ctx context.Context, db *store.DB, q string, args ...any) ([]PlanStep, error) {
	aliases := map[string]string{}
	for _, m := range aliasPattern.FindAllStringSubmatch(q, -1) {
		aliases[m[2]] = m[1]
	}
	table := func(name string) string {
		if real, ok := aliases[name]; ok {
			return real
		}
		return name
	}
	prefix := "EXPLAIN QUERY PLAN "
	if db.Driver == store.MySQL {
		prefix = "EXPLAIN "
	}
	rows, err := db.SQL.QueryContext(ctx, prefix+q, args...)
	if err != nil {
		return nil, fmt.Errorf("storetest: explain %s: %w", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var steps []PlanStep
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("storetest: explain %s: %w", q, err)
		}
		row := map[string]string{}
		var detail []string
		for i, c := range cols {
			row[strings.ToLower(c)] = vals[i].String
			if vals[i].Valid {
				detail = append(detail, c+"="+vals[i].String)
			}
		}
		if db.Driver == store.MySQL {
			name := row["table"]
			if strings.HasPrefix(name, "<") { // <derived2>, <subquery2>, <union1,2>
				name = ""
			}
			n, _ := strconv.ParseInt(row["rows"], 10, 64)
			steps = append(steps, PlanStep{
				Table:     table(name),
				FullScan:  row["type"] == "ALL" || row["type"] == "index",
				IndexWalk: row["type"] == "index",
				Sort:      strings.Contains(row["extra"], "Using filesort"),
				Rows:      n,
				Detail:    strings.Join(detail, " "),
			})
			continue
		}
		// SQLite: "SCAN t", "SCAN t AS a", "SEARCH t USING INDEX i (c=?)", "SCAN t USING
		// COVERING INDEX i", "SCAN CONSTANT ROW", "LIST SUBQUERY 1", "USE TEMP B-TREE ...".
		d := row["detail"]
		f := strings.Fields(d)
		if len(f) < 2 || (f[0] != "SCAN" && f[0] != "SEARCH") || f[1] == "CONSTANT" {
			steps = append(steps, PlanStep{
				Sort:   strings.HasPrefix(d, "USE TEMP B-TREE FOR") && strings.Contains(d, "ORDER BY"),
				Detail: d,
			})
			continue
		}
		steps = append(steps, PlanStep{
			Table:     table(f[1]),
			FullScan:  f[0] == "SCAN" && !strings.Contains(d, " INDEX "),
			IndexWalk: f[0] == "SCAN" && strings.Contains(d, " INDEX "),
			Detail:    d,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("storetest: explain %s: %w", q, err)
	}
	return steps, nil
}
