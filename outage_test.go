package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// TestDatabaseOutageMidLogin cuts the database away while JWT SSO logins of new members (each
// joining 3 spaces with 2 custom fields) are in flight. Every login either succeeds or fails with
// a clear error; afterwards no member is half-written: each one that exists has its spaces, its
// fields, its session and its events, and each login answered 303 made one.
func TestDatabaseOutageMidLogin(t *testing.T) {
	ctx := context.Background()
	dbURL, proxy, dsn := proxiedMySQL(t)
	base, _, _, _ := started(t, map[string]string{
		"DATABASE_URL": dbURL, "SECRET_KEY": base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"ADMIN_EMAIL": "owner@example.com", "ADMIN_PASSWORD": adminPass,
	})
	app := &testApp{t: t, URL: base}
	admin := browser(t)
	app.login(admin, "owner@example.com", adminPass)
	mustGQL := func(q string) graphtest.Result {
		t.Helper()
		r := app.gql(admin, "", q, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %s", q, r.Raw)
		}
		return r
	}
	for i := range 3 {
		mustGQL(fmt.Sprintf(`mutation { createSpace(input: {name: "Space %d", slug: "space-%d"}) { id } }`, i, i))
	}
	for i := range 2 {
		mustGQL(fmt.Sprintf(`mutation { createProfileField(input: {key: "f%d", name: "F%d", type: TEXT, externalKeys: ["f%d"]}) { id } }`, i, i, i))
	}
	secret := graphtest.Dig(mustGQL(`mutation { regenerateJwtSsoSecret }`).Data, "regenerateJwtSsoSecret").(string)
	mustGQL(`mutation { updateJwtSsoSettings(input: {enabled: true}) { jwtSso { enabled } } }`)

	var (
		next    atomic.Int64
		ok      sync.Map // externalId → true for logins answered 303
		bad     atomic.Int64
		after   atomic.Int64 // logins answered 303 once the database is back
		back    atomic.Bool
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		clients = &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	)
	login := func() {
		i := next.Add(1)
		ext := fmt.Sprintf("m-%05d", i)
		now := time.Now()
		tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{
			"sub": ext, "email": ext + "@example.com", "name": "Member " + ext,
			"spaceIds": []any{"space-0", "space-1", "space-2"}, "f0": "a", "f1": "b",
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		}, nil)
		req, _ := http.NewRequest(http.MethodGet, base+"/api/auth/sso?"+url.Values{"jwt": {tok}}.Encode(), nil)
		req.Header.Set("Accept", "application/json")
		resp, err := clients.Do(req)
		if err != nil {
			t.Errorf("login %s: %v", ext, err)
			return
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusSeeOther:
			ok.Store(ext, true)
			if back.Load() {
				after.Add(1)
			}
		case resp.StatusCode >= 500 && resp.Header.Get("Content-Type") == "application/json":
			bad.Add(1)
		default:
			t.Errorf("login %s: unexpected %d %s", ext, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					login()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	proxy.Cut()
	time.Sleep(1500 * time.Millisecond)
	proxy.Restore()
	back.Store(true)
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if bad.Load() == 0 {
		t.Log("no login failed during the outage (the cut fell between requests)")
	}

	// Check what was written, through a connection of our own.
	db, err := store.Open(ctx, store.MySQL, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	members := db.Client.User.Query().Where(user.ExternalIDHasPrefix("m-")).WithSpaces().WithFields().AllX(ctx)
	seen := map[string]bool{}
	for _, u := range members {
		ext := *u.ExternalID
		seen[ext] = true
		if len(u.Edges.Spaces) != 3 || len(u.Edges.Fields) != 2 {
			t.Errorf("%s is half-written: %d memberships, %d field values", ext, len(u.Edges.Spaces), len(u.Edges.Fields))
		}
		if n := db.Client.Session.Query().Where(session.UserID(u.ID)).CountX(ctx); n != 1 {
			t.Errorf("%s has %d sessions", ext, n)
		}
		for _, typ := range []string{auth.EventUserCreated, auth.EventLoginSucceeded} {
			if n := db.Client.SecurityEvent.Query().Where(securityevent.UserID(u.ID), securityevent.Type(typ)).CountX(ctx); n != 1 {
				t.Errorf("%s has %d %s events", ext, n, typ)
			}
		}
	}
	answered := 0
	ok.Range(func(k, _ any) bool {
		answered++
		if !seen[k.(string)] {
			t.Errorf("login %s answered 303 but made no member", k)
		}
		return true
	})
	if after.Load() == 0 {
		t.Fatal("no login succeeded after the database came back")
	}
	t.Logf("%d logins: %d succeeded, %d failed cleanly during the outage; %d members", next.Load(), answered, bad.Load(), len(members))
}
