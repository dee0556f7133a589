package main

// Load test: JWT SSO logins (GET /api/auth/sso?jwt=…) of many distinct members, from concurrent
// clients on loopback, against the server binary on each backend. It checks that no login fails,
// that no member is created twice, that the server's resident memory stays within maxIdleRSS
// once started and maxPeakRSS at its peak, and that it gives a password hash's memory back; it
// reports latency, throughput and memory.
//
// A plain `go test ./...` runs a short version (2 s, 200 members). The full run, as in
// docs/PERFORMANCE.md ("Load test") and .ci/run:
//
//	LOAD_TEST_DURATION=20s go test -run TestLoadJWTSSO -v .
//
// LOAD_TEST_MEMBERS (default 1000 with LOAD_TEST_DURATION, 200 without) and LOAD_TEST_CLIENTS
// (default 32) tune it.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/password"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// The bounds of the server's resident memory (VmRSS, KiB) the load test asserts, as
// docs/PERFORMANCE.md states them: idle once it has started (start-up work done, no request
// yet), and at the peak of the start-up and of the load.
const (
	maxIdleRSS = 40 << 10
	maxPeakRSS = 120 << 10
)

// hashRelease is how long the load test lets the server idle after the admin's sign-in before it
// reads the memory again: the server gives a password hash's memory back one second after the
// hashing stops (password.FreeMemoryWhenIdle in server.go), and the test checks it did.
const hashRelease = 2 * time.Second

// loadConfig is the shape of one load run.
type loadConfig struct {
	Duration time.Duration
	Members  int
	Clients  int
}

func loadTestConfig(t *testing.T) loadConfig {
	t.Helper()
	c := loadConfig{Duration: 2 * time.Second, Members: 200, Clients: 32}
	if v := os.Getenv("LOAD_TEST_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("LOAD_TEST_DURATION=%q: want a positive duration", v)
		}
		c.Duration, c.Members = d, 1000
	}
	for name, p := range map[string]*int{"LOAD_TEST_MEMBERS": &c.Members, "LOAD_TEST_CLIENTS": &c.Clients} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				t.Fatalf("%s=%q: want a positive number", name, v)
			}
			*p = n
		}
	}
	return c
}

// loadResult is what one load run measured.
type loadResult struct {
	Backend        string
	Config         loadConfig
	Elapsed        time.Duration
	Logins, Errors int
	P50, P99, Max  time.Duration
	Users          int
	ExternalIDs    int
	FirstErrors    []string
	// Resident memory of the server, KiB: VmRSS once it serves (start-up done, no request yet)
	// and before the load (after the admin's sign-in and hashRelease); peak: the highest of
	// VmRSS sampled during the load and VmHWM after it, the high-water mark being reset just
	// before the load; StartPeak is VmHWM before that reset (start-up, sign-in).
	StartRSS, IdleRSS, PeakRSS, StartPeak int
	// StartFile and IdleFile are the file-backed part (RssFile) of StartRSS and IdleRSS: pages
	// of the binary's code and read-only data, mapped from the page cache.
	StartFile, IdleFile int
	// First and Repeat split the latencies: the first 2×Members logins (every member's first
	// login, twice at once) and the logins of members who already exist.
	First, Repeat latencyStats
	// PerSecond counts the successful logins finished in each second of the run.
	PerSecond []int
	// ServerWarnings counts the warning and error lines the server logged during the run.
	ServerWarnings int
	// LoadBefore and LoadAfter are the machine's load averages (/proc/loadavg) around the run:
	// the clients, the server and the database share the machine with whatever else runs.
	LoadBefore, LoadAfter string
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

type latencyStats struct {
	N             int
	P50, P99, Max time.Duration
}

func latencyOf(lat []time.Duration) latencyStats {
	lat = slices.Clone(lat)
	slices.Sort(lat)
	if len(lat) == 0 {
		return latencyStats{}
	}
	return latencyStats{N: len(lat), P50: lat[len(lat)*50/100], P99: lat[min(len(lat)-1, len(lat)*99/100)], Max: lat[len(lat)-1]}
}

func (s latencyStats) String() string {
	return fmt.Sprintf("%d logins, p50 %s, p99 %s, max %s", s.N, fmtMS(s.P50), fmtMS(s.P99), fmtMS(s.Max))
}

func (r loadResult) throughput() float64 { return float64(r.Logins) / r.Elapsed.Seconds() }

// tail is p99 over p50: how far the slowest logins stray from the typical one (the goal on SQLite
// at 16 clients is at most 3, see docs/PERFORMANCE.md).
func (r loadResult) tail() float64 {
	if r.P50 <= 0 {
		return 0
	}
	return float64(r.P99) / float64(r.P50)
}

// loadTable is the throughput and latencies of load runs, and with memory the server's
// resident memory, as a Markdown table.
func loadTable(rs []loadResult, memory bool) string {
	var b strings.Builder
	b.WriteString("| backend | members | clients | duration | logins | errors | logins/s | p50 | p99 | p99/p50 | max |")
	if memory {
		b.WriteString(" RSS start | RSS idle | RSS peak |")
	}
	b.WriteString("\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	if memory {
		b.WriteString("---:|---:|---:|")
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "\n| %s | %d | %d | %s | %d | %d | %.0f | %s | %s | %.1f× | %s |",
			r.Backend, r.Config.Members, r.Config.Clients, r.Elapsed.Round(100*time.Millisecond), r.Logins, r.Errors,
			r.throughput(), fmtMS(r.P50), fmtMS(r.P99), r.tail(), fmtMS(r.Max))
		if memory {
			fmt.Fprintf(&b, " %.1f MiB | %.1f MiB | %.1f MiB |", fmtMiB(r.StartRSS), fmtMiB(r.IdleRSS), fmtMiB(r.PeakRSS))
		}
	}
	return b.String() + "\n"
}

