package main

// Scale benchmark: the same requests against a small database and a large one, each seeded in
// a fresh database with bulk multi-row INSERTs and served by a fresh server. The small size runs
// first and records its ns/op; the large size reports its ratio to it as the "x-small" metric
// (the goal: at most 1.5). Run:
//
//	go test -run=NONE -bench=Scale -benchtime=2s .
//	SCALE_BENCH_ROWS=100000 go test -run=NONE -bench=Scale -benchtime=500ms .
//
// Sizes: small is 1,000 sessions, 1,000 security events and 1,000 members; large is
// SCALE_BENCH_ROWS (default 1,000,000) sessions and security events and a tenth as many members
// (100,000 by default). SQLite runs on a file (the server's writer and readers); MySQL/MariaDB on a
// database of the TEST_MYSQL_DSN server, skipped without it. See docs/PERFORMANCE.md ("Scale").

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// scaleSmall is the small size's rows in sessions and security events, and its members.
const scaleSmall = 1000

// scaleBatch is the rows one seeding INSERT carries.
const scaleBatch = 500

// scaleLarge is the large size: SCALE_BENCH_ROWS, default 1,000,000.
func scaleLarge(b *testing.B) int {
	v := os.Getenv("SCALE_BENCH_ROWS")
	if v == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < scaleSmall {
		b.Fatalf("SCALE_BENCH_ROWS=%q: want a number of rows, at least %d", v, scaleSmall)
	}
	return n
}

// scaleMembers is the members seeded beside rows sessions and security events.
func scaleMembers(rows int) int { return max(scaleSmall, rows/10) }

func BenchmarkScale(b *testing.B) {
	large := scaleLarge(b)
	for _, backend := range []string{store.SQLite, store.MySQL} {
		b.Run(backend, func(b *testing.B) {
			for _, rows := range []int{scaleSmall, large} {
				b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
					benchScale(b, backend, rows, rows == scaleSmall)
				})
			}
		})
	}
}

// scaleSite is one size: its own database and server, a member signed in, an admin's token.
type scaleSite struct {
	app     *testApp
	client  *http.Client
	signIn  string // member 7's JWT SSO sign-in URL, signed once as the customer's server does
	token   string // the admin's API token
	cookie  string // the member's session cookie (the latest login's)
	members []int  // the seeded members' ids
}

