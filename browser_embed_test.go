package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/graph/graphtest"
)

// embedPlaceholder is the community's address in the host page of docs/EMBEDDING.md.
const embedPlaceholder = "https://community.example.com"

// embedHostPage is the host page of docs/EMBEDDING.md (its html block) for the community at
// communityURL.
func embedHostPage(t *testing.T, communityURL string) string {
	t.Helper()
	for _, b := range fencedBlocks(t, embeddingPath) {
		if b.lang == "html" {
			if !strings.Contains(b.text, `src="`+embedPlaceholder+`/auth/login?redirect_uri=/spaces"`) {
				t.Fatalf("%s: the host page does not frame %s/auth/login?redirect_uri=/spaces", b.at(), embedPlaceholder)
			}
			return strings.ReplaceAll(b.text, embedPlaceholder, communityURL)
		}
	}
	t.Fatalf("%s has no html block", embeddingPath)
	return ""
}

// communityFrame returns the target of the cross-site iframe that shows a page of the community
// (Chromium runs it in a process of its own), or nil when no frame shows one.
func communityFrame(t *testing.T, ctx context.Context, communityURL string) *target.Info {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	targets, err := chromedp.Targets(sctx)
	if err != nil {
		t.Fatalf("browser: list targets: %v", err)
	}
	for _, ti := range targets {
		if ti.Type == "iframe" && strings.HasPrefix(ti.URL, communityURL+"/") {
			return ti
		}
	}
	return nil
}

// frameTab attaches to the frame f, for the rest of the test. The attachment lives as long as
// the context of its first action, so that action runs without a deadline here (as in
// newChrome); cancelling the returned context closes the target.
func frameTab(t *testing.T, ctx context.Context, f *target.Info) context.Context {
	t.Helper()
	fctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(f.TargetID))
	t.Cleanup(cancel)
	if err := chromedp.Do(fctx); err != nil {
		t.Fatalf("browser: attach to the frame: %v", err)
	}
	return fctx
}

// partitionedCookie returns the cookie of that name the browser holds for url in any partition,
// read through the DevTools protocol, or nil.
func partitionedCookie(t *testing.T, ctx context.Context, url, name string) *network.Cookie {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	res, err := chromedp.Call(sctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		t.Fatalf("browser: read cookies: %v", err)
	}
	host := strings.TrimPrefix(url, "http://")
	host, _, _ = strings.Cut(host, ":")
	for _, c := range res.Cookies {
		if c.Name == name && c.Domain == host {
			return c
		}
	}
	return nil
}

