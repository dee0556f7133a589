package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

// TestTwoReplicas runs two server instances, each with its own connection pool, on one MariaDB
// database, behind one public URL: the OAuth2 flow starts on A and its callback lands on B; the
// session made there works on A too; logout on B ends it on A.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.NewMySQLDatabase(t)
	open := func() *store.DB {
		db, err := store.Open(ctx, store.MySQL, dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	op := authtest.StartOP(t)
	a := newAppWith(t, open(), nil, deps{IdPClient: op.Server.Client()})
	// B answers under A's public URL, as replicas behind one load balancer do.
	b := newAppWith(t, open(), map[string]string{"PUBLIC_URL": a.URL}, deps{IdPClient: op.Server.Client()})
	op.Register(a.URL)
	enableOAuth2(t, a, adminToken(t, a), map[string]any{
		"enabled": true, "provider": "OKTA", "domain": op.Domain(),
		"clientId": op.ClientID, "clientSecret": op.ClientSecret,
	})

	c := op.Member(t)
	cb := op.ToCallback(t, c, a.URL+"/auth/oauth2/login?redirect_uri=/spaces", "alice", "verysecure")
	if !strings.HasPrefix(cb, a.URL+"/auth/oauth2/callback?") {
		t.Fatalf("callback URL %q", cb)
	}
	// The load balancer sends the callback to B. (Cookies ignore the port: the browser's flow
	// cookie goes along.)
	onB := b.URL + strings.TrimPrefix(cb, a.URL)
	resp, err := c.Get(onB)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/spaces" {
		t.Fatalf("callback on B: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for name, app := range map[string]*testApp{"A": a, "B": b} {
		if me := app.gql(c, "", "{ me { externalId } }", nil); graphtest.Dig(me.Data, "me", "externalId") != "op-alice" {
			t.Fatalf("session on %s: %s", name, me.Raw)
		}
	}
	u, _ := url.Parse(a.URL)
	var saved *http.Cookie
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "community_session" {
			saved = ck
		}
	}
	if saved == nil {
		t.Fatal("no session cookie")
	}
	if r := b.postForm(c, "/auth/logout", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("logout on B: %d", r.Status)
	}
	// The browser dropped its cookie; a stolen copy of it must not work on A either.
	if n := a.DB.Client.Session.Query().CountX(ctx); n != 0 {
		t.Fatalf("%d sessions left after logout", n)
	}
	stolen := browser(t)
	stolen.Jar.SetCookies(u, []*http.Cookie{{Name: saved.Name, Value: saved.Value}})
	if me := a.gql(stolen, "", "{ me { id } }", nil); graphtest.Dig(me.Data, "me") != nil {
		t.Fatalf("the old cookie still works on A: %s", me.Raw)
	}
}