func fmtMS(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
func fmtMiB(kb int) float64        { return float64(kb) / 1024 }

// TestLoadJWTSSO runs the load on each backend against the server binary.
func TestLoadJWTSSO(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: not in -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("load test: reads the server's memory from /proc")
	}
	cfg := loadTestConfig(t)
	bin := serverBinary(t)
	var results []loadResult
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			env := map[string]string{
				"ADMIN_EMAIL":    "owner@example.com",
				"ADMIN_PASSWORD": adminPass,
			}
			switch backend {
			case store.SQLite:
				env["DATABASE_URL"] = "sqlite://" + filepath.Join(t.TempDir(), "community.db")
			case store.MySQL:
				env["DATABASE_URL"] = "mysql://" + storetest.NewMySQLDatabase(t)
				env["SECRET_KEY"] = base64.StdEncoding.EncodeToString(make([]byte, 32))
			}
			r := runLoad(t, bin, env, cfg)
			r.Backend = backend
			results = append(results, r)
			t.Logf("\n%s\nfirst logins: %v\nrepeat logins: %v\nlogins per second: %v\nserver warnings and errors logged: %d\nload average before / after: %s / %s\nserver memory (VmRSS): %.1f MiB after start-up (%.1f MiB of it file-backed), %.1f MiB idle after the admin's sign-in (%.1f MiB file-backed), %.1f MiB at the peak of the load; %.1f MiB at the peak of start-up and sign-in",
				loadTable([]loadResult{r}, true), r.First, r.Repeat, r.PerSecond, r.ServerWarnings, r.LoadBefore, r.LoadAfter,
				fmtMiB(r.StartRSS), fmtMiB(r.StartFile), fmtMiB(r.IdleRSS), fmtMiB(r.IdleFile), fmtMiB(r.PeakRSS), fmtMiB(r.StartPeak))
			if r.Errors != 0 {
				t.Errorf("%d of %d logins failed; first: %v", r.Errors, r.Logins+r.Errors, r.FirstErrors)
			}
			if r.Users != cfg.Members+1 || r.ExternalIDs != cfg.Members {
				t.Errorf("users = %d with %d distinct externalIds, want %d (members and the admin) with %d", r.Users, r.ExternalIDs, cfg.Members+1, cfg.Members)
			}
			for _, m := range []struct {
				what       string
				kib, bound int
			}{
				{"idle after start-up", r.StartRSS, maxIdleRSS},
				{"at the peak of start-up and sign-in", r.StartPeak, maxPeakRSS},
				{"at the peak of the load", r.PeakRSS, maxPeakRSS},
			} {
				if m.kib > m.bound {
					t.Errorf("server resident memory %s: %.1f MiB, want at most %.0f MiB", m.what, fmtMiB(m.kib), fmtMiB(m.bound))
				}
			}
			// The admin's sign-in hashed a password (password.Default.Memory): by hashRelease
			// later that memory is back with the system, so the server's anonymous memory grew
			// by much less than one hash's. (The file-backed part grows too: more of the binary's
			// code has run.)
			if grown := (r.IdleRSS - r.IdleFile) - (r.StartRSS - r.StartFile); grown > int(password.Default.Memory)/2 {
				t.Errorf("anonymous memory grew by %.1f MiB over the admin's sign-in, want under %.1f MiB: the password hash's memory was kept",
					fmtMiB(grown), fmtMiB(int(password.Default.Memory)/2))
			}
		})
	}
	if len(results) > 1 {
		t.Logf("\n%s", loadTable(results, true))
	}
}

