package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/webhookdelivery"
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
	a := newAppWith(t, open(), nil, deps{Deps: routes.Deps{IdPClient: op.Server.Client()}})
	// B answers under A's public URL, as replicas behind one load balancer do.
	b := newAppWith(t, open(), map[string]string{"PUBLIC_URL": a.URL}, deps{Deps: routes.Deps{IdPClient: op.Server.Client()}})
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

// TestWebhooksReplicaKilled runs two replicas of the built server on one MariaDB database and
// kills one in the middle of delivering webhooks: every committed change is still delivered, at
// least once and signed, and a change that was rolled back never is. Replica A alone delivers
// first; the receiver holds its requests, and A is killed (SIGKILL) with them in flight and its
// claims on the outbox rows unreleased. Replica B, started then, delivers every event once A's
// claims lapse (their lease: five times WEBHOOK_TIMEOUT and 30 s, room for a claimed batch of 32
// sent 8 at a time).
func TestWebhooksReplicaKilled(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.NewMySQLDatabase(t)
	bin := serverBinary(t)
	env := map[string]string{
		"DATABASE_URL": "mysql://" + dsn, "SECRET_KEY": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"ADMIN_EMAIL": "owner@example.com", "ADMIN_PASSWORD": adminPass,
		"WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_TIMEOUT": "1s",
	}
	rc := authtest.StartReceiver(t)
	var held atomic.Bool
	held.Store(true)
	rc.Respond = func(_ int, w http.ResponseWriter) {
		if held.Load() {
			time.Sleep(2 * time.Second) // past A's timeout, and past A's death
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}

	a := startServerProcess(t, bin, env)
	admin := webtest.Browser(t)
	signInAt(t, admin, a.URL, "owner@example.com", adminPass)
	r := graphtest.Post(t, admin, a.URL+"/graphql", "", `mutation($u: String!) { createWebhook(input: {url: $u, events: ["member.created"]}) { secret } }`,
		map[string]any{"u": rc.URL + "/in"})
	secret, _ := graphtest.Dig(r.Data, "createWebhook", "secret").(string)
	if secret == "" {
		t.Fatalf("createWebhook: %s", r.Raw)
	}
	rc.SetSecret(t, secret)
	const members = 6
	for i := range members {
		r := graphtest.Post(t, admin, a.URL+"/graphql", "", `mutation($e: String!) { createUser(input: {email: $e}) { id } }`,
			map[string]any{"e": fmt.Sprintf("member%d@example.com", i)})
		if r.Code() != "" {
			t.Fatalf("createUser: %s", r.Raw)
		}
	}
	// A change that is rolled back: the username is taken, so the member is not created.
	r = graphtest.Post(t, admin, a.URL+"/graphql", "", `mutation { createUser(input: {email: "refused@example.com", username: "member0"}) { id } }`, nil)
	if r.Code() != "CONFLICT" {
		t.Fatalf("createUser with a taken username: %s", r.Raw)
	}

	deadline := time.Now().Add(30 * time.Second)
	for rc.Attempts() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("A made no delivery attempt\n%s", a.Out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.Wait(10 * time.Second)
	held.Store(false)

	startServerProcess(t, bin, env)
	got := rc.WaitFor(t, 90*time.Second, "every member.created after A died", func(d []authtest.Delivery) bool {
		distinct := map[string]bool{}
		for _, e := range createdEmails(t, d) {
			distinct[e] = true
		}
		return len(distinct) == members
	})
	ids := map[string]string{} // member email → webhook-id
	for _, d := range got {
		for _, email := range createdEmails(t, []authtest.Delivery{d}) {
			if prev, ok := ids[email]; ok && prev != d.ID {
				t.Fatalf("%s delivered under two ids: %s and %s", email, prev, d.ID)
			}
			ids[email] = d.ID
		}
	}
	if _, ok := ids["refused@example.com"]; ok {
		t.Fatal("a rolled-back createUser was delivered")
	}
	if rc.Invalid() != 0 {
		t.Fatalf("%d deliveries with a signature that does not verify", rc.Invalid())
	}
	db, err := store.Open(ctx, store.MySQL, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		n := db.Client.WebhookDelivery.Query().Where(webhookdelivery.StatusNEQ(webhookdelivery.StatusDELIVERED)).CountX(ctx)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries not marked delivered", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := db.Client.WebhookDelivery.Query().CountX(ctx); n != members {
		t.Fatalf("%d outbox rows, want %d (one a committed member)", n, members)
	}
}

// createdEmails returns the members' emails of the member.created deliveries in d.
func createdEmails(t *testing.T, d []authtest.Delivery) []string {
	t.Helper()
	var out []string
	for _, x := range d {
		var m struct {
			Type string `json:"type"`
			Data struct {
				Member struct {
					Email string `json:"email"`
				} `json:"member"`
			} `json:"data"`
		}
		if err := json.Unmarshal(x.Body, &m); err != nil {
			t.Fatalf("delivery body: %v: %s", err, x.Body)
		}
		if m.Type == "member.created" {
			out = append(out, m.Data.Member.Email)
		}
	}
	return out
}
