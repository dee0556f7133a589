package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/mail/mailtest"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/webhookdelivery"
	"github.com/community/sso/graph/graphtest"
	"github.com/community/sso/graph/playground"
)

// started runs the server with env until the test ends and returns its base URL and output.
func started(t *testing.T, env map[string]string) (string, *webtest.LogBuffer, context.CancelFunc, <-chan error) {
	t.Helper()
	vars := map[string]string{"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json"}
	for k, v := range env {
		vars[k] = v
	}
	out := &webtest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, func(k string) string { return vars[k] }, out, ready) }()
	select {
	case addr := <-ready:
		t.Cleanup(cancel)
		return "http://" + addr, out, cancel, errc
	case err := <-errc:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("server did not start in time:\n%s", out)
	}
	return "", nil, nil, nil
}

// stopped stops a server that started runs and waits for run to return without an error.
func stopped(t *testing.T, stop context.CancelFunc, errc <-chan error, out *webtest.LogBuffer) {
	t.Helper()
	stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not return\n%s", out)
	}
}

// TestRunWithNoConfiguration is `go run .` on a fresh machine: no variable set, the data in
// ./data, and the start-up message names where it serves and the absolute paths of its data.
func TestRunWithNoConfiguration(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &webtest.LogBuffer{}
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	// ADDR is the only variable set: the default :8080 may be taken on a test machine.
	go func() {
		errc <- run(ctx, func(k string) string { return map[string]string{"ADDR": "127.0.0.1:0"}[k] }, out, ready)
	}()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("did not start: %v\n%s", err, out)
	case <-time.After(60 * time.Second):
		t.Fatalf("did not start in time:\n%s", out)
	}
	want := "data: SQLite database " + filepath.Join(dir, "data", "community.db") + ", secret key " + filepath.Join(dir, "data", "secret.key")
	if !strings.Contains(out.String(), "serving on http://localhost:8080") || !strings.Contains(out.String(), want) {
		t.Fatalf("start-up message:\n%s\nwant a line %q", out, want)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestRunSQLiteDefault(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "community.db")
	base, out, cancel, errc := started(t, map[string]string{
		"DATABASE_URL":   "sqlite://" + dbPath,
		"ADMIN_EMAIL":    "Owner@Example.com",
		"ADMIN_PASSWORD": adminPass,
	})
	if !strings.Contains(out.String(), "serving on http://localhost:8080") || !strings.Contains(out.String(), "data: SQLite database "+dbPath) {
		t.Fatalf("start-up message:\n%s", out)
	}
	key, err := os.Stat(filepath.Join(dir, "data", "secret.key"))
	if err != nil || key.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v %v", key, err)
	}
	js, err := playground.URL("graphiql.min.js")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/playground": 200, js: 200, "/": 200, "/nope": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != `{"data":{"__typename":"Query"}}` {
		t.Fatalf("graphql: %s", b)
	}
	resp, _ = http.Get(base + "/metrics")
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`community_http_requests_total{code="200",method="POST",route="/graphql"}`,
		`community_build_info{go_version="go`,
		`go_sql_open_connections{db_name="main"}`,
		"community_password_hashes_in_flight 0",
	} {
		if !strings.Contains(string(m), want) {
			t.Fatalf("metrics lack %s:\n%s", want, m)
		}
	}
	// The bootstrap admin can sign in.
	app := &testApp{t: t, URL: base}
	app.login(browser(t), "owner@example.com", adminPass)

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no shutdown")
	}
	// A second start reuses the key and the data.
	base2, _, _, _ := started(t, map[string]string{"DATABASE_URL": "sqlite://" + dbPath})
	(&testApp{t: t, URL: base2}).login(browser(t), "owner@example.com", adminPass)
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unknown scheme", map[string]string{"DATABASE_URL": "postgres://x/y"}, []string{"DATABASE_URL", "postgres"}},
		{"short key", map[string]string{"SECRET_KEY": base64.StdEncoding.EncodeToString([]byte("short"))}, []string{"SECRET_KEY", "32 bytes"}},
		{"bad public url", map[string]string{"PUBLIC_URL": "not a url"}, []string{"PUBLIC_URL"}},
		{"several at once", map[string]string{"PUBLIC_URL": "ftp://x", "DATABASE_URL": "nope://", "LOG_LEVEL": "loud"}, []string{"3 problems", "PUBLIC_URL", "DATABASE_URL", "LOG_LEVEL"}},
		{"mysql without key", map[string]string{"DATABASE_URL": "mysql://root:hunter2@tcp(127.0.0.1:1)/x?parseTime=true"}, []string{"SECRET_KEY"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), func(k string) string { return tt.env[k] }, io.Discard, nil)
			if err == nil {
				t.Fatal("started")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	t.Run("unreachable mysql", func(t *testing.T) {
		key := base64.StdEncoding.EncodeToString(make([]byte, 32))
		err := run(context.Background(), func(k string) string {
			return map[string]string{"DATABASE_URL": "mysql://root:hunter2@tcp(127.0.0.1:1)/x?parseTime=true&timeout=2s", "SECRET_KEY": key}[k]
		}, io.Discard, nil)
		if err == nil || !strings.Contains(err.Error(), "connect to mysql") || strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestRunMySQL(t *testing.T) {
	dsn := storetest.NewMySQLDatabase(t)
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	base, _, _, _ := started(t, map[string]string{
		"DATABASE_URL": "mysql://" + dsn, "SECRET_KEY": key,
		"ADMIN_EMAIL": "owner@example.com", "ADMIN_PASSWORD": adminPass,
	})
	resp, err := http.Get(base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	(&testApp{t: t, URL: base}).login(browser(t), "owner@example.com", adminPass)
}

// TestDatabaseOutage cuts the connection between the server and MariaDB: requests answer 503 with
// a clear error, /readyz fails, and everything works again once the database is back.
func TestDatabaseOutage(t *testing.T) {
	dbURL, proxy, _ := proxiedMySQL(t)
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	base, _, _, _ := started(t, map[string]string{
		"DATABASE_URL": dbURL, "SECRET_KEY": key,
		"ADMIN_EMAIL": "owner@example.com", "ADMIN_PASSWORD": adminPass,
	})
	app := &testApp{t: t, URL: base}
	c := browser(t)
	app.login(c, "owner@example.com", adminPass)

	proxy.Cut()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := app.gql(c, "", "{ me { id } }", nil)
		if r.Status == http.StatusServiceUnavailable {
			if !strings.Contains(r.Raw, "SERVICE_UNAVAILABLE") {
				t.Fatalf("503 without a clear error: %s", r.Raw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 503 during the outage: %d %s", r.Status, r.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := app.get(nil, "/readyz"); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the outage: %d", r.Status)
	}
	if r := app.get(nil, "/healthz"); r.Status != 200 {
		t.Fatalf("healthz during the outage: %d", r.Status)
	}

	proxy.Restore()
	deadline = time.Now().Add(30 * time.Second)
	for {
		r := app.gql(c, "", "{ me { email } }", nil)
		if r.Status == 200 && strings.Contains(r.Raw, "owner@example.com") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %d %s", r.Status, r.Raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := app.get(nil, "/readyz"); r.Status != 200 {
		t.Fatalf("readyz after the outage: %d", r.Status)
	}
}

// TestRunRefusesAnotherSecretKey: a server started on a database with another SECRET_KEY than
// the one its secrets are sealed with stops with a clear message instead of failing logins later.
func TestRunRefusesAnotherSecretKey(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "community.db")
	keyA := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	keyB := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	_, _, cancel, errc := started(t, map[string]string{"DATABASE_URL": dbURL, "SECRET_KEY": keyA})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "SECRET_KEY": keyB, "ADDR": "127.0.0.1:0"}[k]
	}, io.Discard, nil)
	if !errors.Is(err, auth.ErrWrongSecretKey) || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Fatalf("start with another key: %v", err)
	}
	// The right key still starts.
	_, _, cancel, errc = started(t, map[string]string{"DATABASE_URL": dbURL, "SECRET_KEY": keyA})
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownSendsMailInFlight: a password reset mail still on its way to a slow SMTP server
// when the server is told to stop is sent before run returns.
func TestShutdownSendsMailInFlight(t *testing.T) {
	smtp := mailtest.Start(t, mailtest.Options{Delay: 1500 * time.Millisecond})
	env := smtp.Env()
	env["DATABASE_URL"] = "sqlite://" + filepath.Join(t.TempDir(), "community.db")
	env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = "owner@example.com", adminPass
	env["SHUTDOWN_TIMEOUT"] = "30s"
	base, out, stop, errc := started(t, env)
	resp, err := http.PostForm(base+"/auth/password/forgot", url.Values{"email": {"owner@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("forgot: %d\n%s", resp.StatusCode, out)
	}
	stopped(t, stop, errc, out)
	if n := len(smtp.Messages()); n != 1 {
		t.Fatalf("run returned with %d mails sent, want the reset link's\n%s", n, out)
	}
}

// TestRunDeliversWebhooks: the server runs the webhook delivery worker; at shutdown a delivery in
// flight is finished (and recorded DELIVERED) before run returns.
func TestRunDeliversWebhooks(t *testing.T) {
	rc := authtest.StartReceiver(t)
	rc.Respond = func(n int, w http.ResponseWriter) {
		if n == 1 {
			time.Sleep(1500 * time.Millisecond) // in flight when the server is told to stop
		}
		w.WriteHeader(http.StatusNoContent)
	}
	path := filepath.Join(t.TempDir(), "community.db")
	env := map[string]string{
		"DATABASE_URL": "sqlite://" + path, "ADMIN_EMAIL": "owner@example.com", "ADMIN_PASSWORD": adminPass,
		"WEBHOOK_ALLOW_PRIVATE": "true", "SHUTDOWN_TIMEOUT": "30s",
	}
	base, out, stop, errc := started(t, env)
	login := func(c *http.Client) { signInAt(t, c, base, "owner@example.com", adminPass) }
	admin := webtest.Browser(t)
	login(admin)
	r := graphtest.Post(t, admin, base+"/graphql", "", `mutation($u: String!) { createWebhook(input: {url: $u, events: ["member.login"]}) { secret } }`,
		map[string]any{"u": rc.URL + "/in"})
	secret, _ := graphtest.Dig(r.Data, "createWebhook", "secret").(string)
	if secret == "" {
		t.Fatalf("createWebhook: %s", r.Raw)
	}
	rc.SetSecret(t, secret)
	login(webtest.Browser(t)) // member.login
	deadline := time.Now().Add(20 * time.Second)
	for rc.Attempts() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery\n%s", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The worker counts its attempts on the server's /metrics (the one in flight is counted once
	// it is recorded).
	metricsReq, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	if m := webtest.Do(t, http.DefaultClient, metricsReq).Body; !strings.Contains(m, `community_webhook_delivery_attempts_total{result="failed"} 0`) ||
		!strings.Contains(m, `community_webhook_delivery_attempts_total{result="retry"} 0`) {
		t.Fatalf("the delivery attempts are not on /metrics:\n%s", m)
	}
	stopped(t, stop, errc, out)
	if got := rc.Delivered(); len(got) != 1 || rc.Invalid() != 0 {
		t.Fatalf("delivered %d (%d invalid)\n%s", len(got), rc.Invalid(), out)
	}
	db, err := store.Open(context.Background(), store.SQLite, store.SQLiteDSN(path), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, err := db.Client.WebhookDelivery.Query().Only(context.Background())
	if err != nil || d.Status != webhookdelivery.StatusDELIVERED || d.Attempts != 1 {
		t.Fatalf("delivery %+v (%v)", d, err)
	}
}

// signInAt signs c in at the server at base with the direct login form, as a browser on the
// server's own page does.
func signInAt(t testing.TB, c *http.Client, base, email, pass string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/login/direct",
		strings.NewReader(url.Values{"email": {email}, "password": {pass}, "redirect_uri": {"/"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	if r := webtest.Do(t, c, req); r.Status != http.StatusSeeOther {
		t.Fatalf("login at %s: %d %s", base, r.Status, r.Body)
	}
}
