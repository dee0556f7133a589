// Package testserver serves the community's API and login routes to the tests of the packages
// that make them (graph, auth, auth/jwtsso, auth/oauth2sso), wired as server.go wires them:
// GraphQL (with its cross-site check), the playground, the login and logout pages, direct login,
// JWT SSO (for browsers and apps, and the member sync), OAuth2/OIDC and
// the mailed links (with mail when the environment names an SMTP server), behind the session
// middleware and the common middleware. Health, metrics and CORS are the whole server's and are
// tested at the repository root.
//
// It is a package of its own because it imports those packages: authtest, which they may import
// from their own tests, must not.
package testserver

import (
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/playground"
)

// Options change what New serves.
type Options struct {
	// Env adds configuration variables to the test defaults (see authtest.Start).
	Env map[string]string
	// IdPClient makes the requests to the identity provider (its transport is kept, the timeouts
	// and size limits of oauth2sso.NewHTTPClient are added).
	IdPClient *http.Client
	// Passwords, when set, replaces the limiter made from PASSWORD_HASH_CONCURRENCY.
	Passwords *password.Limiter
	// Now, when set, is the clock of the mailed links (their creation, expiry and rate limits)
	// and of the provider's discovery (how long a discovery document and a key set are kept).
	Now func() time.Time
	// JWTNow, when set, is the clock of JWT SSO's verifier: the token times it checks, a
	// rotation's grace period, and how long the jwksUrl key set is kept.
	JWTNow func() time.Time
	// Sends, when set, counts the mails the routes send in the background (password reset
	// links): a test waits for it to know that every mail a request asked for went out.
	Sends *sync.WaitGroup
}

// New serves the routes over db until the test ends.
func New(t testing.TB, db *store.DB, opts Options) *authtest.App {
	t.Helper()
	return authtest.Start(t, db, opts.Env, func(cfg *config.Config, log *slog.Logger) (http.Handler, error) {
		return Routes(cfg, db, log, opts)
	}, nil)
}

// Routes is the handler New serves.
func Routes(cfg *config.Config, db *store.DB, log *slog.Logger, opts Options) (http.Handler, error) {
	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	passwords := opts.Passwords
	if passwords == nil {
		passwords = password.NewLimiter(cfg.PasswordHashConcurrency, password.DefaultWait)
	}
	metrics := web.NewMetrics(prometheus.NewRegistry())
	sessions := &auth.Sessions{Client: db.Client, Lifetime: cfg.SessionLifetime, Secure: cfg.Secure()}
	provisioner := &provision.Provisioner{DB: db, Sessions: sessions, Log: log}
	discovery := &oauth2sso.Discovery{Client: oauth2sso.NewHTTPClient(opts.IdPClient, cfg.IdPTimeout), Now: opts.Now}
	sessions.Revalidator = &oauth2sso.Revalidator{DB: db, Sealer: sealer, Discovery: discovery, Provisioner: provisioner, Log: log}
	verifier := &jwtsso.Verifier{Sealer: sealer, Client: discovery.Client, Now: opts.JWTNow}
	sso := &oauth2sso.Handler{DB: db, Sealer: sealer, Sessions: sessions, Provisioner: provisioner, Discovery: discovery,
		PublicURL: cfg.PublicURL.String(), Log: log, Metrics: metrics}
	mailer, err := cfg.SMTP.Sender(nil)
	if err != nil {
		return nil, err
	}
	api := graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client, Sealer: sealer, PublicURL: cfg.PublicURL.String(),
		JWT: verifier, Provisioner: provisioner, Passwords: passwords, Mail: mailer, Now: opts.Now,
		WebhookAllowPrivate: cfg.WebhookAllowPrivate},
		graph.HandlerConfig{Timeout: cfg.GraphQLTimeout, Introspection: cfg.GraphQLIntrospection, Log: log,
			Limits: graph.Limits{Complexity: cfg.GraphQLComplexityLimit, Depth: cfg.GraphQLDepthLimit}})

	// withViewer guards a route with the database check and puts the viewer in its context; its
	// answers follow the admin's embed origins.
	embed := auth.Embedding(db, log)
	withViewer := func(h http.Handler) http.Handler {
		return embed(web.RequireDatabase(db, sessions.Middleware(db, log)(h)))
	}
	mux := http.NewServeMux()
	apiGuard, err := graph.CrossOriginGuard(cfg.CORSOrigins, sessions)
	if err != nil {
		return nil, err
	}
	mux.Handle("/graphql", withViewer(apiGuard(api)))
	mux.Handle("GET /playground", withViewer(auth.RequireLoginParam(graph.Playground("/graphql"))))
	mux.Handle("GET "+playground.AssetsPath+"{name}", playground.Assets())
	jwtHandler := &jwtsso.Handler{DB: db, Verifier: verifier, Provisioner: provisioner, Log: log, Metrics: metrics}
	jwtSettings := auth.EmbeddingWith(db, log, jwtsso.LoadLoginSettings)
	jwtRoute := func(h http.Handler) http.Handler { return jwtSettings(withViewer(h)) }
	mux.Handle("GET /api/auth/sso", jwtRoute(jwtHandler))
	mux.Handle("POST /api/auth/sso/token", jwtRoute(http.HandlerFunc(jwtHandler.Token)))
	mux.Handle("POST /api/auth/sso/sync", jwtSettings(web.RequireDatabase(db, http.HandlerFunc(jwtHandler.Sync))))
	sso.Register(mux, withViewer)
	forms := http.NewCrossOriginProtection()
	(&auth.Handler{DB: db, Sessions: sessions, Log: log, Metrics: metrics, Passwords: passwords,
		CrossOrigin: forms, PublicURL: cfg.PublicURL.String(), LogoutURL: sso.LogoutURL, PasswordReset: mailer != nil,
	}).Register(mux, withViewer)
	(&auth.MailLinks{DB: db, Mail: mailer, PublicURL: cfg.PublicURL.String(), Log: log, CrossOrigin: forms, Now: opts.Now,
		Passwords: passwords, Sends: opts.Sends,
	}).Register(mux, withViewer)
	return web.Recover(log)(web.SecurityHeaders(web.LimitBody(cfg.MaxBodyBytes)(web.TrustProxies(cfg.TrustedProxies)(auth.FramePolicy(db, log)(web.Instrument(metrics, log, mux)))))), nil
}
