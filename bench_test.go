package main

// Benchmarks of the two hot paths against their floors: the same work done with the bare
// libraries (database/sql, encoding/json, golang-jwt, net/http) on the same kind of database.
// A floor benchmark runs before its benchmark (declaration order) and records its mean ns/op;
// the benchmark then reports its ratio to that floor as the "x-floor" metric. Run:
//
//	go test -run=NONE -bench='UsersPage|JWTLogin' -benchmem -count=5 .
//
// See docs/PERFORMANCE.md.

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

// floors keeps the mean ns/op of each floor benchmark run so far in this process.
var floors = struct {
	sync.Mutex
	sum map[string]float64
	n   map[string]int
}{sum: map[string]float64{}, n: map[string]int{}}

func nsPerOp(b *testing.B) float64 {
	if b.N == 0 {
		return 0
	}
	return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
}

// recordFloor stores this run of the floor named name.
func recordFloor(b *testing.B, name string) {
	ns := nsPerOp(b)
	if ns == 0 {
		return
	}
	floors.Lock()
	defer floors.Unlock()
	floors.sum[name] += ns
	floors.n[name]++
}

// reportRatio reports ns/op divided by the mean ns/op of the floor named name, when it ran.
func reportRatio(b *testing.B, name string) { reportRatioAs(b, name, "x-floor") }

// reportRatioAs is reportRatio with the metric named unit.
func reportRatioAs(b *testing.B, name, unit string) {
	floors.Lock()
	n, sum := floors.n[name], floors.sum[name]
	floors.Unlock()
	if n == 0 {
		b.Logf("floor %s did not run in this process: no %s metric", name, unit)
		return
	}
	b.ReportMetric(nsPerOp(b)/(sum/float64(n)), unit)
}

// benchClient keeps its connections alive, as a script or a browser does, and never follows
// redirects.
func benchClient(b testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// benchDB opens the benchmarks' database: SQLite in memory, reached by two pools (benchPools).
func benchDB(b testing.TB) (db *store.DB, bare *sql.DB) {
	b.Helper()
	name := make([]byte, 8)
	if _, err := rand.Read(name); err != nil {
		b.Fatal(err)
	}
	db, bare = benchPools(b, store.SQLite, store.SQLiteMemoryDSN(fmt.Sprintf("bench%x", name))+"&cache=shared")
	bare.SetMaxOpenConns(1)
	bare.SetMaxIdleConns(1)
	return db, bare
}

// benchMySQLInterpolated is benchMySQL with the server's pool asking the driver to put the
// arguments into the statements' text (interpolateParams=true), which leaves ent/store's
// statement cache out: one COM_QUERY a statement instead of one COM_STMT_EXECUTE of a statement
// prepared once per connection. The floors are the same.
func benchMySQLInterpolated(b testing.TB) (db *store.DB, bare *sql.DB) {
	b.Helper()
	dsn := storetest.NewMySQLDatabase(b)
	return benchPoolsAt(b, store.MySQL, dsn+"&interpolateParams=true", dsn)
}

// benchMySQL opens a fresh database on the TEST_MYSQL_DSN server (the benchmark skips without
// one), reached by two pools (benchPools).
func benchMySQL(b testing.TB) (db *store.DB, bare *sql.DB) {
	b.Helper()
	return benchPools(b, store.MySQL, storetest.NewMySQLDatabase(b))
}

// benchPools opens the database at dsn through two pools and migrates it. The server runs on
// the store's pool, whose connections keep their prepared statements (ent/store's statement
// cache); the floors run on bare, database/sql over the driver as it comes. The login floors
// prepare their statements once on it (prepareLoginStmts) and reuse them, as a careful
// hand-written server would; the users page floor sends its few statements as they come.
func benchPools(b testing.TB, driver, dsn string) (db *store.DB, bare *sql.DB) {
	b.Helper()
	return benchPoolsAt(b, driver, dsn, dsn)
}

// benchPoolsAt is benchPools with the server's pool at serverDSN and the floors' at bareDSN.
func benchPoolsAt(b testing.TB, driver, serverDSN, bareDSN string) (db *store.DB, bare *sql.DB) {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, driver, serverDSN, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if bare, err = sql.Open(driver, bareDSN); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bare.Close() })
	return db, bare
}

// ---------------------------------------------------------------------------------------------
// Users page: users(first: 100) with spaces and fields, as an admin script with an API token.

const usersPageQuery = `{ users(first: 100){ edges { node { id email name spaces { role space { slug } } fields { key value } } } } }`

type usersPage struct {
	db     *store.DB
	bare   *sql.DB
	app    *testApp
	token  string
	body   []byte
	client *http.Client
}

// newUsersPage serves the whole server over an in-memory SQLite database holding 120 members
// (3 spaces, 2 field values each) and an admin's API token.
func newUsersPage(b *testing.B) *usersPage {
	db, bare := benchDB(b)
	app := newApp(b, db, nil)
	storetest.SeedUsers(b, db, 120, 3, 2)
	p := &usersPage{db: db, bare: bare, app: app, token: adminToken(b, app), client: benchClient(b)}
	p.body = mustJSON(b, map[string]any{"query": usersPageQuery, "variables": nil})
	return p
}

