// Package config reads the server's configuration from the environment, validates all of it in
// one pass and reports every problem together in one *Error, so a bad deployment is fixed in one
// round instead of one variable at a time.
//
// Variables (an empty value counts as unset; values are trimmed of surrounding spaces; Vars is the
// same list as `--help` prints it):
//
//	ADDR                      listen address, default ":8080"
//	PUBLIC_URL                the URL members reach the server at, default "http://localhost:8080";
//	                          absolute http or https, no query, fragment or user info; a trailing
//	                          slash is dropped. The OAuth2 callback is PUBLIC_URL/auth/oauth2/callback.
//	DATABASE_URL              sqlite://PATH (default sqlite://data/community.db; sqlite:///abs/path
//	                          for an absolute path; sqlite://:memory: for a private in-memory
//	                          database) or mysql://user:pass@tcp(host:3306)/db (go-sql-driver form;
//	                          mariadb:// is accepted as an alias)
//	SECRET_KEY                32 bytes, base64 (standard or URL alphabet, padded or not); with a
//	                          SQLite file database it may be left unset: it is then read from, or
//	                          generated into, secret.key beside the database file
//	ADMIN_EMAIL, ADMIN_PASSWORD  both or neither: create or update that admin at start
//	                          (password at least 12 characters)
//	LOG_LEVEL                 debug, info (default), warn or error
//	LOG_FORMAT                json or text; unset lets the caller choose (text in a terminal)
//	CORS_ORIGINS              comma-separated origins (scheme://host[:port]); "*" is refused
//	                          because the API is used with credentials
//	TRUSTED_PROXIES           comma-separated CIDR prefixes or addresses of the reverse proxies
//	                          in front of the server, empty by default: only from those peers are
//	                          Forwarded / X-Forwarded-For / X-Forwarded-Proto read (web.TrustProxies)
//	GRAPHQL_INTROSPECTION     bool, default true
//	GRAPHQL_COMPLEXITY_LIMIT  > 0, default 1000
//	GRAPHQL_DEPTH_LIMIT       > 0, default 12
//	GRAPHQL_TIMEOUT           how long one GraphQL request may run, 100ms to 1m, default 15s
//	MIGRATE                   auto (default): apply the pending migration files at start, under a
//	                          lock on MySQL/MariaDB; check: refuse to start while files are pending
//	                          (they run elsewhere, with the migrate up command); off: neither.
//	                          true and false (any strconv.ParseBool spelling) are read as auto
//	                          and off, as before
//	SESSION_LIFETIME          duration between 5m and 8760h, default 720h
//	MAX_BODY_BYTES            > 0, default 1048576
//	SHUTDOWN_TIMEOUT          duration > 0, default 30s
//	IDP_TIMEOUT               total time of one request to the identity provider, 100ms to 2m,
//	                          default 10s
//	SECURITY_EVENTS_RETENTION how long security events are kept: 0 (keep every event) or a
//	                          duration of at least 24h, default 4320h (180 days)
//	PASSWORD_HASH_CONCURRENCY password hashes computed at once, 1 to 256; default
//	                          password.DefaultConcurrency(): min(2 × GOMAXPROCS, 13), what fits
//	                          in 256 MiB at argon2id's 19 MiB each
//	WEBHOOK_TIMEOUT           total time of one webhook delivery, 1s to 1m, default 10s
//	WEBHOOK_ALLOW_PRIVATE     bool, default false: webhooks may use http and reach loopback and
//	                          private addresses (development and tests only)
//	SMTP_HOST                 the SMTP server mail goes through; unset: the server sends no mail
//	                          (members cannot change their own email, no password reset)
//	SMTP_PORT                 1 to 65535, default 587 (starttls), 465 (tls) or 25 (none)
//	SMTP_TLS                  starttls (default: STARTTLS required), tls (implicit TLS) or none
//	SMTP_USERNAME, SMTP_PASSWORD  both or neither: authenticate to the SMTP server; with
//	                          SMTP_TLS=none only to a server on the loopback interface
//	SMTP_FROM                 required with SMTP_HOST: the From address, "name@example.com" or
//	                          "Community <name@example.com>"
//
// DATABASE_URL, SECRET_KEY, ADMIN_PASSWORD and SMTP_PASSWORD may instead be read from a file:
// NAME_FILE=/run/secrets/name (FileVars). Both NAME and NAME_FILE set is a problem; one trailing
// line break in the file is dropped.
//
// Query parameters in a sqlite:// URL are passed to the driver (modernc.org/sqlite) after the
// defaults: foreign keys on, WAL, a 5s busy timeout and immediate write transactions. A _pragma of
// the same name, or _txlock, replaces the default; foreign keys cannot be turned off. For mysql://,
// parseTime=true, charset=utf8mb4 and loc=UTC are added when absent; parseTime cannot be false.
//
// Load has one side effect, and only when everything else is valid: generating the SQLite secret
// key file (mode 0600, its folder created 0700). A bad configuration writes nothing.
package config

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/community/sso/auth/identity"
	sendmail "github.com/community/sso/auth/mail"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/web"
)

