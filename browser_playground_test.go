package main

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/graph/playground"
)

// offline makes the tab fail every request to a host other than the loopback addresses
// (127.0.0.1, localhost, [::1]), as a machine without internet would, through the DevTools
// protocol's Fetch domain: every request the tab makes pauses until the test lets it go on or
// fails it. It returns the URLs failed so far.
func offline(t testing.TB, ctx context.Context) func() []string {
	t.Helper()
	var (
		mu      sync.Mutex
		blocked []string
	)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() {
		stop()
		<-done
	})
	events := chromedp.Events(lctx, fetch.RequestPaused) // subscribed before Fetch.enable
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil {
				return // the test is over
			}
			var err2 error
			if u, perr := url.Parse(ev.Request.URL); perr == nil && isLoopback(u.Hostname()) {
				_, err2 = chromedp.Call(lctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			} else {
				mu.Lock()
				blocked = append(blocked, ev.Request.URL)
				mu.Unlock()
				_, err2 = chromedp.Call(lctx, fetch.FailRequest, fetch.FailRequestParams{
					RequestID: ev.RequestID, ErrorReason: network.ErrorReasonInternetDisconnected,
				})
			}
			if err2 != nil && lctx.Err() == nil {
				t.Errorf("browser: answer the paused request %s: %v", ev.Request.URL, err2)
			}
		}
	}()
	inTab(t, ctx, "intercept every request", command(fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}}))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(blocked)
	}
}

// command is an action that sends one DevTools protocol command to the tab.
func command[P, R any](cmd cdp.Command[P, R], params P) chromedp.Action[R] {
	return func(ctx context.Context, t *chromedp.Target) (R, error) { return cdp.Call(ctx, t, cmd, params) }
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "localhost" || host == "::1"
}

// pageWatch is a script the tab runs before each document's own: it records the page's
// Content-Security-Policy violations and uncaught errors in window.__watch.
const pageWatch = `window.__watch = {violations: [], errors: []};
document.addEventListener('securitypolicyviolation', e =>
	window.__watch.violations.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')'));
window.addEventListener('error', e => window.__watch.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', e => window.__watch.errors.push(String(e.reason)));`

// TestBrowserPlayground opens GraphiQL at /playground in a browser that can reach no host but
// this machine, as a member signed in by JWT SSO, runs { me { email } } with GraphiQL's run
// button, and reads the member's email in the result pane: GraphiQL, React and their styles come
// from the server, the query goes out with the session cookie, and the page's
// Content-Security-Policy lets all of it run, the settings dialog included.
func TestBrowserPlayground(t *testing.T) {
	ctx := newChrome(t)
	app := newBrowserApp(t)
	blocked := offline(t, ctx)

	// The block holds: the CDN the playground used to load GraphiQL from is out of reach. (The
	// 404 page of the community's web app has no policy of its own that would stop the fetch
	// before the network.)
	navigate(t, ctx, app.URL+"/app/feed")
	const cdn = "https://cdn.jsdelivr.net/npm/graphiql@4.1.2/graphiql.min.js"
	if got := inTab(t, ctx, "fetch from the CDN", chromedp.Evaluate[string](`fetch('`+cdn+`').then(() => 'loaded', () => 'failed')`, chromedp.EvalAwaitPromise)); got != "failed" {
		t.Fatalf("fetch %s: %s, want failed", cdn, got)
	}
	if b := blocked(); !slices.Equal(b, []string{cdn}) {
		t.Fatalf("blocked %q, want the CDN's URL", b)
	}

	inTab(t, ctx, "watch the page", command(page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageWatch}))
	target := "/playground?" + url.Values{"query": {"{ me { email } }"}}.Encode()
	link := app.ssoLink(t, authtest.Claims(map[string]any{"sub": "cust-31", "email": "quinn@example.com", "name": "Quinn Query"}), target)
	if loc, status := navigate(t, ctx, link); loc != app.URL+target || status != 200 {
		t.Fatalf("signed in, landed on %s (%d), want %s", loc, status, app.URL+target)
	}
	// GraphiQL has started when its run button is there; the query editor holds ?query=.
	inTab(t, ctx, "click the run button", chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)))
	result := inTab(t, ctx, "read the result pane", chromedp.Poll[string](
		`(() => { const r = document.querySelector('.graphiql-response'); return r && r.innerText.includes('"data"') && r.innerText.replace(/\u00a0/g, ' ') })()`,
		chromedp.WithPollingTimeout(0)))
	if !strings.Contains(result, `"email": "quinn@example.com"`) {
		t.Fatalf("result pane: %q", result)
	}
	assertPNG(t, screenshot(t, ctx, "playground"))
	// A dialog makes GraphiQL add a style element, which the policy allows by its nonce.
	inTab(t, ctx, "open the settings", chromedp.Click(chromedp.CSS(`button[aria-label="Open settings dialog"]`)))
	inTab(t, ctx, "see the settings", chromedp.WaitVisible(chromedp.CSS(`.graphiql-dialog`)))
	if n := inTab(t, ctx, "count style elements", chromedp.Evaluate[int](`document.querySelectorAll('style').length`)); n == 0 {
		t.Error("the settings dialog added no style element: the nonce is not exercised")
	}

	if b := blocked(); len(b) != 1 {
		t.Errorf("the playground asked for other hosts: %q", b[1:])
	}
	watch := inTab(t, ctx, "read the watch", chromedp.Evaluate[struct{ Violations, Errors []string }](`window.__watch`))
	if len(watch.Violations) > 0 || len(watch.Errors) > 0 {
		t.Errorf("Content-Security-Policy violations %q, errors %q", watch.Violations, watch.Errors)
	}
	// What the page loaded came from the server's embedded files, and the query went to /graphql.
	loaded := inTab(t, ctx, "the page's resources", chromedp.Evaluate[[]string](`performance.getEntriesByType('resource').map(e => e.name)`))
	var scripts int
	for _, u := range loaded {
		switch {
		case strings.HasPrefix(u, app.URL+playground.AssetsPath):
			if strings.HasSuffix(u, ".js") {
				scripts++
			}
		case u == app.URL+"/graphql", strings.HasPrefix(u, "data:"): // data: is no request
		default:
			t.Errorf("the page loaded %s", u)
		}
	}
	if scripts != 4 {
		t.Errorf("the page loaded %d scripts from %s, want 4 (React, ReactDOM, GraphiQL, ours): %q", scripts, playground.AssetsPath, loaded)
	}
}
