package config

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// testKey is a valid SECRET_KEY.
var testKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, SecretKeySize))

// env returns a getenv over kv.
func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

// base is a valid environment that writes nothing: in-memory SQLite and an explicit key.
func base(extra map[string]string) map[string]string {
	kv := map[string]string{"DATABASE_URL": "sqlite://:memory:", "SECRET_KEY": testKey}
	for k, v := range extra {
		kv[k] = v
	}
	return kv
}

func mustLoad(t *testing.T, kv map[string]string) *Config {
	t.Helper()
	c, err := Load(env(kv))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return ce.Problems
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	c := mustLoad(t, nil)

	if c.Addr != ":8080" {
		t.Errorf("Addr = %q", c.Addr)
	}
	if got := c.PublicURL.String(); got != "http://localhost:8080" {
		t.Errorf("PublicURL = %q", got)
	}
	if c.Secure() {
		t.Error("Secure() = true for http")
	}
	if got := c.CallbackURL(); got != "http://localhost:8080/auth/oauth2/callback" {
		t.Errorf("CallbackURL() = %q", got)
	}
	if c.DatabaseURL != "sqlite://data/community.db" {
		t.Errorf("DatabaseURL = %q", c.DatabaseURL)
	}
	want := Database{
		Driver: "sqlite",
		DSN:    "file:data/community.db?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate",
		Path:   filepath.Join("data", "community.db"),
		Dir:    "data",
	}
	if c.Database != want {
		t.Errorf("Database = %+v, want %+v", c.Database, want)
	}
	if len(c.SecretKey) != SecretKeySize {
		t.Errorf("SecretKey has %d bytes", len(c.SecretKey))
	}
	if c.SecretKeyFile != filepath.Join("data", "secret.key") {
		t.Errorf("SecretKeyFile = %q", c.SecretKeyFile)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "secret.key")); err != nil {
		t.Errorf("key file: %v", err)
	}
	if c.AdminEmail != "" || c.AdminPassword != "" {
		t.Errorf("admin = %q, %q", c.AdminEmail, c.AdminPassword)
	}
	if c.LogLevel != slog.LevelInfo || c.LogFormat != "" {
		t.Errorf("log = %v, %q", c.LogLevel, c.LogFormat)
	}
	if c.CORSOrigins != nil {
		t.Errorf("CORSOrigins = %q", c.CORSOrigins)
	}
	if !c.GraphQLIntrospection || c.GraphQLComplexityLimit != 1000 || c.GraphQLDepthLimit != 12 || c.GraphQLTimeout != 15*time.Second {
		t.Errorf("graphql = %v, %d, %d, %s", c.GraphQLIntrospection, c.GraphQLComplexityLimit, c.GraphQLDepthLimit, c.GraphQLTimeout)
	}
	if c.Migrate != MigrateAuto {
		t.Errorf("Migrate = %q, want auto", c.Migrate)
	}
	if c.SessionLifetime != 720*time.Hour || c.MaxBodyBytes != 1<<20 || c.ShutdownTimeout != 30*time.Second {
		t.Errorf("limits = %v, %d, %v", c.SessionLifetime, c.MaxBodyBytes, c.ShutdownTimeout)
	}
	if c.SecurityEventsRetention != 180*24*time.Hour {
		t.Errorf("SecurityEventsRetention = %v, want 180 days", c.SecurityEventsRetention)
	}
	if want := min(2*runtime.GOMAXPROCS(0), 13); c.PasswordHashConcurrency != want {
		t.Errorf("PasswordHashConcurrency = %d, want %d", c.PasswordHashConcurrency, want)
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(*Config) error
	}{
		{"hash concurrency", map[string]string{"PASSWORD_HASH_CONCURRENCY": " 3 "}, func(c *Config) error {
			return expect(c.PasswordHashConcurrency, 3)
		}},
		{"hash concurrency at most", map[string]string{"PASSWORD_HASH_CONCURRENCY": "256"}, func(c *Config) error {
			return expect(c.PasswordHashConcurrency, 256)
		}},
		{"addr", map[string]string{"ADDR": "127.0.0.1:9000"}, func(c *Config) error {
			return expect(c.Addr, "127.0.0.1:9000")
		}},
		{"addr trimmed", map[string]string{"ADDR": "  :9000 "}, func(c *Config) error {
			return expect(c.Addr, ":9000")
		}},
		{"public url https", map[string]string{"PUBLIC_URL": "https://community.example.com"}, func(c *Config) error {
			if !c.Secure() {
				return errors.New("Secure() = false")
			}
			return expect(c.CallbackURL(), "https://community.example.com/auth/oauth2/callback")
		}},
		{"public url trailing slash", map[string]string{"PUBLIC_URL": "https://example.com/"}, func(c *Config) error {
			return expect(c.PublicURL.String(), "https://example.com")
		}},
		{"public url with path", map[string]string{"PUBLIC_URL": "https://example.com/community//"}, func(c *Config) error {
			return expect(c.CallbackURL(), "https://example.com/community/auth/oauth2/callback")
		}},
		{"public url with port", map[string]string{"PUBLIC_URL": "http://localhost:3000"}, func(c *Config) error {
			return expect(c.CallbackURL(), "http://localhost:3000/auth/oauth2/callback")
		}},
		{"secret key raw url", map[string]string{"SECRET_KEY": base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32))}, func(c *Config) error {
			return expectKey(c, 0xff)
		}},
		{"secret key url padded", map[string]string{"SECRET_KEY": base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))}, func(c *Config) error {
			return expectKey(c, 0xfb)
		}},
		{"secret key std raw", map[string]string{"SECRET_KEY": base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{0xfe}, 32))}, func(c *Config) error {
			return expectKey(c, 0xfe)
		}},
		{"secret key std padded", map[string]string{"SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfa}, 32))}, func(c *Config) error {
			if c.SecretKeyFile != "" {
				return fmt.Errorf("SecretKeyFile = %q", c.SecretKeyFile)
			}
			return expectKey(c, 0xfa)
		}},
		{"admin", map[string]string{"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "correct horse battery"}, func(c *Config) error {
			if err := expect(c.AdminEmail, "admin@example.com"); err != nil {
				return err
			}
			return expect(c.AdminPassword, "correct horse battery")
		}},
		{"admin password 12 runes", map[string]string{"ADMIN_EMAIL": "a@b.co", "ADMIN_PASSWORD": "ééééééééééé1"}, func(c *Config) error {
			return expect(c.AdminPassword, "ééééééééééé1")
		}},
		{"log level debug", map[string]string{"LOG_LEVEL": "debug"}, func(c *Config) error {
			return expect(c.LogLevel.String(), "DEBUG")
		}},
		{"log level WARN", map[string]string{"LOG_LEVEL": "WARN"}, func(c *Config) error {
			return expect(c.LogLevel.String(), "WARN")
		}},
		{"log level error", map[string]string{"LOG_LEVEL": "error"}, func(c *Config) error {
			return expect(c.LogLevel.String(), "ERROR")
		}},
		{"log format text", map[string]string{"LOG_FORMAT": "Text"}, func(c *Config) error {
			return expect(c.LogFormat, "text")
		}},
		{"log format json", map[string]string{"LOG_FORMAT": "json"}, func(c *Config) error {
			return expect(c.LogFormat, "json")
		}},
		{"cors", map[string]string{"CORS_ORIGINS": " https://App.Example.com, http://localhost:3000,,https://x.example.com:443,capacitor://localhost,https://app.example.com"}, func(c *Config) error {
			want := []string{"https://app.example.com", "http://localhost:3000", "https://x.example.com", "capacitor://localhost"}
			if !slices.Equal(c.CORSOrigins, want) {
				return fmt.Errorf("CORSOrigins = %q, want %q", c.CORSOrigins, want)
			}
			return nil
		}},
		{"trusted proxies", map[string]string{"TRUSTED_PROXIES": " 10.0.0.0/8, 192.0.2.7,,fd00::/8"}, func(c *Config) error {
			return expect(fmt.Sprint(c.TrustedProxies), "[10.0.0.0/8 192.0.2.7/32 fd00::/8]")
		}},
		{"no trusted proxies", nil, func(c *Config) error {
			return expect(len(c.TrustedProxies), 0)
		}},
		{"introspection off", map[string]string{"GRAPHQL_INTROSPECTION": "false"}, func(c *Config) error {
			return expect(c.GraphQLIntrospection, false)
		}},
		{"introspection 1", map[string]string{"GRAPHQL_INTROSPECTION": "1"}, func(c *Config) error {
			return expect(c.GraphQLIntrospection, true)
		}},
		{"complexity", map[string]string{"GRAPHQL_COMPLEXITY_LIMIT": "250"}, func(c *Config) error {
			return expect(c.GraphQLComplexityLimit, 250)
		}},
		{"depth", map[string]string{"GRAPHQL_DEPTH_LIMIT": "5"}, func(c *Config) error {
			return expect(c.GraphQLDepthLimit, 5)
		}},
		{"graphql timeout", map[string]string{"GRAPHQL_TIMEOUT": "45s"}, func(c *Config) error {
			return expect(c.GraphQLTimeout, 45*time.Second)
		}},
		{"migrate off", map[string]string{"MIGRATE": "off"}, func(c *Config) error {
			return expect(c.Migrate, MigrateOff)
		}},
		{"migrate check", map[string]string{"MIGRATE": "Check"}, func(c *Config) error {
			return expect(c.Migrate, MigrateCheck)
		}},
		{"migrate auto", map[string]string{"MIGRATE": "auto"}, func(c *Config) error {
			return expect(c.Migrate, MigrateAuto)
		}},
		{"migrate false is off", map[string]string{"MIGRATE": "FALSE"}, func(c *Config) error {
			return expect(c.Migrate, MigrateOff)
		}},
		{"migrate 0 is off", map[string]string{"MIGRATE": "0"}, func(c *Config) error {
			return expect(c.Migrate, MigrateOff)
		}},
		{"migrate true is auto", map[string]string{"MIGRATE": "true"}, func(c *Config) error {
			return expect(c.Migrate, MigrateAuto)
		}},
		{"session lifetime", map[string]string{"SESSION_LIFETIME": "24h"}, func(c *Config) error {
			return expect(c.SessionLifetime, 24*time.Hour)
		}},
		{"session lifetime bounds", map[string]string{"SESSION_LIFETIME": "5m"}, func(c *Config) error {
			return expect(c.SessionLifetime, 5*time.Minute)
		}},
		{"session lifetime upper bound", map[string]string{"SESSION_LIFETIME": "8760h"}, func(c *Config) error {
			return expect(c.SessionLifetime, 8760*time.Hour)
		}},
		{"events retention", map[string]string{"SECURITY_EVENTS_RETENTION": "720h"}, func(c *Config) error {
			return expect(c.SecurityEventsRetention, 720*time.Hour)
		}},
		{"events retention lower bound", map[string]string{"SECURITY_EVENTS_RETENTION": "24h"}, func(c *Config) error {
			return expect(c.SecurityEventsRetention, 24*time.Hour)
		}},
		{"events kept", map[string]string{"SECURITY_EVENTS_RETENTION": "0"}, func(c *Config) error {
			return expect(c.SecurityEventsRetention, time.Duration(0))
		}},
		{"max body", map[string]string{"MAX_BODY_BYTES": "4096"}, func(c *Config) error {
			return expect(c.MaxBodyBytes, int64(4096))
		}},
		{"shutdown", map[string]string{"SHUTDOWN_TIMEOUT": "1m30s"}, func(c *Config) error {
			return expect(c.ShutdownTimeout, 90*time.Second)
		}},
		{"empty means default", map[string]string{"ADDR": "", "LOG_LEVEL": " ", "MIGRATE": ""}, func(c *Config) error {
			if err := expect(c.Addr, ":8080"); err != nil {
				return err
			}
			return expect(c.Migrate, MigrateAuto)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, base(tt.env))
			if err := tt.check(c); err != nil {
				t.Error(err)
			}
		})
	}
}

