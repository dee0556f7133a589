package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// testApp is the whole server (routes) on a real HTTP listener over a test database. Its
// methods are the root tests' names for authtest.App's, which the package tests use.
type testApp struct {
	t    testing.TB
	URL  string
	DB   *store.DB
	Cfg  *config.Config
	Logs *webtest.LogBuffer
}

// deps are what a test server may be given instead of the defaults.
type deps struct {
	routes.Deps
	// ConnLimits, when set, are applied to the test server (run always applies defaultConnLimits).
	ConnLimits *connLimits
}

// newApp serves routes over db; env adds configuration to the test defaults.
func newApp(t testing.TB, db *store.DB, env map[string]string) *testApp {
	t.Helper()
	return newAppWith(t, db, env, deps{})
}

// newAppWith is newApp with dependencies given to the routes.
func newAppWith(t testing.TB, db *store.DB, env map[string]string, d deps) *testApp {
	t.Helper()
	var configure func(*http.Server)
	if d.ConnLimits != nil {
		configure = d.ConnLimits.apply
	}
	a := authtest.Start(t, db, env, func(cfg *config.Config, log *slog.Logger) (http.Handler, error) {
		return routes.Handler(cfg, db, log, d.Deps)
	}, configure)
	return &testApp{t: t, URL: a.URL, DB: db, Cfg: a.Cfg, Logs: a.Logs}
}

// client is the app as authtest drives it.
func (a *testApp) client() *authtest.App {
	return &authtest.App{T: a.t, URL: a.URL, DB: a.DB, Cfg: a.Cfg, Logs: a.Logs}
}

// adminPass is authtest.Password.
const adminPass = authtest.Password

// browser is webtest.Browser.
func browser(t testing.TB) *http.Client { return webtest.Browser(t) }

func (a *testApp) do(c *http.Client, req *http.Request) webtest.Response {
	a.t.Helper()
	return a.client().Do(c, req)
}

func (a *testApp) get(c *http.Client, path string) webtest.Response {
	a.t.Helper()
	return a.client().Get(c, path)
}

func (a *testApp) postForm(c *http.Client, path string, form url.Values) webtest.Response {
	a.t.Helper()
	return a.client().PostForm(c, path, form)
}

func (a *testApp) gql(c *http.Client, bearer, query string, vars map[string]any) graphtest.Result {
	a.t.Helper()
	return a.client().GQL(c, bearer, query, vars)
}

func (a *testApp) createUser(email, pass string, role user.Role) *ent.User {
	a.t.Helper()
	return a.client().CreateUser(email, pass, role)
}

func (a *testApp) login(c *http.Client, email, pass string) {
	a.t.Helper()
	a.client().Login(c, email, pass)
}

func (a *testApp) countEvents(typ string) int {
	a.t.Helper()
	return a.client().CountEvents(typ)
}

func adminToken(t testing.TB, a *testApp) string {
	t.Helper()
	return a.client().AdminToken()
}

func (a *testApp) ssoGet(c *http.Client, token, target, accept string) webtest.Response {
	a.t.Helper()
	return a.client().SSOGet(c, token, target, accept)
}

func enableJWT(t *testing.T, a *testApp, admin *http.Client) string {
	t.Helper()
	return a.client().EnableJWT(admin)
}

// newAppWithOP serves the community with the provider's TLS client for outbound requests and
// registers the community at the provider.
func newAppWithOP(t testing.TB, db *store.DB, op *authtest.OP, env map[string]string) *testApp {
	t.Helper()
	app := newAppWith(t, db, env, deps{Deps: routes.Deps{IdPClient: op.Server.Client()}})
	op.Register(app.URL)
	return app
}

func enableOAuth2(t testing.TB, a *testApp, adminToken string, input map[string]any) {
	t.Helper()
	a.client().EnableOAuth2(adminToken, input)
}
