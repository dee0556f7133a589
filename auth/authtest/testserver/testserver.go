// Package testserver serves the server's routes (routes.Handler, the handler the server itself
// serves) to the tests of the packages that make them (graph, auth, auth/jwtsso, auth/oauth2sso),
// with mail when the environment names an SMTP server.
//
// It is a package of its own because it imports those packages: authtest, which they may import
// from their own tests, must not.
package testserver

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/ent/store"
)

// Options change what New serves.
type Options struct {
	// Env adds configuration variables to the test defaults (see authtest.Start).
	Env map[string]string
	// Deps replace the routes' defaults (the identity provider's client, the clocks, the password
	// limiter, the count of mails sent in the background).
	routes.Deps
}

// New serves the routes over db until the test ends.
func New(t testing.TB, db *store.DB, opts Options) *authtest.App {
	t.Helper()
	return authtest.Start(t, db, opts.Env, func(cfg *config.Config, log *slog.Logger) (http.Handler, error) {
		return Routes(cfg, db, log, opts)
	}, nil)
}

// Routes is the handler New serves: the server's own (routes.Handler), with the dependencies
// opts gives.
func Routes(cfg *config.Config, db *store.DB, log *slog.Logger, opts Options) (http.Handler, error) {
	return routes.Handler(cfg, db, log, opts.Deps)
}
