// Command sso serves the community's GraphQL API and its single sign-on routes.
//
// Configuration comes from the environment (see docs/CONFIGURATION.md); with none, it serves on
// :8080 with an embedded SQLite database in ./data.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
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
	"github.com/community/sso/auth/webhook"
	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/playground"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(runCommand(os.Args[1:], filepath.Base(os.Args[0]), os.Getenv, os.Stdout, os.Stderr))
	}
	// The first signal starts the graceful shutdown; a second one ends the process at once. One
	// channel receives both, so the second is never lost to a handler that has not moved on yet.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		s := <-sigs
		fmt.Fprintf(os.Stderr, "%s again: stopping now\n", s)
		os.Exit(2)
	}()
	if err := run(ctx, os.Getenv, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// runCommand runs the command line's commands (the server serves when there are no arguments)
// and returns the exit code: --help prints the usage and version the build, neither reading the
// configuration nor touching the disk; migrate status|up read DATABASE_URL from getenv as the
// server does. Anything else is a usage error (2).
func runCommand(args []string, program string, getenv func(string) string, stdout, stderr io.Writer) int {
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if err := config.Usage(stdout, program); err != nil {
			return 1
		}
		return 0
	case "version", "--version":
		b := web.ReadBuildInfo()
		fmt.Fprintf(stdout, "%s %s\ncommit %s\n%s\n", program, b.Version, b.Revision, b.GoVersion)
		return 0
	case "migrate":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return migrateCommand(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: unknown command %q\n\n", program, strings.Join(args, " "))
	_ = config.Usage(stderr, program)
	return 2
}

// migrateUsage describes the migrate commands.
const migrateUsage = `usage:
  sso migrate status   print the database's migration version and the pending files
                       (exit 1 when the database is ahead of this binary or a file failed part-way)
  sso migrate up       apply the pending migration files and print them
They read DATABASE_URL as the server does.
`

// migrateAtStart does what MIGRATE (mode) says before the server serves: auto applies the
// pending migration files (and brings stored identifiers to their canonical form), check refuses
// to start while files are pending, off does neither.
func migrateAtStart(ctx context.Context, mode string, db *store.DB, log *slog.Logger) error {
	switch mode {
	case config.MigrateAuto:
		rep, err := db.MigrateUp(ctx)
		if err != nil {
			return err
		}
		for _, f := range rep.Applied {
			log.Info("migration applied", "file", f)
		}
		for _, w := range rep.Warnings {
			log.Warn("migration: " + w)
		}
		_, err = auth.CanonicalizeIdentifiers(ctx, db.Client, log, 1000)
		return err
	case config.MigrateCheck:
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		if st.Behind() {
			return fmt.Errorf("MIGRATE=check: the database is behind this release: %s; apply them with `sso migrate up` (or start with MIGRATE=auto)", st.DescribeBehind())
		}
		if len(st.Ahead) > 0 {
			log.Warn("the database was migrated by a newer release", "versions", st.Ahead)
		}
	}
	return nil
}

// migrateCommand runs `migrate status` or `migrate up` (args after "migrate") on the database
// of DATABASE_URL and returns the exit code.
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "status" && args[0] != "up") {
		fmt.Fprint(stderr, migrateUsage)
		return 2
	}
	dbc, shown, err := config.LoadDatabase(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "database: %s\n", shown)
	if args[0] == "status" && dbc.Path != "" {
		if _, err := os.Stat(dbc.Path); errors.Is(err, fs.ErrNotExist) {
			// Opening would create it: report what the first start or `migrate up` will do.
			dir, err := migrations.Dir(store.DialectOf(dbc.Driver))
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			files, err := dir.Files()
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			st := &store.MigrationStatus{}
			for _, f := range files {
				st.Pending = append(st.Pending, f.Name())
			}
			fmt.Fprintln(stdout, "the database file does not exist yet")
			st.Print(stdout)
			return 0
		}
	}
	db, err := store.Open(ctx, dbc.Driver, dbc.DSN, store.Options{Dir: dbc.Dir})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer db.Close()
	if args[0] == "up" {
		rep, err := db.MigrateUp(ctx)
		if rep != nil {
			for _, f := range rep.Applied {
				fmt.Fprintf(stdout, "applied %s\n", f)
			}
			for _, w := range rep.Warnings {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			if len(rep.Applied) == 0 && err == nil {
				fmt.Fprintln(stdout, "nothing to apply")
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if _, err := auth.CanonicalizeIdentifiers(ctx, db.Client, log, 1000); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	st.Print(stdout)
	if len(st.Ahead) > 0 || st.Dirty != "" {
		return 1
	}
	return 0
}

// run serves until ctx ends, then shuts down gracefully: the listener closes at once and
// requests in flight get ShutdownTimeout to finish. When ready is not nil, it receives the
// listening address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer, ready chan<- string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stdout)
	store.SetDriverLog(log)
	// A password hash holds 19 MiB (argon2id): give it back once the hashing pauses, rather
	// than keep it resident until the runtime's next periodic collection.
	password.FreeMemoryWhenIdle(time.Second)

	db, err := store.Open(ctx, cfg.Database.Driver, cfg.Database.DSN, store.Options{Dir: cfg.Database.Dir})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer db.Close()
	if err := migrateAtStart(ctx, cfg.Migrate, db, log); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := auth.CheckSecretKey(ctx, db.Client, sealer); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if cfg.AdminEmail != "" {
		u, err := auth.BootstrapAdmin(ctx, db.Client, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		log.Info("admin ready", "email", u.Email, "id", u.ID)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("start: listen on %s: %w", cfg.Addr, err)
	}
	var background sync.WaitGroup
	reg := prometheus.NewRegistry()
	handler, err := routesWith(cfg, db, log, deps{Background: &background, Registry: reg})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	srv := &http.Server{
		Handler:  handler,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	defaultConnLimits.apply(srv)
	// The start-up work is done: return what it freed to the system now. The admin's password
	// hash alone held 19 MiB (argon2id), and an idle server would otherwise keep it resident
	// until the runtime's next periodic collection.
	debug.FreeOSMemory()

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go db.Watch(watchCtx, time.Second)
	go auth.Pruner{Client: db.Client, EventsRetention: cfg.SecurityEventsRetention, Log: log}.Loop(watchCtx)
	// The webhook deliveries: every replica runs a worker; at shutdown it claims nothing more and
	// finishes what it holds within the shutdown time (what it cannot finish is claimed again
	// once its lease ends, by this replica's next start or another replica).
	deliveries, stopDeliveries := context.WithCancel(ctx)
	defer stopDeliveries()
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		(&webhook.Worker{
			DB: db, Sealer: sealer, Client: webhook.NewClient(cfg.WebhookTimeout, cfg.WebhookAllowPrivate), Log: log,
			Metrics: webhook.NewMetrics(reg),
		}).Run(deliveries)
	}()

	fmt.Fprintf(stdout, "serving on %s (listening on %s)\n", cfg.PublicURL, ln.Addr())
	fmt.Fprintf(stdout, "data: %s\n", describeData(cfg))
	if ready != nil {
		ready <- ln.Addr().String()
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	// The answers are out; what they started in the background (a reset link's mail) and the
	// webhook deliveries in flight get the rest of the shutdown time.
	stopDeliveries()
	sent := make(chan struct{})
	go func() { background.Wait(); <-delivered; close(sent) }()
	select {
	case <-sent:
	case <-sctx.Done():
		log.Warn("shut down before the mail or webhook deliveries in flight were sent")
	}
	return nil
}

// connLimits bound what one connection may hold of the server, so that slow or idle clients
// cannot keep connections (and their goroutines and buffers) open: docs/SECURITY.md lists them.
type connLimits struct {
	// ReadHeader is how long a client may take to send its request line and headers.
	ReadHeader time.Duration
	// Read is how long a client may take to send its whole request, headers and body.
	Read time.Duration
	// Write is how long the server may take to answer, from the end of the request headers.
	Write time.Duration
	// Idle is how long a keep-alive connection may wait for its next request.
	Idle time.Duration
	// MaxHeaderBytes bounds the request line and headers (net/http adds 4 KiB of slack).
	MaxHeaderBytes int
}

// defaultConnLimits are the server's connection limits. A request body is at most
// MAX_BODY_BYTES (1 MiB by default), so 15 s to read it asks for 70 KB/s; 60 s to answer
// leaves room for a login that waits on the identity provider (IDP_TIMEOUT) more than once.
var defaultConnLimits = connLimits{
	ReadHeader:     5 * time.Second,
	Read:           15 * time.Second,
	Write:          60 * time.Second,
	Idle:           60 * time.Second,
	MaxHeaderBytes: 64 << 10,
}

func (l connLimits) apply(srv *http.Server) {
	srv.ReadHeaderTimeout = l.ReadHeader
	srv.ReadTimeout = l.Read
	srv.WriteTimeout = l.Write
	srv.IdleTimeout = l.Idle
	srv.MaxHeaderBytes = l.MaxHeaderBytes
}

// deps are what routes may be given instead of the defaults; tests use them.
type deps struct {
	// IdPClient makes the requests to the OAuth2/OIDC provider (its transport is kept, the
	// timeouts and size limits of oauth2sso.NewHTTPClient are added).
	IdPClient *http.Client
	// Passwords, when set, replaces the password hash limiter made from PASSWORD_HASH_CONCURRENCY.
	Passwords *password.Limiter
	// SMTPTLS, when set, replaces the TLS settings of the connection to SMTP_HOST.
	SMTPTLS *tls.Config
	// ConnLimits, when set, are applied to the test server (run always applies defaultConnLimits).
	ConnLimits *connLimits
	// Background, when set, counts the work the routes leave running after their answer (the
	// password reset mails), for run to wait for at shutdown.
	Background *sync.WaitGroup
	// Registry, when set, is where the routes register their metrics and /metrics reads from
	// (run shares it with the webhook worker); a new one otherwise.
	Registry *prometheus.Registry
}

// routesWith mounts every route of the server behind the common middleware, with the
// dependencies d gives (zero fields: the real ones).
func routesWith(cfg *config.Config, db *store.DB, log *slog.Logger, d deps) (http.Handler, error) {
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
	discovery := &oauth2sso.Discovery{Client: oauth2sso.NewHTTPClient(d.IdPClient, cfg.IdPTimeout)}
	sessions.Revalidator = &oauth2sso.Revalidator{DB: db, Sealer: sealer, Discovery: discovery, Provisioner: provisioner, Log: log}
	oauth2Handler := &oauth2sso.Handler{
		DB: db, Sealer: sealer, Sessions: sessions, Provisioner: provisioner, Discovery: discovery,
		PublicURL: cfg.PublicURL.String(), Log: log, Metrics: metrics,
	}
	jwtVerifier := &jwtsso.Verifier{Sealer: sealer, Client: discovery.Client}
	mailer, err := cfg.SMTP.Sender(d.SMTPTLS)
	if err != nil {
		return nil, err
	}
	resolver := &graph.Resolver{
		DB: db, Client: db.Client, Sealer: sealer, PublicURL: cfg.PublicURL.String(),
		JWT: jwtVerifier, Provisioner: provisioner, Passwords: passwords, Mail: mailer,
		WebhookAllowPrivate: cfg.WebhookAllowPrivate,
	}
	gql := graph.NewHandler(resolver, graph.HandlerConfig{
		Limits:        graph.Limits{Complexity: cfg.GraphQLComplexityLimit, Depth: cfg.GraphQLDepthLimit},
		Timeout:       cfg.GraphQLTimeout,
		Introspection: cfg.GraphQLIntrospection,
		Log:           log,
	})

	// app wraps a route that needs the database and the viewer; its answers follow the admin's
	// embed origins.
	embed := auth.Embedding(db, log)
	app := func(h http.Handler) http.Handler {
		return embed(web.RequireDatabase(db, sessions.Middleware(db, log)(h)))
	}
	// A JWT SSO route reads the settings row once: its columns and the embed origins.
	jwtSettings := auth.EmbeddingWith(db, log, jwtsso.LoadLoginSettings)
	jwtApp := func(h http.Handler) http.Handler { return jwtSettings(app(h)) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", readyz(db))
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.Handle("/graphql", embed(graph.CORS(cfg.CORSOrigins)(app(apiGuard(gql)))))
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
		DB: db, Mail: mailer, PublicURL: cfg.PublicURL.String(), Log: log, CrossOrigin: forms,
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

func newLogger(cfg *config.Config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "" {
		format = "json"
		if f, ok := out.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewJSONHandler(out, opts))
}

func describeData(cfg *config.Config) string {
	if cfg.Database.Driver != store.SQLite || cfg.Database.Path == "" {
		return cfg.Database.Driver + " database"
	}
	p, err := filepath.Abs(cfg.Database.Path)
	if err != nil {
		p = cfg.Database.Path
	}
	s := "SQLite database " + p
	if cfg.SecretKeyFile != "" {
		k, err := filepath.Abs(cfg.SecretKeyFile)
		if err != nil {
			k = cfg.SecretKeyFile
		}
		s += ", secret key " + k
	}
	return s
}
