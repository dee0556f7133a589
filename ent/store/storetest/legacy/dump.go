//go:build ignore

// Dump writes the fixture of this folder for one backend: a database laid out by the automatic
// migration of the releases before versioned migrations (store.Migrate of main at a218c3f, the
// commit this program was run at), with rows in every table, as one SQL statement a line.
//
//	go run ./ent/store/storetest/legacy/dump.go sqlite > ent/store/storetest/legacy/sqlite.sql
//	go run ./ent/store/storetest/legacy/dump.go mysql "$DSN_OF_AN_EMPTY_DATABASE" > ent/store/storetest/legacy/mysql.sql
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

func main() {
	ctx := context.Background()
	backend := os.Args[1]
	dsn := store.SQLiteMemoryDSN("legacy")
	if backend == store.MySQL {
		dsn = os.Args[2]
	}
	db, err := store.Open(ctx, backend, dsn, store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	seed(ctx, db)
	fmt.Printf("-- A database laid out by the automatic migration before versioned migrations (main at a218c3f), %s, with rows.\n", backend)
	fmt.Println("-- Made by dump.go in this folder; one statement a line.")
	if backend == store.SQLite {
		fmt.Println("PRAGMA foreign_keys = OFF;")
		dumpSQLite(ctx, db.SQL)
		fmt.Println("PRAGMA foreign_keys = ON;")
	} else {
		dumpMySQL(ctx, db.SQL)
	}
}

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func seed(ctx context.Context, db *store.DB) {
	c := db.Client
	at := time.Date(2026, 5, 4, 3, 2, 1, 123456000, time.UTC)
	admin := c.User.Create().SetEmail("admin@example.com").SetUsername("admin").SetName("Ada Admin").
		SetRole(user.RoleADMIN).SetPasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").
		SetCreatedAt(at).SetUpdatedAt(at).SetLastLoginAt(at).SaveX(ctx)
	bob := c.User.Create().SetEmail("bob@example.com").SetUsername("Bob").SetExternalID("ext-bob").
		SetName("Bob Builder").SetTagline("builds things").SetPicture("https://example.com/bob.png").
		SetEmailVerified(false).SetCreatedAt(at).SetUpdatedAt(at).SaveX(ctx)
	kim := c.User.Create().SetEmail("kim@example.com").SetUsername("kim").SetExternalID("Cust-1").
		SetRole(user.RoleMODERATOR).SetStatus(user.StatusSUSPENDED).SetCreatedAt(at).SetUpdatedAt(at).SaveX(ctx)
	general := c.Space.Create().SetName("General").SetSlug("general").SetCreatedAt(at).SaveX(ctx)
	news := c.Space.Create().SetName("News").SetSlug("news").SetCreatedAt(at).SaveX(ctx)
	c.SpaceMembership.Create().SetUserID(admin.ID).SetSpaceID(general.ID).SetRole("ADMIN").SetCreatedAt(at).ExecX(ctx)
	c.SpaceMembership.Create().SetUserID(bob.ID).SetSpaceID(general.ID).SetCreatedAt(at).ExecX(ctx)
	c.SpaceMembership.Create().SetUserID(bob.ID).SetSpaceID(news.ID).SetCreatedAt(at).ExecX(ctx)
	company := c.ProfileField.Create().SetKey("company").SetName("Company").SetExternalKeys([]string{"company", "org"}).
		SetCreatedAt(at).SetUpdatedAt(at).SaveX(ctx)
	plan := c.ProfileField.Create().SetKey("plan").SetName("Plan").SetType(profilefield.TypeSELECT).
		SetOptions([]string{"free", "pro"}).SetExternalKeys([]string{"plan"}).SetCreatedAt(at).SetUpdatedAt(at).SaveX(ctx)
	c.ProfileFieldValue.Create().SetUserID(bob.ID).SetFieldID(company.ID).SetKey("company").SetValue("Acme, Inc.").
		SetCreatedAt(at).SetUpdatedAt(at).ExecX(ctx)
	c.ProfileFieldValue.Create().SetUserID(bob.ID).SetFieldID(plan.ID).SetKey("plan").SetValue("pro").
		SetCreatedAt(at).SetUpdatedAt(at).ExecX(ctx)
	c.Session.Create().SetUserID(admin.ID).SetTokenHash(hash("session-admin")).SetMethod(session.MethodPASSWORD).
		SetExpiresAt(at.Add(720 * time.Hour)).SetLastSeenAt(at).SetIP("192.0.2.1").SetUserAgent("Firefox").SetCreatedAt(at).ExecX(ctx)
	c.Session.Create().SetUserID(bob.ID).SetTokenHash(hash("session-bob")).SetMethod(session.MethodOAUTH2).
		SetExpiresAt(at.Add(720 * time.Hour)).SetLastSeenAt(at).SetIDToken([]byte{0, 1, 2, 0xfe, 0xff}).
		SetRefreshToken([]byte("sealed-refresh")).SetRevalidateAt(at.Add(time.Hour)).SetCreatedAt(at).ExecX(ctx)
	c.APIToken.Create().SetUserID(admin.ID).SetName("deploy script").SetTokenHash(hash("pat-admin")).
		SetExpiresAt(at.Add(8760 * time.Hour)).SetLastUsedAt(at).SetCreatedAt(at).ExecX(ctx)
	c.EmailToken.Create().SetUserID(bob.ID).SetPurpose(emailtoken.PurposeVERIFY_EMAIL).SetTokenHash(hash("mail-bob")).
		SetEmail("bob.new@example.com").SetIP("198.51.100.7").SetExpiresAt(at.Add(24 * time.Hour)).SetCreatedAt(at).ExecX(ctx)
	c.SecurityEvent.Create().SetType("LOGIN").SetUserID(admin.ID).SetMethod("PASSWORD").SetIP("192.0.2.1").
		SetUserAgent("Firefox").SetDetail(map[string]any{"reason": "ok", "n": 1}).SetCreatedAt(at).ExecX(ctx)
	c.SecurityEvent.Create().SetType("SSO_CONFLICT").SetSubject("kim@example.com").
		SetDetail(map[string]any{"existing": kim.ID, "externalId": "other"}).SetCreatedAt(at).ExecX(ctx)
	c.LoginThrottle.Create().SetKey("ip:192.0.2.9").SetIP("192.0.2.9").SetFailures(3).SetLastAt(at).
		SetExpiresAt(at.Add(15 * time.Minute)).SetCreatedAt(at).ExecX(ctx)
	c.ReplayMarker.Create().SetKey("jti:abc").SetExpiresAt(at.Add(time.Hour)).SetCreatedAt(at).ExecX(ctx)
	c.Settings.Create().SetEmailPasswordEnabled(false).SetNewUsersHomepage("/welcome").SetJwtEnabled(true).
		SetJwtSecret([]byte{9, 8, 7, 0, 255}).SetJwtLoginButtonText("Sign in with Acme").
		SetOauth2Provider(settings.Oauth2ProviderOKTA).SetOauth2Scopes([]string{"openid", "email"}).
		SetIdentifiersVersion(1).SetKeyCheck([]byte("check")).SetCreatedAt(at).SetUpdatedAt(at).ExecX(ctx)
}

func dumpSQLite(ctx context.Context, db *sql.DB) {
	rows, err := db.QueryContext(ctx, "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")
	if err != nil {
		log.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var typ, name, q string
		if err := rows.Scan(&typ, &name, &q); err != nil {
			log.Fatal(err)
		}
		fmt.Println(oneLine(q) + ";")
		if typ == "table" {
			tables = append(tables, name)
		}
	}
	rows.Close()
	for _, t := range tables {
		dumpRows(ctx, db, t, "quote(`%s`)", "`")
	}
	// The inserts moved the sequences; set them as they were.
	fmt.Println("DELETE FROM sqlite_sequence;")
	dumpRows(ctx, db, "sqlite_sequence", "quote(`%s`)", "`")
}

func dumpMySQL(ctx context.Context, db *sql.DB) {
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name")
	if err != nil {
		log.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			log.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	fmt.Println("SET FOREIGN_KEY_CHECKS = 0;")
	for _, t := range tables {
		var name, q string
		if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE `"+t+"`").Scan(&name, &q); err != nil {
			log.Fatal(err)
		}
		fmt.Println(oneLine(q) + ";")
	}
	for _, t := range tables {
		dumpRows(ctx, db, t, "", "`")
	}
	fmt.Println("SET FOREIGN_KEY_CHECKS = 1;")
}

// dumpRows prints an INSERT per row of table, each value through the expression expr.
func dumpRows(ctx context.Context, db *sql.DB, table, expr, q string) {
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+q+table+q+" LIMIT 0")
	if err != nil {
		log.Fatal(err)
	}
	cols, _ := rows.Columns()
	rows.Close()
	exprs := make([]string, len(cols))
	for i, c := range cols {
		e := expr
		if e == "" { // MySQL: bytes in hex, the rest quoted
			var typ string
			err := db.QueryRowContext(ctx, "SELECT data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?", table, c).Scan(&typ)
			if err != nil {
				log.Fatal(err)
			}
			e = "QUOTE(`%[1]s`)"
			if strings.Contains(typ, "binary") || strings.Contains(typ, "blob") {
				e = "IF(`%[1]s` IS NULL, 'NULL', CONCAT('X''', HEX(`%[1]s`), ''''))"
			}
		}
		exprs[i] = fmt.Sprintf(e, c)
	}
	rows, err = db.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+q+table+q)
	if err != nil {
		log.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			log.Fatal(err)
		}
		lits := make([]string, len(cols))
		for i, v := range vals {
			lits[i] = v.String
			if !v.Valid {
				lits[i] = "NULL"
			}
		}
		fmt.Printf("INSERT INTO %s%s%s (%s%s%s) VALUES (%s);\n", q, table, q, q, strings.Join(cols, q+", "+q), q, strings.Join(lits, ", "))
	}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