// Defaults of the variables that have one.
const (
	DefaultAddr                  = ":8080"
	DefaultPublicURL             = "http://localhost:8080"
	DefaultDatabaseURL           = "sqlite://data/community.db"
	DefaultComplexityLimit       = 1000
	DefaultDepthLimit            = 12
	DefaultGraphQLTimeout        = 15 * time.Second
	DefaultSessionLifetime       = 720 * time.Hour
	DefaultMaxBodyBytes    int64 = 1 << 20
	DefaultShutdownTimeout       = 30 * time.Second
	DefaultIdPTimeout            = 10 * time.Second
	DefaultWebhookTimeout        = 10 * time.Second
	// DefaultSecurityEventsRetention is 180 days.
	DefaultSecurityEventsRetention = 4320 * time.Hour
)

// Limits checked by Load.
const (
	SecretKeySize      = 32
	MinPasswordLength  = password.MinLength // characters
	MaxPasswordBytes   = 1024               // what auth/password accepts for hashing
	MinSessionLifetime = 5 * time.Minute
	MaxSessionLifetime = 8760 * time.Hour
	// MinSecurityEventsRetention bounds SECURITY_EVENTS_RETENTION (but 0, which keeps everything).
	MinSecurityEventsRetention = 24 * time.Hour
	// MaxPasswordHashConcurrency bounds PASSWORD_HASH_CONCURRENCY: 256 hashes hold 4.75 GiB.
	MaxPasswordHashConcurrency = 256
)

// CallbackPath is the OAuth2 redirect path under PUBLIC_URL.
const CallbackPath = "/auth/oauth2/callback"

// SecretKeyFileName is the name of the generated key file in the SQLite data folder.
const SecretKeyFileName = "secret.key"

// MIGRATE values.
const (
	MigrateAuto  = "auto"  // apply the pending migration files at start
	MigrateCheck = "check" // refuse to start while migration files are pending
	MigrateOff   = "off"   // leave the schema alone
)

// Database drivers.
const (
	SQLite = "sqlite"
	MySQL  = "mysql"
)

const (
	dbHint  = "(use sqlite://PATH or mysql://user:pass@tcp(host:3306)/db)"
	keyHint = "(openssl rand -base64 32)"
)

// Config is the server's validated configuration. Build it with Load.
type Config struct {
	Addr                   string         // ADDR
	PublicURL              *url.URL       // PUBLIC_URL, without a trailing slash
	DatabaseURL            string         // DATABASE_URL as given; may hold a password: log RedactedDatabaseURL
	Database               Database       // DATABASE_URL, parsed
	SecretKey              []byte         // SECRET_KEY, decoded: SecretKeySize bytes
	SecretKeyFile          string         // the file the key was read from or generated into, "" otherwise
	AdminEmail             string         // ADMIN_EMAIL
	AdminPassword          string         // ADMIN_PASSWORD
	LogLevel               slog.Level     // LOG_LEVEL
	LogFormat              string         // LOG_FORMAT: "json", "text", or "" for the caller to decide
	CORSOrigins            []string       // CORS_ORIGINS, normalized (lower-case, no default port)
	TrustedProxies         []netip.Prefix // TRUSTED_PROXIES
	GraphQLIntrospection   bool           // GRAPHQL_INTROSPECTION
	GraphQLComplexityLimit int            // GRAPHQL_COMPLEXITY_LIMIT
	GraphQLDepthLimit      int            // GRAPHQL_DEPTH_LIMIT
	GraphQLTimeout         time.Duration  // GRAPHQL_TIMEOUT: how long one GraphQL request may run
	Migrate                string         // MIGRATE: MigrateAuto, MigrateCheck or MigrateOff
	SessionLifetime        time.Duration  // SESSION_LIFETIME
	MaxBodyBytes           int64          // MAX_BODY_BYTES
	ShutdownTimeout        time.Duration  // SHUTDOWN_TIMEOUT
	IdPTimeout             time.Duration  // IDP_TIMEOUT: total time of one request to the identity provider
	// SecurityEventsRetention is SECURITY_EVENTS_RETENTION: security events older than this are
	// deleted; 0 keeps every event.
	SecurityEventsRetention time.Duration
	// PasswordHashConcurrency is PASSWORD_HASH_CONCURRENCY: the most password hashes computed at
	// once; a login that finds them all busy is answered 503 at once.
	PasswordHashConcurrency int
	// WebhookTimeout is WEBHOOK_TIMEOUT: the longest one webhook delivery may take.
	WebhookTimeout time.Duration
	// WebhookAllowPrivate is WEBHOOK_ALLOW_PRIVATE: webhook URLs may be http and reach loopback
	// and private addresses (development and tests only).
	WebhookAllowPrivate bool
	SMTP                SMTP // SMTP_*: the mail server; SMTP.Host "" sends no mail
}

// SMTP is the SMTP server the server's mail goes through (SMTP_*).
type SMTP struct {
	Host     string // SMTP_HOST; "" when mail is off
	Port     int    // SMTP_PORT, or the TLS mode's usual port
	TLS      string // SMTP_TLS: SMTPStartTLS, SMTPTLS or SMTPNoTLS
	Username string // SMTP_USERNAME
	Password string // SMTP_PASSWORD
	From     string // SMTP_FROM
}

