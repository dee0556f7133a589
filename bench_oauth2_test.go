package main

// The OAuth2/OIDC callback against its floor: the same callback done with the bare libraries
// (x/oauth2, go-oidc, one database/sql transaction). The provider runs in the process and answers
// the token request with an id_token signed beforehand, so both sides measure only the
// community's own cost plus the same loopback round trip. Run:
//
//	go test -run=NONE -bench='OAuth2Callback' -benchmem -count=5 .

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/community/sso/auth/authtest"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// benchFlow is one login in flight: the callback's query and the browser's flow cookie.
type benchFlow struct {
	query  string
	cookie *http.Cookie
}

// callbackBench is a provider whose token endpoint hands out pre-signed answers by code.
type callbackBench struct {
	idp     *authtest.IdP
	app     *testApp
	bare    *sql.DB // the floor's pool (see benchDB)
	client  *http.Client
	mu      sync.Mutex
	answers map[string]string // code → token endpoint JSON
	next    int
}

func newCallbackBench(b *testing.B) *callbackBench {
	ctx := context.Background()
	cb := &callbackBench{idp: authtest.StartIdP(b), answers: map[string]string{}, client: benchClient(b)}
	cb.idp.Token = func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		cb.mu.Lock()
		answer, ok := cb.answers[r.PostForm.Get("code")]
		delete(cb.answers, r.PostForm.Get("code"))
		cb.mu.Unlock()
		if !ok || r.PostForm.Get("code_verifier") == "" {
			w.WriteHeader(http.StatusBadRequest)
			authtest.WriteJSON(w, map[string]any{"error": "invalid_grant"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, answer)
	}
	db, bare := benchDB(b)
	cb.bare = bare
	cb.app = newApp(b, db, nil)
	enableOAuth2(b, cb.app, adminToken(b, cb.app), cb.idp.Settings())
	// The returning member, unchanged by the login.
	db.Client.User.Create().SetEmail("carol@example.com").SetName("Carol Chen").SetUsername("carol").SetExternalID("idp-user-1").SaveX(ctx)
	return cb
}

// answer registers the provider's answer to a new code for nonce.
func (cb *callbackBench) answer(nonce string) string {
	tok := cb.idp.Sign(cb.idp.Claims(nonce, nil))
	cb.mu.Lock()
	defer cb.mu.Unlock()
	cb.next++
	code := fmt.Sprintf("code-%d", cb.next)
	cb.answers[code] = `{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"` + tok + `"}`
	return code
}

// serverFlows starts n logins at the community with the timer stopped.
func (cb *callbackBench) serverFlows(b *testing.B, n int) []benchFlow {
	flows := make([]benchFlow, 0, n)
	for range n {
		resp, err := cb.client.Get(cb.app.URL + "/auth/oauth2/login?redirect_uri=/spaces")
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		var cookie *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "community_oauth2_flow" {
				cookie = c
			}
		}
		if cookie == nil {
			b.Fatalf("no flow cookie: %d", resp.StatusCode)
		}
		q := url.Values{"code": {cb.answer(loc.Query().Get("nonce"))}, "state": {loc.Query().Get("state")}}
		flows = append(flows, benchFlow{query: q.Encode(), cookie: cookie})
	}
	return flows
}

func (cb *callbackBench) finish(b *testing.B, base string, f benchFlow, check bool) {
	req, _ := http.NewRequest(http.MethodGet, base+"/auth/oauth2/callback?"+f.query, nil)
	req.AddCookie(f.cookie)
	resp, err := cb.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || (check && resp.Header.Get("Location") != "/spaces") {
		b.Fatalf("callback: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if check {
		found := false
		for _, c := range resp.Cookies() {
			found = found || (c.Name == "community_session" && c.Value != "")
		}
		if !found {
			b.Fatal("callback without a session cookie")
		}
	}
}

// run times the callbacks of flows made in batches of 1024 with the timer stopped.
func (cb *callbackBench) run(b *testing.B, base string, makeFlows func(n int) []benchFlow) {
	cb.finish(b, base, makeFlows(1)[0], true)
	var buf []benchFlow
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if len(buf) == 0 {
			b.StopTimer()
			buf = makeFlows(1024)
			b.StartTimer()
		}
		cb.finish(b, base, buf[0], false)
		buf = buf[1:]
	}
}