// post sends the query to url with the bearer token and returns the status and, when keep, the body.
func (p *usersPage) post(b *testing.B, url string, keep bool) (int, []byte) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(p.body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if keep {
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			b.Fatal(err)
		}
		return resp.StatusCode, body
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, nil
}

// fetch posts the query to url and checks the answer holds 100 users with 3 spaces and 2 fields
// each; it returns the decoded data.
func (p *usersPage) fetch(b *testing.B, url string) any {
	status, body := p.post(b, url, true)
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(body, &out); err != nil || status != http.StatusOK || len(out.Errors) > 0 {
		b.Fatalf("users page: %d %v %.300s", status, err, body)
	}
	edges, _ := graphtest.Dig(out.Data, "users", "edges").([]any)
	if len(edges) != 100 {
		b.Fatalf("users page: %d edges", len(edges))
	}
	for _, e := range edges {
		if len(graphtest.Dig(e, "node", "spaces").([]any)) != 3 || len(graphtest.Dig(e, "node", "fields").([]any)) != 2 {
			b.Fatalf("users page: %v", e)
		}
	}
	return out.Data
}

func BenchmarkUsersPageFloor(b *testing.B) {
	p := newUsersPage(b)
	floor := httptest.NewServer(usersPageFloor(p.bare))
	b.Cleanup(floor.Close)

	// The floor answers exactly what the server answers.
	got := p.fetch(b, floor.URL+"/graphql")
	want := p.fetch(b, p.app.URL+"/graphql")
	if !reflect.DeepEqual(got, want) {
		b.Fatalf("the floor's answer differs from the server's:\n%s\n%s", mustJSON(b, got)[:400], mustJSON(b, want)[:400])
	}

	b.ReportAllocs()
	for b.Loop() {
		if status, _ := p.post(b, floor.URL+"/graphql", false); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	}
	recordFloor(b, "UsersPage")
}

func BenchmarkUsersPage(b *testing.B) {
	p := newUsersPage(b)
	url := p.app.URL + "/graphql"
	p.fetch(b, url) // also records the token's first use

	b.ReportAllocs()
	for b.Loop() {
		if status, _ := p.post(b, url, false); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	}
	reportRatio(b, "UsersPage")
}

type floorSpace struct {
	Slug string `json:"slug"`
}

type floorMembership struct {
	Role  string     `json:"role"`
	Space floorSpace `json:"space"`
}

type floorField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type floorUser struct {
	ID     string            `json:"id"`
	Email  string            `json:"email"`
	Name   string            `json:"name"`
	Spaces []floorMembership `json:"spaces"`
	Fields []floorField      `json:"fields"`
}

type floorEdge struct {
	Node *floorUser `json:"node"`
}

type floorUsersResponse struct {
	Data struct {
		Users struct {
			Edges []floorEdge `json:"edges"`
		} `json:"users"`
	} `json:"data"`
}

func floorError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"message": msg}}})
}

