package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestReadmeFiltersUseIndexes runs the users and securityEvents queries of the pages (docPages) on
// both backends, against tables seeded with enough rows for the planner to tell a scan from a
// search, and explains every statement they send: none may read the whole users or
// security_events table.
func TestReadmeFiltersUseIndexes(t *testing.T) {
	const members, events = 3000, 12000
	blocks := docBlocks(t)
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			var log storetest.StatementLog
			db := storetest.Open(t, backend, storetest.Options{WrapDriver: log.Wrap})
			app := newApp(t, db, nil)
			owner, err := auth.BootstrapAdmin(ctx, db.Client, "owner@example.com", "choose-a-long-password")
			if err != nil {
				t.Fatal(err)
			}
			token, _, err := auth.NewAPIToken(ctx, db.Client, owner, "readme", nil)
			if err != nil {
				t.Fatal(err)
			}
			seedMembersAndEvents(t, db, members, events)

			n := 0
			for i, b := range blocks {
				if b.lang != "graphql" || strings.HasPrefix(strings.TrimSpace(b.text), "mutation") ||
					!strings.Contains(b.text, "users(") && !strings.Contains(b.text, "securityEvents(") {
					continue
				}
				n++
				vars := graphqlVariables(t, blocks, i)
				log.Start()
				r := app.gql(nil, token, b.text, vars)
				stmts := log.StopWithArgs()
				if len(r.Errors) > 0 {
					t.Fatalf("%s: %s", b.at(), r.Raw)
				}
				for _, s := range stmts {
					if !strings.HasPrefix(s.Query, "SELECT") {
						continue
					}
					steps, err := storetest.Explain(ctx, db, s.Query, s.Args...)
					if err != nil {
						t.Fatal(err)
					}
					plan, full := readsAll(steps, strings.Contains(s.Query, " WHERE "), "users", "security_events")
					t.Logf("%s: %s\n\t%s", b.at(), s.Query, strings.Join(plan, "\n\t"))
					if len(full) > 0 {
						t.Errorf("%s: a full scan (%s) in %s\n\tplan: %s", b.at(), strings.Join(full, "; "), s.Query, strings.Join(plan, "; "))
					}
				}
			}
			if n < 3 {
				t.Fatalf("only %d users or securityEvents queries found in %s", n, strings.Join(docPages, ", "))
			}
		})
	}
}

// seedMembersAndEvents inserts Pat and members (every tenth a moderator, every fiftieth suspended) with
// logins spread over a year, and events of several types, most of them the members', in
// multi-row INSERTs; on MySQL/MariaDB it then updates the tables' statistics.
func seedMembersAndEvents(t *testing.T, db *store.DB, members, events int) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	insert := func(head, row string, n int, args func(i int) []any) {
		const per = 250
		for i := 0; i < n; i += per {
			k := min(per, n-i)
			rows := make([]string, k)
			var all []any
			for j := range k {
				rows[j] = row
				all = append(all, args(i+j)...)
			}
			if _, err := db.SQL.ExecContext(ctx, head+strings.Join(rows, ", "), all...); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Pat, whom the examples name, has a few events among the others'.
	pat := db.Client.User.Create().SetEmail("pat@example.com").SetUsername("pat").SaveX(ctx).ID
	insert("INSERT INTO users (external_id, email, email_verified, name, username, tagline, picture, role, status, last_login_at, created_at, updated_at) VALUES ",
		"(?, ?, true, ?, ?, '', '', ?, ?, ?, ?, ?)", members, func(i int) []any {
			role, status := "MEMBER", "ACTIVE"
			if i%10 == 0 {
				role = "MODERATOR"
			}
			if i%50 == 0 {
				status = "SUSPENDED"
			}
			created := now.Add(-time.Duration(members-i) * time.Hour)
			login := created.Add(time.Duration(i%97) * time.Hour)
			return []any{fmt.Sprintf("seed-%d", i), fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("Member %d", i),
				fmt.Sprintf("m%d", i), role, status, login, created, login}
		})
	types := []string{auth.EventLoginSucceeded, auth.EventLoginFailed, auth.EventUserUpdated, "SSO_CONFLICT", auth.EventLogout}
	insert("INSERT INTO security_events (type, user_id, method, ip, user_agent, subject, created_at) VALUES ",
		"(?, ?, 'PASSWORD', ?, 'seed', '', ?)", events, func(i int) []any {
			var user any
			switch {
			case i%500 == 1:
				user = pat
			case i%7 != 0:
				user = pat + 1 + i%members
			}
			ip := make([]byte, 2)
			rand.Read(ip)
			return []any{types[i%len(types)], user, fmt.Sprintf("198.51.%d.%d", ip[0], ip[1]), now.Add(-time.Duration(events-i) * time.Minute)}
		})
	if db.Driver == store.MySQL {
		if _, err := db.SQL.ExecContext(ctx, "ANALYZE TABLE users, security_events"); err != nil {
			t.Fatal(err)
		}
	}
}

// readsAll returns the plan's steps, one line each, and those among them that may read all of one
// of tables, or all the rows a filter matches there, however few the statement returns: a scan
// of the table; a walk along a whole index when the statement filters (each row tested in
// turn); a sort of every matching row. A walk along an index in its order without a filter,
// which a LIMIT ends early, passes; so does a search of an index whose order is the statement's.
func readsAll(steps []storetest.PlanStep, filtered bool, tables ...string) (plan, full []string) {
	for _, st := range steps {
		plan = append(plan, st.Detail)
		growing := slices.Contains(tables, st.Table)
		if st.Sort || growing && (st.FullScan && !st.IndexWalk || st.IndexWalk && filtered) {
			full = append(full, st.Detail)
		}
	}
	return plan, full
}
