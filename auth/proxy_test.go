package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// TestTrustedProxies drives the server as a browser behind a reverse proxy on the loopback
// address would, and as a client that writes forwarding headers itself: the direct-login throttle,
// the security log, the request log and the cookies' Secure flag use the forwarded client only
// when the peer is in TRUSTED_PROXIES; otherwise the headers change nothing.
func TestTrustedProxies(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		for _, tc := range []struct {
			name    string
			proxies string
			trusted bool
		}{
			{name: "behind a trusted proxy", proxies: "127.0.0.0/8, ::1", trusted: true},
			{name: "no trusted proxies", proxies: ""},
			{name: "another proxy trusted", proxies: "10.0.0.0/8"},
		} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				db := storetest.Open(t, backend, storetest.Options{})
				app := testserver.New(t, db, testserver.Options{Env: map[string]string{"TRUSTED_PROXIES": tc.proxies}})
				app.CreateUser("member@example.com", authtest.Password, user.RoleMEMBER)
				from := func(r *http.Request, client string) *http.Request {
					r.Header.Set("X-Forwarded-For", "203.0.113.250, "+client)
					r.Header.Set("X-Forwarded-Proto", "https")
					return r
				}
				post := func(client, email, pass string) webtest.Response {
					form := url.Values{"email": {email}, "password": {pass}, "redirect_uri": {"/spaces"}}
					req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/login/direct", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Origin", app.URL)
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					return app.Do(webtest.Browser(t), from(req, client))
				}
				peer := "127.0.0.1"
				want := func(client string) string {
					if tc.trusted {
						return client
					}
					return peer
				}

				// A success: the cookie is Secure when the trusted proxy says the browser used https.
				ok := post("198.51.100.1", "member@example.com", authtest.Password)
				ck := ok.Cookie("community_session")
				if ok.Status != http.StatusSeeOther || ck == nil {
					t.Fatalf("login: %d %s", ok.Status, ok.Body)
				}
				if ck.Secure != tc.trusted {
					t.Fatalf("session cookie Secure=%v behind a proxy trusted=%v", ck.Secure, tc.trusted)
				}
				ev, err := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventLoginSucceeded)).Only(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if ev.IP != want("198.51.100.1") {
					t.Fatalf("LOGIN_SUCCEEDED ip %q, want %q", ev.IP, want("198.51.100.1"))
				}
				if logs := app.Logs.String(); !strings.Contains(logs, `"ip":"`+want("198.51.100.1")+`"`) {
					t.Fatalf("request log without the client's address %s:\n%s", want("198.51.100.1"), logs)
				}

				// Twenty failures from one browser, each for another address so no (email,
				// address) pair is slowed: that browser is throttled; a second one is only when
				// the proxy is not trusted (then everyone is the proxy).
				for i := range auth.DefaultRateLimit.PerAddress {
					if r := post("198.51.100.7", fmt.Sprintf("nobody%d@example.com", i), "wrong password!!"); r.Status == http.StatusTooManyRequests {
						t.Fatalf("failure %d already throttled", i+1)
					}
				}
				if r := post("198.51.100.7", "nobody-last@example.com", "wrong password!!"); r.Status != http.StatusTooManyRequests {
					t.Fatalf("the 21st failure from one browser: %d, want 429", r.Status)
				}
				other := post("198.51.100.8", "member@example.com", authtest.Password)
				if throttled := other.Status == http.StatusTooManyRequests; throttled == tc.trusted {
					t.Fatalf("another browser's sign-in: %d (trusted proxy %v)", other.Status, tc.trusted)
				}
				failed, err := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventLoginFailed)).All(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range failed {
					if e.IP != want("198.51.100.7") {
						t.Fatalf("LOGIN_FAILED ip %q, want %q", e.IP, want("198.51.100.7"))
					}
				}
			})
		}
	}
}
