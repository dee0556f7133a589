package store_test

import (
	"context"
	"testing"

	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// TestIdentifiersCompareByteForByte: the database never matches an email, external id or
// username the code did not: no case or accent folding by a collation, also after the adoption
// of a database whose columns had a folding collation.
func TestIdentifiersCompareByteForByte(t *testing.T) {
	t.Run("collation from before", func(t *testing.T) {
		// A database of an earlier release: the columns with a case- and accent-insensitive
		// collation. Adopting it makes them compare byte for byte.
		ctx := context.Background()
		db := storetest.OpenLegacy(t, store.MySQL)
		for _, col := range []string{"email varchar(200) NOT NULL", "username varchar(100) NOT NULL", "external_id varchar(50) NULL"} {
			if _, err := db.SQL.ExecContext(ctx, "ALTER TABLE users MODIFY "+col+" COLLATE utf8mb4_unicode_ci"); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := db.SQL.QueryContext(ctx, "SELECT column_name, collation_name FROM information_schema.columns "+
			"WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name IN ('email', 'username', 'external_id')")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var col, coll string
			if err := rows.Scan(&col, &coll); err != nil {
				t.Fatal(err)
			}
			n++
			if coll != "utf8mb4_bin" {
				t.Errorf("users.%s has collation %s, want utf8mb4_bin", col, coll)
			}
		}
		if n != 3 {
			t.Fatalf("%d identifier columns, want 3", n)
		}
		if db.Client.User.Query().Where(user.Email("KIM@example.com")).ExistX(ctx) {
			t.Fatal("the database matched a different identifier")
		}
	})
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		c.User.Create().SetEmail("kim@example.com").SetUsername("Kim").SetExternalID("Cust-1").ExecX(ctx)
		for _, tc := range []struct {
			name string
			p    func() bool
		}{
			{"email in upper case", func() bool { return c.User.Query().Where(user.Email("KIM@example.com")).ExistX(ctx) }},
			{"email with an accent", func() bool { return c.User.Query().Where(user.Email("kím@example.com")).ExistX(ctx) }},
			{"email with U+0130", func() bool { return c.User.Query().Where(user.Email("kİm@example.com")).ExistX(ctx) }},
			{"username in lower case", func() bool { return c.User.Query().Where(user.Username("kim")).ExistX(ctx) }},
			{"external id in lower case", func() bool { return c.User.Query().Where(user.ExternalID("cust-1")).ExistX(ctx) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.p() {
					t.Fatal("the database matched a different identifier")
				}
			})
		}
		// Usernames differing in case are two usernames.
		c.User.Create().SetEmail("kim2@example.com").SetUsername("kim").ExecX(ctx)
	})
}
