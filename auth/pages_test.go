package auth_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

func TestLoginPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		// An admin who signs in with a password, so that every method may be off.
		app.CreateUser("owner@example.com", authtest.Password, user.RoleADMIN)
		ctx := context.Background()
		st := app.Settings()
		tests := []struct {
			name         string
			oauth2, jwt  bool
			emailPass    bool
			jwtURL       string
			wantStatus   int
			wantLocation string
			wantBody     []string
			notBody      []string
		}{
			{"only OAuth2 goes to the IdP", true, false, false, "", 303, "/auth/oauth2/login?redirect_uri=%2Fspaces%3Fa%3D1", nil, nil},
			{"only JWT goes to its authorization URL", false, true, false, "https://customer.example/sso?x=1", 303, "https://customer.example/sso?referrer_uri=%2Fspaces%3Fa%3D1&x=1", nil, nil},
			{"JWT without URL shows the page", false, true, false, "", 200, "", nil, []string{"Join the club"}},
			{"every method", true, true, true, "https://customer.example/sso", 200, "",
				[]string{"Okta for members", "Join the club", `href="https://customer.example/signup"`, `name="password"`, "/auth/oauth2/login?redirect_uri=%2Fspaces%3Fa%3D1"}, nil},
			{"email and password only", false, false, true, "", 200, "", []string{`name="password"`, `value="/spaces?a=1"`}, []string{"Okta for members"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				st.Update().SetOauth2Enabled(tt.oauth2).SetJwtEnabled(tt.jwt).SetEmailPasswordEnabled(tt.emailPass).
					SetJwtAuthorizationURL(tt.jwtURL).SetOauth2LoginButtonText("Okta for members").
					SetJwtLoginButtonText("Join the club").SetJwtSignUpURL("https://customer.example/signup").ExecX(ctx)
				r := app.Get(nil, "/auth/login?redirect_uri=%2Fspaces%3Fa%3D1")
				if r.Status != tt.wantStatus || r.Header.Get("Location") != tt.wantLocation {
					t.Fatalf("%d %q", r.Status, r.Header.Get("Location"))
				}
				for _, s := range tt.wantBody {
					if !strings.Contains(r.Body, s) {
						t.Errorf("page lacks %q", s)
					}
				}
				for _, s := range tt.notBody {
					if strings.Contains(r.Body, s) {
						t.Errorf("page has %q", s)
					}
				}
				if tt.wantStatus == 200 && (!strings.Contains(r.Body, `<html lang="en">`) || !strings.Contains(r.Body, "<main>")) {
					t.Error("page is not the accessible layout")
				}
			})
		}
		st.Update().SetOauth2Enabled(false).SetJwtEnabled(false).SetEmailPasswordEnabled(true).ExecX(ctx)
		t.Run("hostile redirect_uri", func(t *testing.T) {
			r := app.Get(nil, "/auth/login?redirect_uri=https://evil.example")
			if !strings.Contains(r.Body, `name="redirect_uri" value="/"`) || strings.Contains(r.Body, "evil.example") {
				t.Fatalf("%s", r.Body)
			}
		})
	})
}

func TestAuthParam(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{})
		app.CreateUser("admin@example.com", authtest.Password, user.RoleADMIN)
		r := app.Get(nil, "/?auth=true&tab=2")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/login?redirect_uri=%2F%3Ftab%3D2" {
			t.Fatalf("anonymous: %d %q", r.Status, r.Header.Get("Location"))
		}
		r = app.Get(nil, "/playground?auth=true")
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/auth/login?redirect_uri=%2Fplayground" {
			t.Fatalf("playground: %d %q", r.Status, r.Header.Get("Location"))
		}
		c := app.SignedIn("admin@example.com", authtest.Password)
		r = app.Get(c, "/?auth=true&tab=2")
		if r.Status != 200 || !strings.Contains(r.Body, "admin@example.com") || !strings.Contains(r.Body, `action="/auth/logout"`) {
			t.Fatalf("signed in: %d %s", r.Status, r.Body)
		}
		if r := app.Get(nil, "/"); r.Status != 200 || !strings.Contains(r.Body, "not signed in") {
			t.Fatalf("anonymous home: %d %s", r.Status, r.Body)
		}
	})
}