// usersPageFloor is the users page with database/sql and encoding/json: the API token row (with
// its user's role and status), 100 users by id, their memberships with space slugs, their field
// values, one JSON document.
func usersPageFloor(db *sql.DB) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var req struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Query == "" {
			floorError(w, http.StatusBadRequest, "bad request")
			return
		}
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			floorError(w, http.StatusUnauthorized, "no token")
			return
		}
		hash := sha256.Sum256([]byte(tok))
		var expires sql.NullTime
		var role, status string
		err := db.QueryRowContext(ctx, `SELECT t.expires_at, u.role, u.status FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, hash[:]).
			Scan(&expires, &role, &status)
		if err != nil || status != "ACTIVE" || (expires.Valid && !time.Now().Before(expires.Time)) {
			floorError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		if role != "ADMIN" {
			floorError(w, http.StatusForbidden, "forbidden")
			return
		}

		var resp floorUsersResponse
		rows, err := db.QueryContext(ctx, `SELECT id, email, name FROM users ORDER BY id LIMIT 100`)
		if err != nil {
			floorError(w, http.StatusInternalServerError, err.Error())
			return
		}
		byID := make(map[int]*floorUser, 100)
		ids := make([]any, 0, 100)
		edges := make([]floorEdge, 0, 100)
		for rows.Next() {
			var id int
			u := &floorUser{Spaces: []floorMembership{}, Fields: []floorField{}}
			if err := rows.Scan(&id, &u.Email, &u.Name); err != nil {
				rows.Close()
				floorError(w, http.StatusInternalServerError, err.Error())
				return
			}
			u.ID = strconv.Itoa(id)
			byID[id] = u
			ids = append(ids, id)
			edges = append(edges, floorEdge{Node: u})
		}
		rows.Close()
		resp.Data.Users.Edges = edges
		if len(ids) > 0 {
			in := strings.Repeat("?,", len(ids))
			in = in[:len(in)-1]
			rows, err = db.QueryContext(ctx, `SELECT m.user_id, m.role, s.slug FROM space_memberships m JOIN spaces s ON s.id = m.space_id WHERE m.user_id IN (`+in+`) ORDER BY m.user_id, m.id`, ids...)
			if err != nil {
				floorError(w, http.StatusInternalServerError, err.Error())
				return
			}
			for rows.Next() {
				var uid int
				var m floorMembership
				if err := rows.Scan(&uid, &m.Role, &m.Space.Slug); err != nil {
					rows.Close()
					floorError(w, http.StatusInternalServerError, err.Error())
					return
				}
				byID[uid].Spaces = append(byID[uid].Spaces, m)
			}
			rows.Close()
			rows, err = db.QueryContext(ctx, "SELECT user_id, `key`, value FROM profile_field_values WHERE user_id IN ("+in+") ORDER BY user_id, id", ids...)
			if err != nil {
				floorError(w, http.StatusInternalServerError, err.Error())
				return
			}
			for rows.Next() {
				var uid int
				var f floorField
				if err := rows.Scan(&uid, &f.Key, &f.Value); err != nil {
					rows.Close()
					floorError(w, http.StatusInternalServerError, err.Error())
					return
				}
				byID[uid].Fields = append(byID[uid].Fields, f)
			}
			rows.Close()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&resp)
	}
}

// ---------------------------------------------------------------------------------------------
// JWT SSO login: GET /api/auth/sso?jwt=... for a returning member and for a new one.

var benchSpaces = []any{"space-0", "space-1", "space-2"}

var benchFieldKeys = []string{"field_0", "field_1"}

type jwtLogin struct {
	db     *store.DB
	bare   *sql.DB
	app    *testApp
	secret []byte
	client *http.Client
}

// newJWTLogin serves the whole server over a database from open (benchDB or benchMySQL) holding
// 120 members (3 spaces, 2 field values each, the fields read from the payload keys field_0 and
// field_1), with JWT SSO enabled.
func newJWTLogin(b *testing.B, open func(testing.TB) (*store.DB, *sql.DB)) *jwtLogin {
	ctx := context.Background()
	db, bare := open(b)
	app := newApp(b, db, nil)
	storetest.SeedUsers(b, db, 120, 3, 2)
	for _, f := range db.Client.ProfileField.Query().AllX(ctx) {
		f.Update().SetExternalKeys([]string{f.Key}).ExecX(ctx)
	}
	secret := enableJWTSSO(b, app)
	return &jwtLogin{db: db, bare: bare, app: app, secret: secret, client: benchClient(b)}
}

// enableJWTSSO turns JWT SSO on in app with a new random secret, as an admin does, and returns
// the secret.
func enableJWTSSO(b testing.TB, app *testApp) []byte {
	b.Helper()
	ctx := context.Background()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		b.Fatal(err)
	}
	sealer, err := seal.New(app.Cfg.SecretKey)
	if err != nil {
		b.Fatal(err)
	}
	st, err := auth.LoadSettings(ctx, app.DB.Client)
	if err != nil {
		b.Fatal(err)
	}
	st.Update().SetJwtEnabled(true).SetJwtSecret(sealer.Seal(jwtsso.PurposeSecret, secret)).ExecX(ctx)
	return secret
}

// loginURL signs, as the customer's server does, a token for a member with the benchmark's
// spaces and field values, and returns the sign-in URL on base.
func (l *jwtLogin) loginURL(b *testing.B, base, sub, email, name, value string) string {
	return l.signedLoginURL(b, base, jwt.SigningMethodHS256, l.secret, sub, email, name, value)
}

// signedLoginURL is loginURL with the token signed by key with method.
func (l *jwtLogin) signedLoginURL(b *testing.B, base string, method jwt.SigningMethod, key any, sub, email, name, value string) string {
	now := time.Now()
	c := jwt.MapClaims{"sub": sub, "email": email, "name": name, "spaceIds": benchSpaces, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for _, k := range benchFieldKeys {
		c[k] = value
	}
	tok := authtest.Sign(b, method, key, c, nil)
	return base + "/api/auth/sso?" + url.Values{"jwt": {tok}, "redirect_uri": {"/spaces"}}.Encode()
}

// get signs in at u and checks the answer: 303 to /spaces with a session cookie.
func (l *jwtLogin) get(b *testing.B, u string, check bool) {
	resp, err := l.client.Get(u)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if check {
		if loc := resp.Header.Get("Location"); loc != "/spaces" {
			b.Fatalf("login to %q", loc)
		}
		found := false
		for _, c := range resp.Cookies() {
			found = found || (c.Name == "community_session" && c.Value != "" && c.HttpOnly)
		}
		if !found {
			b.Fatalf("login without a session cookie: %v", resp.Header)
		}
	}
}

// urls hands out pre-signed sign-in URLs of new members; signing is the customer's cost, so a
// refill (4096 at a time) runs with the timer stopped.
type urls struct {
	b    *testing.B
	make func(i int) string
	next int
	buf  []string
}

func (s *urls) refill() {
	for k := 0; k < 4096; k++ {
		s.buf = append(s.buf, s.make(s.next))
		s.next++
	}
}

func (s *urls) get() string {
	if len(s.buf) == 0 {
		s.b.StopTimer()
		s.refill()
		s.b.StartTimer()
	}
	u := s.buf[0]
	s.buf = s.buf[1:]
	return u
}

func newMemberURLs(b *testing.B, l *jwtLogin, base string) *urls {
	return newMemberURLsAs(b, l, base, "new")
}

// newMemberURLsAs is newMemberURLs for members whose externalIds start with prefix+"-".
func newMemberURLsAs(b *testing.B, l *jwtLogin, base, prefix string) *urls {
	s := &urls{b: b, make: func(i int) string {
		// Fixed-width numbers: no new member's username is a prefix of another's.
		return l.loginURL(b, base, fmt.Sprintf("%s-%06d", prefix, i), fmt.Sprintf("%s%06d@example.com", prefix, i),
			fmt.Sprintf("%s Member %06d", prefix, i), fmt.Sprintf("value %d", i))
	}}
	s.refill()
	return s
}

// existingURL is the sign-in URL of seeded member 7 with what it already has: nothing changes.
func existingURL(b *testing.B, l *jwtLogin, base string) string {
	return l.loginURL(b, base, "ext-7", "user7@example.com", "User 7", "v-user7")
}

// unchanged fails the benchmark when a login of an existing member changed anything.
func unchanged(b *testing.B, l *jwtLogin) {
	ctx := context.Background()
	n := l.db.Client.SecurityEvent.Query().Where(securityevent.TypeIn(auth.EventUserUpdated, auth.EventSpaceMembershipChanged, auth.EventUserCreated)).CountX(ctx)
	if n != 0 {
		b.Fatalf("the returning member's login changed data (%d events)", n)
	}
}

// benchJWTLoginFloor, benchJWTLoginExisting and benchJWTLoginNew (on the floor or the server) are
// the JWT login benchmarks on a database from open; a floor records its ns/op under name, and the
// benchmark reports its ratio to it.
func benchJWTLoginFloor(b *testing.B, open func(testing.TB) (*store.DB, *sql.DB), name string) {
	l := newJWTLogin(b, open)
	floor := httptest.NewServer(jwtLoginFloor(b, l.bare, l.app.Cfg.SecretKey))
	b.Cleanup(floor.Close)
	u := existingURL(b, l, floor.URL)
	l.get(b, u, true)
	b.ReportAllocs()
	for b.Loop() {
		l.get(b, u, false)
	}
	recordFloor(b, name)
}

func benchJWTLoginExisting(b *testing.B, open func(testing.TB) (*store.DB, *sql.DB), name string) {
	l := newJWTLogin(b, open)
	u := existingURL(b, l, l.app.URL)
	l.get(b, u, true)
	unchanged(b, l)
	b.ReportAllocs()
	for b.Loop() {
		l.get(b, u, false)
	}
	b.StopTimer()
	unchanged(b, l)
	reportRatio(b, name)
}

func benchJWTLoginNew(b *testing.B, open func(testing.TB) (*store.DB, *sql.DB), name string, onFloor bool) {
	l := newJWTLogin(b, open)
	base := l.app.URL
	if onFloor {
		floor := httptest.NewServer(jwtLoginFloor(b, l.bare, l.app.Cfg.SecretKey))
		b.Cleanup(floor.Close)
		base = floor.URL
	}
	src := newMemberURLs(b, l, base)
	l.get(b, src.get(), true)
	b.ReportAllocs()
	for b.Loop() {
		l.get(b, src.get(), false)
	}
	b.StopTimer()
	checkNewMembers(b, l, "new", src.next-len(src.buf))
	if onFloor {
		recordFloor(b, name)
	} else {
		reportRatio(b, name)
	}
}

// benchJWTLoginPaired signs members in through the server and through the floor by turns, one
// login of each per iteration (which goes first alternates), on one database, and reports the
// mean time of each and their ratio. A machine that slows down for a while (other jobs, a
// neighbour on the host) slows both alike, so the ratio holds where separate runs of the floor
// and the server drift apart by more than the difference they measure.
func benchJWTLoginPaired(b *testing.B, open func(testing.TB) (*store.DB, *sql.DB), newMembers bool) {
	l := newJWTLogin(b, open)
	floor := httptest.NewServer(jwtLoginFloor(b, l.bare, l.app.Cfg.SecretKey))
	b.Cleanup(floor.Close)
	floorURL := func() string { return existingURL(b, l, floor.URL) }
	serverURL := func() string { return existingURL(b, l, l.app.URL) }
	var floorNew, serverNew *urls
	if newMembers {
		floorNew, serverNew = newMemberURLsAs(b, l, floor.URL, "floor"), newMemberURLsAs(b, l, l.app.URL, "new")
		floorURL, serverURL = floorNew.get, serverNew.get
	}
	l.get(b, floorURL(), true)
	l.get(b, serverURL(), true)
	if !newMembers {
		unchanged(b, l)
	}
	var floorTime, serverTime time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		fu, su := floorURL(), serverURL()
		t0 := time.Now()
		if i%2 == 0 {
			l.get(b, fu, false)
			t1 := time.Now()
			l.get(b, su, false)
			floorTime, serverTime = floorTime+t1.Sub(t0), serverTime+time.Since(t1)
		} else {
			l.get(b, su, false)
			t1 := time.Now()
			l.get(b, fu, false)
			serverTime, floorTime = serverTime+t1.Sub(t0), floorTime+time.Since(t1)
		}
		i++
	}
	b.StopTimer()
	if newMembers {
		checkNewMembers(b, l, "floor", floorNew.next-len(floorNew.buf))
		checkNewMembers(b, l, "new", serverNew.next-len(serverNew.buf))
	} else {
		unchanged(b, l)
	}
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(i), "floor-ns/login")
	b.ReportMetric(float64(serverTime.Nanoseconds())/float64(i), "server-ns/login")
	b.ReportMetric(float64(serverTime)/float64(floorTime), "x-floor")
}

// BenchmarkJWTLoginKeysPaired signs the returning member in with an HS256 token (the secret),
// an RS256 token (an RSA 2048 public key of publicKeys) and an ES256 token (an EC P-256 public
// key) by turns, each iteration starting with the next of the three, and reports the RS256 and
// ES256 logins as ratios to the HS256 login of the same run: the key lookup should add only the
// signature check's own cost (RSA and ECDSA verification against HMAC).
func BenchmarkJWTLoginKeysPaired(b *testing.B) {
	l := newJWTLogin(b, benchDB)
	ctx := context.Background()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	var keys []string
	for _, pub := range []any{&rsaKey.PublicKey, &ecKey.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	}
	l.db.Client.Settings.Update().SetJwtPublicKeys(keys).ExecX(ctx)
	signed := func(method jwt.SigningMethod, key any) string {
		return l.signedLoginURL(b, l.app.URL, method, key, "ext-7", "user7@example.com", "User 7", "v-user7")
	}
	names := []string{"hs256", "rs256", "es256"}
	urls := []string{signed(jwt.SigningMethodHS256, l.secret), signed(jwt.SigningMethodRS256, rsaKey), signed(jwt.SigningMethodES256, ecKey)}
	for _, u := range urls {
		l.get(b, u, true)
	}
	unchanged(b, l)
	var times [3]time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range 3 {
			k := (i + j) % 3
			t0 := time.Now()
			l.get(b, urls[k], false)
			times[k] += time.Since(t0)
		}
		i++
	}
	b.StopTimer()
	unchanged(b, l)
	for k, name := range names {
		b.ReportMetric(float64(times[k].Nanoseconds())/float64(i), name+"-ns/login")
	}
	b.ReportMetric(float64(times[1])/float64(times[0]), "rs256-x-hs256")
	b.ReportMetric(float64(times[2])/float64(times[0]), "es256-x-hs256")

	// The signature checks alone, with golang-jwt as a customer's verifier would run them, by
	// turns as above: a login with a key should cost the HS256 login plus the difference
	// between its check and the HMAC's (what the -extra metrics report, near zero).
	keysFor := []any{l.secret, &rsaKey.PublicKey, &ecKey.PublicKey}
	methods := []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodRS256, jwt.SigningMethodES256}
	tokens := make([]string, 3)
	for k, u := range urls {
		parsed, err := url.Parse(u)
		if err != nil {
			b.Fatal(err)
		}
		tokens[k] = parsed.Query().Get("jwt")
	}
	var checks [3]time.Duration
	const n = 2000
	for r := range n {
		for j := range 3 {
			k := (r + j) % 3
			parser := jwt.NewParser(jwt.WithValidMethods([]string{methods[k].Alg()}))
			t0 := time.Now()
			if _, err := parser.Parse(tokens[k], func(*jwt.Token) (any, error) { return keysFor[k], nil }); err != nil {
				b.Fatal(err)
			}
			checks[k] += time.Since(t0)
		}
	}
	for k, name := range names[1:] {
		login := float64(times[k+1]-times[0]) / float64(i)
		check := float64(checks[k+1]-checks[0]) / n
		b.ReportMetric(check, name+"-check-ns")
		b.ReportMetric(login-check, name+"-extra-ns")
	}
}

// BenchmarkJWTLoginPaired and BenchmarkJWTLoginNewPaired are the returning and new member's
// logins measured by turns with their floors (benchJWTLoginPaired); ns/op, B/op and allocs/op
// are those of the two logins together.
func BenchmarkJWTLoginPaired(b *testing.B)    { benchJWTLoginPaired(b, benchDB, false) }
func BenchmarkJWTLoginNewPaired(b *testing.B) { benchJWTLoginPaired(b, benchDB, true) }

func BenchmarkJWTLoginFloor(b *testing.B)    { benchJWTLoginFloor(b, benchDB, "JWTLogin") }
func BenchmarkJWTLoginExisting(b *testing.B) { benchJWTLoginExisting(b, benchDB, "JWTLogin") }
func BenchmarkJWTLoginNewFloor(b *testing.B) { benchJWTLoginNew(b, benchDB, "JWTLoginNew", true) }
func BenchmarkJWTLoginNew(b *testing.B)      { benchJWTLoginNew(b, benchDB, "JWTLoginNew", false) }

// The same on MySQL/MariaDB (TEST_MYSQL_DSN), the production database: every statement is a
// round trip to the server, and every commit waits for its log to be written.

func BenchmarkJWTLoginMySQLFloor(b *testing.B) {
	benchJWTLoginFloor(b, benchMySQL, "JWTLoginMySQL")
}

func BenchmarkJWTLoginExistingMySQL(b *testing.B) {
	benchJWTLoginExisting(b, benchMySQL, "JWTLoginMySQL")
}

func BenchmarkJWTLoginExistingMySQLInterpolated(b *testing.B) {
	benchJWTLoginExisting(b, benchMySQLInterpolated, "JWTLoginMySQL")
}

func BenchmarkJWTLoginNewMySQLFloor(b *testing.B) {
	benchJWTLoginNew(b, benchMySQL, "JWTLoginNewMySQL", true)
}

func BenchmarkJWTLoginNewMySQL(b *testing.B) {
	benchJWTLoginNew(b, benchMySQL, "JWTLoginNewMySQL", false)
}

// checkNewMembers checks that n new members whose externalIds start with prefix+"-" were made,
// each with 3 spaces and 2 field values.
func checkNewMembers(b *testing.B, l *jwtLogin, prefix string, n int) {
	var users, spaces, fields int
	like := prefix + "-%"
	err := l.db.SQL.QueryRow(`SELECT (SELECT COUNT(*) FROM users WHERE external_id LIKE ?),
		(SELECT COUNT(*) FROM space_memberships m JOIN users u ON u.id = m.user_id WHERE u.external_id LIKE ?),
		(SELECT COUNT(*) FROM profile_field_values v JOIN users u ON u.id = v.user_id WHERE u.external_id LIKE ?)`, like, like, like).Scan(&users, &spaces, &fields)
	if err != nil {
		b.Fatal(err)
	}
	if users != n || spaces != 3*n || fields != 2*n {
		b.Fatalf("%d logins made %d users, %d memberships, %d field values", n, users, spaces, fields)
	}
}

// loginStmts are the statements of jwtLoginFloor, prepared once on its pool as a careful
// hand-written server does: a transaction runs each through tx.StmtContext, which reuses the
// statement already prepared on the transaction's connection.
type loginStmts struct {
	settings         *sql.Stmt
	userByExternalID *sql.Stmt
	userByEmail      *sql.Stmt
	usernameTaken    *sql.Stmt
	insertUser       *sql.Stmt
	memberships      *sql.Stmt
	fields           *sql.Stmt
	updateUser       *sql.Stmt
	insertMembership *sql.Stmt
	updateField      *sql.Stmt
	insertField      *sql.Stmt
	insertSession    *sql.Stmt
	recordLogin      *sql.Stmt
	insertEvent      *sql.Stmt // one row
	insertEvents     *sql.Stmt // three rows
}

// prepareLoginStmts prepares the floor's statements on db, closed when b ends.
func prepareLoginStmts(b testing.TB, db *sql.DB) *loginStmts {
	b.Helper()
	st := &loginStmts{}
	const event = `(?, ?, ?, 'JWT', ?, ?, '', ?)`
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.settings, `SELECT jwt_enabled, jwt_secret, jwt_max_token_age_seconds, jwt_require_jti, new_users_homepage, sync_username,
			jwt_admin_claim, jwt_admin_claim_value, jwt_moderator_claim, jwt_moderator_claim_value, embed_origins,
			jwt_previous_secret, jwt_previous_secret_expires_at, jwt_issuer, jwt_audience, jwt_public_keys, jwt_jwks_url,
			EXISTS (SELECT 1 FROM webhooks WHERE enabled = ?)
			FROM settings ORDER BY id LIMIT 1`},
		{&st.userByExternalID, `SELECT id, email, name, status FROM users WHERE external_id = ?`},
		{&st.userByEmail, `SELECT id FROM users WHERE email = ?`},
		{&st.usernameTaken, `SELECT EXISTS (SELECT 1 FROM users WHERE username = ?)`},
		{&st.insertUser, `INSERT INTO users (created_at, updated_at, external_id, email, name, username, tagline, picture, role, status, last_login_at) VALUES (?, ?, ?, ?, ?, ?, '', '', 'MEMBER', 'ACTIVE', ?)`},
		{&st.memberships, `SELECT s.slug FROM space_memberships m JOIN spaces s ON s.id = m.space_id WHERE m.user_id = ?`},
		{&st.fields, "SELECT f.id, f.`key`, f.external_keys, v.value FROM profile_fields f LEFT JOIN profile_field_values v ON v.field_id = f.id AND v.user_id = ? ORDER BY f.id"},
		{&st.updateUser, `UPDATE users SET email = ?, name = ?, updated_at = ? WHERE id = ?`},
		{&st.insertMembership, `INSERT INTO space_memberships (created_at, role, space_id, user_id) SELECT ?, 'MEMBER', id, ? FROM spaces WHERE slug = ?`},
		{&st.updateField, `UPDATE profile_field_values SET value = ?, updated_at = ? WHERE user_id = ? AND field_id = ?`},
		{&st.insertField, "INSERT INTO profile_field_values (created_at, updated_at, `key`, value, field_id, user_id) VALUES (?, ?, ?, ?, ?, ?)"},
		{&st.insertSession, `INSERT INTO sessions (created_at, token_hash, method, expires_at, last_seen_at, ip, user_agent, user_id) VALUES (?, ?, 'JWT', ?, ?, ?, ?, ?)`},
		{&st.recordLogin, `UPDATE users SET last_login_at = ? WHERE id = ?`},
		{&st.insertEvent, `INSERT INTO security_events (created_at, type, user_id, method, ip, user_agent, subject, detail) VALUES ` + event},
		{&st.insertEvents, `INSERT INTO security_events (created_at, type, user_id, method, ip, user_agent, subject, detail) VALUES ` + event + `, ` + event + `, ` + event},
	} {
		stmt, err := db.Prepare(p.query)
		if err != nil {
			b.Fatalf("prepare %q: %v", p.query, err)
		}
		b.Cleanup(func() { stmt.Close() })
		*p.stmt = stmt
	}
	return st
}

// floorFieldRow is a profile field as jwtLoginFloor reads it, with the member's value.
type floorFieldRow struct {
	id      int64
	key     string
	extKeys []string
	value   sql.NullString
}

// jwtLoginFloor is the JWT SSO login with the bare libraries, doing the work the server must do:
// it reads the JWT SSO settings a login's policy needs (enabled, the secret sealed with AES-256-GCM
// under secretKey, opened with crypto/cipher; the token's age, jti, issuer and audience rules, the
// new members' page; the settings it does not implement, such as public keys or role claims, must
// be unset; and whether a webhook is enabled, which must be none); golang-jwt parses the token
// (HS256 only, numbers exact, as the payload mapping reads ids) and the floor applies those rules.
// One database/sql transaction reads the member by external id, its memberships and the profile
// fields with its values (or checks the email is free, finds a free username and inserts the
// member, its memberships and field values), inserts a session with a random token's hash,
// records the login time and writes the security log's events in one INSERT; then the cookie and
// a 303. Its statements are prepared once (prepareLoginStmts).
func jwtLoginFloor(b testing.TB, db *sql.DB, secretKey []byte) http.HandlerFunc {
	st := prepareLoginStmts(b, db)
	block, err := aes.NewCipher(secretKey)
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		b.Fatal(err)
	}
	secretAD := append([]byte{1}, jwtsso.PurposeSecret...)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuedAt(), jwt.WithJSONNumber())
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		w.Header().Set("Cache-Control", "no-store")
		fail := func(err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }

		// The settings a login's policy needs: the floor implements those the benchmarks use
		// (the secret, the token's age, jti, issuer and audience, the new members' page) and
		// refuses the others, so that it never does less than the server would.
		var (
			enabled, requireJTI, syncUsername, webhooks                  bool
			sealed, previous                                             []byte
			maxAge                                                       int64
			homepage, adminClaim, adminValue, modClaim, modValue, issuer string
			audience, jwksURL                                            string
			origins, publicKeys                                          sql.NullString
			previousExpiry                                               sql.NullTime
		)
		if err := st.settings.QueryRowContext(ctx, true).Scan(&enabled, &sealed, &maxAge, &requireJTI, &homepage, &syncUsername,
			&adminClaim, &adminValue, &modClaim, &modValue, &origins, &previous, &previousExpiry, &issuer, &audience,
			&publicKeys, &jwksURL, &webhooks); err != nil {
			fail(err)
			return
		}
		if !enabled || len(sealed) < 1 || sealed[0] != 1 {
			http.Error(w, "disabled", http.StatusNotFound)
			return
		}
		if syncUsername || adminClaim != "" || modClaim != "" || len(previous) > 0 || jwksURL != "" || webhooks ||
			(origins.Valid && origins.String != "" && origins.String != "null" && origins.String != "[]") ||
			(publicKeys.Valid && publicKeys.String != "" && publicKeys.String != "null" && publicKeys.String != "[]") {
			fail(errors.New("floor: a setting the floor does not implement is set"))
			return
		}
		secret, err := aead.Open(nil, nil, sealed[1:], secretAD)
		if err != nil {
			fail(err)
			return
		}
		q := r.URL.Query()
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(q.Get("jwt"), claims, func(*jwt.Token) (any, error) { return secret, nil }); err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		// Numbers are exact (the parser's JSON numbers): an id may be one, read as its decimal
		// string.
		var sub string
		switch v := claims["sub"].(type) {
		case string:
			sub = v
		case json.Number:
			sub = v.String()
		}
		email, _ := claims["email"].(string)
		name, _ := claims["name"].(string)
		if sub == "" || email == "" || name == "" {
			http.Error(w, "missing claim", http.StatusBadRequest)
			return
		}
		if _, hasExp := claims["exp"]; !hasExp {
			iat, err := claims.GetIssuedAt()
			if err != nil || iat == nil || time.Since(iat.Time) > time.Duration(maxAge)*time.Second {
				http.Error(w, "too old", http.StatusUnauthorized)
				return
			}
		}
		if jti, ok := claims["jti"].(string); requireJTI && (!ok || jti == "") {
			http.Error(w, "missing jti", http.StatusBadRequest)
			return
		}
		if iss, _ := claims["iss"].(string); issuer != "" && iss != issuer {
			http.Error(w, "wrong issuer", http.StatusUnauthorized)
			return
		}
		if audience != "" {
			if aud, err := claims.GetAudience(); err != nil || !slices.Contains(aud, audience) {
				http.Error(w, "wrong audience", http.StatusUnauthorized)
				return
			}
		}
		email = strings.ToLower(email)
		var slugs []string
		if list, ok := claims["spaceIds"].([]any); ok {
			for _, s := range list {
				if s, ok := s.(string); ok {
					slugs = append(slugs, s)
				}
			}
		}

		now := time.Now().UTC()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			fail(err)
			return
		}
		defer func() { _ = tx.Rollback() }()
		var userID int64
		created := false
		var uEmail, uName, status string
		err = tx.StmtContext(ctx, st.userByExternalID).QueryRowContext(ctx, sub).Scan(&userID, &uEmail, &uName, &status)
		haveSpaces := map[string]bool{}
		switch {
		case err == sql.ErrNoRows:
			// No member with this external id: none may hold the email either (the server would
			// link or refuse it).
			var other int64
			switch err := tx.StmtContext(ctx, st.userByEmail).QueryRowContext(ctx, email).Scan(&other); {
			case err == sql.ErrNoRows:
			case err != nil:
				fail(err)
				return
			default:
				http.Error(w, "conflict", http.StatusConflict)
				return
			}
			// A free username: the name, lower-cased, then name2, name3, ... (index lookups).
			base := strings.ReplaceAll(strings.ToLower(name), " ", "-")
			username := base
			for i := 2; ; i++ {
				var taken bool
				if err := tx.StmtContext(ctx, st.usernameTaken).QueryRowContext(ctx, username).Scan(&taken); err != nil {
					fail(err)
					return
				}
				if !taken {
					break
				}
				username = base + strconv.Itoa(i)
			}
			res, err := tx.StmtContext(ctx, st.insertUser).ExecContext(ctx,
				now, now, sub, email, name, username, now)
			if err != nil {
				fail(err)
				return
			}
			if userID, err = res.LastInsertId(); err != nil {
				fail(err)
				return
			}
			created = true
		case err != nil:
			fail(err)
			return
		default:
			if status != "ACTIVE" {
				http.Error(w, "suspended", http.StatusForbidden)
				return
			}
			rows, err := tx.StmtContext(ctx, st.memberships).QueryContext(ctx, userID)
			if err != nil {
				fail(err)
				return
			}
			for rows.Next() {
				var slug string
				if err := rows.Scan(&slug); err != nil {
					rows.Close()
					fail(err)
					return
				}
				haveSpaces[slug] = true
			}
			rows.Close()
			if uEmail != email || uName != name {
				if _, err := tx.StmtContext(ctx, st.updateUser).ExecContext(ctx, email, name, now, userID); err != nil {
					fail(err)
					return
				}
			}
		}
		// The profile fields, with the member's values: each takes the first of its payload keys
		// that has a value.
		rows, err := tx.StmtContext(ctx, st.fields).QueryContext(ctx, userID)
		if err != nil {
			fail(err)
			return
		}
		var fields []floorFieldRow
		for rows.Next() {
			var f floorFieldRow
			var keys []byte
			if err := rows.Scan(&f.id, &f.key, &keys, &f.value); err != nil {
				rows.Close()
				fail(err)
				return
			}
			if err := json.Unmarshal(keys, &f.extKeys); err != nil {
				rows.Close()
				fail(err)
				return
			}
			fields = append(fields, f)
		}
		rows.Close()
		var joined []string
		for _, slug := range slugs {
			if haveSpaces[slug] {
				continue
			}
			if _, err := tx.StmtContext(ctx, st.insertMembership).ExecContext(ctx, now, userID, slug); err != nil {
				fail(err)
				return
			}
			joined = append(joined, slug)
		}
		for _, f := range fields {
			v := ""
			for _, k := range f.extKeys {
				if v, _ = claims[k].(string); v != "" {
					break
				}
			}
			switch {
			case v == "" || (f.value.Valid && f.value.String == v):
			case f.value.Valid:
				_, err = tx.StmtContext(ctx, st.updateField).ExecContext(ctx, v, now, userID, f.id)
			default:
				_, err = tx.StmtContext(ctx, st.insertField).ExecContext(ctx, now, now, f.key, v, f.id, userID)
			}
			if err != nil {
				fail(err)
				return
			}
		}

		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			fail(err)
			return
		}
		token := base64.RawURLEncoding.EncodeToString(raw)
		hash := sha256.Sum256([]byte(token))
		expires := now.Add(30 * 24 * time.Hour)
		if _, err := tx.StmtContext(ctx, st.insertSession).ExecContext(ctx,
			now, hash[:], expires, now, r.RemoteAddr, r.UserAgent(), userID); err != nil {
			fail(err)
			return
		}
		if created {
			userDetail, _ := json.Marshal(map[string]any{"externalId": sub, "email": email})
			spacesDetail, _ := json.Marshal(map[string]any{"changes": joined})
			loginDetail, _ := json.Marshal(map[string]any{"decision": "CREATE"})
			ip, agent := r.RemoteAddr, r.UserAgent()
			if _, err := tx.StmtContext(ctx, st.insertEvents).ExecContext(ctx,
				now, "USER_CREATED", userID, ip, agent, userDetail,
				now, "SPACE_MEMBERSHIP_CHANGED", userID, ip, agent, spacesDetail,
				now, "LOGIN_SUCCEEDED", userID, ip, agent, loginDetail); err != nil {
				fail(err)
				return
			}
		} else {
			if _, err := tx.StmtContext(ctx, st.recordLogin).ExecContext(ctx, now, userID); err != nil {
				fail(err)
				return
			}
			detail, _ := json.Marshal(map[string]any{"decision": "UPDATE"})
			if _, err := tx.StmtContext(ctx, st.insertEvent).ExecContext(ctx,
				now, "LOGIN_SUCCEEDED", userID, r.RemoteAddr, r.UserAgent(), detail); err != nil {
				fail(err)
				return
			}
		}
		if err := tx.Commit(); err != nil {
			fail(err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "community_session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Expires: expires})
		target := q.Get("redirect_uri")
		if created && homepage != "" {
			target = homepage
		}
		if !strings.HasPrefix(target, "/") || strings.HasPrefix(target, "//") || strings.HasPrefix(target, "/\\") {
			target = "/"
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	}
}

func BenchmarkJWTLoginNewMySQLInterpolated(b *testing.B) {
	benchJWTLoginNew(b, benchMySQLInterpolated, "JWTLoginNewMySQL", false)
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