// benchScale seeds a fresh database of the size, serves it, and measures each request. The small
// size records its ns/op per request; the large size reports its ratio to that.
func benchScale(b *testing.B, backend string, rows int, small bool) {
	db, dsn := openScaleDB(b, backend)
	start := time.Now()
	members := seedScale(b, backend, dsn, rows, scaleMembers(rows))
	b.Logf("%s: seeded %d sessions, %d security events and %d members in %s", backend, rows, rows, len(members), time.Since(start).Round(time.Millisecond))

	s := &scaleSite{app: newApp(b, db, nil), client: benchClient(b), members: members}
	now := time.Now()
	tok := authtest.Sign(b, jwt.SigningMethodHS256, enableJWTSSO(b, s.app), jwt.MapClaims{"sub": "ext-7", "email": "user7@scale.example", "name": "User 7", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, nil)
	s.signIn = s.app.URL + "/api/auth/sso?" + url.Values{"jwt": {tok}, "redirect_uri": {"/"}}.Encode()
	s.token = adminToken(b, s.app)
	s.cookie = s.login(b, "")

	var revoked int
	for _, op := range []struct {
		name string
		run  func(b *testing.B)
	}{
		{"me", func(b *testing.B) {
			s.graphql(b, s.cookie, "", `{ me { id email } }`, `"email":"user7@scale.example"`)
		}},
		{"login-with-old-cookie", func(b *testing.B) {
			s.cookie = s.login(b, s.cookie)
		}},
		{"revokeUserSessions", func(b *testing.B) {
			// A different member each time, of those holding one seeded session each (seedScale);
			// once every one of them was revoked, the member gets a session again, untimed.
			pool := len(s.members) / 2
			id := s.members[(revoked*7919)%pool]
			if revoked >= pool {
				b.StopTimer()
				s.app.DB.Client.Session.Create().SetTokenHash(randomBytes(b, 32)).SetMethod(session.MethodJWT).
					SetExpiresAt(time.Now().Add(time.Hour)).SetLastSeenAt(time.Now()).SetUserID(id).ExecX(context.Background())
				b.StartTimer()
			}
			revoked++
			s.graphql(b, "", s.token, fmt.Sprintf(`mutation { revokeUserSessions(userId: "%d") }`, id), `"revokeUserSessions":`)
		}},
		{"securityEvents-pageInfo", func(b *testing.B) {
			s.graphql(b, "", s.token, `{ securityEvents(first: 20) { edges { node { id createdAt type } } pageInfo { hasNextPage endCursor } } }`, `"hasNextPage":true`)
		}},
		{"users-first-100", func(b *testing.B) {
			s.graphql(b, "", s.token, `{ users(first: 100) { edges { node { id email name } } pageInfo { hasNextPage endCursor } } }`, `"hasNextPage":true`)
		}},
	} {
		b.Run(op.name, func(b *testing.B) {
			op.run(b)
			b.ReportAllocs()
			for b.Loop() {
				op.run(b)
			}
			name := "Scale/" + backend + "/" + op.name
			if small {
				recordFloor(b, name)
			} else {
				reportRatioAs(b, name, "x-small")
			}
		})
	}
}

// openScaleDB opens a fresh, migrated database and returns it with its DSN: a SQLite file in a temporary folder (a writer and
// readers, as the server opens it), or a new database on the TEST_MYSQL_DSN server.
func openScaleDB(b *testing.B, backend string) (*store.DB, string) {
	b.Helper()
	var dsn string
	switch backend {
	case store.SQLite:
		dsn = store.SQLiteDSN(filepath.Join(b.TempDir(), "scale.db"))
	case store.MySQL:
		if os.Getenv("TEST_MYSQL_DSN") == "" {
			b.Skip("scale benchmark: TEST_MYSQL_DSN is not set")
		}
		dsn = storetest.NewMySQLDatabase(b)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, backend, dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return db, dsn
}

// seedScale inserts members users, then rows sessions and rows security events spread over them,
// in one transaction of multi-row INSERTs (scaleBatch rows each), and returns the members' ids.
// Sessions were opened over the last 30 days and are still valid (the first half of the members
// hold one each, see sessionOwner); events happened over the last 90 days.
//
// It writes through a connection of its own, closed afterwards, so that the server's connections
// keep their settings and caches. On SQLite that connection keeps the transaction's pages in
// memory, instead of writing them to the WAL again and again.
func seedScale(b *testing.B, driver, dsn string, rows, members int) []int {
	b.Helper()
	ctx := context.Background()
	if driver == store.SQLite {
		dsn += "&_pragma=cache_size(-1048576)"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	insert := "INSERT INTO "
	if driver == store.SQLite {
		// Without foreign key checks, and with OR IGNORE, no INSERT can fail half-way, so SQLite
		// keeps no statement journal for it (the counts are checked after the commit).
		if _, err := db.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			b.Fatal(err)
		}
		insert = "INSERT OR IGNORE INTO "
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	restoreIndexes := func() {}
	if driver == store.SQLite {
		// Building an index once over all rows takes a fraction of updating it row by row.
		restoreIndexes = withoutIndexes(b, tx, "users", "sessions", "security_events")
	}
	now := time.Now().UTC()

	bulk(b, tx, insert+"users (created_at, updated_at, external_id, email, name, username, tagline, picture, role, status, last_login_at) VALUES ",
		"(?, ?, ?, ?, ?, ?, '', '', 'MEMBER', 'ACTIVE', ?)", members, func(i int, args []any) []any {
			at := now.Add(-time.Duration(members-i) * time.Minute)
			return append(args, at, at, fmt.Sprint("ext-", i), fmt.Sprintf("user%d@scale.example", i), fmt.Sprint("User ", i), fmt.Sprint("user", i), at)
		})
	ids := make([]int, 0, members)
	r, err := tx.QueryContext(ctx, "SELECT id FROM users ORDER BY id")
	if err != nil {
		b.Fatal(err)
	}
	for r.Next() {
		var id int
		if err := r.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := r.Close(); err != nil {
		b.Fatal(err)
	}

	// Token hashes are as random as real ones; they go in in index order, which only makes the
	// seeding faster.
	hashes := make([][sha256.Size]byte, rows)
	for i := range hashes {
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], uint64(i))
		hashes[i] = sha256.Sum256(key[:])
	}
	slices.SortFunc(hashes, func(x, y [sha256.Size]byte) int { return bytes.Compare(x[:], y[:]) })
	span := 30 * 24 * time.Hour
	bulk(b, tx, insert+"sessions (created_at, token_hash, method, expires_at, last_seen_at, ip, user_agent, user_id) VALUES ",
		"(?, ?, 'JWT', ?, ?, '127.0.0.1', 'scale', ?)", rows, func(i int, args []any) []any {
			at := now.Add(-span * time.Duration(rows-i) / time.Duration(rows))
			return append(args, at, hashes[i][:], at.Add(span), at, sessionOwner(ids, i))
		})
	types := []string{"LOGIN_SUCCEEDED", "LOGIN_SUCCEEDED", "LOGIN_SUCCEEDED", "LOGIN_FAILED", "LOGOUT", "USER_UPDATED"}
	bulk(b, tx, insert+"security_events (created_at, type, method, ip, user_agent, subject, user_id) VALUES ",
		"(?, ?, 'JWT', '127.0.0.1', 'scale', '', ?)", rows, func(i int, args []any) []any {
			at := now.Add(-3 * span * time.Duration(rows-i) / time.Duration(rows))
			return append(args, at, types[i%len(types)], ids[i%len(ids)])
		})
	restoreIndexes()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for table, want := range map[string]int{"users": members, "sessions": rows, "security_events": rows} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil || n != want {
			b.Fatalf("seed: %d rows in %s (%v), want %d", n, table, err, want)
		}
	}
	if driver == store.MySQL {
		// A table that grew by logins has statistics InnoDB kept up to date in the background;
		// right after a bulk seed they still describe the empty table, and the planner then
		// picks plans no server would get (a covering scan and a sort for the security log's
		// first page at 100,000 rows).
		if _, err := db.ExecContext(ctx, "ANALYZE TABLE users, sessions, security_events"); err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// withoutIndexes drops the SQLite indexes of tables (all but the primary keys and the unique
// constraints SQLite keeps inline) in tx, and returns the function that creates them again, as
// the schema has them.
func withoutIndexes(b *testing.B, tx *sql.Tx, tables ...string) (restore func()) {
	b.Helper()
	ctx := context.Background()
	in := strings.TrimSuffix(strings.Repeat("?, ", len(tables)), ", ")
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t
	}
	rows, err := tx.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ("+in+")", args...)
	if err != nil {
		b.Fatal(err)
	}
	var names, creates []string
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			b.Fatal(err)
		}
		names, creates = append(names, name), append(creates, create)
	}
	if err := rows.Close(); err != nil {
		b.Fatal(err)
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, "DROP INDEX `"+name+"`"); err != nil {
			b.Fatal(err)
		}
	}
	return func() {
		for _, create := range creates {
			if _, err := tx.ExecContext(ctx, create); err != nil {
				b.Fatalf("seed: %s: %v", create, err)
			}
		}
	}
}

