package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

// TestBrowserOIDCLogin: a member opens /?auth=true in a real browser, goes through the login page
// to the OpenID Provider, signs in there, and lands back on / signed in; the session works for a
// GraphQL me from the page.
func TestBrowserOIDCLogin(t *testing.T) {
	ctx := newChrome(t)
	op := authtest.StartOPWith(t, false)
	app := newAppWithOP(t, storetest.SQLite(t), op, nil)
	enableOAuth2(t, app, adminToken(t, app), map[string]any{
		"enabled": true, "provider": "CUSTOM", "issuer": op.Issuer,
		"clientId": op.ClientID, "clientSecret": op.ClientSecret, "loginButtonText": "Sign in with Example ID",
	})

	loc, status := navigate(t, ctx, app.URL+"/?auth=true")
	if status != http.StatusOK || !strings.HasPrefix(loc, app.URL+"/auth/login?") {
		t.Fatalf("?auth=true led to %s (%d)", loc, status)
	}
	assertPNG(t, screenshot(t, ctx, "login-page"))
	if text := pageText(t, ctx); !strings.Contains(text, "Sign in with Example ID") {
		t.Fatalf("login page: %q", text)
	}
	loc, _ = clickAndWait(t, ctx, `a[href^="/auth/oauth2/login"]`)
	if !strings.HasPrefix(loc, op.Issuer+"/login/username") {
		t.Fatalf("the button led to %s, want the provider's login form", loc)
	}
	fillForm(t, ctx, map[string]string{"#username": "alice", "#password": "verysecure"})
	loc, status = clickAndWait(t, ctx, `button[type="submit"]`)
	if loc != app.URL+"/" || status != http.StatusOK {
		t.Fatalf("after the provider: %s (%d), want %s/", loc, status, app.URL)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "Alice Anders") {
		t.Fatalf("home page: %q", text)
	}
	assertPNG(t, screenshot(t, ctx, "home-page"))
	if ck := browserCookie(t, ctx, app.URL, "community_session"); ck == nil || !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie: %+v", ck)
	}
	if ck := browserCookie(t, ctx, app.URL, "community_oauth2_flow"); ck != nil {
		t.Fatalf("the flow cookie is still there: %+v", ck)
	}
	navigate(t, ctx, app.URL+"/app/feed")
	if _, me := pageGraphQL(t, ctx, meQuery, nil); graphtest.Dig(me.Data, "me", "externalId") != "op-alice" || graphtest.Dig(me.Data, "me", "email") != "alice@example.com" {
		t.Fatalf("me from the page: %s", me.Raw)
	}
}