// SMTP_TLS values: the mail package's TLS modes.
const (
	SMTPStartTLS = sendmail.TLSStartTLS
	SMTPTLS      = sendmail.TLSImplicit
	SMTPNoTLS    = sendmail.TLSNone
)

// Enabled reports whether SMTP_HOST is set: the server can send mail.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Sender is the sender of the server's mail through this SMTP server, or nil when SMTP_HOST is
// not set. tlsConfig, when set, replaces the default TLS settings of the connection.
func (s SMTP) Sender(tlsConfig *tls.Config) (sendmail.Sender, error) {
	if !s.Enabled() {
		return nil, nil
	}
	m, err := sendmail.New(sendmail.Config{
		Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password,
		From: s.From, TLS: s.TLS, TLSConfig: tlsConfig,
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Database is DATABASE_URL in the form the opening code needs.
type Database struct {
	Driver string // SQLite or MySQL
	DSN    string // the driver's data source name
	Path   string // the SQLite file path; "" for MySQL and in-memory SQLite
	Dir    string // the SQLite data folder (filepath.Dir(Path)); "" when Path is ""
}

// Memory reports whether the database is an in-memory SQLite database.
func (d Database) Memory() bool { return d.Driver == SQLite && d.Path == "" }

// Error lists every problem Load found.
type Error struct {
	Problems []string
}

// Error returns "config: " and the problem, or the count and one problem per line.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "config: " + e.Problems[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Secure reports whether PUBLIC_URL is https (cookies are then marked Secure).
func (c *Config) Secure() bool { return c.PublicURL != nil && c.PublicURL.Scheme == "https" }

// CallbackURL is the OAuth2 redirect URL to register at the identity provider.
func (c *Config) CallbackURL() string { return c.PublicURL.String() + CallbackPath }

// RedactedDatabaseURL is DATABASE_URL with any password replaced by "***", fit for logs.
func (c *Config) RedactedDatabaseURL() string { return redactDatabaseURL(c.DatabaseURL) }

// LogValue describes the configuration for slog without its secrets (the key, the admin
// password, the database password).
func (c *Config) LogValue() slog.Value {
	format := c.LogFormat
	if format == "" {
		format = "auto"
	}
	publicURL := ""
	if c.PublicURL != nil {
		publicURL = c.PublicURL.String()
	}
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("public_url", publicURL),
		slog.String("database", c.RedactedDatabaseURL()),
		slog.String("secret_key_file", c.SecretKeyFile),
		slog.String("admin_email", c.AdminEmail),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", format),
		slog.String("cors_origins", strings.Join(c.CORSOrigins, ",")),
		slog.Any("trusted_proxies", c.TrustedProxies),
		slog.Bool("graphql_introspection", c.GraphQLIntrospection),
		slog.Int("graphql_complexity_limit", c.GraphQLComplexityLimit),
		slog.Int("graphql_depth_limit", c.GraphQLDepthLimit),
		slog.Duration("graphql_timeout", c.GraphQLTimeout),
		slog.String("migrate", c.Migrate),
		slog.Duration("session_lifetime", c.SessionLifetime),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("idp_timeout", c.IdPTimeout),
		slog.Duration("security_events_retention", c.SecurityEventsRetention),
		slog.Int("password_hash_concurrency", c.PasswordHashConcurrency),
		slog.Duration("webhook_timeout", c.WebhookTimeout),
		slog.Bool("webhook_allow_private", c.WebhookAllowPrivate),
		slog.String("smtp_host", c.SMTP.Host),
		slog.Int("smtp_port", c.SMTP.Port),
		slog.String("smtp_tls", c.SMTP.TLS),
		slog.String("smtp_username", c.SMTP.Username),
		slog.String("smtp_from", c.SMTP.From),
	)
}

// String describes the configuration without its secrets, so printing a Config with fmt is safe.
func (c *Config) String() string {
	var b strings.Builder
	b.WriteString("config{")
	for i, a := range c.LogValue().Group() {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%q", a.Key, a.Value.String())
	}
	b.WriteByte('}')
	return b.String()
}

// LoadDatabase reads and validates DATABASE_URL alone (default DefaultDatabaseURL), for the
// commands that only reach the database (migrate): it returns the parsed URL and the URL with
// any password redacted, fit to print. It writes nothing.
func LoadDatabase(getenv func(string) string) (Database, string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	l := &loader{getenv: getenv}
	if l.readFiles("DATABASE_URL"); len(l.problems) > 0 {
		return Database{}, "", &Error{Problems: l.problems}
	}
	u := l.get("DATABASE_URL")
	if u == "" {
		u = DefaultDatabaseURL
	}
	db, err := ParseDatabaseURL(u)
	if err != nil {
		return Database{}, "", &Error{Problems: []string{err.Error()}}
	}
	return db, redactDatabaseURL(u), nil
}

// Load reads the configuration through getenv (os.Getenv when nil) and validates it. When
// anything is wrong it returns an *Error listing every problem, and nothing is written.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	// Problems are listed in the order the variables are documented.
	l := &loader{getenv: getenv}
	l.readFiles(FileVars...)
	c := &Config{Addr: l.addr(), PublicURL: l.publicURL()}
	c.DatabaseURL = l.get("DATABASE_URL")
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	db, err := ParseDatabaseURL(c.DatabaseURL)
	if err != nil {
		l.add(err.Error())
	}
	c.Database = db
	var generate bool
	c.SecretKey, c.SecretKeyFile, generate = l.secretKey(db)
	c.AdminEmail, c.AdminPassword = l.admin()
	c.LogLevel = l.logLevel()
	c.LogFormat = l.logFormat()
	c.CORSOrigins = l.corsOrigins()
	c.TrustedProxies = l.trustedProxies()
	c.GraphQLIntrospection = l.boolean("GRAPHQL_INTROSPECTION", true)
	c.GraphQLComplexityLimit = int(l.positive("GRAPHQL_COMPLEXITY_LIMIT", DefaultComplexityLimit, strconv.IntSize))
	c.GraphQLDepthLimit = int(l.positive("GRAPHQL_DEPTH_LIMIT", DefaultDepthLimit, strconv.IntSize))
	c.GraphQLTimeout = l.duration("GRAPHQL_TIMEOUT", DefaultGraphQLTimeout, 100*time.Millisecond, time.Minute)
	c.Migrate = l.migrate()
	c.SessionLifetime = l.duration("SESSION_LIFETIME", DefaultSessionLifetime, MinSessionLifetime, MaxSessionLifetime)
	c.MaxBodyBytes = l.positive("MAX_BODY_BYTES", DefaultMaxBodyBytes, 64)
	c.ShutdownTimeout = l.duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout, time.Nanosecond, 0)
	c.IdPTimeout = l.duration("IDP_TIMEOUT", DefaultIdPTimeout, 100*time.Millisecond, 2*time.Minute)
	c.SecurityEventsRetention = l.retention()
	c.PasswordHashConcurrency = l.hashConcurrency()
	c.WebhookTimeout = l.duration("WEBHOOK_TIMEOUT", DefaultWebhookTimeout, time.Second, time.Minute)
	c.WebhookAllowPrivate = l.boolean("WEBHOOK_ALLOW_PRIVATE", false)
	c.SMTP = l.smtp()

	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	if generate {
		key, err := generateKeyFile(c.SecretKeyFile)
		if err != nil {
			return nil, &Error{Problems: []string{err.Error()}}
		}
		c.SecretKey = key
	}
	return c, nil
}

