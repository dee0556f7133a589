package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
)

// countLogins records LoginMetrics calls.
type countLogins []string

func (c *countLogins) Login(method, result string) { *c = append(*c, method+" "+result) }

// TestFinishLogin: every method's success ends the same way: the session cookie, the metric,
// and a 303 to the landing page that no cache keeps and no Referer follows.
func TestFinishLogin(t *testing.T) {
	sessions := &Sessions{Lifetime: time.Hour}
	withHome := &ent.Settings{NewUsersHomepage: "/welcome"}
	for _, tc := range []struct {
		name string
		l    Login
		want string
	}{
		{"returning member", Login{Method: session.MethodJWT, Return: "/spaces/general", Settings: withHome}, "/spaces/general"},
		{"new member, homepage set", Login{Method: session.MethodOAUTH2, Return: "/spaces/general", Created: true, Settings: withHome}, "/welcome"},
		{"new member, no homepage", Login{Method: session.MethodJWT, Return: "/x", Created: true, Settings: &ent.Settings{}}, "/x"},
		{"foreign return path", Login{Method: session.MethodPASSWORD, Return: "https://evil.example/", Settings: withHome}, "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.l.Started = Started{ID: 1, Token: "tok-" + tc.name, ExpiresAt: time.Now().Add(time.Hour)}
			var metrics countLogins
			w := httptest.NewRecorder()
			FinishLogin(w, httptest.NewRequest(http.MethodGet, "/api/auth/sso?jwt=x", nil), sessions, &metrics, tc.l)
			res := w.Result()
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tc.want {
				t.Fatalf("%d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), tc.want)
			}
			if res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Referrer-Policy") != "no-referrer" {
				t.Fatalf("headers %v", res.Header)
			}
			if c := res.Cookies(); len(c) != 1 || c[0].Value != tc.l.Started.Token || !c[0].HttpOnly {
				t.Fatalf("cookies %+v", c)
			}
			if len(metrics) != 1 || metrics[0] != string(tc.l.Method)+" success" {
				t.Fatalf("metrics %q", metrics)
			}
		})
	}
}
