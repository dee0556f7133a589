package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// testApp is the whole server (routes) on a real HTTP listener over a test database.
type testApp struct {
	t    testing.TB
	URL  string
	DB   *store.DB
	Cfg  *config.Config
	Logs *webtest.LogBuffer
}

// newApp serves routes over db; env adds configuration to the test defaults.
func newApp(t testing.TB, db *store.DB, env map[string]string) *testApp {
	t.Helper()
	return newAppWith(t, db, env, deps{})
}

// newAppWith is newApp with dependencies given to the routes.
func newAppWith(t testing.TB, db *store.DB, env map[string]string, d deps) *testApp {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	vars := map[string]string{
		"DATABASE_URL": "sqlite://:memory:",
		"SECRET_KEY":   base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"PUBLIC_URL":   "http://" + srv.Listener.Addr().String(),
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &webtest.LogBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := routesWith(cfg, db, log, d)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	if d.ConnLimits != nil {
		d.ConnLimits.apply(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &testApp{t: t, URL: srv.URL, DB: db, Cfg: cfg, Logs: logs}
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
func browser(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// browserFrom is browser with its connections made from the loopback address ip (any of
// 127.0.0.0/8), so that the server sees a client address of its own.
func browserFrom(t testing.TB, ip string) *http.Client {
	t.Helper()
	c := browser(t)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	t.Cleanup(tr.CloseIdleConnections)
	c.Transport = tr
	return c
}

type response struct {
	Status int
	Header http.Header
	Body   string
}

func (a *testApp) do(c *http.Client, req *http.Request) response {
	a.t.Helper()
	if c == nil {
		c = browser(a.t)
	}
	resp, err := c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func (a *testApp) get(c *http.Client, path string) response {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
	return a.do(c, req)
}

// postForm posts a form the way a browser on the server's own pages does.
func (a *testApp) postForm(c *http.Client, path string, form url.Values) response {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return a.do(c, req)
}

// gqlResult is a GraphQL response.
type gqlResult struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw string
}

func (r gqlResult) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// gql sends a GraphQL operation with the client's cookies, or with the bearer token when not empty.
func (a *testApp) gql(c *http.Client, bearer, query string, vars map[string]any) gqlResult {
	a.t.Helper()
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/graphql", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	r := a.do(c, req)
	out := gqlResult{Status: r.Status, Raw: r.Body}
	if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
		a.t.Fatalf("GraphQL answer is not JSON (%d): %s", r.Status, r.Body)
	}
	return out
}

// createUser adds a user with a password directly in the database.
func (a *testApp) createUser(email, pass string, role user.Role) *ent.User {
	a.t.Helper()
	c := a.DB.Client.User.Create().SetEmail(email).SetUsername(auth.UsernameBase(email)).SetRole(role)
	if pass != "" {
		h, err := password.Hash(pass)
		if err != nil {
			a.t.Fatal(err)
		}
		c.SetPasswordHash(h)
	}
	return c.SaveX(context.Background())
}

// login signs c in through the direct login form and fails the test if that does not work.
func (a *testApp) login(c *http.Client, email, pass string) {
	a.t.Helper()
	r := a.postForm(c, "/auth/login/direct", url.Values{"email": {email}, "password": {pass}, "redirect_uri": {"/"}})
	if r.Status != http.StatusSeeOther {
		a.t.Fatalf("login as %s: %d %s", email, r.Status, r.Body)
	}
}

// countEvents counts security events of a type.
func (a *testApp) countEvents(typ string) int {
	a.t.Helper()
	n, err := a.DB.Client.SecurityEvent.Query().Where(securityevent.Type(typ)).Count(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return n
}

// mustSettings loads the settings row.
func mustSettings(t *testing.T, a *testApp) *ent.Settings {
	t.Helper()
	st, err := auth.LoadSettings(context.Background(), a.DB.Client)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

// seedUsers adds n members, each in spaces spaces and with fields custom field values.
func seedUsers(t testing.TB, db *store.DB, n, spaces, fields int) []*ent.User {
	t.Helper()
	ctx := context.Background()
	c := db.Client
	var sp []*ent.Space
	for i := 0; i < spaces; i++ {
		sp = append(sp, c.Space.Create().SetName(fmt.Sprintf("Space %d", i)).SetSlug(fmt.Sprintf("space-%d", i)).SaveX(ctx))
	}
	var pf []*ent.ProfileField
	for i := 0; i < fields; i++ {
		pf = append(pf, c.ProfileField.Create().SetKey(fmt.Sprintf("field_%d", i)).SetName(fmt.Sprintf("Field %d", i)).SaveX(ctx))
	}
	builders := make([]*ent.UserCreate, n)
	for i := range builders {
		builders[i] = c.User.Create().SetEmail(fmt.Sprintf("user%d@example.com", i)).SetUsername(fmt.Sprintf("user%d", i)).SetName(fmt.Sprintf("User %d", i)).SetExternalID(fmt.Sprintf("ext-%d", i))
	}
	var users []*ent.User
	for len(builders) > 0 { // SQLite takes at most 32766 arguments a statement
		k := min(len(builders), 500)
		users = append(users, c.User.CreateBulk(builders[:k]...).SaveX(ctx)...)
		builders = builders[k:]
	}
	var ms []*ent.SpaceMembershipCreate
	var vs []*ent.ProfileFieldValueCreate
	for _, u := range users {
		for _, s := range sp {
			ms = append(ms, c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(s.ID))
		}
		for _, f := range pf {
			vs = append(vs, c.ProfileFieldValue.Create().SetUserID(u.ID).SetFieldID(f.ID).SetKey(f.Key).SetValue("v-"+u.Username))
		}
	}
	for len(ms) > 0 {
		k := min(len(ms), 500)
		c.SpaceMembership.CreateBulk(ms[:k]...).ExecX(ctx)
		ms = ms[k:]
	}
	for len(vs) > 0 {
		k := min(len(vs), 500)
		c.ProfileFieldValue.CreateBulk(vs[:k]...).ExecX(ctx)
		vs = vs[k:]
	}
	return users
}

// adminToken creates an admin and an API token for it.
func adminToken(t testing.TB, app *testApp) string {
	t.Helper()
	ctx := context.Background()
	u := app.DB.Client.User.Create().SetEmail("script-admin@example.com").SetUsername("script-admin").SetRole(user.RoleADMIN).SaveX(ctx)
	tok, _, err := auth.NewAPIToken(ctx, app.DB.Client, u, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
