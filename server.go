// Command sso serves the community's GraphQL API and its single sign-on routes.
//
// Configuration comes from the environment (see docs/CONFIGURATION.md); with none, it serves on
// :8080 with an embedded SQLite database in ./data.
package main

import (
	"context"
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

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/auth/webhook"
	"github.com/community/sso/ent/migrate/migrations"
	"github.com/community/sso/ent/store"
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
	handler, err := routes.Handler(cfg, db, log, routes.Deps{Background: &background, Registry: reg})
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