// sessionOwner is the member of seeded session i: each member one session first; the sessions
// beyond go to the second half of the members, so that the first half holds one session each at
// every size (what benchScale revokes).
func sessionOwner(ids []int, i int) int {
	if i < len(ids) {
		return ids[i]
	}
	half := len(ids) / 2
	return ids[half+i%(len(ids)-half)]
}

// randomBytes returns n random bytes.
func randomBytes(b *testing.B, n int) []byte {
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		b.Fatal(err)
	}
	return p
}

// bulk inserts n rows with head followed by row per row, scaleBatch rows a statement; add appends
// the arguments of row i. The full-size statement is prepared once.
func bulk(b *testing.B, tx *sql.Tx, head, row string, n int, add func(i int, args []any) []any) {
	b.Helper()
	ctx := context.Background()
	statement := func(k int) string {
		return head + strings.TrimSuffix(strings.Repeat(row+", ", k), ", ")
	}
	full, err := tx.PrepareContext(ctx, statement(min(n, scaleBatch)))
	if err != nil {
		b.Fatal(err)
	}
	defer full.Close()
	var args []any
	for i := 0; i < n; i += scaleBatch {
		k := min(scaleBatch, n-i)
		args = args[:0]
		for j := i; j < i+k; j++ {
			args = add(j, args)
		}
		if k == scaleBatch || i == 0 {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, statement(k), args...)
		}
		if err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
}

// login signs seeded member 7 in with JWT SSO, from a browser that carries oldCookie (when not
// empty), and returns the new session cookie.
func (s *scaleSite) login(b *testing.B, oldCookie string) string {
	req, _ := http.NewRequest(http.MethodGet, s.signIn, nil)
	if oldCookie != "" {
		req.AddCookie(&http.Cookie{Name: "community_session", Value: oldCookie})
	}
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "community_session" && c.Value != "" {
			return c.Value
		}
	}
	b.Fatalf("login without a session cookie: %v", resp.Header)
	return ""
}

// graphql posts query with the session cookie or the bearer token and fails unless the answer
// holds want and no error.
func (s *scaleSite) graphql(b *testing.B, cookie, bearer, query, want string) {
	payload, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest(http.MethodPost, s.app.URL+"/graphql", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "community_session", Value: cookie})
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) || strings.Contains(string(body), `"errors"`) {
		b.Fatalf("%s: %d %s", query, resp.StatusCode, body)
	}
}