type loader struct {
	getenv   func(string) string
	files    map[string]string // FileVars read from their NAME_FILE
	problems []string
}

func (l *loader) get(name string) string { return strings.TrimSpace(l.raw(name)) }

// raw is the value of name as given, from NAME_FILE when that was read (readFiles).
func (l *loader) raw(name string) string {
	if v, ok := l.files[name]; ok {
		return v
	}
	return l.getenv(name)
}

// FileVars are the variables whose value may instead be read from the file NAME_FILE names (a
// container or systemd secret), so that the secret is in no process environment.
var FileVars = []string{"DATABASE_URL", "SECRET_KEY", "ADMIN_PASSWORD", "SMTP_PASSWORD"}

// maxSecretFile bounds what a NAME_FILE may hold.
const maxSecretFile = 64 << 10

// readFiles reads those of names (FileVars) given as NAME_FILE. Setting both NAME and NAME_FILE is a
// problem, as is a file that cannot be read or is larger than maxSecretFile; a problem names the
// file, never what it holds. One trailing line break is not part of the value.
func (l *loader) readFiles(names ...string) {
	for _, name := range names {
		path := strings.TrimSpace(l.getenv(name + "_FILE"))
		if path == "" {
			continue
		}
		if strings.TrimSpace(l.getenv(name)) != "" {
			l.addf("%s and %s_FILE are both set: set one", name, name)
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			l.addf("%s_FILE: %v", name, err)
			continue
		}
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		f.Close()
		switch {
		case err != nil:
			l.addf("%s_FILE: read %s: %v", name, path, err)
			continue
		case len(b) > maxSecretFile:
			l.addf("%s_FILE: %s is larger than %d bytes", name, path, maxSecretFile)
			continue
		}
		if l.files == nil {
			l.files = map[string]string{}
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			l.addf("%s_FILE: %s is empty", name, path)
			continue
		}
		l.files[name] = v
	}
}

func (l *loader) add(problem string) { l.problems = append(l.problems, problem) }

func (l *loader) addf(format string, args ...any) { l.add(fmt.Sprintf(format, args...)) }

