package provision

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store/storetest"
)

// writesTo returns, for each write statement, its verb and table ("INSERT space_memberships").
func writesTo(stmts []string) []string {
	var out []string
	for _, q := range stmts {
		f := strings.Fields(strings.NewReplacer("`", " ", `"`, " ").Replace(q))
		switch {
		case len(f) >= 3 && f[0] == "INSERT" && f[1] == "INTO":
			out = append(out, "INSERT "+f[2])
		case len(f) >= 2 && f[0] == "UPDATE":
			out = append(out, "UPDATE "+f[1])
		case len(f) >= 3 && f[0] == "DELETE" && f[1] == "FROM":
			out = append(out, "DELETE "+f[2])
		}
	}
	return out
}

// TestLoginStatements pins what a login costs the database: a returning member whose spaces
// and fields are unchanged reads them with one query each, looks for the webhooks that want its
// events, and writes only the session, the login time and the login event; a new member's
// memberships, field values and security events are inserted with one statement each.
func TestLoginStatements(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			log := &storetest.StatementLog{}
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			ctx := context.Background()
			for _, slug := range []string{"general", "news", "vip"} {
				db.Client.Space.Create().SetName(slug).SetSlug(slug).ExecX(ctx)
			}
			for _, k := range []string{"company", "plan"} {
				db.Client.ProfileField.Create().SetKey(k).SetName(k).SetExternalKeys([]string{k}).ExecX(ctx)
			}
			f := newFixture(db)
			const payload = `{"sub": "ext-st", "email": "st@example.com", "name": "St", "spaceIds": ["general", "news", "vip"], "company": "Acme", "plan": "pro"}`

			log.Start()
			first := f.mustLogin(t, payload, nil)
			writes := writesTo(log.Stop())
			want := []string{
				"INSERT users", // with the login time: no UPDATE of it after the session
				"INSERT space_memberships", "INSERT profile_field_values", "INSERT sessions",
				"INSERT security_events", // all three events at once
			}
			if strings.Join(writes, ", ") != strings.Join(want, ", ") {
				t.Fatalf("a new member's login writes\n%q\nwant\n%q", writes, want)
			}
			created := getUser(t, db, first.User.ID)
			sess, err := db.Client.Session.Query().Only(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if created.LastLoginAt == nil || !created.LastLoginAt.Equal(sess.CreatedAt) {
				t.Fatalf("a new member's lastLoginAt %v, want its session's start %v", created.LastLoginAt, sess.CreatedAt)
			}
			evs, err := db.Client.SecurityEvent.Query().Order(ent.Asc(securityevent.FieldID)).All(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range evs {
				types = append(types, e.Type)
			}
			if want := []string{auth.EventUserCreated, auth.EventSpaceMembershipChanged, auth.EventLoginSucceeded}; !slices.Equal(types, want) {
				t.Fatalf("events %q, want %q", types, want)
			}
			if got := memberships(t, db, first.User.ID); len(got) != 3 {
				t.Fatalf("memberships %v", got)
			}

			before := getUser(t, db, first.User.ID)
			time.Sleep(10 * time.Millisecond) // a bumped updated_at would differ
			log.Start()
			again := f.mustLogin(t, payload, nil)
			stmts := log.Stop()
			writes = writesTo(stmts)
			// The login-time UPDATE comes first: it locks the member's row before the session and
			// events reference it (the lock order that keeps concurrent logins from deadlocking).
			want = []string{"UPDATE users", "INSERT sessions", "INSERT security_events"}
			if strings.Join(writes, ", ") != strings.Join(want, ", ") {
				t.Fatalf("an unchanged member's login writes\n%q\nwant\n%q", writes, want)
			}
			// The member by externalId, its spaces, its fields: one query each; and the enabled
			// webhooks (an index lookup that finds none), the one statement the webhook outbox
			// costs a login when no webhook wants its events: the outbox rows must be written in
			// the login's transaction, and only the database knows, on every replica, whether a
			// webhook was just registered.
			if reads := len(stmts) - len(writes); reads != 4 {
				t.Fatalf("an unchanged member's login reads with %d statements, want 4:\n%s", reads, strings.Join(stmts, "\n"))
			}
			if !slices.ContainsFunc(stmts, func(q string) bool { return strings.Contains(q, "FROM `webhooks`") }) {
				t.Fatalf("the login did not look for webhooks:\n%s", strings.Join(stmts, "\n"))
			}
			if len(again.Changed) != 0 || again.Decision != DecisionUpdate {
				t.Fatalf("unchanged login: %+v", again)
			}

			// The login time moves; updated_at, which tells of changes to the profile, does not.
			after := getUser(t, db, first.User.ID)
			if after.LastLoginAt == nil || before.LastLoginAt == nil || !after.LastLoginAt.After(*before.LastLoginAt) {
				t.Fatalf("last login %v, then %v", before.LastLoginAt, after.LastLoginAt)
			}
			if !after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Fatalf("a login changed updated_at: %v -> %v", before.UpdatedAt, after.UpdatedAt)
			}
		})
	}
}