func expect[T comparable](got, want T) error {
	if got != want {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

func expectKey(c *Config, b byte) error {
	if !bytes.Equal(c.SecretKey, bytes.Repeat([]byte{b}, SecretKeySize)) {
		return fmt.Errorf("SecretKey = %x", c.SecretKey)
	}
	return nil
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // the one problem contains this
	}{
		{"addr without port", map[string]string{"ADDR": "8080"}, `ADDR "8080" must be host:port`},
		{"addr bad port", map[string]string{"ADDR": ":99999"}, "ADDR \":99999\": port out of range"},
		{"public url not a url", map[string]string{"PUBLIC_URL": "not a url"}, `PUBLIC_URL "not a url" must be an absolute http:// or https:// URL`},
		{"public url ftp", map[string]string{"PUBLIC_URL": "ftp://x"}, `PUBLIC_URL "ftp://x" must be an absolute http`},
		{"public url query", map[string]string{"PUBLIC_URL": "http://x/path?q=1"}, "must not have a query"},
		{"public url empty query", map[string]string{"PUBLIC_URL": "http://x/?"}, "must not have a query"},
		{"public url fragment", map[string]string{"PUBLIC_URL": "http://x/#top"}, "must not have a fragment"},
		{"public url userinfo", map[string]string{"PUBLIC_URL": "https://bob:hunter2@x.example.com"}, "PUBLIC_URL must not contain user info"},
		{"public url no host", map[string]string{"PUBLIC_URL": "https:///path"}, "has no host"},
		{"public url relative", map[string]string{"PUBLIC_URL": "/community"}, "must be an absolute"},
		{"public url unparsable", map[string]string{"PUBLIC_URL": "http://x:port"}, "is not a URL"},
		{"database postgres", map[string]string{"DATABASE_URL": "postgres://u:p@h/db"}, `DATABASE_URL: unknown scheme "postgres" (use sqlite://PATH or mysql://user:pass@tcp(host:3306)/db)`},
		{"database sqlite3", map[string]string{"DATABASE_URL": "sqlite3://data/x.db"}, `unknown scheme "sqlite3"`},
		{"database no scheme", map[string]string{"DATABASE_URL": "data/community.db"}, "DATABASE_URL has no scheme"},
		{"database sqlite empty path", map[string]string{"DATABASE_URL": "sqlite://"}, "SQLite path is empty"},
		{"database sqlite no slashes", map[string]string{"DATABASE_URL": "sqlite:data.db"}, "write sqlite://PATH"},
		{"database sqlite foreign keys off", map[string]string{"DATABASE_URL": "sqlite://:memory:?_pragma=foreign_keys(0)"}, "foreign keys cannot be turned off"},
		{"database sqlite fk shorthand off", map[string]string{"DATABASE_URL": "sqlite://:memory:?_fk=false"}, "foreign keys cannot be turned off"},
		{"database sqlite bad query", map[string]string{"DATABASE_URL": "sqlite://:memory:?a=%zz"}, "malformed query parameters"},
		{"database mysql no db", map[string]string{"DATABASE_URL": "mysql://u:p@tcp(h:3306)/"}, "database name is missing"},
		{"database mysql no slash", map[string]string{"DATABASE_URL": "mysql://u:p@tcp(h:3306)"}, "database name is missing"},
		{"database mysql url-style host", map[string]string{"DATABASE_URL": "mysql://u:p@db.example.com:3306/app"}, "protocol(address)"},
		{"database mysql unclosed", map[string]string{"DATABASE_URL": "mysql://u:p@tcp(h:3306/app"}, "protocol(address)"},
		{"database mysql parseTime false", map[string]string{"DATABASE_URL": "mysql://u:p@tcp(h)/app?parseTime=false"}, "parseTime must be true"},
		{"database mysql bad query", map[string]string{"DATABASE_URL": "mysql://u:p@tcp(h)/app?x=%zz"}, "malformed MySQL query parameters"},
		{"database mysql nodes with tls", map[string]string{"DATABASE_URL": "mysql://u:p@tcp(a:3306,b:3306)/app?tls=true"}, "cannot be used with several node addresses"},
		{"database mysql nodes not tcp", map[string]string{"DATABASE_URL": "mysql://u:p@unix(/a.sock,/b.sock)/app"}, "several node addresses are written tcp("},
		{"secret key short", map[string]string{"SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 16))}, "SECRET_KEY must be 32 bytes base64-encoded, got 16 bytes"},
		{"secret key long", map[string]string{"SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 33))}, "SECRET_KEY must be 32 bytes base64-encoded, got 33 bytes"},
		{"secret key hex", map[string]string{"SECRET_KEY": strings.Repeat("ab", 32)}, "looks like hex"},
		{"secret key not base64", map[string]string{"SECRET_KEY": "not base64 at all!"}, "SECRET_KEY is not valid base64"},
		{"admin email only", map[string]string{"ADMIN_EMAIL": "admin@example.com"}, "ADMIN_EMAIL is set but ADMIN_PASSWORD is not"},
		{"admin password only", map[string]string{"ADMIN_PASSWORD": "long enough password"}, "ADMIN_PASSWORD is set but ADMIN_EMAIL is not"},
		{"admin email display name", map[string]string{"ADMIN_EMAIL": "Admin <admin@example.com>", "ADMIN_PASSWORD": "long enough password"}, "is not a plain email address"},
		{"admin email invalid", map[string]string{"ADMIN_EMAIL": "admin", "ADMIN_PASSWORD": "long enough password"}, `ADMIN_EMAIL "admin" is not a plain email address`},
		{"admin email no dot", map[string]string{"ADMIN_EMAIL": "admin@localhost", "ADMIN_PASSWORD": "long enough password"}, "is not a plain email address"},
		{"admin password short", map[string]string{"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": "short"}, "ADMIN_PASSWORD must be at least 12 characters, got 5"},
		{"admin password huge", map[string]string{"ADMIN_EMAIL": "admin@example.com", "ADMIN_PASSWORD": strings.Repeat("x", 1025)}, "ADMIN_PASSWORD must be at most 1024 bytes"},
		{"log level", map[string]string{"LOG_LEVEL": "verbose"}, `LOG_LEVEL "verbose" must be debug, info, warn or error`},
		{"log format", map[string]string{"LOG_FORMAT": "xml"}, `LOG_FORMAT "xml" must be json or text`},
		{"cors star", map[string]string{"CORS_ORIGINS": "https://a.example.com,*"}, `CORS_ORIGINS: "*" is not allowed`},
		{"cors path", map[string]string{"CORS_ORIGINS": "https://app.example.com/"}, `CORS_ORIGINS: "https://app.example.com/" must be scheme://host[:port] only`},
		{"cors no scheme", map[string]string{"CORS_ORIGINS": "app.example.com"}, `CORS_ORIGINS: "app.example.com" is not an origin`},
		{"cors null", map[string]string{"CORS_ORIGINS": "null"}, `"null" is not an origin`},
		{"trusted proxies name", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"}, `TRUSTED_PROXIES: not a CIDR prefix or IP address: "lb.internal"`},
		{"introspection", map[string]string{"GRAPHQL_INTROSPECTION": "maybe"}, `GRAPHQL_INTROSPECTION "maybe" must be true or false`},
		{"migrate", map[string]string{"MIGRATE": "nope"}, `MIGRATE "nope" must be auto, check or off`},
		{"complexity text", map[string]string{"GRAPHQL_COMPLEXITY_LIMIT": "lots"}, `GRAPHQL_COMPLEXITY_LIMIT "lots" must be a whole number`},
		{"complexity zero", map[string]string{"GRAPHQL_COMPLEXITY_LIMIT": "0"}, "GRAPHQL_COMPLEXITY_LIMIT must be greater than 0, got 0"},
		{"depth negative", map[string]string{"GRAPHQL_DEPTH_LIMIT": "-3"}, "GRAPHQL_DEPTH_LIMIT must be greater than 0, got -3"},
		{"depth float", map[string]string{"GRAPHQL_DEPTH_LIMIT": "1.5"}, "must be a whole number"},
		{"max body huge", map[string]string{"MAX_BODY_BYTES": "99999999999999999999"}, "MAX_BODY_BYTES \"99999999999999999999\" is too large"},
		{"max body zero", map[string]string{"MAX_BODY_BYTES": "0"}, "MAX_BODY_BYTES must be greater than 0"},
		{"session days", map[string]string{"SESSION_LIFETIME": "30d"}, `SESSION_LIFETIME "30d" must be a duration`},
		{"session too short", map[string]string{"SESSION_LIFETIME": "1m"}, "SESSION_LIFETIME must be between 5m and 8760h, got 1m"},
		{"session too long", map[string]string{"SESSION_LIFETIME": "8761h"}, "got 8761h"},
		{"events retention days", map[string]string{"SECURITY_EVENTS_RETENTION": "180d"}, `SECURITY_EVENTS_RETENTION "180d" must be 0 (keep every event) or a duration such as 4320h`},
		{"events retention number", map[string]string{"SECURITY_EVENTS_RETENTION": "180"}, `SECURITY_EVENTS_RETENTION "180" must be 0`},
		{"events retention short", map[string]string{"SECURITY_EVENTS_RETENTION": "1h"}, "SECURITY_EVENTS_RETENTION must be 0 (keep every event) or at least 24h, got 1h"},
		{"events retention negative", map[string]string{"SECURITY_EVENTS_RETENTION": "-24h"}, "got -24h"},
		{"shutdown text", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, `SHUTDOWN_TIMEOUT "soon" must be a duration`},
		{"shutdown zero", map[string]string{"SHUTDOWN_TIMEOUT": "0s"}, "SHUTDOWN_TIMEOUT must be greater than 0"},
		{"graphql timeout too long", map[string]string{"GRAPHQL_TIMEOUT": "2m"}, "GRAPHQL_TIMEOUT must be between 100ms and 1m, got 2m"},
		{"graphql timeout text", map[string]string{"GRAPHQL_TIMEOUT": "forever"}, `GRAPHQL_TIMEOUT "forever" must be a duration`},
		{"hash concurrency zero", map[string]string{"PASSWORD_HASH_CONCURRENCY": "0"}, "PASSWORD_HASH_CONCURRENCY must be greater than 0, got 0"},
		{"hash concurrency text", map[string]string{"PASSWORD_HASH_CONCURRENCY": "many"}, `PASSWORD_HASH_CONCURRENCY "many" must be a whole number`},
		{"hash concurrency huge", map[string]string{"PASSWORD_HASH_CONCURRENCY": "257"}, "PASSWORD_HASH_CONCURRENCY must be at most 256 (each hash holds 19 MiB while it runs), got 257"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(base(tt.env)))
			if err == nil {
				t.Fatalf("Load succeeded: %v", c)
			}
			if c != nil {
				t.Error("Load returned a config with its error")
			}
			ps := problems(t, err)
			if len(ps) != 1 || !strings.Contains(ps[0], tt.want) {
				t.Fatalf("problems = %q, want one containing %q", ps, tt.want)
			}
			if got := err.Error(); got != "config: "+ps[0] {
				t.Errorf("Error() = %q", got)
			}
		})
	}
}

func TestManyProblems(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := Load(env(map[string]string{
		"DATABASE_URL":             "sqlite://" + dir + "/community.db",
		"PUBLIC_URL":               "ftp://x",
		"LOG_LEVEL":                "loud",
		"CORS_ORIGINS":             "*",
		"GRAPHQL_DEPTH_LIMIT":      "0",
		"SESSION_LIFETIME":         "forever",
		"ADMIN_EMAIL":              "admin@example.com",
		"GRAPHQL_INTROSPECTION":    "yes please",
		"GRAPHQL_COMPLEXITY_LIMIT": "1000",
	}))
	ps := problems(t, err)
	if len(ps) != 7 {
		t.Fatalf("got %d problems, want 7:\n%v", len(ps), err)
	}
	for _, want := range []string{"PUBLIC_URL", "LOG_LEVEL", "CORS_ORIGINS", "GRAPHQL_DEPTH_LIMIT", "SESSION_LIFETIME", "ADMIN_EMAIL is set", "GRAPHQL_INTROSPECTION"} {
		if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem mentions %s:\n%v", want, err)
		}
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "config: 7 problems:\n  - ") || strings.Count(msg, "\n  - ") != 7 {
		t.Errorf("Error() = %q", msg)
	}
	// A bad configuration writes nothing: no data folder, no key.
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data folder was created (stat: %v)", err)
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		problems []string
		want     string
	}{
		{[]string{"a is wrong"}, "config: a is wrong"},
		{[]string{"a is wrong", "b is wrong"}, "config: 2 problems:\n  - a is wrong\n  - b is wrong"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := (&Error{Problems: tt.problems}).Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSecretKeyFile(t *testing.T) {
	t.Run("generated then reused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nested", "data")
		kv := map[string]string{"DATABASE_URL": "sqlite://" + dir + "/community.db"}
		c1 := mustLoad(t, kv)
		file := filepath.Join(dir, "secret.key")
		if c1.SecretKeyFile != file {
			t.Errorf("SecretKeyFile = %q, want %q", c1.SecretKeyFile, file)
		}
		if len(c1.SecretKey) != SecretKeySize {
			t.Fatalf("SecretKey has %d bytes", len(c1.SecretKey))
		}
		if c1.Database.Dir != dir || c1.Database.Path != filepath.Join(dir, "community.db") {
			t.Errorf("Database = %+v", c1.Database)
		}
		if want := "file:" + filepath.ToSlash(dir) + "/community.db?"; !strings.HasPrefix(c1.Database.DSN, want) {
			t.Errorf("DSN = %q, want prefix %q", c1.Database.DSN, want)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" {
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
			}
			di, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if di.Mode().Perm() != 0o700 {
				t.Errorf("data folder mode = %v, want 0700", di.Mode().Perm())
			}
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(data)); got != base64.StdEncoding.EncodeToString(c1.SecretKey) {
			t.Errorf("key file holds %d chars, not the std base64 of the key", len(got))
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("data folder holds %d entries, want only the key file", len(entries))
		}

		c2 := mustLoad(t, kv)
		if !bytes.Equal(c1.SecretKey, c2.SecretKey) || c2.SecretKeyFile != file {
			t.Error("second Load did not reuse the key file")
		}
	})

	t.Run("explicit key wins", func(t *testing.T) {
		dir := t.TempDir()
		c := mustLoad(t, map[string]string{"DATABASE_URL": "sqlite://" + dir + "/x.db", "SECRET_KEY": testKey})
		if c.SecretKeyFile != "" || expectKey(c, 7) != nil {
			t.Errorf("SecretKeyFile = %q, key %x", c.SecretKeyFile, c.SecretKey)
		}
		if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
			t.Error("a key file was written although SECRET_KEY is set")
		}
	})

	t.Run("existing file read", func(t *testing.T) {
		dir := t.TempDir()
		key := bytes.Repeat([]byte{9}, SecretKeySize)
		if err := os.WriteFile(filepath.Join(dir, "secret.key"), []byte(base64.RawURLEncoding.EncodeToString(key)+"\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := mustLoad(t, map[string]string{"DATABASE_URL": "sqlite://" + dir + "/x.db"})
		if !bytes.Equal(c.SecretKey, key) {
			t.Errorf("SecretKey = %x", c.SecretKey)
		}
	})

	for _, tt := range []struct{ name, content, want string }{
		{"bad length", base64.StdEncoding.EncodeToString(make([]byte, 8)), "must be 32 bytes base64-encoded, got 8 bytes"},
		{"garbage", "!!!", "is not valid base64"},
		{"empty", "", "got 0 bytes"},
	} {
		t.Run("existing file "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "secret.key")
			if err := os.WriteFile(file, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(env(map[string]string{"DATABASE_URL": "sqlite://" + dir + "/x.db"}))
			ps := problems(t, err)
			if len(ps) != 1 || !strings.Contains(ps[0], tt.want) || !strings.Contains(ps[0], file) {
				t.Errorf("problems = %q, want one naming %s and containing %q", ps, file, tt.want)
			}
			data, _ := os.ReadFile(file)
			if string(data) != tt.content {
				t.Error("the bad key file was changed")
			}
		})
	}

	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "secret.key"), 0o700); err != nil {
			t.Fatal(err)
		}
		_, err := Load(env(map[string]string{"DATABASE_URL": "sqlite://" + dir + "/x.db"}))
		if ps := problems(t, err); len(ps) != 1 || !strings.Contains(ps[0], "key file cannot be read") {
			t.Errorf("problems = %q", ps)
		}
	})

	t.Run("memory database gets a key for the run", func(t *testing.T) {
		c1 := mustLoad(t, map[string]string{"DATABASE_URL": "sqlite://:memory:"})
		c2 := mustLoad(t, map[string]string{"DATABASE_URL": "sqlite://:memory:"})
		if len(c1.SecretKey) != SecretKeySize || c1.SecretKeyFile != "" {
			t.Errorf("key %d bytes, file %q", len(c1.SecretKey), c1.SecretKeyFile)
		}
		if bytes.Equal(c1.SecretKey, c2.SecretKey) {
			t.Error("two Loads share one random key")
		}
	})
}

