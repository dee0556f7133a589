// Package authtest helps tests drive the community as its members, admins and identity providers
// do: a client's view of a running server (App) and the server's start on a test listener
// (Start); the signing of JWT SSO tokens (Sign, Claims); a real OpenID Provider with a login
// form that also signs back-channel logout tokens (OP) and one whose every id_token the test
// chooses (IdP); a clock the test moves (Clock).
// It imports no handler package (graph, auth/jwtsso, auth/oauth2sso), so that the tests of every
// package may use it; the routes themselves are served by authtest/testserver.
package authtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/mail/mailtest"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// Password is the password the tests give the members they create.
const Password = "correct horse battery staple"

// App is a community server under test as its clients see it: its base URL, and the database,
// configuration and log behind it.
type App struct {
	T    testing.TB
	URL  string
	DB   *store.DB
	Cfg  *config.Config
	Logs *webtest.LogBuffer
}

// Do sends req with c (a new browser when nil).
func (a *App) Do(c *http.Client, req *http.Request) webtest.Response {
	a.T.Helper()
	return webtest.Do(a.T, c, req)
}

// Get fetches path with c (a new browser when nil).
func (a *App) Get(c *http.Client, path string) webtest.Response {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
	return a.Do(c, req)
}

// PostForm posts a form the way a browser on the server's own pages does.
func (a *App) PostForm(c *http.Client, path string, form url.Values) webtest.Response {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", a.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return a.Do(c, req)
}

// GQL sends a GraphQL operation with the client's cookies (a new browser when nil), or with the
// bearer token when not empty.
func (a *App) GQL(c *http.Client, bearer, query string, vars map[string]any) graphtest.Result {
	a.T.Helper()
	if c == nil {
		c = webtest.Browser(a.T)
	}
	return graphtest.Post(a.T, c, a.URL+"/graphql", bearer, query, vars)
}

// CreateUser adds a user with a password (none when empty) directly in the database.
func (a *App) CreateUser(email, pass string, role user.Role) *ent.User {
	a.T.Helper()
	c := a.DB.Client.User.Create().SetEmail(email).SetUsername(auth.UsernameBase(email)).SetRole(role)
	if pass != "" {
		h, err := password.Hash(pass)
		if err != nil {
			a.T.Fatal(err)
		}
		c.SetPasswordHash(h)
	}
	return c.SaveX(context.Background())
}

// Login signs c in through the direct login form and fails the test if that does not work.
func (a *App) Login(c *http.Client, email, pass string) {
	a.T.Helper()
	r := a.PostForm(c, "/auth/login/direct", url.Values{"email": {email}, "password": {pass}, "redirect_uri": {"/"}})
	if r.Status != http.StatusSeeOther {
		a.T.Fatalf("login as %s: %d %s", email, r.Status, r.Body)
	}
}

// SignedIn is a new browser signed in through the direct login form.
func (a *App) SignedIn(email, pass string) *http.Client {
	a.T.Helper()
	c := webtest.Browser(a.T)
	a.Login(c, email, pass)
	return c
}

// CountEvents counts the security events of a type.
func (a *App) CountEvents(typ string) int {
	a.T.Helper()
	n, err := a.DB.Client.SecurityEvent.Query().Where(securityevent.Type(typ)).Count(context.Background())
	if err != nil {
		a.T.Fatal(err)
	}
	return n
}

// Settings loads the settings row.
func (a *App) Settings() *ent.Settings {
	a.T.Helper()
	st, err := auth.LoadSettings(context.Background(), a.DB.Client)
	if err != nil {
		a.T.Fatal(err)
	}
	return st
}

// AdminToken creates an admin and an API token for it.
func (a *App) AdminToken() string {
	a.T.Helper()
	ctx := context.Background()
	u := a.DB.Client.User.Create().SetEmail("script-admin@example.com").SetUsername("script-admin").SetRole(user.RoleADMIN).SaveX(ctx)
	tok, _, err := auth.NewAPIToken(ctx, a.DB.Client, u, "test", nil)
	if err != nil {
		a.T.Fatal(err)
	}
	return tok
}

// MailedLink is the path and query of the link to path (e.g. "/auth/password/reset") in m,
// failing the test unless it points at the server (under PUBLIC_URL, with a token).
func (a *App) MailedLink(m mailtest.Message, path string) string {
	a.T.Helper()
	l := m.Link(a.T, path)
	if !strings.HasPrefix(l, a.URL+path+"?token=") {
		a.T.Fatalf("link %q is not under PUBLIC_URL %s", l, a.URL)
	}
	return strings.TrimPrefix(l, a.URL)
}

// Callers are the four kinds of API callers an operation is tried with: signed in as an admin,
// a member and a moderator (each in its own browser), and an admin's API token.
type Callers struct {
	Admin, Member, Moderator *http.Client
	Token                    string // an admin's API token
	MemberUser, AdminUser    *ent.User
}

// Callers creates admin@, member@ and mod@example.com, signs each in, and makes an API token
// as the admin.
func (a *App) Callers() Callers {
	a.T.Helper()
	var c Callers
	c.AdminUser = a.CreateUser("admin@example.com", Password, user.RoleADMIN)
	c.MemberUser = a.CreateUser("member@example.com", Password, user.RoleMEMBER)
	a.CreateUser("mod@example.com", Password, user.RoleMODERATOR)
	c.Admin = a.SignedIn("admin@example.com", Password)
	c.Member = a.SignedIn("member@example.com", Password)
	c.Moderator = a.SignedIn("mod@example.com", Password)
	r := a.GQL(c.Admin, "", graphtest.CreateAPIToken, map[string]any{"name": "script"})
	c.Token, _ = graphtest.Dig(r.Data, "createApiToken", "token").(string)
	if c.Token == "" {
		a.T.Fatalf("createApiToken: %s", r.Raw)
	}
	return c
}

// Routes builds a server's handler from its configuration and log.
type Routes func(cfg *config.Config, log *slog.Logger) (http.Handler, error)

// Start serves the handler routes builds on a real HTTP listener over db until the test ends.
// The configuration is env over the test defaults: an in-memory database URL (db is the one
// served), a fixed SECRET_KEY, and PUBLIC_URL the listener's own address. The log, at debug
// level, is kept in App.Logs. configure, when not nil, adjusts the server before it starts.
func Start(t testing.TB, db *store.DB, env map[string]string, routes Routes, configure func(*http.Server)) *App {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	vars := map[string]string{
		"DATABASE_URL": "sqlite://:memory:",
		"SECRET_KEY":   base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"PUBLIC_URL":   "http://" + srv.Listener.Addr().String(),
	}
	maps.Copy(vars, env)
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &webtest.LogBuffer{}
	h, err := routes(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	if configure != nil {
		configure(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return &App{T: t, URL: srv.URL, DB: db, Cfg: cfg, Logs: logs}
}
