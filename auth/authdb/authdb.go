package authdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql/schema"

	"github.com/community/sso/ent"
)

// Size is the size of column in table as ent's generated schema declares it (a string field's
// MaxLen). It panics when the column has none: a programming error the tests catch.
func Size(t *schema.Table, column string) int {
	for _, c := range t.Columns {
		if c.Name == column && c.Size > 0 {
			return int(c.Size)
		}
	}
	panic(fmt.Sprintf("authdb: %s.%s has no size in the schema", t.Name, column))
}

// Truncate cuts s to at most n bytes on a rune boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Fit cuts value to what column of table holds (its size in ent's generated schema), on a rune
// boundary: for values that are recorded as they came (addresses, user agents), never for
// identifiers.
func Fit(t *schema.Table, column, value string) string {
	return Truncate(value, Size(t, column))
}

// insertInto is an INSERT into table's columns without its rows ("INSERT INTO `t` (`a`, `b`)
// VALUES "), and one row's placeholders ("(?, ?)").
func insertInto(table string, columns ...string) (head, row string) {
	return "INSERT INTO " + quote(table) + " (" + quoteAll(columns) + ") VALUES ",
		"(" + placeholders(len(columns)) + ")"
}

// rows is the INSERT head with n rows of placeholders row.
func rows(head, row string, n int) string {
	var b strings.Builder
	b.Grow(len(head) + n*(len(row)+2))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// quote is a backquoted identifier.
func quote(name string) string { return "`" + name + "`" }

// quoteAll is names backquoted and comma-separated.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// placeholders is n placeholders, comma-separated.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// scanRows runs query and scans each row with scan.
func scanRows[T any](ctx context.Context, client *ent.Client, query string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := client.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, rows.Close()
}

// jsonStrings decodes a list-of-strings column as ent stores it (JSON; NULL or empty is none).
func jsonStrings(col sql.NullString) ([]string, error) {
	if !col.Valid || col.String == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(col.String), &out); err != nil {
		return nil, err
	}
	return out, nil
}

// intCol scans an integer column straight into an int. database/sql scans into *int through
// reflection and a decimal string (an allocation a column); a column as the drivers return it
// (int64) needs neither. Anything else (the MySQL text protocol's []byte) goes the usual way,
// and NULL fails as it does for *int.
type intCol int

func (c *intCol) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		if src == nil {
			return errors.New("authdb: converting NULL to int is unsupported")
		}
		var n sql.NullInt64
		if err := n.Scan(src); err != nil {
			return err
		}
		v = n.Int64
	}
	if int64(int(v)) != v {
		return fmt.Errorf("authdb: %d is out of an int's range", v)
	}
	*c = intCol(v)
	return nil
}

// textCol scans a text column into a string type of ent's (an enum such as user.Role), which
// database/sql would convert through reflection, with an allocation a column. NULL fails as it
// does for *string.
type textCol string

func (c *textCol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*c = textCol(v)
	case []byte:
		*c = textCol(v)
	case nil:
		return errors.New("authdb: converting NULL to string is unsupported")
	default:
		var s sql.NullString
		if err := s.Scan(src); err != nil {
			return err
		}
		*c = textCol(s.String)
	}
	return nil
}