func (l *loader) addr() string {
	v := l.get("ADDR")
	if v == "" {
		return DefaultAddr
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil || port == "" {
		l.addf("ADDR %q must be host:port or :port, e.g. \":8080\"", v)
		return v
	}
	if n, err := strconv.ParseUint(port, 10, 64); err == nil && n > 65535 {
		l.addf("ADDR %q: port out of range", v)
	}
	return v
}

func (l *loader) publicURL() *url.URL {
	v := l.get("PUBLIC_URL")
	if v == "" {
		v = DefaultPublicURL
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		l.addf("PUBLIC_URL %q is not a URL", v)
	case u.Scheme != "http" && u.Scheme != "https":
		l.addf("PUBLIC_URL %q must be an absolute http:// or https:// URL", v)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		l.addf("PUBLIC_URL %q has no host", v)
	case u.User != nil:
		l.add("PUBLIC_URL must not contain user info")
	case u.RawQuery != "" || u.ForceQuery:
		l.addf("PUBLIC_URL %q must not have a query", v)
	case u.Fragment != "" || strings.Contains(v, "#"):
		l.addf("PUBLIC_URL %q must not have a fragment", v)
	default:
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = strings.TrimRight(u.RawPath, "/")
		return u
	}
	u, _ = url.Parse(DefaultPublicURL)
	return u
}

func (l *loader) logLevel() slog.Level {
	v := l.get("LOG_LEVEL")
	switch strings.ToLower(v) {
	case "", "info":
		return slog.LevelInfo
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	l.addf("LOG_LEVEL %q must be debug, info, warn or error", v)
	return slog.LevelInfo
}

func (l *loader) logFormat() string {
	v := strings.ToLower(l.get("LOG_FORMAT"))
	switch v {
	case "", "json", "text":
		return v
	}
	l.addf("LOG_FORMAT %q must be json or text", l.get("LOG_FORMAT"))
	return ""
}

func (l *loader) trustedProxies() []netip.Prefix {
	p, err := web.ParseProxies(l.get("TRUSTED_PROXIES"))
	if err != nil {
		l.add("TRUSTED_PROXIES: " + err.Error())
	}
	return p
}

func (l *loader) corsOrigins() []string {
	var out []string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(l.get("CORS_ORIGINS"), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, err := web.NormalizeOrigin(part)
		if err != nil {
			l.add("CORS_ORIGINS: " + err.Error())
			continue
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	return out
}

func (l *loader) boolean(name string, def bool) bool {
	v := l.get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.addf("%s %q must be true or false", name, v)
		return def
	}
	return b
}

// migrate reads MIGRATE: auto, check or off, or a bool as before (true is auto, false off).
func (l *loader) migrate() string {
	v := strings.ToLower(l.get("MIGRATE"))
	switch v {
	case "":
		return MigrateAuto
	case MigrateAuto, MigrateCheck, MigrateOff:
		return v
	}
	if b, err := strconv.ParseBool(v); err == nil {
		if b {
			return MigrateAuto
		}
		return MigrateOff
	}
	l.addf("MIGRATE %q must be auto, check or off", l.get("MIGRATE"))
	return MigrateAuto
}

func (l *loader) positive(name string, def int64, bits int) int64 {
	v := l.get(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, bits)
	switch {
	case errors.Is(err, strconv.ErrRange):
		l.addf("%s %q is too large", name, v)
	case err != nil:
		l.addf("%s %q must be a whole number", name, v)
	case n <= 0:
		l.addf("%s must be greater than 0, got %d", name, n)
	default:
		return n
	}
	return def
}

// duration reads a time.ParseDuration value in [lo, hi]; hi 0 means no upper bound.
func (l *loader) duration(name string, def, lo, hi time.Duration) time.Duration {
	v := l.get(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		l.addf("%s %q must be a duration such as 30s, 15m or 720h (no days)", name, v)
	case hi == 0 && d < lo:
		l.addf("%s must be greater than 0, got %s", name, d)
	case hi != 0 && (d < lo || d > hi):
		l.addf("%s must be between %s and %s, got %s", name, fmtDuration(lo), fmtDuration(hi), fmtDuration(d))
	default:
		return d
	}
	return def
}

// retention reads SECURITY_EVENTS_RETENTION: 0 keeps every event; otherwise a duration of at
// least MinSecurityEventsRetention.
func (l *loader) retention() time.Duration {
	const name = "SECURITY_EVENTS_RETENTION"
	v := l.get(name)
	if v == "" {
		return DefaultSecurityEventsRetention
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		l.addf("%s %q must be 0 (keep every event) or a duration such as 4320h (no days)", name, v)
	case d < 0 || d > 0 && d < MinSecurityEventsRetention:
		l.addf("%s must be 0 (keep every event) or at least %s, got %s", name, fmtDuration(MinSecurityEventsRetention), fmtDuration(d))
	default:
		return d
	}
	return DefaultSecurityEventsRetention
}

// hashConcurrency reads PASSWORD_HASH_CONCURRENCY: 1 to MaxPasswordHashConcurrency, by default
// what password.DefaultConcurrency derives from GOMAXPROCS and the hash's memory.
func (l *loader) hashConcurrency() int {
	def := password.DefaultConcurrency()
	n := int(l.positive("PASSWORD_HASH_CONCURRENCY", int64(def), strconv.IntSize))
	if n > MaxPasswordHashConcurrency {
		l.addf("PASSWORD_HASH_CONCURRENCY must be at most %d (each hash holds %d MiB while it runs), got %d",
			MaxPasswordHashConcurrency, password.Default.Memory/1024, n)
		return def
	}
	return n
}

// fmtDuration drops the zero tails of time.Duration.String ("720h0m0s" → "720h").
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (l *loader) admin() (email, password string) {
	email, password = l.get("ADMIN_EMAIL"), l.raw("ADMIN_PASSWORD")
	if strings.TrimSpace(password) == "" {
		password = ""
	}
	switch {
	case email == "" && password == "":
		return "", ""
	case email == "":
		l.add("ADMIN_PASSWORD is set but ADMIN_EMAIL is not: set both or neither")
	case password == "":
		l.add("ADMIN_EMAIL is set but ADMIN_PASSWORD is not: set both or neither")
	}
	if email != "" && !plainEmail(email) {
		l.addf("ADMIN_EMAIL %q is not a plain email address (name@example.com)", email)
	}
	if password != "" {
		if n := utf8.RuneCountInString(password); n < MinPasswordLength {
			l.addf("ADMIN_PASSWORD must be at least %d characters, got %d", MinPasswordLength, n)
		} else if len(password) > MaxPasswordBytes {
			l.addf("ADMIN_PASSWORD must be at most %d bytes", MaxPasswordBytes)
		}
	}
	return email, password
}

// smtp reads SMTP_*: nothing set is no mail; otherwise SMTP_HOST and SMTP_FROM are required.
func (l *loader) smtp() SMTP {
	s := SMTP{
		Host: l.get("SMTP_HOST"), TLS: strings.ToLower(l.get("SMTP_TLS")),
		Username: l.get("SMTP_USERNAME"), Password: l.raw("SMTP_PASSWORD"), From: l.get("SMTP_FROM"),
	}
	if strings.TrimSpace(s.Password) == "" {
		s.Password = ""
	}
	port := l.get("SMTP_PORT")
	if s.Host == "" {
		var set []string
		for _, v := range []struct{ name, value string }{
			{"SMTP_PORT", port}, {"SMTP_TLS", s.TLS}, {"SMTP_USERNAME", s.Username}, {"SMTP_PASSWORD", s.Password}, {"SMTP_FROM", s.From},
		} {
			if v.value != "" {
				set = append(set, v.name)
			}
		}
		if len(set) > 0 {
			l.addf("%s set but SMTP_HOST is not: set SMTP_HOST (and SMTP_FROM) to send mail, or unset them", strings.Join(set, ", "))
		}
		return SMTP{}
	}
	if strings.Contains(s.Host, "://") || strings.ContainsAny(s.Host, " /@") || net.ParseIP(s.Host) == nil && strings.Contains(s.Host, ":") {
		l.addf("SMTP_HOST %q must be a host name or IP address, without a scheme or port (the port is SMTP_PORT)", s.Host)
	}
	switch s.TLS {
	case "":
		s.TLS = SMTPStartTLS
	case SMTPStartTLS, SMTPTLS, SMTPNoTLS:
	default:
		l.addf("SMTP_TLS %q must be starttls, tls or none", l.get("SMTP_TLS"))
		s.TLS = SMTPStartTLS
	}
	switch s.TLS {
	case SMTPTLS:
		s.Port = 465
	case SMTPNoTLS:
		s.Port = 25
	default:
		s.Port = 587
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			l.addf("SMTP_PORT %q must be a port number from 1 to 65535", port)
		} else {
			s.Port = int(n)
		}
	}
	switch {
	case s.Username != "" && s.Password == "":
		l.add("SMTP_USERNAME is set but SMTP_PASSWORD is not: set both or neither")
	case s.Username == "" && s.Password != "":
		l.add("SMTP_PASSWORD is set but SMTP_USERNAME is not: set both or neither")
	case s.Username != "" && s.TLS == SMTPNoTLS && !loopback(s.Host):
		l.addf("SMTP_TLS=none would send SMTP_PASSWORD unencrypted to %s: use starttls or tls (none is for a relay on this machine)", s.Host)
	}
	if s.From == "" {
		l.add("SMTP_HOST is set but SMTP_FROM is not: set the address mail is sent from")
	} else if a, err := mail.ParseAddress(s.From); err != nil || !plainEmail(a.Address) {
		l.addf("SMTP_FROM %q must be an address (name@example.com) or a name and an address (Community <name@example.com>)", s.From)
	}
	return s
}

// loopback reports whether host is this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainEmail accepts what the user store accepts: an address with a canonical form (see
// package identity).
func plainEmail(s string) bool {
	_, err := identity.Email(s)
	return err == nil
}

// secretKey reads SECRET_KEY, or, for a SQLite file database without it, the key file. generate
// reports that the key file does not exist yet and should be created.
func (l *loader) secretKey(db Database) (key []byte, file string, generate bool) {
	if v := l.get("SECRET_KEY"); v != "" {
		key, err := DecodeSecretKey(v)
		if err != nil {
			l.add("SECRET_KEY " + err.Error())
		}
		return key, "", false
	}
	switch {
	case db.Driver == MySQL:
		l.add("SECRET_KEY is required with a MySQL database (32 bytes, base64: openssl rand -base64 32)")
	case db.Driver == SQLite && db.Path == "":
		// An in-memory database forgets everything the key sealed: a key for this run will do.
		return randomBytes(SecretKeySize), "", false
	case db.Driver == SQLite:
		file = filepath.Join(db.Dir, SecretKeyFileName)
		key, err := readKeyFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, file, true
		}
		if err != nil {
			l.add(err.Error())
		}
		return key, file, false
	}
	return nil, "", false
}

// DecodeSecretKey decodes a base64 secret key (standard or URL alphabet, padded or not) and checks
// that it is SecretKeySize bytes. Its errors never contain the key.
func DecodeSecretKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != SecretKeySize {
			msg := fmt.Sprintf("must be %d bytes base64-encoded, got %d bytes", SecretKeySize, len(key))
			if _, err := hex.DecodeString(s); err == nil && len(s) == 2*SecretKeySize {
				msg += " (this looks like hex; base64 is expected)"
			}
			return nil, errors.New(msg + " " + keyHint)
		}
		return key, nil
	}
	return nil, errors.New("is not valid base64 " + keyHint)
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("SECRET_KEY is unset and the key file cannot be read: %w", err)
	}
	key, err := DecodeSecretKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("SECRET_KEY file %s %v; fix or remove it, or set SECRET_KEY", path, err)
	}
	return key, nil
}

