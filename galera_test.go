package main

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestGalera runs the server unchanged on a three-node MariaDB Galera cluster (storetest.Galera),
// one replica per node, and checks what docs/SCALING.md promises:
//   - a settings change made through one node takes effect for a login on another at once, and a
//     session made on one node is seen by a request on another at once (wsrep_sync_wait);
//   - under a load of JWT SSO logins spread across the replicas, during which node 2 is killed
//     (SIGKILL) and later rejoins, no login that answered 303 is lost (its member and session are
//     on every node afterwards), no member is made twice, the only 5xx answers are 503s of the
//     replica on node 2 while it is down, and the nodes end with the same rows;
//   - 50 simultaneous first logins of one identity across the replicas make one member.
//
// It also measures the same load on one plain MariaDB (the test's database on TEST_MYSQL_DSN,
// one replica) and on the cluster (three replicas), with and without wsrep_sync_wait, and logs
// the table docs/SCALING.md and docs/PERFORMANCE.md show.
func TestGalera(t *testing.T) {
	if testing.Short() {
		t.Skip("galera test: not in -short")
	}
	c := storetest.Galera(t)
	bin := serverBinary(t)
	cfg := loadTestConfig(t)
	secretKey := base64.StdEncoding.EncodeToString(make([]byte, 32))
	envFor := func(dbURL string) map[string]string {
		return map[string]string{
			"ADMIN_EMAIL":    "owner@example.com",
			"ADMIN_PASSWORD": adminPass,
			"SECRET_KEY":     secretKey,
			"DATABASE_URL":   dbURL,
		}
	}
	// The replica on node 2 lists node 3 after its own (the others name theirs alone): when
	// node 2 goes away its pool moves to node 3.
	const failover = 1
	// startReplicas starts one replica per node on database (the DSN's query added) and turns
	// JWT SSO on through the first; it returns the replicas, their apps, the admin's browser and
	// the secret.
	startReplicas := func(database, query string) ([]*serverProcess, []*testApp, *http.Client, []byte) {
		t.Helper()
		var srvs []*serverProcess
		var apps []*testApp
		for i := range c.Size() {
			url := c.URL(i, database)
			if i == failover {
				url = c.NodesURL(database, i, (i+1)%c.Size())
			}
			srv := startServerProcess(t, bin, envFor(url+query))
			srvs = append(srvs, srv)
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("replica %d's warnings and errors:\n%s", i, warnings(srv.Out.String(), 20))
				}
			})
			apps = append(apps, &testApp{t: t, URL: srv.URL})
		}
		admin := browser(t)
		apps[0].login(admin, "owner@example.com", adminPass)
		return srvs, apps, admin, []byte(enableJWT(t, apps[0], admin))
	}
	bases := func(srvs []*serverProcess) []string {
		var b []string
		for _, s := range srvs {
			b = append(b, s.URL)
		}
		return b
	}

	// The measurements: the same load (fewer members, half the duration) on one plain MariaDB and
	// on the cluster, each on a fresh database.
	measure := cfg
	measure.Members = min(cfg.Members, 200)
	measure.Duration = max(cfg.Duration/2, time.Second)
	var results []loadResult
	run := func(name string, urls []string, secret []byte) {
		t.Helper()
		start := time.Now()
		attempts := driveLogins(secret, urls, measure, start)
		r := loadResult{Backend: name, Config: measure, Elapsed: time.Since(start)}
		r.tally(attempts)
		if r.Errors != 0 {
			t.Errorf("%s: %d of %d logins failed; first: %v", name, r.Errors, r.Logins+r.Errors, r.FirstErrors)
		}
		results = append(results, r)
	}
	{
		env := envFor("mysql://" + storetest.NewMySQLDatabase(t))
		srv := startServerProcess(t, bin, env)
		app := &testApp{t: t, URL: srv.URL}
		admin := browser(t)
		app.login(admin, env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"])
		run("MariaDB, one node, 1 replica", []string{srv.URL}, []byte(enableJWT(t, app, admin)))
		srv.Signal(syscall.SIGTERM)
		srv.Wait(time.Minute)
	}
	for _, m := range []struct{ name, query string }{
		{"Galera, 3 nodes, 3 replicas (wsrep_sync_wait=1)", ""},
		{"Galera, 3 nodes, 3 replicas (wsrep_sync_wait=0)", "?wsrep_sync_wait=0"},
	} {
		srvs, _, _, secret := startReplicas(c.NewDatabase(), m.query)
		// Without the causality wait a replica may read the settings from before JWT SSO was
		// enabled through another one (as docs/SCALING.md says): the load starts once every
		// node has applied it (a read that waits for causality on each).
		for i := range c.Size() {
			var one int
			if err := c.Open(i).QueryRow("SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
		}
		run(m.name, bases(srvs), secret)
		for _, s := range srvs {
			s.Signal(syscall.SIGTERM)
			s.Wait(time.Minute)
		}
	}
	t.Logf("the same load on one MariaDB and on the three-node cluster (%d clients, %d members, %s; load average %s):\n%s",
		measure.Clients, measure.Members, measure.Duration, loadAverage(), loadTable(results, false))

	srvs, apps, admin, secret := startReplicas(c.Database, "")
	urls := bases(srvs)

	t.Run("reads after a write on another node", func(t *testing.T) {
		for k := range 5 {
			// The secret made through node 1 signs in through node 3 at once.
			r := apps[0].client().GQL(admin, "", `mutation { regenerateJwtSsoSecret(graceSeconds: 0) }`, nil)
			s, _ := r.Data["regenerateJwtSsoSecret"].(string)
			if s == "" {
				t.Fatalf("regenerate: %s", r.Raw)
			}
			secret = []byte(s)
			b := browser(t)
			tok, err := loadToken(secret, 100000+k)
			if err != nil {
				t.Fatal(err)
			}
			if got := apps[2].client().SSOGet(b, tok, "/", ""); got.Status != http.StatusSeeOther {
				t.Fatalf("login on node 3 right after the secret changed on node 1: %d %.300s", got.Status, got.Body)
			}
			// The session made through node 3 is seen through node 2 at once.
			me := apps[1].client().GQL(b, "", `{ me { externalId } }`, nil)
			if !strings.Contains(me.Raw, fmt.Sprintf(`"load-%d"`, 100000+k)) {
				t.Fatalf("me on node 2 right after the login on node 3: %s", me.Raw)
			}
		}
		// Turned off through node 2, JWT SSO refuses through node 1 at once; and back on.
		for _, on := range []bool{false, true} {
			r := apps[1].client().GQL(admin, "", `mutation($on: Boolean!) { updateJwtSsoSettings(input: {enabled: $on}) { jwtSso { enabled } } }`, map[string]any{"on": on})
			if r.Code() != "" {
				t.Fatalf("updateJwtSsoSettings(enabled: %v): %s", on, r.Raw)
			}
			tok, _ := loadToken(secret, 100010)
			got := apps[0].client().SSOGet(browser(t), tok, "/", "")
			if (got.Status == http.StatusSeeOther) != on {
				t.Fatalf("login on node 1 right after enabled=%v on node 2: %d %.300s", on, got.Status, got.Body)
			}
		}
	})

	t.Run("settings written through every node at once", func(t *testing.T) {
		// Each update of the one settings row through another node than a concurrent one's
		// loses certification at commit (1213) or waits for it: the mutation runs again, and
		// no admin sees an error.
		var wg sync.WaitGroup
		results := make([]string, 30)
		for k := range results {
			wg.Go(func() {
				r := apps[k%len(apps)].client().GQL(admin, "", `mutation($u: String!) { updateJwtSsoSettings(input: {logoutUrl: $u}) { jwtSso { enabled } } }`,
					map[string]any{"u": fmt.Sprintf("https://customer.example/logout/%d", k)})
				if r.Code() != "" {
					results[k] = r.Raw
				}
			})
		}
		wg.Wait()
		for k, r := range results {
			if r != "" {
				t.Errorf("update %d through replica %d: %s", k, k%len(apps), r)
			}
		}
	})

	t.Run("load with a node killed and rejoining", func(t *testing.T) {
		const killed = failover
		start := time.Now()
		var (
			mu                    sync.Mutex
			downAt, syncedAt      time.Duration
			restartErr            error
			chaosDone             = make(chan struct{})
			killAfter, startAfter = cfg.Duration * 3 / 10, cfg.Duration * 6 / 10
		)
		go func() {
			defer close(chaosDone)
			time.Sleep(killAfter)
			mu.Lock()
			downAt = time.Since(start)
			mu.Unlock()
			c.Kill(killed)
			time.Sleep(startAfter - killAfter)
			if err := c.StartErr(killed); err != nil {
				restartErr = err
				return
			}
			for deadline := time.Now().Add(2 * time.Minute); !c.Synced(killed, c.Size()); time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					restartErr = errors.New("not synced again within 2 minutes of its restart")
					return
				}
			}
			mu.Lock()
			syncedAt = time.Since(start)
			mu.Unlock()
		}()
		attempts := driveLogins(secret, urls, cfg, start)
		elapsed := time.Since(start)
		<-chaosDone
		if restartErr != nil {
			t.Fatalf("restart node %d: %v", killed+1, restartErr)
		}
		c.WaitClusterSynced()
		waitReady(t, urls)
		r := loadResult{Backend: "Galera, node 2 killed and rejoining", Config: cfg, Elapsed: elapsed}
		r.tally(attempts)
		t.Logf("node %d down from %s, synced again at %s\n%s", killed+1, downAt.Round(time.Millisecond), syncedAt.Round(time.Millisecond), loadTable([]loadResult{r}, false))

		// The only failures: 503s of the killed node's replica, while its pool moved to the
		// next node its DSN lists (the cluster evicting the dead node, its connections failing
		// and being replaced: a few seconds), and none after that, while the node was down,
		// rejoined and came back into its pool.
		const move = 10 * time.Second
		var refused int
		var lastRefused time.Duration
		for _, a := range attempts {
			if a.ok() {
				continue
			}
			if a.Status == http.StatusServiceUnavailable && a.Replica == failover && a.End >= downAt && a.Start <= downAt+move {
				refused++
				lastRefused = max(lastRefused, a.End-downAt)
				continue
			}
			t.Errorf("login failed outside the move of the killed node's replica: %v (at %s; node down at %s)", a, a.End.Round(time.Millisecond), downAt.Round(time.Millisecond))
		}
		t.Logf("%d logins answered 503 by the replica of the killed node, the last %s after the kill; none after its pool moved",
			refused, lastRefused.Round(time.Millisecond))

		// Every 303 login's member and session are on every node.
		ctx := context.Background()
		for i := range c.Size() {
			db := c.Open(i)
			members := map[string]bool{}
			rows, err := db.QueryContext(ctx, "SELECT external_id FROM users WHERE external_id LIKE 'load-%'")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				if members[id] {
					t.Errorf("node %d: member %s twice", i+1, id)
				}
				members[id] = true
			}
			rows.Close()
			sessions := map[string]bool{}
			rows, err = db.QueryContext(ctx, "SELECT token_hash FROM sessions")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var h []byte
				if err := rows.Scan(&h); err != nil {
					t.Fatal(err)
				}
				sessions[string(h)] = true
			}
			rows.Close()
			var lost int
			for _, a := range attempts {
				if !a.ok() {
					continue
				}
				tok, _ := url.QueryUnescape(a.Session)
				if !members[fmt.Sprintf("load-%d", a.Member)] || !sessions[string(auth.HashToken(tok))] {
					if lost++; lost <= 3 {
						t.Errorf("node %d: the login %v (answered 303) left no member or no session", i+1, a)
					}
				}
			}
			if lost > 0 {
				t.Errorf("node %d: %d logins that answered 303 are missing", i+1, lost)
			}
		}
		checkConverged(t, c)
	})

	t.Run("50 simultaneous first logins of one identity", func(t *testing.T) {
		var wg sync.WaitGroup
		statuses := make([]int, 50)
		for k := range statuses {
			wg.Go(func() {
				tok, err := loadToken(secret, 200000)
				if err != nil {
					return
				}
				q := url.Values{"jwt": {tok}, "redirect_uri": {"/"}}
				cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: time.Minute}
				resp, err := cl.Get(urls[k%len(urls)] + "/api/auth/sso?" + q.Encode())
				if err != nil {
					return
				}
				resp.Body.Close()
				statuses[k] = resp.StatusCode
			})
		}
		wg.Wait()
		for k, s := range statuses {
			if s != http.StatusSeeOther {
				t.Errorf("login %d (replica %d): %d, want 303", k, k%len(urls), s)
			}
		}
		for i := range c.Size() {
			var n int
			if err := c.Open(i).QueryRow("SELECT COUNT(*) FROM users WHERE external_id = 'load-200000'").Scan(&n); err != nil || n != 1 {
				t.Errorf("node %d: %d members load-200000 (%v), want 1", i+1, n, err)
			}
		}
	})
}

// waitReady waits until every replica's /readyz answers 200: its database check passed again.
func waitReady(t *testing.T, urls []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range urls {
		for {
			resp, err := http.Get(u + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/readyz: not ready 30s after its node synced (%v)", u, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// checkConverged checks that every table of the test's database has as many rows on each node.
func checkConverged(t *testing.T, c *storetest.GaleraCluster) {
	t.Helper()
	first := c.Open(0)
	tables := storetest.Tables(t, first, store.MySQL)
	dbs := []*sql.DB{first}
	for i := 1; i < c.Size(); i++ {
		dbs = append(dbs, c.Open(i))
	}
	for _, table := range tables {
		var counts []int
		for _, db := range dbs {
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM `" + table + "`").Scan(&n); err != nil {
				t.Fatal(err)
			}
			counts = append(counts, n)
		}
		for i, n := range counts {
			if n != counts[0] {
				t.Errorf("table %s: %d rows on node %d, %d on node 1", table, n, i+1, counts[0])
			}
		}
	}
}

// warnings is the last n warning and error lines of a server's log.
func warnings(log string, n int) string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
