package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/loginthrottle"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

func TestDirectLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		ctx := context.Background()
		admin := app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)

		t.Run("form renders", func(t *testing.T) {
			r := app.Get(nil, "/auth/login/direct?redirect_uri=/spaces")
			if r.Status != 200 || !strings.Contains(r.Body, `name="password"`) || !strings.Contains(r.Body, `value="/spaces"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("success sets a fresh session cookie and redirects", func(t *testing.T) {
			c := webtest.Browser(t)
			// A cookie planted before login must not survive it (no session fixation).
			u, _ := url.Parse(app.URL)
			c.Jar.SetCookies(u, []*http.Cookie{{Name: "community_session", Value: "planted-by-attacker", Path: "/"}})
			r := app.PostForm(c, "/auth/login/direct", url.Values{"email": {"Admin@Example.com "}, "password": {authtest.Password}, "redirect_uri": {"/spaces/general?tab=1"}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/spaces/general?tab=1" {
				t.Fatalf("%d %q %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			ck := r.Cookie("community_session")
			if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Value == "planted-by-attacker" || len(ck.Value) < 43 {
				t.Fatalf("session cookie %+v", ck)
			}
			if me := app.GQL(c, "", "{ me { id email role lastLoginAt } }", nil); me.Data["me"].(map[string]any)["email"] != "admin@example.com" {
				t.Fatalf("me: %s", me.Raw)
			}
			// The database holds only the token's hash.
			s := db.Client.Session.Query().Where(session.UserID(admin.ID)).FirstX(ctx)
			if string(s.TokenHash) == ck.Value || len(s.TokenHash) != 32 || s.Method != session.MethodPASSWORD {
				t.Fatalf("stored session %+v", s)
			}
			// Logging in again gives a new token.
			r2 := app.PostForm(c, "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {authtest.Password}})
			if ck2 := r2.Cookie("community_session"); ck2 == nil || ck2.Value == ck.Value {
				t.Fatal("a second login must issue a new token")
			}
			if app.CountEvents("LOGIN_SUCCEEDED") < 2 {
				t.Fatal("LOGIN_SUCCEEDED not recorded")
			}
		})

		t.Run("open redirects become /", func(t *testing.T) {
			for _, target := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "/%2f%2fevil.example", "javascript:alert(1)", " /x"} {
				r := app.PostForm(webtest.Browser(t), "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {authtest.Password}, "redirect_uri": {target}})
				if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
					t.Fatalf("target %q: %d %q", target, r.Status, r.Header.Get("Location"))
				}
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			before := app.CountEvents("LOGIN_FAILED")
			for _, form := range []url.Values{
				{"email": {"admin@example.com"}, "password": {"wrong"}},
				{"email": {"nobody@example.com"}, "password": {authtest.Password}},
				{"email": {"not an email"}, "password": {authtest.Password}},
			} {
				r := app.PostForm(webtest.Browser(t), "/auth/login/direct", form)
				if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "The email or password is incorrect.") || r.Cookie("community_session") != nil {
					t.Fatalf("%v: %d %s", form, r.Status, r.Body)
				}
			}
			if got := app.CountEvents("LOGIN_FAILED") - before; got != 3 {
				t.Fatalf("LOGIN_FAILED events = %d, want 3", got)
			}
		})

		t.Run("cross-site form post refused", func(t *testing.T) {
			n := db.Client.Session.Query().CountX(ctx)
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/login/direct", strings.NewReader(url.Values{"email": {"admin@example.com"}, "password": {authtest.Password}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			r := app.Do(nil, req)
			if r.Status != http.StatusForbidden || r.Cookie("community_session") != nil {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if db.Client.Session.Query().CountX(ctx) != n {
				t.Fatal("a session was created")
			}
		})

		t.Run("suspended user", func(t *testing.T) {
			app.CreateUser("sus@example.com", authtest.Password, user.RoleMEMBER)
			c := app.SignedIn("sus@example.com", authtest.Password)
			db.Client.User.Update().Where(user.Email("sus@example.com")).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
			if me := app.GQL(c, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatalf("a suspended user's session still works: %s", me.Raw)
			}
			r := app.PostForm(webtest.Browser(t), "/auth/login/direct", url.Values{"email": {"sus@example.com"}, "password": {authtest.Password}})
			if r.Status != http.StatusForbidden || !strings.Contains(r.Body, "suspended") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("email and password disabled: admins only", func(t *testing.T) {
			app.CreateUser("member@example.com", authtest.Password, user.RoleMEMBER)
			st := app.Settings()
			st.Update().SetEmailPasswordEnabled(false).ExecX(ctx)
			defer st.Update().SetEmailPasswordEnabled(true).ExecX(ctx)
			r := app.PostForm(webtest.Browser(t), "/auth/login/direct", url.Values{"email": {"member@example.com"}, "password": {authtest.Password}})
			if r.Status != http.StatusForbidden || r.Cookie("community_session") != nil {
				t.Fatalf("member: %d %s", r.Status, r.Body)
			}
			app.Login(webtest.Browser(t), "admin@example.com", authtest.Password)
		})
	})
}

func TestDirectLoginThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app := testserver.New(t, db, testserver.Options{})
		app.CreateUser("ann@example.com", authtest.Password, user.RoleMEMBER)
		post := func(t *testing.T, from, email, pass string) webtest.Response {
			t.Helper()
			return app.PostForm(webtest.BrowserFrom(t, from), "/auth/login/direct", url.Values{"email": {email}, "password": {pass}})
		}
		status := func(t *testing.T, r webtest.Response, want int) {
			t.Helper()
			if r.Status != want {
				t.Fatalf("want %d, got %d %s", want, r.Status, r.Body)
			}
		}
		// throttled checks a 429 with its Retry-After and the wait on the page, no session and
		// no password hashed.
		throttled := func(t *testing.T, from, email, pass, retryAfter, wait string) {
			t.Helper()
			before := password.ReadCounts().Total
			r := post(t, from, email, pass)
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") != retryAfter || r.Cookie("community_session") != nil {
				t.Fatalf("want 429 with Retry-After %s and no session, got %d %q %s", retryAfter, r.Status, r.Header.Get("Retry-After"), r.Body)
			}
			if !strings.Contains(r.Body, "Please wait "+wait+" and try again.") {
				t.Fatalf("the page does not say to wait %s: %s", wait, r.Body)
			}
			if n := password.ReadCounts().Total - before; n != 0 {
				t.Fatalf("a throttled attempt computed %d hashes", n)
			}
		}
		// waited makes the pair's delay pass, as if the member had waited it.
		waited := func(t *testing.T, from, email string, d time.Duration) {
			t.Helper()
			n := db.Client.LoginThrottle.Update().
				Where(loginthrottle.IP(from), loginthrottle.Subject(email)).
				SetLastAt(time.Now().Add(-d)).SaveX(ctx)
			if n != 1 {
				t.Fatalf("%d counters for %s from %s", n, email, from)
			}
		}

		t.Run("failures delay the email at that address, more each time, until a success", func(t *testing.T) {
			// Five failures are free and the sixth is checked at once too.
			for range 6 {
				status(t, post(t, "127.0.2.1", "ann@example.com", "guess"), http.StatusUnauthorized)
			}
			throttled(t, "127.0.2.1", "ann@example.com", "guess", "1", "1 second")
			// The right password waits too: nothing is checked during the delay.
			throttled(t, "127.0.2.1", "ann@example.com", authtest.Password, "1", "1 second")
			e := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventLoginFailed)).Order(ent.Desc(securityevent.FieldID)).FirstX(ctx)
			if e.Detail["reason"] != "RATE_LIMITED" || e.Detail["scope"] != auth.ScopeEmail || e.Subject != "ann@example.com" || e.IP != "127.0.2.1" {
				t.Fatalf("last event %+v", e)
			}
			// Another address, the owner's, is not held up.
			status(t, post(t, "127.0.2.2", "ann@example.com", authtest.Password), http.StatusSeeOther)
			for _, next := range []string{"2", "4"} {
				waited(t, "127.0.2.1", "ann@example.com", 20*time.Second)
				status(t, post(t, "127.0.2.1", "ann@example.com", "guess"), http.StatusUnauthorized)
				throttled(t, "127.0.2.1", "ann@example.com", "guess", next, next+" seconds")
			}
			waited(t, "127.0.2.1", "ann@example.com", 20*time.Second)
			status(t, post(t, "127.0.2.1", "ann@example.com", authtest.Password), http.StatusSeeOther)
			// The success started the pair again.
			for range 6 {
				status(t, post(t, "127.0.2.1", "ann@example.com", "guess"), http.StatusUnauthorized)
			}
			throttled(t, "127.0.2.1", "ann@example.com", "guess", "1", "1 second")
		})

		t.Run("twenty failures throttle the address for every email", func(t *testing.T) {
			for i := range 20 {
				status(t, post(t, "127.0.3.1", fmt.Sprintf("nobody%d@example.com", i), "guess"), http.StatusUnauthorized)
			}
			r := post(t, "127.0.3.1", "ann@example.com", authtest.Password)
			if s, _ := strconv.Atoi(r.Header.Get("Retry-After")); r.Status != http.StatusTooManyRequests || s < 890 || s > 900 {
				t.Fatalf("want 429 for the window's 15 minutes, got %d %q", r.Status, r.Header.Get("Retry-After"))
			}
			status(t, post(t, "127.0.3.2", "ann@example.com", authtest.Password), http.StatusSeeOther)
		})

		t.Run("the address's failures no longer count after its window", func(t *testing.T) {
			db.Client.LoginThrottle.Update().Where(loginthrottle.IP("127.0.3.1")).SetExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
			status(t, post(t, "127.0.3.1", "ann@example.com", authtest.Password), http.StatusSeeOther)
		})

		t.Run("failed SSO logins do not count", func(t *testing.T) {
			before := app.CountEvents(auth.EventLoginFailed)
			c := webtest.BrowserFrom(t, "127.0.6.1")
			for range 25 {
				if r := app.Get(c, "/api/auth/sso?jwt=not.a.token"); r.Status < 400 {
					t.Fatalf("a bad token: %d", r.Status)
				}
			}
			if n := app.CountEvents(auth.EventLoginFailed) - before; n < 25 {
				t.Fatalf("%d LOGIN_FAILED events, want the 25 SSO failures in the security log", n)
			}
			status(t, post(t, "127.0.6.1", "ann@example.com", authtest.Password), http.StatusSeeOther)
		})
	})
}

// TestDirectLoginFlood sends wrong passwords in bursts: the hashes computed at once stay within
// PASSWORD_HASH_CONCURRENCY, the rest are answered at once, and the owner still signs in.
func TestDirectLoginFlood(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const slots = 2
		app := testserver.New(t, db, testserver.Options{Env: map[string]string{"PASSWORD_HASH_CONCURRENCY": strconv.Itoa(slots)}})
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)
		owner := func(t *testing.T) {
			t.Helper()
			if r := app.PostForm(webtest.BrowserFrom(t, "127.0.0.1"), "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {authtest.Password}}); r.Status != http.StatusSeeOther {
				t.Fatalf("the owner cannot sign in: %d %s", r.Status, r.Body)
			}
		}
		// burst sends n wrong passwords for the admin at once, the i-th from from(i), and counts
		// the answers by status; every 429 and 503 must say when to retry.
		burst := func(t *testing.T, n int, from func(i int) string) map[int]int {
			t.Helper()
			clients := make([]*http.Client, n)
			for i := range clients {
				clients[i] = webtest.BrowserFrom(t, from(i))
			}
			var mu sync.Mutex
			got := map[int]int{}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					r := app.PostForm(clients[i], "/auth/login/direct", url.Values{"email": {"admin@example.com"}, "password": {"wrong password"}})
					if (r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable) && r.Header.Get("Retry-After") == "" {
						t.Errorf("%d without Retry-After", r.Status)
					}
					mu.Lock()
					got[r.Status]++
					mu.Unlock()
				})
			}
			close(start)
			wg.Wait()
			return got
		}

		t.Run("200 at once from 200 addresses: at most the configured hashes at once", func(t *testing.T) {
			password.ResetPeak()
			before := password.ReadCounts().Total
			// The heap's peak, sampled, against its level before the burst.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base := ms.HeapInuse
			var heapPeak atomic.Uint64
			done := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var ms runtime.MemStats
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > heapPeak.Load() {
						heapPeak.Store(ms.HeapInuse)
					}
					select {
					case <-done:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
			}()
			got := burst(t, 200, func(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) })
			close(done)
			<-sampled
			counts := password.ReadCounts()
			t.Logf("answers %v; hashes %d, at most %d at once; heap peak %d MiB over %d MiB", got, counts.Total-before, counts.Peak, (heapPeak.Load()-base)>>20, base>>20)
			if counts.Peak > slots {
				t.Errorf("%d hashes at once, want at most %d", counts.Peak, slots)
			}
			if got[http.StatusUnauthorized]+got[http.StatusServiceUnavailable] != 200 {
				t.Errorf("answers %v, want only 401 (checked) and 503 (no slot)", got)
			}
			if got[http.StatusServiceUnavailable] == 0 {
				t.Errorf("answers %v: no attempt found the slots busy", got)
			}
			if n := counts.Total - before; n != uint64(got[http.StatusUnauthorized]) {
				t.Errorf("%d hashes for %d checked attempts", n, got[http.StatusUnauthorized])
			}
			// Each hash holds 19 MiB: 200 at once would be 3.8 GiB.
			if grew := heapPeak.Load() - min(base, heapPeak.Load()); grew > 256<<20 {
				t.Errorf("the heap grew by %d MiB during the burst", grew>>20)
			}
			owner(t)
		})

		t.Run("a flood for the owner's email from other addresses does not lock the owner out", func(t *testing.T) {
			for round := range 8 {
				got := burst(t, 25, func(i int) string { return fmt.Sprintf("127.0.4.%d", i+1) })
				if got[http.StatusSeeOther] != 0 || got[http.StatusInternalServerError] != 0 {
					t.Fatalf("round %d: answers %v", round, got)
				}
			}
			owner(t)
		})

		t.Run("200 at once from one address: the throttle checks at most six", func(t *testing.T) {
			before := password.ReadCounts().Total
			start := time.Now()
			got := burst(t, 200, func(int) string { return "127.0.5.1" })
			elapsed := time.Since(start)
			hashes := password.ReadCounts().Total - before
			// Six are checked at once; a burst that lasts past the pair's delays (1s, then 2s
			// more, 4s more…: on a loaded machine) lets one more through after each.
			allowed := 6
			for sum, d := time.Second, time.Second; sum <= elapsed; d, sum = 2*d, sum+2*d {
				allowed++
			}
			checked := got[http.StatusUnauthorized]
			if uint64(checked) != hashes || checked > allowed || checked+got[http.StatusTooManyRequests]+got[http.StatusServiceUnavailable] != 200 {
				t.Fatalf("answers %v, %d hashes in %s; want at most %d checked (5 free failures and one more, and one per delay served), one hash each, the rest 429 or 503", got, hashes, elapsed, allowed)
			}
			row := app.DB.Client.LoginThrottle.Query().Where(loginthrottle.IP("127.0.5.1"), loginthrottle.Subject("admin@example.com")).OnlyX(context.Background())
			if row.Failures != checked {
				t.Fatalf("the pair counted %d failures for %d checked", row.Failures, checked)
			}
			owner(t)
		})
	})
}

// TestPasswordChecksBusy holds the only password slot: direct logins and createUser with a
// password are answered at once without a hash, and the refused logins do not count as failures.
func TestPasswordChecksBusy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		limiter := password.NewLimiter(1, 0)
		app := testserver.New(t, db, testserver.Options{Deps: routes.Deps{Passwords: limiter}})
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)
		admin := webtest.BrowserFrom(t, "127.0.7.1")
		app.Login(admin, "admin@example.com", authtest.Password)

		release, err := limiter.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before := password.ReadCounts().Total
		wrong := url.Values{"email": {"admin@example.com"}, "password": {"guess"}}
		for range 10 {
			r := app.PostForm(webtest.BrowserFrom(t, "127.0.7.2"), "/auth/login/direct", wrong)
			if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") != "1" || !strings.Contains(r.Body, "Please try again in a moment.") {
				t.Fatalf("want 503 with Retry-After 1, got %d %q %s", r.Status, r.Header.Get("Retry-After"), r.Body)
			}
		}
		res := app.GQL(admin, "", graphtest.CreateUser, map[string]any{"in": map[string]any{"email": "new@example.com", "password": "a long enough password"}})
		if res.Code() != "SERVICE_UNAVAILABLE" {
			t.Fatalf("createUser: %s", res.Raw)
		}
		if n := password.ReadCounts().Total - before; n != 0 {
			t.Fatalf("%d hashes computed without a slot", n)
		}
		if db.Client.User.Query().Where(user.Email("new@example.com")).ExistX(ctx) {
			t.Fatal("createUser made the user")
		}
		n := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventLoginFailed)).AllX(ctx)
		busy := 0
		for _, e := range n {
			if e.Detail["reason"] == "SERVER_BUSY" {
				busy++
			}
		}
		if busy != 10 {
			t.Fatalf("%d LOGIN_FAILED events with reason SERVER_BUSY, want 10", busy)
		}

		release()
		// The refused attempts were given back: the pair still has its free failures.
		for range 6 {
			if r := app.PostForm(webtest.BrowserFrom(t, "127.0.7.2"), "/auth/login/direct", wrong); r.Status != http.StatusUnauthorized {
				t.Fatalf("want 401, got %d", r.Status)
			}
		}
	})
}

func TestLogout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		ctx := context.Background()
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)

		t.Run("post ends the session", func(t *testing.T) {
			c := app.SignedIn("admin@example.com", authtest.Password)
			u, _ := url.Parse(app.URL)
			old := c.Jar.Cookies(u)[0].Value
			r := app.PostForm(c, "/auth/logout", nil)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
				t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
			}
			if ck := r.Cookie("community_session"); ck == nil || ck.MaxAge >= 0 {
				t.Fatalf("cookie not cleared: %+v", ck)
			}
			// The old token no longer works even if a copy of it was kept.
			c2 := webtest.Browser(t)
			c2.Jar.SetCookies(u, []*http.Cookie{{Name: "community_session", Value: old, Path: "/"}})
			if me := app.GQL(c2, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatalf("old token works after logout: %s", me.Raw)
			}
			if app.CountEvents("LOGOUT") != 1 {
				t.Fatal("LOGOUT not recorded")
			}
		})

		t.Run("JWT session goes to the JWT logout URL", func(t *testing.T) {
			app.Settings().Update().SetJwtLogoutURL("https://customer.example/logout").ExecX(ctx)
			c := app.SignedIn("admin@example.com", authtest.Password)
			db.Client.Session.Update().Where(session.MethodEQ(session.MethodPASSWORD)).ExecX(ctx)
			// Re-label the session as made by JWT SSO.
			_, err := db.SQL.ExecContext(ctx, "UPDATE sessions SET method = 'JWT'")
			if err != nil {
				t.Fatal(err)
			}
			r := app.PostForm(c, "/auth/logout", nil)
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "https://customer.example/logout" {
				t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
			}
		})

		t.Run("GET ends the session only with a same-origin proof", func(t *testing.T) {
			host := strings.TrimPrefix(app.URL, "http://")
			tests := []struct {
				name    string
				headers map[string]string
				ends    bool
			}{
				{"sec-fetch-site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
				{"own origin, no sec-fetch-site", map[string]string{"Origin": app.URL}, true},
				{"own origin in capitals", map[string]string{"Origin": "HTTP://" + strings.ToUpper(host)}, true},
				{"own referer, no sec-fetch-site", map[string]string{"Referer": app.URL + "/some/page?x=1"}, true},
				{"no proof at all", nil, false},
				{"sec-fetch-site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
				{"sec-fetch-site same-site", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
				{"sec-fetch-site none (typed address)", map[string]string{"Sec-Fetch-Site": "none"}, false},
				{"sec-fetch-site wins over own origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": app.URL}, false},
				{"foreign origin", map[string]string{"Origin": "https://evil.example"}, false},
				{"foreign referer", map[string]string{"Referer": "https://evil.example/page"}, false},
				{"foreign origin, own referer", map[string]string{"Origin": "https://evil.example", "Referer": app.URL + "/"}, false},
				{"null origin", map[string]string{"Origin": "null"}, false},
				{"other port", map[string]string{"Origin": "http://" + strings.Split(host, ":")[0] + ":1"}, false},
				{"other scheme", map[string]string{"Origin": "https://" + host}, false},
				{"own host as a subdomain", map[string]string{"Referer": "http://" + strings.Split(host, ":")[0] + ".evil.example/"}, false},
				{"own origin in the referer's path", map[string]string{"Referer": "https://evil.example/" + app.URL}, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					c := app.SignedIn("admin@example.com", authtest.Password)
					req, _ := http.NewRequest(http.MethodGet, app.URL+"/auth/logout?redirect_uri=%2Fspaces", nil)
					for k, v := range tt.headers {
						req.Header.Set(k, v)
					}
					r := app.Do(c, req)
					signedIn := app.GQL(c, "", "{ me { id } }", nil).Data["me"] != nil
					if tt.ends {
						if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/spaces" || signedIn {
							t.Fatalf("session not ended: %d %q signed in %v", r.Status, r.Header.Get("Location"), signedIn)
						}
						return
					}
					if r.Status != 200 || !strings.Contains(r.Body, `method="post" action="/auth/logout?redirect_uri=%2fspaces"`) && !strings.Contains(r.Body, `method="post" action="/auth/logout?redirect_uri=%2Fspaces"`) {
						t.Fatalf("no confirmation: %d %s", r.Status, r.Body)
					}
					if !signedIn {
						t.Fatal("a GET without a same-origin proof ended the session")
					}
					// Confirming posts the form from the server's own page.
					if r := app.PostForm(c, "/auth/logout?redirect_uri=%2Fspaces", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/spaces" {
						t.Fatalf("confirming: %d %q", r.Status, r.Header.Get("Location"))
					}
					if app.GQL(c, "", "{ me { id } }", nil).Data["me"] != nil {
						t.Fatal("confirming did not end the session")
					}
				})
			}
		})

		t.Run("cross-site POST refused", func(t *testing.T) {
			c := app.SignedIn("admin@example.com", authtest.Password)
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/logout", nil)
			req.Header.Set("Origin", "https://evil.example")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			if r := app.Do(c, req); r.Status != http.StatusForbidden {
				t.Fatalf("%d", r.Status)
			}
			if me := app.GQL(c, "", "{ me { id } }", nil); me.Data["me"] == nil {
				t.Fatal("a cross-site POST ended the session")
			}
		})
	})
}
