package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

func TestSessionCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		ctx := context.Background()
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)

		t.Run("tampered cookie is no session and is cleared", func(t *testing.T) {
			c := app.SignedIn("admin@example.com", authtest.Password)
			u, _ := url.Parse(app.URL)
			ck := c.Jar.Cookies(u)[0]
			c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value[:len(ck.Value)-2] + "xx", Path: "/"}})
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/", nil)
			r := app.Do(c, req)
			if cleared := r.Cookie("community_session"); r.Status != 200 || strings.Contains(r.Body, "admin@example.com") || cleared == nil || cleared.MaxAge >= 0 {
				t.Fatalf("%d cleared=%+v", r.Status, cleared)
			}
		})

		t.Run("expired session is no session", func(t *testing.T) {
			c := app.SignedIn("admin@example.com", authtest.Password)
			db.Client.Session.Update().SetExpiresAt(time.Now().Add(-time.Second)).ExecX(ctx)
			if me := app.GQL(c, "", "{ me { id } }", nil); me.Data["me"] != nil {
				t.Fatalf("expired session works: %s", me.Raw)
			}
		})

		t.Run("sliding expiry", func(t *testing.T) {
			c := app.SignedIn("admin@example.com", authtest.Password)
			old := time.Now().Add(-10 * time.Minute)
			db.Client.Session.Update().SetLastSeenAt(old).SetExpiresAt(time.Now().Add(time.Hour)).ExecX(ctx)
			app.GQL(c, "", "{ me { id } }", nil)
			s := db.Client.Session.Query().Order(session.ByLastSeenAt()).Where().AllX(ctx)
			last := s[len(s)-1]
			if !last.ExpiresAt.After(time.Now().Add(app.Cfg.SessionLifetime - time.Minute)) {
				t.Fatalf("expiry not extended: %v", last.ExpiresAt)
			}
		})
	})
}