func TestSQLite(t *testing.T) {
	tests := []struct {
		url  string
		want Database
	}{
		{"sqlite://data/community.db", Database{Driver: "sqlite", Path: filepath.FromSlash("data/community.db"), Dir: "data",
			DSN: "file:data/community.db?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"}},
		{"sqlite:///var/lib/sso/x.db", Database{Driver: "sqlite", Path: filepath.FromSlash("/var/lib/sso/x.db"), Dir: filepath.FromSlash("/var/lib/sso"),
			DSN: "file:/var/lib/sso/x.db?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"}},
		{"SQLite://./x.db", Database{Driver: "sqlite", Path: "x.db", Dir: ".",
			DSN: "file:x.db?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"}},
		{"sqlite://data/odd#name%.db", Database{Driver: "sqlite", Path: filepath.FromSlash("data/odd#name%.db"), Dir: "data",
			DSN: "file:data/odd%23name%25.db?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate"}},
		{"sqlite://data/x.db?_pragma=journal_mode(DELETE)&_pragma=busy_timeout(10000)&_time_format=sqlite", Database{Driver: "sqlite", Path: filepath.FromSlash("data/x.db"), Dir: "data",
			DSN: "file:data/x.db?_pragma=foreign_keys(1)&_txlock=immediate&_pragma=journal_mode(DELETE)&_pragma=busy_timeout(10000)&_time_format=sqlite"}},
		{"sqlite://data/x.db?_txlock=deferred&_pragma=foreign_keys(ON)", Database{Driver: "sqlite", Path: filepath.FromSlash("data/x.db"), Dir: "data",
			DSN: "file:data/x.db?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=deferred&_pragma=foreign_keys(ON)"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseDatabaseURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}

	for _, u := range []string{"sqlite://:memory:", "sqlite::memory:"} {
		t.Run(u, func(t *testing.T) {
			a, err := ParseDatabaseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := ParseDatabaseURL(u)
			if a.Driver != "sqlite" || a.Path != "" || a.Dir != "" || !a.Memory() {
				t.Errorf("got %+v", a)
			}
			if !strings.HasPrefix(a.DSN, "file:memdb-") || !strings.HasSuffix(a.DSN, "?mode=memory&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)") {
				t.Errorf("DSN = %q", a.DSN)
			}
			if a.DSN == b.DSN {
				t.Error("two in-memory databases share a name")
			}
		})
	}
}

func TestMySQL(t *testing.T) {
	tests := []struct {
		url, dsn string
	}{
		{"mysql://sso:pw@tcp(db:3306)/community", "sso:pw@tcp(db:3306)/community?parseTime=true&charset=utf8mb4&loc=UTC"},
		{"mysql://sso:pw@tcp(db1:3306,db2:3306)/community", "sso:pw@tcp(db1:3306,db2:3306)/community?parseTime=true&charset=utf8mb4&loc=UTC"},
		{"mysql://sso:pw@tcp(db:3306)/community?parseTime=true", "sso:pw@tcp(db:3306)/community?parseTime=true&charset=utf8mb4&loc=UTC"},
		{"mysql://root@tcp(127.0.0.1:3306)/ci?parseTime=true&charset=utf8&loc=Local&tls=true", "root@tcp(127.0.0.1:3306)/ci?parseTime=true&charset=utf8&loc=Local&tls=true"},
		{"mysql://u:p@w@rd/with/slash@unix(/run/mysqld/mysqld.sock)/app", "u:p@w@rd/with/slash@unix(/run/mysqld/mysqld.sock)/app?parseTime=true&charset=utf8mb4&loc=UTC"},
		{"mysql:///app", "/app?parseTime=true&charset=utf8mb4&loc=UTC"},
		{"mysql://u@tcp/app?", "u@tcp/app?parseTime=true&charset=utf8mb4&loc=UTC"},
		{"mariadb://u:p@tcp(maria:3306)/app", "u:p@tcp(maria:3306)/app?parseTime=true&charset=utf8mb4&loc=UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c := mustLoad(t, map[string]string{"DATABASE_URL": tt.url, "SECRET_KEY": testKey})
			want := Database{Driver: "mysql", DSN: tt.dsn}
			if c.Database != want {
				t.Errorf("Database = %+v, want %+v", c.Database, want)
			}
			if c.SecretKeyFile != "" {
				t.Errorf("SecretKeyFile = %q", c.SecretKeyFile)
			}
		})
	}

	t.Run("without key", func(t *testing.T) {
		_, err := Load(env(map[string]string{"DATABASE_URL": "mysql://u:p@tcp(db)/app"}))
		ps := problems(t, err)
		want := "SECRET_KEY is required with a MySQL database (32 bytes, base64: openssl rand -base64 32)"
		if len(ps) != 1 || ps[0] != want {
			t.Errorf("problems = %q", ps)
		}
	})
}

func TestSecretsNeverInErrors(t *testing.T) {
	const pass = "Sup3rS3cretPassw0rd"
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef-extra"))
	tests := []map[string]string{
		{"DATABASE_URL": "mysql://bob:" + pass + "@tcp(db:3306)/"},
		{"DATABASE_URL": "mysql://bob:" + pass + "@db:3306/app"},
		{"DATABASE_URL": "mysql://bob:" + pass + "/app"},
		{"DATABASE_URL": "mysql://bob:" + pass + "@tcp(db)/app?parseTime=0"},
		{"DATABASE_URL": "mysql://bob:" + pass + "@tcp(db)/app?x=%zz"},
		{"DATABASE_URL": "mysql://bob:" + pass + "@tcp(db)/app"},
		{"DATABASE_URL": "postgres://bob:" + pass + "@db/app"},
		{"DATABASE_URL": "bob:" + pass + "@db/app"},
		{"ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD": pass[:8]},
		{"ADMIN_PASSWORD": pass},
		{"SECRET_KEY": key, "DATABASE_URL": "sqlite://:memory:"},
		{"SECRET_KEY": pass + "!", "DATABASE_URL": "sqlite://:memory:"},
		{"PUBLIC_URL": "https://bob:" + pass + "@example.com"},
		{"SMTP_HOST": "smtp.example.com", "SMTP_TLS": "none", "SMTP_USERNAME": "bob", "SMTP_PASSWORD": pass, "SMTP_FROM": "a@example.com"},
		{"SMTP_PASSWORD": pass},
	}
	for i, kv := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := Load(env(kv))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			for _, secret := range []string{pass, pass[:8], key} {
				if strings.Contains(msg, secret) {
					t.Errorf("error shows a secret: %s", msg)
				}
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"DATABASE_URL":   "mysql://bob:hunter2hunter2@tcp(db:3306)/app",
		"SECRET_KEY":     testKey,
		"ADMIN_EMAIL":    "admin@example.com",
		"ADMIN_PASSWORD": "adminpassword123",
	})
	if got, want := c.RedactedDatabaseURL(), "mysql://bob:***@tcp(db:3306)/app"; got != want {
		t.Errorf("RedactedDatabaseURL() = %q, want %q", got, want)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	for _, out := range []string{buf.String(), c.String(), fmt.Sprintf("%v %+v", c, c)} {
		for _, secret := range []string{"hunter2hunter2", "adminpassword123", testKey} {
			if strings.Contains(out, secret) {
				t.Errorf("output shows a secret: %s", out)
			}
		}
		if !strings.Contains(out, "admin@example.com") {
			t.Errorf("output lacks the admin email: %s", out)
		}
	}

	for dsn, want := range map[string]string{
		"u:p@tcp(h)/db":          "u:***@tcp(h)/db",
		"u:p@ss@tcp(h)/db?x=a@b": "u:***@tcp(h)/db?x=a@b",
		"u@tcp(h)/db":            "u@tcp(h)/db",
		"tcp(h)/db":              "tcp(h)/db",
		"/db":                    "/db",
	} {
		if got := RedactDSN(dsn); got != want {
			t.Errorf("RedactDSN(%q) = %q, want %q", dsn, got, want)
		}
	}
}

func TestNilGetenvUsesEnvironment(t *testing.T) {
	t.Setenv("DATABASE_URL", "sqlite://:memory:")
	t.Setenv("GRAPHQL_DEPTH_LIMIT", "7")
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.GraphQLDepthLimit != 7 {
		t.Errorf("GraphQLDepthLimit = %d", c.GraphQLDepthLimit)
	}
}

func TestSMTP(t *testing.T) {
	valid := []struct {
		name string
		kv   map[string]string
		want SMTP
	}{
		{"unset", nil, SMTP{}},
		{"defaults", map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_FROM": "community@example.com"},
			SMTP{Host: "smtp.example.com", Port: 587, TLS: "starttls", From: "community@example.com"}},
		{"implicit tls", map[string]string{"SMTP_HOST": "smtp.example.com", "SMTP_TLS": "TLS", "SMTP_FROM": "Community <community@example.com>",
			"SMTP_USERNAME": "relay", "SMTP_PASSWORD": " pass word "},
			SMTP{Host: "smtp.example.com", Port: 465, TLS: "tls", Username: "relay", Password: " pass word ", From: "Community <community@example.com>"}},
		{"none on loopback with auth", map[string]string{"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "2525", "SMTP_TLS": "none", "SMTP_FROM": "a@example.com",
			"SMTP_USERNAME": "u", "SMTP_PASSWORD": "relay-secret-9"},
			SMTP{Host: "127.0.0.1", Port: 2525, TLS: "none", Username: "u", Password: "relay-secret-9", From: "a@example.com"}},
		{"none without auth", map[string]string{"SMTP_HOST": "relay.internal", "SMTP_TLS": "none", "SMTP_FROM": "a@example.com"},
			SMTP{Host: "relay.internal", Port: 25, TLS: "none", From: "a@example.com"}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, base(tc.kv))
			if c.SMTP != tc.want {
				t.Errorf("SMTP = %+v, want %+v", c.SMTP, tc.want)
			}
			if c.SMTP.Enabled() != (tc.want.Host != "") {
				t.Errorf("Enabled() = %v", c.SMTP.Enabled())
			}
			if tc.want.Password != "" && strings.Contains(c.String(), tc.want.Password) {
				t.Errorf("String() shows the SMTP password: %s", c)
			}
		})
	}

	invalid := []struct {
		name string
		kv   map[string]string
		want []string
	}{
		{"no host", map[string]string{"SMTP_FROM": "a@example.com", "SMTP_PORT": "25"},
			[]string{"SMTP_PORT, SMTP_FROM set but SMTP_HOST is not: set SMTP_HOST (and SMTP_FROM) to send mail, or unset them"}},
		{"everything wrong", map[string]string{"SMTP_HOST": "smtp://mail.example.com:25", "SMTP_PORT": "70000", "SMTP_TLS": "ssl",
			"SMTP_USERNAME": "u", "SMTP_FROM": "not an address"},
			[]string{
				`SMTP_HOST "smtp://mail.example.com:25" must be a host name or IP address, without a scheme or port (the port is SMTP_PORT)`,
				`SMTP_TLS "ssl" must be starttls, tls or none`,
				`SMTP_PORT "70000" must be a port number from 1 to 65535`,
				"SMTP_USERNAME is set but SMTP_PASSWORD is not: set both or neither",
				`SMTP_FROM "not an address" must be an address (name@example.com) or a name and an address (Community <name@example.com>)`,
			}},
		{"no from, password alone", map[string]string{"SMTP_HOST": "mail.example.com", "SMTP_PASSWORD": "p", "SMTP_PORT": "0"},
			[]string{
				`SMTP_PORT "0" must be a port number from 1 to 65535`,
				"SMTP_PASSWORD is set but SMTP_USERNAME is not: set both or neither",
				"SMTP_HOST is set but SMTP_FROM is not: set the address mail is sent from",
			}},
		{"password in clear", map[string]string{"SMTP_HOST": "mail.example.com", "SMTP_TLS": "none", "SMTP_USERNAME": "u", "SMTP_PASSWORD": "p", "SMTP_FROM": "a@example.com"},
			[]string{"SMTP_TLS=none would send SMTP_PASSWORD unencrypted to mail.example.com: use starttls or tls (none is for a relay on this machine)"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(base(tc.kv)))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if got := problems(t, err); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestFileVars: a secret may come from the file NAME_FILE names (a container secret): the value
// is the file's content without its line break; both NAME and NAME_FILE, an unreadable, empty or
// oversized file are problems that name the file and never its content.
func TestFileVars(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, SecretKeySize))
	files := map[string]string{
		"DATABASE_URL_FILE":   write("db", "sqlite://:memory:\n"),
		"SECRET_KEY_FILE":     write("key", key+"\r\n"),
		"ADMIN_PASSWORD_FILE": write("admin", " spaces kept inside  \n"),
		"ADMIN_EMAIL":         "admin@example.com",
	}
	c := mustLoad(t, files)
	if c.DatabaseURL != "sqlite://:memory:" {
		t.Errorf("DatabaseURL %q", c.DatabaseURL)
	}
	if err := expectKey(c, 9); err != nil {
		t.Error(err)
	}
	if c.AdminPassword != " spaces kept inside  " {
		t.Errorf("AdminPassword %q", c.AdminPassword)
	}

	secret := "do-not-echo-this-secret"
	big := write("big", strings.Repeat("x", maxSecretFile+1))
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"both", base(map[string]string{"SECRET_KEY_FILE": write("k2", key)}), "SECRET_KEY and SECRET_KEY_FILE are both set"},
		{"missing", base(map[string]string{"ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD_FILE": filepath.Join(dir, "nope")}), "ADMIN_PASSWORD_FILE: open " + filepath.Join(dir, "nope")},
		{"empty", base(map[string]string{"SMTP_PASSWORD_FILE": write("empty", "\n")}), "SMTP_PASSWORD_FILE: " + filepath.Join(dir, "empty") + " is empty"},
		{"too big", base(map[string]string{"ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD_FILE": big}), "is larger than 65536 bytes"},
		{"bad content", map[string]string{"DATABASE_URL_FILE": write("bad", "postgres://u:"+secret+"@h/db"), "SECRET_KEY": testKey}, "DATABASE_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			if err == nil {
				t.Fatal("loaded")
			}
			msg := strings.Join(problems(t, err), "\n")
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("problems:\n%s\nwant %q", msg, tc.want)
			}
			if strings.Contains(msg, secret) {
				t.Fatalf("a problem shows the file's content:\n%s", msg)
			}
		})
	}
}