// generateKeyFile writes a new random key to path (mode 0600, its folder created 0700). The file
// appears whole or not at all; when another process wins the race, its key is used.
func generateKeyFile(path string) ([]byte, error) {
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("SECRET_KEY is unset and the key file cannot be created: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	key := randomBytes(SecretKeySize)
	data := []byte(base64.StdEncoding.EncodeToString(key) + "\n")

	tmp, err := os.CreateTemp(dir, "."+SecretKeyFileName+"-*")
	if err != nil {
		return fail(err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	err = os.Link(tmp.Name(), path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// No hard links here: create the file in place instead.
		err = writeExclusive(path, data)
	}
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path)
	}
	if err != nil {
		return fail(err)
	}
	return key, nil
}

func writeExclusive(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// ParseDatabaseURL turns a DATABASE_URL into a Database. Its errors start with "DATABASE_URL"
// and never contain a password.
func ParseDatabaseURL(raw string) (Database, error) {
	raw = strings.TrimSpace(raw)
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || !validScheme(scheme) {
		return Database{}, errors.New("DATABASE_URL has no scheme " + dbHint)
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		if rest == ":memory:" || strings.HasPrefix(rest, ":memory:?") {
			rest = "//" + rest
		}
		if !strings.HasPrefix(rest, "//") {
			return Database{}, errors.New("DATABASE_URL: write sqlite://PATH, e.g. sqlite://data/community.db")
		}
		return parseSQLite(rest[2:])
	case "mysql", "mariadb":
		if !strings.HasPrefix(rest, "//") {
			return Database{}, errors.New("DATABASE_URL: write mysql://user:pass@tcp(host:3306)/db")
		}
		return parseMySQL(rest[2:])
	}
	return Database{}, fmt.Errorf("DATABASE_URL: unknown scheme %q %s", scheme, dbHint)
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return false
		}
	}
	return true
}