func BenchmarkOAuth2CallbackFloor(b *testing.B) {
	cb := newCallbackBench(b)
	ctx := oidc.ClientContext(context.Background(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, cb.idp.Issuer)
	if err != nil {
		b.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: cb.idp.ClientID, ClientSecret: cb.idp.Secret, Endpoint: provider.Endpoint(), Scopes: []string{"openid", "email", "profile"}}
	floor := httptest.NewServer(callbackFloor(cb.bare, conf, provider.Verifier(&oidc.Config{ClientID: cb.idp.ClientID})))
	b.Cleanup(floor.Close)
	conf.RedirectURL = floor.URL + "/auth/oauth2/callback"
	flows := func(n int) []benchFlow {
		out := make([]benchFlow, 0, n)
		for range n {
			state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
			q := url.Values{"code": {cb.answer(nonce)}, "state": {state}}
			out = append(out, benchFlow{query: q.Encode(), cookie: &http.Cookie{Name: "floor_flow", Value: state + "." + nonce + "." + verifier}})
		}
		return out
	}
	cb.run(b, floor.URL, flows)
	recordFloor(b, "OAuth2Callback")
}

func BenchmarkOAuth2Callback(b *testing.B) {
	cb := newCallbackBench(b)
	cb.run(b, cb.app.URL, func(n int) []benchFlow { return cb.serverFlows(b, n) })
	reportRatio(b, "OAuth2Callback")
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// callbackFloor is the callback with the bare libraries: the flow state from a plain cookie
// compared in constant time, the code exchanged with the PKCE verifier, the id_token verified
// with go-oidc and its nonce checked, then one transaction that reads the member by external id,
// records the login and inserts a session.
func callbackFloor(db *sql.DB, conf *oauth2.Config, verifier *oidc.IDTokenVerifier) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := oidc.ClientContext(r.Context(), http.DefaultClient)
		c, err := r.Cookie("floor_flow")
		if err != nil {
			http.Error(w, "no flow", http.StatusBadRequest)
			return
		}
		parts := strings.SplitN(c.Value, ".", 3)
		q := r.URL.Query()
		if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
			http.Error(w, "bad state", http.StatusBadRequest)
			return
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil || idt.Nonce != parts[1] {
			http.Error(w, "bad id_token", http.StatusUnauthorized)
			return
		}
		var claims struct {
			Email string `json:"email"`
			Name  string `json:"name"`
		}
		if err := idt.Claims(&claims); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fail := func(err error) { http.Error(w, err.Error(), http.StatusInternalServerError) }
		now := time.Now().UTC()
		txn, err := db.BeginTx(ctx, nil)
		if err != nil {
			fail(err)
			return
		}
		defer func() { _ = txn.Rollback() }()
		var id int64
		var email, name string
		if err := txn.QueryRowContext(ctx, `SELECT id, email, name FROM users WHERE external_id = ?`, idt.Subject).Scan(&id, &email, &name); err != nil {
			fail(err)
			return
		}
		if email != strings.ToLower(claims.Email) || name != claims.Name {
			fail(fmt.Errorf("the member changed"))
			return
		}
		if _, err := txn.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, now, id); err != nil {
			fail(err)
			return
		}
		token := randomToken()
		hash := sha256.Sum256([]byte(token))
		if _, err := txn.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, method, created_at, expires_at, last_seen_at, ip, user_agent) VALUES (?, ?, 'OAUTH2', ?, ?, ?, ?, ?)`,
			hash[:], id, now, now.Add(720*time.Hour), now, r.RemoteAddr, r.UserAgent()); err != nil {
			fail(err)
			return
		}
		if err := txn.Commit(); err != nil {
			fail(err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "community_session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/spaces", http.StatusSeeOther)
	}
}