// runLoad starts the server, enables JWT SSO as an admin does, runs the logins, stops the server
// with SIGTERM and counts the users it left.
func runLoad(t *testing.T, bin string, env map[string]string, cfg loadConfig) loadResult {
	srv := startServerProcess(t, bin, env)
	res := loadResult{Config: cfg, StartRSS: srv.procStatusKB("VmRSS"), StartFile: srv.procStatusKB("RssFile")}
	app := &testApp{t: t, URL: srv.URL}
	admin := browser(t)
	app.login(admin, env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"])
	secret := []byte(enableJWT(t, app, admin))
	logStart := len(srv.Out.String())

	time.Sleep(hashRelease)
	res.IdleRSS, res.IdleFile, res.StartPeak = srv.procStatusKB("VmRSS"), srv.procStatusKB("RssFile"), srv.procStatusKB("VmHWM")
	res.LoadBefore = loadAverage()
	srv.resetPeakRSS()

	start := time.Now()
	done := make(chan struct{})
	peak := make(chan int, 1)
	go func() {
		high := 0
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := srv.procStatusKB("VmRSS"); v > high {
				high = v
			}
			select {
			case <-done:
				peak <- high
				return
			case <-tick.C:
			}
		}
	}()
	attempts := driveLogins(secret, []string{srv.URL}, cfg, start)
	res.Elapsed = time.Since(start)
	res.LoadAfter = loadAverage()
	close(done)
	res.PeakRSS = max(<-peak, srv.procStatusKB("VmHWM"))
	res.tally(attempts)
	for _, line := range strings.Split(srv.Out.String()[logStart:], "\n") {
		if strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			res.ServerWarnings++
		}
	}

	srv.Signal(syscall.SIGTERM)
	if code := srv.Wait(time.Minute); code != 0 {
		t.Errorf("exit code %d after the load", code)
	}
	res.Users, res.ExternalIDs = countMembers(t, env, cfg.Members)
	return res
}

// tally counts the attempts of a run of r.Elapsed: the successful logins, their latencies and
// how many finished in each second, and the failed ones (the first five described).
func (r *loadResult) tally(attempts []loginAttempt) {
	var lat, first, repeat []time.Duration
	r.PerSecond = make([]int, int(r.Elapsed/time.Second)+1)
	for _, x := range attempts {
		if !x.ok() {
			if r.Errors++; len(r.FirstErrors) < 5 {
				r.FirstErrors = append(r.FirstErrors, x.String())
			}
			continue
		}
		r.Logins++
		d := x.End - x.Start
		lat = append(lat, d)
		if x.First {
			first = append(first, d)
		} else {
			repeat = append(repeat, d)
		}
		r.PerSecond[min(int(x.End/time.Second), len(r.PerSecond)-1)]++
	}
	overall := latencyOf(lat)
	r.P50, r.P99, r.Max = overall.P50, overall.P99, overall.Max
	r.First, r.Repeat = latencyOf(first), latencyOf(repeat)
}

// loginAttempt is one JWT SSO login of the load (driveLogins).
type loginAttempt struct {
	Member  int  // sub load-Member
	Replica int  // index of the base URL it went to
	First   bool // among the first 2×Members logins (every member's first, twice at once)
	Status  int  // 0: no answer (Err)
	Body    string
	Err     error
	Session string // the session cookie's value, when the answer set one
	// Start and End are when the request went and its answer was read, since the run's start.
	Start, End time.Duration
}