func parseSQLite(s string) (Database, error) {
	path, query, _ := strings.Cut(s, "?")
	if path == "" {
		return Database{}, errors.New("DATABASE_URL: the SQLite path is empty, e.g. sqlite://data/community.db")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Database{}, fmt.Errorf("DATABASE_URL: malformed query parameters: %v", err)
	}
	memory := path == ":memory:"

	// The defaults, each dropped when the URL sets the same thing.
	type param struct{ name, text string }
	defaults := []param{
		{"foreign_keys", "_pragma=foreign_keys(1)"},
		{"journal_mode", "_pragma=journal_mode(WAL)"},
		{"busy_timeout", "_pragma=busy_timeout(5000)"},
		{"_txlock", "_txlock=immediate"},
	}
	if memory {
		defaults = []param{defaults[0], defaults[2]}
	}
	given := map[string]string{}
	for _, p := range q["_pragma"] {
		name, arg := splitPragma(p)
		given[name] = arg
	}
	for _, alias := range [][3]string{
		{"_foreign_keys", "_fk", "foreign_keys"},
		{"_journal_mode", "_journal", "journal_mode"},
		{"_busy_timeout", "_timeout", "busy_timeout"},
		{"_txlock", "_txlock", "_txlock"},
	} {
		for _, k := range alias[:2] {
			if q.Has(k) {
				given[alias[2]] = q.Get(k)
			}
		}
	}
	if arg, ok := given["foreign_keys"]; ok {
		switch strings.ToLower(arg) {
		case "1", "on", "true", "yes":
		default:
			return Database{}, errors.New("DATABASE_URL: foreign keys cannot be turned off (the schema relies on them)")
		}
	}
	var params []string
	for _, d := range defaults {
		if _, ok := given[d.name]; !ok {
			params = append(params, d.text)
		}
	}
	if query != "" {
		params = append(params, query)
	}
	tail := strings.Join(params, "&")

	if memory {
		// A unique name keeps databases of separate Loads (parallel tests) apart; the opening
		// code keeps one connection, which is what holds an in-memory database alive.
		name := "memdb-" + hex.EncodeToString(randomBytes(8))
		return Database{Driver: SQLite, DSN: "file:" + name + "?mode=memory&" + tail}, nil
	}
	path = filepath.Clean(filepath.FromSlash(path))
	// SQLite reads "file:" names as URIs: escape what would end or alter the path.
	uriPath := strings.NewReplacer("%", "%25", "#", "%23").Replace(filepath.ToSlash(path))
	return Database{
		Driver: SQLite,
		DSN:    "file:" + uriPath + "?" + tail,
		Path:   path,
		Dir:    filepath.Dir(path),
	}, nil
}

