package authdb

import (
	"context"
	"fmt"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefieldvalue"
)

// FieldValue is a member's value of one custom profile field, to write.
type FieldValue struct {
	FieldID int
	Key     string
	// Value is the value, valid for the field's type (profile.Value); "" removes the member's
	// value.
	Value string
}

// Stored is a member's value of a field as the database holds it.
type Stored struct {
	ID    int // the value's row
	Value string
}

// WriteFieldValues is the one writer of members' custom field values, for GraphQL and for
// single sign-on:
// it brings userID's values of the fields in vals to vals (a field named twice takes its last
// value) and returns what it changed, "fields.<key>" in the order of vals. stored is the
// member's current value of each of those fields by field id, when the caller has read them;
// nil reads them in one query. A value that is already right is not written; removals are one
// DELETE and new values one INSERT.
func WriteFieldValues(ctx context.Context, client *ent.Client, userID int, vals []FieldValue, stored map[int]Stored) ([]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	last := make(map[int]int, len(vals)) // field id → index of its last value in vals
	ids := make([]int, 0, len(vals))
	for i, v := range vals {
		if _, dup := last[v.FieldID]; !dup {
			ids = append(ids, v.FieldID)
		}
		last[v.FieldID] = i
	}
	if stored == nil {
		rows, err := client.ProfileFieldValue.Query().
			Where(profilefieldvalue.UserID(userID), profilefieldvalue.FieldIDIn(ids...)).
			Select(profilefieldvalue.FieldID, profilefieldvalue.FieldFieldID, profilefieldvalue.FieldValue).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("authdb: read values: %w", err)
		}
		stored = make(map[int]Stored, len(rows))
		for _, r := range rows {
			stored[r.FieldID] = Stored{ID: r.ID, Value: r.Value}
		}
	}
	var (
		changed []string
		clears  []int
		inserts []FieldValue
	)
	for _, id := range ids {
		v := vals[last[id]]
		cur, has := stored[id]
		switch {
		case v.Value == "":
			if !has {
				continue
			}
			clears = append(clears, cur.ID)
		case !has:
			inserts = append(inserts, FieldValue{FieldID: id, Key: v.Key, Value: v.Value})
		case cur.Value != v.Value:
			if err := client.ProfileFieldValue.Update().Where(profilefieldvalue.ID(cur.ID)).SetValue(v.Value).Exec(ctx); err != nil {
				return nil, fmt.Errorf("authdb: update value of %s: %w", v.Key, err)
			}
		default:
			continue
		}
		changed = append(changed, "fields."+v.Key)
	}
	if len(clears) > 0 {
		if _, err := client.ProfileFieldValue.Delete().Where(profilefieldvalue.IDIn(clears...)).Exec(ctx); err != nil {
			return nil, fmt.Errorf("authdb: remove values: %w", err)
		}
	}
	if len(inserts) > 0 {
		if err := insertFieldValues(ctx, client, userID, inserts); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// fieldValueColumns are the columns a field value's INSERT sets: all but the id.
var fieldValueColumns = []string{
	profilefieldvalue.FieldCreatedAt, profilefieldvalue.FieldUpdatedAt, profilefieldvalue.FieldKey,
	profilefieldvalue.FieldValue, profilefieldvalue.FieldFieldID, profilefieldvalue.FieldUserID,
}

// fieldValueInsert is the INSERT of field values without its rows, and fieldValueRow one row's
// placeholders.
var fieldValueInsert, fieldValueRow = insertInto(profilefieldvalue.Table, fieldValueColumns...)

// insertFieldValues inserts vals with one statement, as ent's CreateBulk writes them (creation
// and update time, a key the schema accepts) but without reading the new ids back.
func insertFieldValues(ctx context.Context, client *ent.Client, userID int, vals []FieldValue) error {
	created, updated := profilefieldvalue.DefaultCreatedAt(), profilefieldvalue.DefaultUpdatedAt()
	args := make([]any, 0, len(vals)*len(fieldValueColumns))
	for _, v := range vals {
		if err := profilefieldvalue.KeyValidator(v.Key); err != nil {
			return fmt.Errorf("authdb: insert value of %q: %w", v.Key, err)
		}
		args = append(args, created, updated, v.Key, v.Value, v.FieldID, userID)
	}
	if _, err := client.ExecContext(ctx, rows(fieldValueInsert, fieldValueRow, len(vals)), args...); err != nil {
		return fmt.Errorf("authdb: insert values: %w", err)
	}
	return nil
}
