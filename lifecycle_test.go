package main

// Tests of the server as an operating system process: the binary `go build` makes, started with
// its environment, stopped with SIGTERM. The helpers here (serverBinary, startServerProcess) are
// shared with the load test.

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// serverBinary builds the server with `go build` into the test's temporary folder, static
// (CGO_ENABLED=0) as the container image's binary is: no C library, no cgo DNS resolver, 3 MiB
// less resident memory than a cgo build. The binary the tests run is then copied into place, as
// the image's build copies it (COPY in the Containerfile) and an install does: the pages the
// linker wrote through its memory map sit in the page cache so that 2 to 4 MiB more of them are
// mapped at start (fault-around) than of the same bytes written as a file is
// (docs/PERFORMANCE.md, "What the room under 40 MiB needs").
func serverBinary(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	dir := t.TempDir()
	built := filepath.Join(dir, "sso.build")
	cmd := exec.Command(goBin, "build", "-o", built, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "sso")
	if err := installFile(built, bin); err != nil {
		t.Fatalf("install the server: %v", err)
	}
	return bin
}

// installFile writes a copy of src at dst, executable, and removes src.
func installFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Remove(src)
}

// serverProcess is the server running as a process of its own.
type serverProcess struct {
	t    testing.TB
	cmd  *exec.Cmd
	Addr string // host:port it listens on
	URL  string // http://Addr
	Out  *webtest.LogBuffer

	exited  chan struct{}
	waitErr error
}

var listeningRE = regexp.MustCompile(`\(listening on ([^)\s]+)\)`)

// startServerProcess runs bin with env (and nothing else from the test's environment) on a free
// loopback port, and waits until it serves. The process is killed if it still runs when the test
// ends.
func startServerProcess(t testing.TB, bin string, env map[string]string) *serverProcess {
	t.Helper()
	vars := map[string]string{"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json"}
	for k, v := range env {
		vars[k] = v
	}
	p := &serverProcess{t: t, Out: &webtest.LogBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Dir = t.TempDir()
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout = p.Out
	p.cmd.Stderr = p.Out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(p.Out.String()); m != nil {
			p.Addr = m[1]
			p.URL = "http://" + p.Addr
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("server exited at start: %v\n%s", p.waitErr, p.Out)
		case <-deadline:
			t.Fatalf("server did not start in time:\n%s", p.Out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Signal sends sig to the process.
func (p *serverProcess) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits for the process to exit and returns its exit code.
func (p *serverProcess) Wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("server still running after %v:\n%s", timeout, p.Out)
	}
	var ee *exec.ExitError
	if p.waitErr != nil && !errors.As(p.waitErr, &ee) {
		p.t.Fatalf("wait: %v", p.waitErr)
	}
	return p.cmd.ProcessState.ExitCode()
}

// Running reports whether the process has not exited yet.
func (p *serverProcess) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// procStatusKB reads a memory field (VmRSS, VmHWM) of the process from /proc, in KiB; 0 where
// /proc is not available.
func (p *serverProcess) procStatusKB(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return n
		}
	}
	return 0
}

// inFlight reads the community_http_requests_in_flight gauge from /metrics, not counting the metrics request.
func (p *serverProcess) inFlight() (int, error) {
	resp, err := http.Get(p.URL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "community_http_requests_in_flight "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f) - 1, err
		}
	}
	return 0, errors.New("no community_http_requests_in_flight in /metrics")
}