// TestBrowserEmbedding frames the community in the host page of docs/EMBEDDING.md, served by a
// customer's site on another site of this machine (the community on 127.0.0.1, the customer on
// localhost: different sites to the browser, as app.example.com and community.example.com
// are). With embedOrigins empty the browser refuses the frame. With the customer's origin in
// embedOrigins, the frame goes through the seamless JWT SSO round trip (the community's
// /auth/login → the customer's authorizationUrl with referrer_uri → the community's JWT SSO
// endpoint → /spaces), keeps its partitioned session cookie, and a GraphQL me from inside the
// frame returns the member.
func TestBrowserEmbedding(t *testing.T) {
	ctx := newChrome(t)
	app := newBrowserApp(t)
	admin := browser(t)
	app.login(admin, "admin@example.com", adminPass)

	// The customer's site on localhost: the host page, and the sign-in page that JWT SSO's
	// authorizationUrl names (its member is signed in already: it signs a token at once).
	mux := http.NewServeMux()
	customer := httptest.NewServer(mux)
	t.Cleanup(customer.Close)
	_, port, _ := net.SplitHostPort(customer.Listener.Addr().String())
	customerURL := "http://localhost:" + port
	page := embedHostPage(t, app.URL)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("GET /community-login", func(w http.ResponseWriter, r *http.Request) {
		link := app.ssoLink(t, authtest.Claims(map[string]any{"sub": "cust-9", "email": "fran@example.com", "name": "Fran Framed"}),
			r.URL.Query().Get("referrer_uri"))
		http.Redirect(w, r, link, http.StatusSeeOther)
	})
	if r := app.gql(admin, "", `mutation($u: String!) {
		updateJwtSsoSettings(input: {authorizationUrl: $u}) { jwtSso { enabled } }
		updateAuthSettings(input: {emailPasswordEnabled: false}) { emailPasswordEnabled }
	}`, map[string]any{"u": customerURL + "/community-login"}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}

	// Not embedding: the frame's final answer says frame-ancestors 'self', and the browser
	// shows its error page in the frame instead of the community's.
	if loc, status := navigate(t, ctx, customerURL+"/"); loc != customerURL+"/" || status != http.StatusOK {
		t.Fatalf("host page: %d %s", status, loc)
	}
	if f := communityFrame(t, ctx, app.URL); f != nil {
		if href := inTab(t, frameTab(t, ctx, f), "frame location", chromedp.Evaluate[string](`location.href`)); !strings.HasPrefix(href, "chrome-error:") {
			t.Fatalf("the community shows in a frame of another site while embedding is off: %s", href)
		}
	}

	if r := app.gql(admin, "", `mutation($o: [String!]) { updateAuthSettings(input: {embedOrigins: $o}) { embedOrigins } }`,
		map[string]any{"o": []string{customerURL}}); len(r.Errors) > 0 {
		t.Fatal(r.Raw)
	}
	navigate(t, ctx, customerURL+"/")
	f := communityFrame(t, ctx, app.URL)
	if f == nil {
		t.Fatal("no frame shows the community")
	}
	fctx := frameTab(t, ctx, f)
	if href := inTab(t, fctx, "frame location", chromedp.Evaluate[string](`location.href`)); href != app.URL+"/spaces" {
		t.Fatalf("the frame did not land on %s/spaces: %s", app.URL, href)
	}
	// The framed page calls the API as the community's web app does, same-origin with the
	// session the frame made (the cookie of the host site's partition). The DevTools protocol does
	// not answer an evaluation that waits on the network in a frame's own target, so the call
	// leaves its answer in the page and the test reads it when it is there.
	start := `window.__me = ""; fetch("/graphql", {method: "POST", headers: {"Content-Type": "application/json"}, body: ` +
		jsonString(jsonString(map[string]any{"query": meQuery})) + `})
		.then(async r => { window.__me = r.status + " " + await r.text() }, e => { window.__me = "failed " + e }); "started"`
	inTab(t, fctx, "me from the frame", chromedp.Evaluate[string](start))
	raw := ""
	for deadline := time.Now().Add(browserStepTimeout); raw == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("me from the frame: no answer")
		}
		raw = inTab(t, fctx, "me from the frame's answer", chromedp.Evaluate[string](`window.__me`))
	}
	checkMe(t, "me from the frame", raw)
	// The host page calls the API with the same session and reads the answer (CORS for the
	// embed origin, with credentials).
	js := `fetch(` + jsonString(app.URL+"/graphql") + `, {method: "POST", credentials: "include",
		headers: {"Content-Type": "application/json"}, body: ` + jsonString(jsonString(map[string]any{"query": meQuery})) + `})
		.then(async r => r.status + " " + await r.text())`
	checkMe(t, "me from the host page", inTab(t, ctx, "me from the host page", chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)))
	// The session lives in the customer site's partition: a SameSite=None, Secure, Partitioned
	// cookie, and the community opened at top level has none.
	ck := partitionedCookie(t, ctx, app.URL, "community_session")
	if ck == nil || ck.SameSite != network.CookieSameSiteNone || !ck.Secure || !ck.HTTPOnly || ck.PartitionKey == nil ||
		!strings.HasPrefix(ck.PartitionKey.TopLevelSite, "http://localhost") {
		t.Fatalf("session cookie in the browser: %+v", ck)
	}
	if ck := browserCookie(t, ctx, app.URL, "community_session"); ck != nil && ck.PartitionKey == nil {
		t.Fatalf("an unpartitioned session cookie: %+v", ck)
	}
}

// checkMe fails the test unless raw ("STATUS BODY") is a 200 GraphQL answer whose me is the
// framed member.
func checkMe(t *testing.T, what, raw string) {
	t.Helper()
	statusText, body, _ := strings.Cut(raw, " ")
	var me graphtest.Result
	if err := json.Unmarshal([]byte(body), &me); err != nil || statusText != "200" || len(me.Errors) > 0 {
		t.Fatalf("%s: %s", what, raw)
	}
	if m, _ := me.Data["me"].(map[string]any); m["email"] != "fran@example.com" || m["externalId"] != "cust-9" {
		t.Fatalf("%s: %s", what, body)
	}
}
