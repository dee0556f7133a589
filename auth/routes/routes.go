// Package routes mounts every HTTP route of the server (GraphQL, the playground, the login and
// logout pages, direct login, JWT SSO, OAuth2/OIDC, the mailed links, health, readiness and
// metrics) behind the common middleware. The server and the tests of the packages that make the
// routes (through authtest/testserver) serve this one handler, so that what the tests drive is
// wired as the server is.
package routes

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/community/sso/auth"
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

// Deps are what Handler may be given instead of the defaults (zero fields: the real ones); tests
// use them.
type Deps struct {
	// IdPClient makes the requests to the OAuth2/OIDC provider (its transport is kept, the
	// timeouts and size limits of oauth2sso.NewHTTPClient are added).
	IdPClient *http.Client
	// Passwords, when set, replaces the password hash limiter made from PASSWORD_HASH_CONCURRENCY.
	Passwords *password.Limiter
	// SMTPTLS, when set, replaces the TLS settings of the connection to SMTP_HOST.
	SMTPTLS *tls.Config
	// Background, when set, counts the work the routes leave running after their answer (the
	// password reset mails): the server waits for it at shutdown, a test to know that every mail
	// a request asked for went out.
	Background *sync.WaitGroup
	// Registry, when set, is where the routes register their metrics and /metrics reads from
	// (the server shares it with the webhook worker); a new one otherwise. A registry serves one
	// handler: Handler registers its collectors, and a second Handler on it would panic.
	Registry *prometheus.Registry
	// Now, when set, is the clock of the mailed links (their creation, expiry and rate limits),
	// of the provider's discovery (how long a discovery document and a key set are kept) and of
	// the GraphQL resolvers.
	Now func() time.Time
	// JWTNow, when set, is the clock of JWT SSO's verifier: the token times it checks, a
	// rotation's grace period, and how long the jwksUrl key set is kept.
	JWTNow func() time.Time
}

