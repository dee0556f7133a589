package config

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Var is one configuration variable as the usage text shows it.
type Var struct {
	Name    string
	Default string // "" when it has none
	Meaning string
}

// Vars are every variable Load reads (besides the NAME_FILE forms of FileVars), in the order it
// reads them; TestVars keeps the list and Load in step.
var Vars = []Var{
	{"ADDR", DefaultAddr, "listen address"},
	{"PUBLIC_URL", DefaultPublicURL, "the URL members reach the server at (http or https); the OAuth2 callback is PUBLIC_URL/auth/oauth2/callback"},
	{"DATABASE_URL", DefaultDatabaseURL, "sqlite://PATH, sqlite:///abs/path, sqlite://:memory:, or mysql://user:pass@tcp(host:3306)/db"},
	{"SECRET_KEY", "generated into secret.key beside a SQLite file", "32 bytes, base64: seals the secrets at rest and the login-flow cookies; required with MySQL"},
	{"ADMIN_EMAIL", "", "with ADMIN_PASSWORD: create or update that admin at start"},
	{"ADMIN_PASSWORD", "", "the admin's password, at least 12 characters"},
	{"LOG_LEVEL", "info", "debug, info, warn or error"},
	{"LOG_FORMAT", "text in a terminal, json otherwise", "json or text"},
	{"CORS_ORIGINS", "", "comma-separated origins allowed to call /graphql from a browser with credentials"},
	{"TRUSTED_PROXIES", "", "comma-separated CIDR prefixes or addresses of reverse proxies whose Forwarded / X-Forwarded-* headers are read"},
	{"GRAPHQL_INTROSPECTION", "true", "allow schema introspection"},
	{"GRAPHQL_COMPLEXITY_LIMIT", fmt.Sprint(DefaultComplexityLimit), "highest complexity of a signed-in member's operation"},
	{"GRAPHQL_DEPTH_LIMIT", fmt.Sprint(DefaultDepthLimit), "deepest selection of a signed-in member's operation"},
	{"GRAPHQL_TIMEOUT", DefaultGraphQLTimeout.String(), "how long one GraphQL request may run (100ms to 1m)"},
	{"MIGRATE", MigrateAuto, "auto: apply pending migration files at start; check: refuse to start while files are pending; off"},
	{"SESSION_LIFETIME", DefaultSessionLifetime.String(), "how long an unused session lasts (5m to 8760h)"},
	{"MAX_BODY_BYTES", fmt.Sprint(DefaultMaxBodyBytes), "largest request body"},
	{"SHUTDOWN_TIMEOUT", DefaultShutdownTimeout.String(), "how long requests in flight get to finish at shutdown"},
	{"IDP_TIMEOUT", DefaultIdPTimeout.String(), "total time of one request to the identity provider (100ms to 2m)"},
	{"SECURITY_EVENTS_RETENTION", DefaultSecurityEventsRetention.String(), "how long security events are kept; 0 keeps every event"},
	{"PASSWORD_HASH_CONCURRENCY", "min(2 × GOMAXPROCS, 13)", "password hashes (argon2id, 19 MiB each) computed at once, 1 to 256"},
	{"WEBHOOK_TIMEOUT", DefaultWebhookTimeout.String(), "total time of one webhook delivery (1s to 1m)"},
	{"WEBHOOK_ALLOW_PRIVATE", "false", "let webhooks use http and reach loopback and private addresses (development only)"},
	{"SMTP_HOST", "", "the SMTP server mail goes through; unset, the server sends no mail"},
	{"SMTP_TLS", "starttls", "starttls, tls or none"},
	{"SMTP_USERNAME", "", "with SMTP_PASSWORD: authenticate to the SMTP server"},
	{"SMTP_PASSWORD", "", "the SMTP password"},
	{"SMTP_FROM", "", "required with SMTP_HOST: the From address"},
	{"SMTP_PORT", "587, 465 with tls, 25 with none", "the SMTP server's port"},
}

// Usage writes the command line's help: the commands, then every variable with its default.
func Usage(w io.Writer, program string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n")
	fmt.Fprintf(&b, "  %s                  serve (the configuration comes from the environment)\n", program)
	fmt.Fprintf(&b, "  %s version          print the version, commit and Go version\n", program)
	fmt.Fprintf(&b, "  %s migrate status   print the database's migration version and the pending files\n", program)
	fmt.Fprintf(&b, "  %s migrate up       apply the pending migration files\n", program)
	fmt.Fprintf(&b, "  %s --help           print this help\n\n", program)
	fmt.Fprintf(&b, "Environment (an empty value counts as unset):\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Meaning)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "\n%s and %s may instead be read from the file NAME_FILE names\n(SECRET_KEY_FILE=/run/secrets/secret_key).\n",
		strings.Join(FileVars[:len(FileVars)-1], ", "), FileVars[len(FileVars)-1])
	_, err := io.WriteString(w, b.String())
	return err
}