// TestVars: the usage lists exactly the variables Load reads, and the NAME_FILE form of each of
// FileVars.
func TestVars(t *testing.T) {
	read := map[string]bool{}
	_, _ = Load(func(k string) string {
		read[k] = true
		// Enough set that every variable is read (the SMTP ones only with a host).
		return map[string]string{"DATABASE_URL": "sqlite://:memory:", "SMTP_HOST": "mail.example.com"}[k]
	})
	listed := map[string]bool{}
	for _, v := range Vars {
		listed[v.Name] = true
		if !read[v.Name] {
			t.Errorf("Vars lists %s, which Load does not read", v.Name)
		}
	}
	for _, n := range FileVars {
		listed[n+"_FILE"] = true
	}
	for k := range read {
		if !listed[k] {
			t.Errorf("Load reads %s, which Vars does not list", k)
		}
	}
	var b strings.Builder
	if err := Usage(&b, "community"); err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(b.String(), "  "+v.Name+" ") {
			t.Errorf("the usage lacks %s:\n%s", v.Name, b.String())
		}
	}
}

// TestLoadDatabase: the migrate commands read DATABASE_URL alone: no SECRET_KEY needed (and none
// generated), the default SQLite file, a redacted URL to print, and a bad URL refused.
func TestLoadDatabase(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	db, shown, err := LoadDatabase(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if db.Driver != SQLite || db.Path != filepath.Join("data", "community.db") || shown != DefaultDatabaseURL {
		t.Errorf("default: %+v, %q", db, shown)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDatabase wrote to disk: %v", err)
	}
	db, shown, err = LoadDatabase(env(map[string]string{"DATABASE_URL": "mysql://bob:hunter2hunter2@tcp(db:3306)/app", "MIGRATE": "nope"}))
	if err != nil {
		t.Fatal(err)
	}
	if db.Driver != MySQL || shown != "mysql://bob:***@tcp(db:3306)/app" {
		t.Errorf("mysql: %+v, %q", db, shown)
	}
	_, _, err = LoadDatabase(env(map[string]string{"DATABASE_URL": "postgres://bob:hunter2hunter2@db/app"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("bad URL: %v", err)
	}
	// The commands read DATABASE_URL_FILE as the server does, and no other secret's file.
	file := filepath.Join(dir, "db-url")
	if err := os.WriteFile(file, []byte("mysql://bob:hunter2hunter2@tcp(db:3306)/fromfile\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, shown, err = LoadDatabase(env(map[string]string{"DATABASE_URL_FILE": file, "SECRET_KEY_FILE": filepath.Join(dir, "nope")}))
	if err != nil || db.Driver != MySQL || shown != "mysql://bob:***@tcp(db:3306)/fromfile" {
		t.Errorf("DATABASE_URL_FILE: %+v, %q, %v", db, shown, err)
	}
	if _, _, err = LoadDatabase(env(map[string]string{"DATABASE_URL_FILE": filepath.Join(dir, "nope")})); err == nil || !strings.Contains(err.Error(), "DATABASE_URL_FILE") {
		t.Errorf("a missing DATABASE_URL_FILE: %v", err)
	}
}
