package auth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestCanonicalizeIdentifiers: stored rows from before the identifier rules are brought to their
// canonical form, collisions and values without one are reported (never merged), and the pass
// runs once per version of the rules.
func TestCanonicalizeIdentifiers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Rows written below the validators, as an older version could have stored them.
		rows := []struct{ email, username, ext string }{
			{"kim@bücher.example", "kim", "k-1"},           // 1: to punycode
			{"ann@bücher.example", "ann", ""},              // 2: collides with 3
			{"ann@xn--bcher-kva.example", "ann2", " a-2 "}, // 3: external id to trim
			{"ad\u200bmin@example.com", "zw", ""},          // 4: no canonical form
			{"ok@example.com", "b\u00adob", "ok"},          // 5: username to review
			{"pat@example.com", "pat", "p-1"},              // 6: already canonical
		}
		ids := make([]int, len(rows))
		now := time.Now()
		for i, r := range rows {
			var ext any
			if r.ext != "" {
				ext = r.ext
			}
			res, err := db.SQL.ExecContext(ctx, "INSERT INTO users (created_at, updated_at, email, name, username, tagline, picture, role, status, external_id) "+
				"VALUES (?, ?, ?, '', ?, '', '', 'MEMBER', 'ACTIVE', ?)", now, now, r.email, r.username, ext)
			if err != nil {
				t.Fatal(err)
			}
			id, _ := res.LastInsertId()
			ids[i] = int(id)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		rep, err := auth.CanonicalizeIdentifiers(ctx, db.Client, log, 2) // batches of 2: keyset paging runs
		if err != nil {
			t.Fatal(err)
		}
		if rep.Scanned != 6 || rep.Changed != 2 {
			t.Fatalf("scanned %d, changed %d; want 6, 2", rep.Scanned, rep.Changed)
		}
		got := func(i int) (string, string) {
			u := db.Client.User.GetX(ctx, ids[i])
			ext := ""
			if u.ExternalID != nil {
				ext = *u.ExternalID
			}
			return u.Email, ext
		}
		for i, want := range []struct{ email, ext string }{
			{"kim@xn--bcher-kva.example", "k-1"},
			{"ann@bücher.example", ""},
			{"ann@xn--bcher-kva.example", "a-2"},
			{"ad\u200bmin@example.com", ""},
			{"ok@example.com", "ok"},
			{"pat@example.com", "p-1"},
		} {
			if e, x := got(i); e != want.email || x != want.ext {
				t.Errorf("row %d: %q %q, want %q %q", i+1, e, x, want.email, want.ext)
			}
		}
		evs := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventIdentifierReview)).AllX(ctx)
		review := map[int]map[string]any{}
		for _, e := range evs {
			review[*e.UserID] = e.Detail
		}
		if len(evs) != 3 {
			t.Fatalf("%d IDENTIFIER_REVIEW events, want 3: %v", len(evs), review)
		}
		if d := review[ids[1]]; d["field"] != "email" || d["canonical"] != "ann@xn--bcher-kva.example" || d["conflictingUserId"] == nil {
			t.Errorf("collision: %v", d)
		}
		if d := review[ids[3]]; d["field"] != "email" || d["canonical"] != nil {
			t.Errorf("no canonical form: %v", d)
		}
		if d := review[ids[4]]; d["field"] != "username" {
			t.Errorf("username: %v", d)
		}

		// Once per version: a second start does nothing.
		if _, err := db.SQL.ExecContext(ctx, "UPDATE users SET email = 'new@bücher.example' WHERE id = ?", ids[5]); err != nil {
			t.Fatal(err)
		}
		rep, err = auth.CanonicalizeIdentifiers(ctx, db.Client, log, 100)
		if err != nil || rep.Scanned != 0 {
			t.Fatalf("second pass: %+v, %v", rep, err)
		}
	})
}
