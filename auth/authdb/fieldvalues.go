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
		inserts []*ent.ProfileFieldValueCreate
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
			inserts = append(inserts, client.ProfileFieldValue.Create().SetUserID(userID).SetFieldID(id).SetKey(v.Key).SetValue(v.Value))
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
		if err := client.ProfileFieldValue.CreateBulk(inserts...).Exec(ctx); err != nil {
			return nil, fmt.Errorf("authdb: insert values: %w", err)
		}
	}
	return changed, nil
}