// randomBytes returns n bytes from crypto/rand, which never fails (it crashes the program
// rather than return an error).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// splitPragma splits "name(arg)" or "name=arg" into its lower-cased name and its argument.
func splitPragma(p string) (name, arg string) {
	p = strings.TrimSpace(p)
	i := strings.IndexAny(p, "(=")
	if i < 0 {
		return strings.ToLower(p), ""
	}
	name = strings.ToLower(strings.TrimSpace(p[:i]))
	arg = strings.TrimSpace(p[i+1:])
	if p[i] == '(' {
		arg = strings.TrimSpace(strings.TrimSuffix(arg, ")"))
	}
	return name, strings.Trim(arg, `'"`)
}

// parseMySQL checks a go-sql-driver DSN lightly, the way the driver splits it: the last "/"
// starts the database name, the last "@" before it ends the user info. Nothing of the DSN is
// quoted in an error, since it may hold the password.
func parseMySQL(dsn string) (Database, error) {
	const form = "mysql://user:pass@tcp(host:3306)/db"
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return Database{}, errors.New("DATABASE_URL: the MySQL database name is missing (" + form + ")")
	}
	head, tail := dsn[:slash], dsn[slash+1:]
	dbname, query, _ := strings.Cut(tail, "?")
	if dbname == "" {
		return Database{}, errors.New("DATABASE_URL: the MySQL database name is missing (" + form + ")")
	}
	addr := head
	if at := strings.LastIndexByte(head, '@'); at >= 0 {
		addr = head[at+1:]
	}
	if !validMySQLAddress(addr) {
		return Database{}, errors.New("DATABASE_URL: the MySQL address must be written protocol(address), e.g. tcp(db.example.com:3306)")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return Database{}, errors.New("DATABASE_URL: malformed MySQL query parameters")
	}
	if strings.Contains(addr, ",") {
		// Several nodes (store.NodeAddresses): a certificate is checked against one host name.
		if t := q.Get("tls"); t != "" && t != "false" && t != "skip-verify" && t != "preferred" {
			return Database{}, errors.New("DATABASE_URL: tls=" + t + " checks the server's certificate against one host name, so it cannot be used with several node addresses: put a proxy in front (docs/SCALING.md)")
		}
		if !strings.HasPrefix(addr, "tcp(") {
			return Database{}, errors.New("DATABASE_URL: several node addresses are written tcp(host1:3306,host2:3306)")
		}
	}
	var add []string
	if q.Has("parseTime") {
		if b, err := strconv.ParseBool(q.Get("parseTime")); err != nil || !b {
			return Database{}, errors.New("DATABASE_URL: parseTime must be true (or left out)")
		}
	} else {
		add = append(add, "parseTime=true")
	}
	if !q.Has("charset") {
		add = append(add, "charset=utf8mb4")
	}
	if !q.Has("loc") {
		add = append(add, "loc=UTC")
	}
	var params []string
	if query = strings.Trim(query, "&"); query != "" {
		params = append(params, query)
	}
	params = append(params, add...)
	out := head + "/" + dbname
	if len(params) > 0 {
		out += "?" + strings.Join(params, "&")
	}
	return Database{Driver: MySQL, DSN: out}, nil
}

// validMySQLAddress accepts the address part of a DSN: empty (the driver's default), a network
// alone (tcp, unix), or network(address), the network being a name (a custom dialer may use any).
func validMySQLAddress(addr string) bool {
	if addr == "" {
		return true
	}
	proto, rest, hasAddr := strings.Cut(addr, "(")
	if !hasAddr {
		switch addr {
		case "tcp", "tcp4", "tcp6", "unix":
			return true
		}
		return false
	}
	if proto == "" || !strings.HasSuffix(rest, ")") {
		return false
	}
	for _, r := range proto {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// redactDatabaseURL replaces the password of a mysql:// URL by "***".
func redactDatabaseURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return raw
	case "mysql", "mariadb":
		return scheme + "://" + RedactDSN(rest)
	}
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return scheme + "://***"
}

// RedactDSN replaces the password of a go-sql-driver DSN by "***" (user:***@tcp(host)/db).
func RedactDSN(dsn string) string {
	head := dsn
	if slash := strings.LastIndexByte(dsn, '/'); slash >= 0 {
		head = dsn[:slash]
	}
	at := strings.LastIndexByte(head, '@')
	if at < 0 {
		return dsn
	}
	user, _, hasPass := strings.Cut(head[:at], ":")
	if !hasPass {
		return dsn
	}
	return user + ":***" + dsn[at:]
}
