package authdb

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestWriteFieldValues: the one writer of field values brings a member's values to what it is given,
// writes only what differs, and says what changed; with the stored values given or read.
func TestWriteFieldValues(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		company := c.ProfileField.Create().SetKey("company").SetName("Company").SaveX(ctx)
		city := c.ProfileField.Create().SetKey("city").SetName("City").SaveX(ctx)
		level := c.ProfileField.Create().SetKey("level").SetName("Level").SaveX(ctx)
		u := c.User.Create().SetEmail("w@example.com").SetUsername("w").SaveX(ctx)
		other := c.User.Create().SetEmail("o@example.com").SetUsername("o").SaveX(ctx)
		c.ProfileFieldValue.Create().SetUserID(other.ID).SetFieldID(company.ID).SetKey("company").SetValue("Other").ExecX(ctx)
		values := func() map[string]string {
			out := map[string]string{}
			for _, v := range c.ProfileFieldValue.Query().Where(profilefieldvalue.UserID(u.ID)).AllX(ctx) {
				out[v.Key] = v.Value
			}
			return out
		}
		stored := func() map[int]Stored {
			out := map[int]Stored{}
			for _, v := range c.ProfileFieldValue.Query().Where(profilefieldvalue.UserID(u.ID)).AllX(ctx) {
				out[v.FieldID] = Stored{ID: v.ID, Value: v.Value}
			}
			return out
		}
		fv := func(id int, key, val string) FieldValue {
			return FieldValue{FieldID: id, Key: key, Value: val}
		}
		for _, given := range []bool{false, true} {
			name := "read here"
			if given {
				name = "given by the caller"
			}
			t.Run(name, func(t *testing.T) {
				c.ProfileFieldValue.Delete().Where(profilefieldvalue.UserID(u.ID)).ExecX(ctx)
				for _, step := range []struct {
					name        string
					vals        []FieldValue
					wantChanged []string
					want        map[string]string
				}{
					{"insert two", []FieldValue{fv(company.ID, "company", "Acme"), fv(city.ID, "city", "Oslo")}, []string{"fields.company", "fields.city"}, map[string]string{"company": "Acme", "city": "Oslo"}},
					{"nothing changes", []FieldValue{fv(company.ID, "company", "Acme"), fv(level.ID, "level", "")}, nil, map[string]string{"company": "Acme", "city": "Oslo"}},
					{"update, clear, insert", []FieldValue{fv(company.ID, "company", "Beta"), fv(city.ID, "city", ""), fv(level.ID, "level", "3")}, []string{"fields.company", "fields.city", "fields.level"}, map[string]string{"company": "Beta", "level": "3"}},
					{"a field named twice takes its last value", []FieldValue{fv(level.ID, "level", "4"), fv(level.ID, "level", "5")}, []string{"fields.level"}, map[string]string{"company": "Beta", "level": "5"}},
					{"none", nil, nil, map[string]string{"company": "Beta", "level": "5"}},
				} {
					var st map[int]Stored
					if given {
						st = stored()
					}
					changed, err := WriteFieldValues(ctx, c, u.ID, step.vals, st)
					if err != nil {
						t.Fatalf("%s: %v", step.name, err)
					}
					if !slices.Equal(changed, step.wantChanged) {
						t.Fatalf("%s: changed %q, want %q", step.name, changed, step.wantChanged)
					}
					if got := values(); !maps.Equal(got, step.want) {
						t.Fatalf("%s: values %v, want %v", step.name, got, step.want)
					}
				}
				if v := c.ProfileFieldValue.Query().Where(profilefieldvalue.UserID(other.ID)).OnlyX(ctx); v.Value != "Other" {
					t.Fatalf("another member's value changed: %q", v.Value)
				}
			})
		}
	})
}

// TestInsertFieldValuesAsEnt: the values' fixed INSERT writes the rows ent's CreateBulk writes,
// and refuses a key the schema refuses.
func TestInsertFieldValuesAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		fixed := c.User.Create().SetEmail("f@example.com").SetUsername("f").SaveX(ctx)
		byEnt := c.User.Create().SetEmail("e@example.com").SetUsername("e").SaveX(ctx)
		company := c.ProfileField.Create().SetKey("company").SetName("Company").SaveX(ctx)
		bio := c.ProfileField.Create().SetKey("bio").SetName("Bio").SaveX(ctx)
		vals := []FieldValue{{FieldID: company.ID, Key: "company", Value: "Acme"}, {FieldID: bio.ID, Key: "bio", Value: strings.Repeat("é", 3000)}}
		before := time.Now().Add(-time.Second)
		if err := insertFieldValues(ctx, c, fixed.ID, vals); err != nil {
			t.Fatal(err)
		}
		bulk := make([]*ent.ProfileFieldValueCreate, len(vals))
		for i, v := range vals {
			bulk[i] = c.ProfileFieldValue.Create().SetUserID(byEnt.ID).SetFieldID(v.FieldID).SetKey(v.Key).SetValue(v.Value)
		}
		c.ProfileFieldValue.CreateBulk(bulk...).ExecX(ctx)
		read := func(userID int) []*ent.ProfileFieldValue {
			return c.ProfileFieldValue.Query().Where(profilefieldvalue.UserID(userID)).Order(ent.Asc(profilefieldvalue.FieldFieldID)).AllX(ctx)
		}
		got, want := read(fixed.ID), read(byEnt.ID)
		if len(got) != 2 || len(want) != 2 {
			t.Fatalf("%d and %d rows", len(got), len(want))
		}
		for i := range got {
			if got[i].FieldID != want[i].FieldID || got[i].Key != want[i].Key || got[i].Value != want[i].Value ||
				got[i].CreatedAt.Before(before) || got[i].UpdatedAt.Before(got[i].CreatedAt) ||
				got[i].UpdatedAt.Sub(want[i].UpdatedAt).Abs() > 5*time.Second {
				t.Fatalf("inserted %+v\n     ent %+v", got[i], want[i])
			}
		}
		if err := insertFieldValues(ctx, c, fixed.ID, []FieldValue{{FieldID: company.ID, Key: "", Value: "x"}}); err == nil {
			t.Fatal("a key the schema refuses was written")
		}
	})
}