// ok reports a successful login: 303 with a session cookie.
func (a loginAttempt) ok() bool { return a.Status == http.StatusSeeOther && a.Session != "" }

func (a loginAttempt) String() string {
	if a.Err != nil {
		return fmt.Sprintf("member %d (replica %d): %v", a.Member, a.Replica, a.Err)
	}
	return fmt.Sprintf("member %d (replica %d): %d %.200s", a.Member, a.Replica, a.Status, a.Body)
}

// driveLogins runs cfg.Clients clients that log members in by JWT SSO (tokens signed with
// secret) for cfg.Duration from start, login s going to bases[s % len(bases)], and returns every
// attempt. Member i logs in as sub load-i. The first 2×Members logins go to each member twice in
// a row, so that two clients usually make the same member's first login at the same time (a
// double click on the sign-in link; with several bases, on two replicas); later logins cycle
// through the members. Every member logs in at least once, even on a slow machine.
func driveLogins(secret []byte, bases []string, cfg loadConfig, start time.Time) []loginAttempt {
	firstPhase := 2 * cfg.Members
	member := func(seq int) int {
		if seq < firstPhase {
			return seq / 2
		}
		return seq % cfg.Members
	}
	var (
		seq atomic.Int64
		mu  sync.Mutex
		all []loginAttempt
	)
	stopAt := start.Add(cfg.Duration)
	hardStop := stopAt.Add(2 * time.Minute)
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Go(func() {
			c := &http.Client{
				Transport:     &http.Transport{MaxIdleConnsPerHost: 1},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
				Timeout:       time.Minute,
			}
			defer c.CloseIdleConnections()
			var mine []loginAttempt
			for {
				s := int(seq.Add(1) - 1)
				now := time.Now()
				if (now.After(stopAt) && s >= firstPhase) || now.After(hardStop) {
					break
				}
				a := loginAttempt{Member: member(s), Replica: s % len(bases), First: s < firstPhase}
				tok, err := loadToken(secret, a.Member)
				if err != nil {
					a.Err = err
					mine = append(mine, a)
					continue
				}
				q := url.Values{"jwt": {tok}, "redirect_uri": {"/"}}
				a.Start = time.Since(start)
				resp, err := c.Get(bases[a.Replica] + "/api/auth/sso?" + q.Encode())
				if err != nil {
					a.Err, a.End = err, time.Since(start)
					mine = append(mine, a)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				a.End = time.Since(start)
				a.Status = resp.StatusCode
				if a.Status != http.StatusSeeOther {
					a.Body = string(body)
				}
				a.Session = sessionCookie(resp)
				mine = append(mine, a)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all
}

// resetPeakRSS sets the process's VmHWM to its VmRSS now (proc(5), clear_refs), so that VmHWM
// then tells the peak of what follows.
func (p *serverProcess) resetPeakRSS() {
	p.t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0); err != nil {
		p.t.Fatalf("reset the server's VmHWM: %v", err)
	}
}

// loadToken signs member i's token as the customer's server does: fresh iat/exp and a unique jti.
func loadToken(secret []byte, i int) (string, error) {
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub":   fmt.Sprintf("load-%d", i),
		"email": fmt.Sprintf("load%d@example.com", i),
		"name":  fmt.Sprintf("Load Member %d", i),
		"iat":   now.Unix(),
		"exp":   now.Add(5 * time.Minute).Unix(),
		"jti":   hex.EncodeToString(jti),
	}).SignedString(secret)
}

// sessionCookie is the value of the session cookie resp sets, "" when none.
func sessionCookie(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == "community_session" && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// countMembers opens the stopped server's database and returns the number of users and of
// distinct externalIds among them, checking every member load-0…load-(n-1) is there.
func countMembers(t *testing.T, env map[string]string, n int) (users, externalIDs int) {
	t.Helper()
	ctx := context.Background()
	db := openServerDB(t, env)
	users, err := db.Client.User.Query().Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := db.Client.User.Query().Where(user.ExternalIDNotNil()).Select(user.FieldExternalID).Strings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for i := range n {
		if !seen[fmt.Sprintf("load-%d", i)] {
			t.Errorf("member load-%d was not created", i)
			break
		}
	}
	return users, len(seen)
}