// waitInFlight waits until the server is serving at least n requests besides /metrics.
func (p *serverProcess) waitInFlight(n int) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := p.inFlight()
		if err != nil {
			p.t.Fatalf("metrics: %v", err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%d requests in flight, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRefused waits until a new TCP connection to the server is refused.
func (p *serverProcess) waitRefused() {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.Addr, 2*time.Second)
		switch {
		case err == nil:
			c.Close()
		case errors.Is(err, syscall.ECONNREFUSED):
			return
		case errors.Is(err, syscall.ECONNRESET):
			// Accepted by the kernel just as the listener closed: not served, but not proof yet.
		default:
			p.t.Fatalf("dial during shutdown: %v (want connection refused)", err)
		}
		if time.Now().After(deadline) {
			p.t.Fatal("the server still accepts connections after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loginResult is the answer to one direct login.
type loginResult struct {
	status   int
	location string
	cookie   bool
	err      error
}

// directLogin posts the direct login form with body, as a browser on the server's page does, on a
// connection of its own, and sends the answer to the returned channel.
func directLogin(base string, body io.Reader, length int) <-chan loginResult {
	out := make(chan loginResult, 1)
	req, _ := http.NewRequest(http.MethodPost, base+"/auth/login/direct", body)
	req.ContentLength = int64(length)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	c := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       2 * time.Minute,
	}
	go func() {
		resp, err := c.Do(req)
		if err != nil {
			out <- loginResult{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r := loginResult{status: resp.StatusCode, location: resp.Header.Get("Location")}
		for _, ck := range resp.Cookies() {
			if ck.Name == "community_session" && ck.Value != "" {
				r.cookie = true
			}
		}
		out <- r
	}()
	return out
}

func loginForm(email, pass string) string {
	return url.Values{"email": {email}, "password": {pass}, "redirect_uri": {"/"}}.Encode()
}

// anyAnswered reports whether any of the logins has an answer yet.
func anyAnswered(logins []<-chan loginResult) bool {
	for _, c := range logins {
		if len(c) > 0 {
			return true
		}
	}
	return false
}

// checkLogins waits for every login and requires a successful one: 303 to / with a session cookie.
func checkLogins(t *testing.T, logins []<-chan loginResult) {
	t.Helper()
	for i, c := range logins {
		select {
		case r := <-c:
			if r.err != nil || r.status != http.StatusSeeOther || r.location != "/" || !r.cookie {
				t.Errorf("login %d in flight at SIGTERM: %+v", i, r)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("login %d in flight at SIGTERM never answered", i)
		}
	}
}

// openServerDB opens the database a server process with env uses (after it stopped, to check
// what it wrote); it is closed when the test ends.
func openServerDB(t *testing.T, env map[string]string) *store.DB {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), cfg.Database.Driver, cfg.Database.DSN, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// countSessions opens the server's database after it stopped and counts the sessions of email.
func countSessions(t *testing.T, env map[string]string, email string) int {
	t.Helper()
	ctx := context.Background()
	db := openServerDB(t, env)
	n, err := db.Client.Session.Query().Where(session.HasUserWith(user.Email(email)), session.MethodEQ(session.MethodPASSWORD)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSIGTERMDrainsLogins stops the server binary with SIGTERM while logins are in flight: the
// listener closes at once (new connections are refused), every login in flight completes with
// its session, and the process exits 0.
func TestSIGTERMDrainsLogins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := serverBinary(t)
	const n = 6
	const email = "owner@example.com"

	// Slow clients: each login's form arrives in two parts, the second only after SIGTERM, so the
	// handlers are inside the request (reading the form) when shutdown begins.
	t.Run("sqlite, slow clients", func(t *testing.T) {
		env := map[string]string{
			"DATABASE_URL":     "sqlite://" + filepath.Join(t.TempDir(), "community.db"),
			"ADMIN_EMAIL":      email,
			"ADMIN_PASSWORD":   adminPass,
			"SHUTDOWN_TIMEOUT": "60s",
			// The n logins at once each get a password check slot (the default may be fewer).
			"PASSWORD_HASH_CONCURRENCY": strconv.Itoa(n),
		}
		srv := startServerProcess(t, bin, env)
		form := loginForm(email, adminPass)
		var logins []<-chan loginResult
		var rest []*io.PipeWriter
		for range n {
			pr, pw := io.Pipe()
			logins = append(logins, directLogin(srv.URL, pr, len(form)))
			if _, err := pw.Write([]byte(form[:len(form)/2])); err != nil {
				t.Fatal(err)
			}
			rest = append(rest, pw)
		}
		srv.waitInFlight(n)

		srv.Signal(syscall.SIGTERM)
		srv.waitRefused()
		if !srv.Running() || anyAnswered(logins) {
			t.Fatalf("shutdown did not wait for the logins in flight (running %v):\n%s", srv.Running(), srv.Out)
		}
		for _, pw := range rest {
			if _, err := pw.Write([]byte(form[len(form)/2:])); err != nil {
				t.Fatal(err)
			}
			pw.Close()
		}
		checkLogins(t, logins)
		if code := srv.Wait(time.Minute); code != 0 {
			t.Fatalf("exit code %d:\n%s", code, srv.Out)
		}
		if !strings.Contains(srv.Out.String(), `"msg":"shutting down"`) {
			t.Errorf("no shutdown message in the log:\n%s", srv.Out)
		}
		if got := countSessions(t, env, email); got != n {
			t.Errorf("sessions after shutdown = %d, want %d", got, n)
		}
	})

	// A stalled database: MariaDB behind a proxy that holds back its answers, so the logins are
	// waiting on their queries when shutdown begins, and finish once the database answers again.
	t.Run("mysql, stalled database", func(t *testing.T) {
		dsn := storetest.NewMySQLDatabase(t)
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		proxy := newTCPProxy(t, cfg.Addr)
		cfg.Addr = proxy.Addr()
		env := map[string]string{
			"DATABASE_URL":     "mysql://" + cfg.FormatDSN(),
			"SECRET_KEY":       base64.StdEncoding.EncodeToString(make([]byte, 32)),
			"ADMIN_EMAIL":      email,
			"ADMIN_PASSWORD":   adminPass,
			"SHUTDOWN_TIMEOUT": "60s",
			// The n logins at once each get a password check slot (the default may be fewer).
			"PASSWORD_HASH_CONCURRENCY": strconv.Itoa(n),
		}
		srv := startServerProcess(t, bin, env)
		form := loginForm(email, adminPass)
		// One login before the stall: the way works.
		checkLogins(t, []<-chan loginResult{directLogin(srv.URL, strings.NewReader(form), len(form))})

		proxy.Hold()
		var logins []<-chan loginResult
		for range n {
			logins = append(logins, directLogin(srv.URL, strings.NewReader(form), len(form)))
		}
		srv.waitInFlight(n)

		srv.Signal(syscall.SIGTERM)
		srv.waitRefused()
		if !srv.Running() || anyAnswered(logins) {
			t.Fatalf("shutdown did not wait for the logins in flight (running %v):\n%s", srv.Running(), srv.Out)
		}
		proxy.Release()
		checkLogins(t, logins)
		if code := srv.Wait(time.Minute); code != 0 {
			t.Fatalf("exit code %d:\n%s", code, srv.Out)
		}
		env["DATABASE_URL"] = "mysql://" + dsn
		if got := countSessions(t, env, email); got != n+1 {
			t.Errorf("sessions after shutdown = %d, want %d", got, n+1)
		}
	})
}

// TestSecondSignalForcesExit: while a graceful shutdown waits for a request that does not finish,
// a second SIGTERM ends the process at once, as operators expect of a second Ctrl-C.
func TestSecondSignalForcesExit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	srv := startServerProcess(t, serverBinary(t), map[string]string{
		"DATABASE_URL":     "sqlite://" + filepath.Join(t.TempDir(), "community.db"),
		"SHUTDOWN_TIMEOUT": "60s",
	})
	form := loginForm("someone@example.com", adminPass)
	pr, pw := io.Pipe()
	defer pw.Close()
	login := directLogin(srv.URL, pr, len(form))
	if _, err := pw.Write([]byte(form[:len(form)/2])); err != nil {
		t.Fatal(err)
	}
	srv.waitInFlight(1)
	srv.Signal(syscall.SIGTERM)
	srv.waitRefused()
	if !srv.Running() {
		t.Fatal("the server exited with a request in flight")
	}
	start := time.Now()
	srv.Signal(syscall.SIGTERM)
	if code := srv.Wait(10 * time.Second); code == 0 {
		t.Fatalf("exit code 0 after a forced stop")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the second signal took %v to end the process", took)
	}
	// The member's half-sent form meets a closed connection.
	pw.CloseWithError(io.ErrUnexpectedEOF)
	select {
	case r := <-login:
		if r.err == nil && r.status == http.StatusSeeOther {
			t.Fatalf("the cut-off login succeeded: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cut-off login never ended")
	}
}

// TestCommandLine runs the built binary's commands: --help prints every variable with its
// default and exits 0, version prints the build, an unknown command is a usage error; none of
// them reads the configuration or writes anything where it runs.
func TestCommandLine(t *testing.T) {
	bin := serverBinary(t)
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--help"}, 0, []string{"Usage:", "version", "DATABASE_URL", "sqlite://data/community.db", "TRUSTED_PROXIES", "SECRET_KEY_FILE"}},
		{[]string{"-h"}, 0, []string{"Usage:"}},
		{[]string{"version"}, 0, []string{"sso ", "commit ", runtime.Version()}},
		{[]string{"serve", "--now"}, 2, []string{`unknown command "serve --now"`, "Usage:"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(bin, tc.args...)
			cmd.Dir = dir
			// A configuration that would fail to load: the commands must not read it.
			cmd.Env = []string{"PUBLIC_URL=not a url", "DATABASE_URL=sqlite://data/x.db"}
			out, err := cmd.CombinedOutput()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("%s wrote %v", tc.args, entries)
			}
		})
	}
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range config.Vars {
		if !strings.Contains(string(out), "  "+v.Name+" ") {
			t.Errorf("--help lacks %s", v.Name)
		}
	}
}