// Handler mounts every route of the server behind the common middleware, with the dependencies d
// gives.
func Handler(cfg *config.Config, db *store.DB, log *slog.Logger, d Deps) (http.Handler, error) {
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	db.RegisterMetrics(reg)
	web.RegisterBuildInfo(reg, web.ReadBuildInfo())
	metrics := web.NewMetrics(reg)

	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	sessions := &auth.Sessions{Client: db.Client, Lifetime: cfg.SessionLifetime, Secure: cfg.Secure()}
	// One limiter for every password hash a request asks for (direct login, createUser).
	passwords := d.Passwords
	if passwords == nil {
		passwords = password.NewLimiter(cfg.PasswordHashConcurrency, password.DefaultWait)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: web.Namespace, Name: "password_hashes_in_flight", Help: "Password hashes (argon2id) being computed for requests.",
	}, func() float64 { return float64(passwords.InUse()) }))

	// Cross-site form posts are refused; the API also trusts the CORS and embed origins. Requests
	// with a bearer token and no session cookie pass both (auth.Sessions.CrossOrigin).
	forms := http.NewCrossOriginProtection()
	forms.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.RenderMessage(w, log, http.StatusForbidden, auth.Message{
			Heading: "Request refused", Message: "This form was sent from another site, so it was not accepted.",
			Hint: "Go back to the community and try again from there.", Code: "CROSS_SITE_REQUEST", Alert: true,
		})
	}))
	apiGuard, err := graph.CrossOriginGuard(cfg.CORSOrigins, sessions)
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}

	provisioner := &provision.Provisioner{DB: db, Sessions: sessions, Log: log}
	discovery := &oauth2sso.Discovery{Client: oauth2sso.NewHTTPClient(d.IdPClient, cfg.IdPTimeout), Now: d.Now}
	sessions.Revalidator = &oauth2sso.Revalidator{DB: db, Sealer: sealer, Discovery: discovery, Provisioner: provisioner, Log: log}
	oauth2Handler := &oauth2sso.Handler{
		DB: db, Sealer: sealer, Sessions: sessions, Provisioner: provisioner, Discovery: discovery,
		PublicURL: cfg.PublicURL.String(), Log: log, Metrics: metrics,
	}
	jwtVerifier := &jwtsso.Verifier{Sealer: sealer, Client: discovery.Client, Now: d.JWTNow}
	mailer, err := cfg.SMTP.Sender(d.SMTPTLS)
	if err != nil {
		return nil, err
	}
	resolver := &graph.Resolver{
		DB: db, Client: db.Client, Sealer: sealer, PublicURL: cfg.PublicURL.String(),
		JWT: jwtVerifier, Provisioner: provisioner, Passwords: passwords, Mail: mailer, Now: d.Now,
		WebhookAllowPrivate: cfg.WebhookAllowPrivate,
	}
	gql := graph.NewHandler(resolver, graph.HandlerConfig{
		Limits:        graph.Limits{Complexity: cfg.GraphQLComplexityLimit, Depth: cfg.GraphQLDepthLimit},
		Timeout:       cfg.GraphQLTimeout,
		Introspection: cfg.GraphQLIntrospection,
		Log:           log,
	})

	// app wraps a route that needs the database and the viewer; its answers follow the admin's
	// embed origins, and its errors are {"error": {...}}. api is app for the GraphQL API, whose
	// errors are GraphQL responses.
	embed := auth.Embedding(db, log)
	withViewer := func(answer auth.ErrorWriter) func(http.Handler) http.Handler {
		viewer := sessions.Middleware(db, log, answer)
		return func(h http.Handler) http.Handler { return embed(web.RequireDatabase(db, viewer(h))) }
	}
	app, api := withViewer(web.WriteJSONError), withViewer(auth.WriteGraphQLError)
	// A JWT SSO route reads the settings row once: its columns and the embed origins.
	jwtSettings := auth.EmbeddingWith(db, log, jwtsso.LoadLoginSettings)
	jwtApp := func(h http.Handler) http.Handler { return jwtSettings(app(h)) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(db))
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.Handle("/graphql", embed(graph.CORS(cfg.CORSOrigins)(api(apiGuard(gql)))))
	mux.Handle("GET /playground", app(auth.RequireLoginParam(graph.Playground("/graphql"))))
	mux.Handle("GET "+playground.AssetsPath+"{name}", playground.Assets())
	jwtHandler := &jwtsso.Handler{DB: db, Verifier: jwtVerifier, Provisioner: provisioner, Log: log, Metrics: metrics}
	mux.Handle("GET /api/auth/sso", jwtApp(jwtHandler))
	mux.Handle("POST /api/auth/sso/token", jwtApp(http.HandlerFunc(jwtHandler.Token)))
	// The customer's server syncs members with a signed token: no session and no cookie, so
	// neither the viewer (its bearer is a JWT, not a session) nor the cross-site check applies.
	mux.Handle("POST /api/auth/sso/sync", jwtSettings(web.RequireDatabase(db, http.HandlerFunc(jwtHandler.Sync))))
	(&auth.Handler{
		DB:            db,
		Sessions:      sessions,
		Log:           log,
		Metrics:       metrics,
		Passwords:     passwords,
		CrossOrigin:   forms,
		PublicURL:     cfg.PublicURL.String(),
		LogoutURL:     oauth2Handler.LogoutURL,
		PasswordReset: mailer != nil,
	}).Register(mux, app)
	(&auth.MailLinks{
		DB: db, Mail: mailer, PublicURL: cfg.PublicURL.String(), Log: log, CrossOrigin: forms, Now: d.Now,
		Passwords: passwords, Sends: d.Background,
	}).Register(mux, app)
	oauth2Handler.Register(mux, app)

	var h http.Handler = web.Instrument(metrics, log, mux)
	h = auth.FramePolicy(db, log)(h)
	h = web.TrustProxies(cfg.TrustedProxies)(h)
	h = web.LimitBody(cfg.MaxBodyBytes)(h)
	h = web.SecurityHeaders(h)
	h = web.Recover(log)(h)
	return h, nil
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

// readyz answers 200 when the database answers, 503 otherwise.
func readyz(db *store.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := db.Check(r.Context()); err != nil {
			web.WriteJSONError(w, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE", "the database is unavailable")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ready\n")
	})
}
