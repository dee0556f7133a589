package main

// Browser tests: a real headless Chromium, driven through the DevTools protocol (chromedp), goes
// through the server's login, SSO and logout pages the way a member's browser does. They need
// Chromium (Debian: apt-get install chromium); without it they skip, except under CI=true where a
// missing browser fails the run.
//
// The helpers below are the harness for every browser test: newChrome gives a tab, and the
// small helpers navigate, fill and submit forms, read the page, the browser's cookies (through
// the protocol, not document.cookie, so HttpOnly cookies are visible to the test and not to the
// page), call the GraphQL API from the page, and save screenshots.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// browserStepTimeout bounds one browser step (a navigation, a form post, a script): generous,
// so that a slow machine never fails a test, yet a hung page does not hang the suite.
const browserStepTimeout = 30 * time.Second

// chromePath returns the Chromium (or Chrome) executable: $CHROME_PATH, else the first of the
// usual names found. Without one the test skips, or fails under CI=true.
func chromePath(t testing.TB) string {
	t.Helper()
	return toolPath(t, "browser test", "Chromium", "CHROME_PATH", "apt-get install -y chromium",
		"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
}

// toolPath returns the executable of a tool a whole-binary test (what) drives: $env, else the
// first of names found. Without one the test skips, or fails under CI=true, where it must run.
func toolPath(t testing.TB, what, tool, env, install string, names ...string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", env, p, err)
		}
		return p
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %s not found (%s, or set %s); under CI=true it must run", what, tool, install, env)
	}
	t.Skipf("%s skipped: %s not found (%s, or set %s)", what, tool, install, env)
	return ""
}

// newChrome starts a headless Chromium for this test and returns the context of one tab. The
// browser (and its temporary profile) goes away when the test ends. Run other tabs of the same
// browser with chromedp.NewContext(ctx). flags add to the usual command line.
func newChrome(t testing.TB, flags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1024, 768),
	)
	opts = append(opts, flags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it runs without a deadline, because the browser lives
	// as long as the context of its first action.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// inTab runs one action in the tab, within browserStepTimeout.
func inTab[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// navigate loads url in the tab, follows its redirects, and returns where the tab ends up and the
// final document's HTTP status.
func navigate(t testing.TB, ctx context.Context, url string) (string, int) {
	t.Helper()
	resp := inTab(t, ctx, "navigate to "+url, chromedp.NavigateResponse(url))
	status := 0
	if resp != nil {
		status = int(resp.Status)
	}
	return location(t, ctx), status
}

// location is the tab's current address.
func location(t testing.TB, ctx context.Context) string {
	t.Helper()
	return inTab(t, ctx, "location", chromedp.Location())
}

// fillForm types each value into the field a CSS selector names, as a person would (key events).
func fillForm(t testing.TB, ctx context.Context, fields map[string]string) {
	t.Helper()
	for sel, v := range fields {
		inTab(t, ctx, "fill "+sel, chromedp.Steps(
			chromedp.Clear(chromedp.CSS(sel)),
			chromedp.SendKeys(chromedp.CSS(sel), v),
		))
	}
}

// clickAndWait clicks the element a CSS selector names (a submit button, a link) and waits for the
// navigation it starts to load; it returns the final address and the document's HTTP status.
func clickAndWait(t testing.TB, ctx context.Context, sel string) (string, int) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(sctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("browser: click %s: %v", sel, err)
	}
	status := 0
	if resp != nil {
		status = int(resp.Status)
	}
	return location(t, ctx), status
}

// pageText is the visible text of the page's body.
func pageText(t testing.TB, ctx context.Context) string {
	t.Helper()
	return inTab(t, ctx, "read the page", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// browserCookie returns the cookie of that name the browser holds for url, read through the
// DevTools protocol (HttpOnly cookies included), or nil.
func browserCookie(t testing.TB, ctx context.Context, url, name string) *network.Cookie {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	res, err := chromedp.Call(sctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("browser: read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// pageGraphQL runs a GraphQL operation from the page, with fetch and the browser's own cookies,
// as the community's web app does, and returns the HTTP status and the decoded answer. The page
// must allow it: the server's own login and home pages forbid connections by their
// Content-Security-Policy, so call it from a page of the web app (any other same-origin path).
func pageGraphQL(t testing.TB, ctx context.Context, query string, vars map[string]any) (int, graphtest.Result) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	js := fmt.Sprintf(`fetch('/graphql', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: %s})
		.then(async r => JSON.stringify({status: r.status, body: await r.text()}))`, jsonString(string(body)))
	raw := inTab(t, ctx, "fetch /graphql", chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	var out struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("page fetch answer: %v: %s", err, raw)
	}
	res := graphtest.Result{Status: out.Status, Raw: out.Body}
	if err := json.Unmarshal([]byte(out.Body), &res); err != nil {
		t.Fatalf("GraphQL answer from the page is not JSON (%d): %s", out.Status, out.Body)
	}
	return out.Status, res
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// pngSignature starts every PNG file.
var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// screenshot saves the tab's viewport as a PNG in the test's temporary folder and returns its
// path. With SCREENSHOT_DIR set, a copy named after the test stays there (for CI artifacts).
func screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	buf := inTab(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	if !bytes.HasPrefix(buf, pngSignature) {
		t.Fatalf("screenshot %s is not a PNG (%d bytes)", name, len(buf))
	}
	p := filepath.Join(t.TempDir(), name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("SCREENSHOT_DIR"); dir != "" {
		keep := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".png")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keep, buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// assertPNG checks that the file at p is a non-empty PNG image.
func assertPNG(t testing.TB, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) <= len(pngSignature) || !bytes.HasPrefix(b, pngSignature) {
		t.Fatalf("%s is not a non-empty PNG (%d bytes)", p, len(b))
	}
}

// browserApp is a server on SQLite with an admin who has signed in over HTTP, JWT SSO enabled
// and its secret, as the browser tests need.
type browserApp struct {
	*testApp
	secret string
}

func newBrowserApp(t *testing.T) browserApp {
	t.Helper()
	app := newApp(t, storetest.SQLite(t), nil)
	app.createUser("admin@example.com", adminPass, user.RoleADMIN)
	admin := browser(t)
	app.login(admin, "admin@example.com", adminPass)
	return browserApp{testApp: app, secret: enableJWT(t, app, admin)}
}

// ssoLink is the link a customer's site sends a member to: a fresh HS256 token for claims.
func (a browserApp) ssoLink(t testing.TB, c jwt.MapClaims, target string) string {
	q := url.Values{"jwt": {authtest.Sign(t, jwt.SigningMethodHS256, []byte(a.secret), c, nil)}, "redirect_uri": {target}}
	return a.URL + "/api/auth/sso?" + q.Encode()
}

const meQuery = `{ me { email externalId name role } }`

// TestBrowserJWTSSO follows a JWT SSO link in a real browser: the member lands on the requested
// path, signed in, and the page's own GraphQL call sees the member.
func TestBrowserJWTSSO(t *testing.T) {
	ctx := newChrome(t)
	app := newBrowserApp(t)

	// /some/path stands for a page of the community's web app on the same origin (this server
	// answers it 404): where the member asked to go, and where the app calls the API from.
	link := app.ssoLink(t, authtest.Claims(map[string]any{"sub": "cust-77", "email": "robin@example.com", "name": "Robin Reader"}), "/some/path?tab=2")
	loc, _ := navigate(t, ctx, link)
	if loc != app.URL+"/some/path?tab=2" {
		t.Fatalf("landed on %s, want %s/some/path?tab=2", loc, app.URL)
	}
	status, me := pageGraphQL(t, ctx, meQuery, nil)
	if status != http.StatusOK || me.Code() != "" {
		t.Fatalf("me from the page: %d %s", status, me.Raw)
	}
	m, _ := me.Data["me"].(map[string]any)
	if m["email"] != "robin@example.com" || m["externalId"] != "cust-77" || m["name"] != "Robin Reader" || m["role"] != "MEMBER" {
		t.Fatalf("me from the page: %s", me.Raw)
	}
	// The session cookie is HttpOnly: the browser holds it, the page's scripts cannot read it.
	ck := browserCookie(t, ctx, app.URL, "community_session")
	if ck == nil || !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax {
		t.Fatalf("session cookie in the browser: %+v", ck)
	}
	if dc := inTab(t, ctx, "document.cookie", chromedp.Evaluate[string](`document.cookie`)); strings.Contains(dc, "community_session") {
		t.Fatalf("document.cookie shows the session: %q", dc)
	}
	// The server's own home page shows the member too.
	if loc, _ := navigate(t, ctx, app.URL+"/"); loc != app.URL+"/" {
		t.Fatalf("home: %s", loc)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "Welcome, Robin Reader") || !strings.Contains(text, "robin@example.com") {
		t.Fatalf("home page: %q", text)
	}
}

// TestBrowserDirectLogin types the admin's email and password into the direct login form.
func TestBrowserDirectLogin(t *testing.T) {
	ctx := newChrome(t)
	app := newBrowserApp(t)

	if loc, status := navigate(t, ctx, app.URL+"/auth/login/direct"); status != http.StatusOK || loc != app.URL+"/auth/login/direct" {
		t.Fatalf("direct login page: %d %s", status, loc)
	}
	// A wrong password keeps the admin on the form with a clear message.
	fillForm(t, ctx, map[string]string{"#email": "admin@example.com", "#password": "not the password"})
	if _, status := clickAndWait(t, ctx, `button[type="submit"]`); status != http.StatusUnauthorized {
		t.Fatalf("wrong password: status %d", status)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "The email or password is incorrect.") {
		t.Fatalf("wrong password page: %q", text)
	}
	if browserCookie(t, ctx, app.URL, "community_session") != nil {
		t.Fatal("a failed login set a session cookie")
	}

	fillForm(t, ctx, map[string]string{"#email": "admin@example.com", "#password": adminPass})
	loc, status := clickAndWait(t, ctx, `button[type="submit"]`)
	if loc != app.URL+"/" || status != http.StatusOK {
		t.Fatalf("after login: %d %s", status, loc)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "You are signed in as admin@example.com (ADMIN).") {
		t.Fatalf("home page after login: %q", text)
	}
	// The server's own pages forbid scripts to connect anywhere (Content-Security-Policy); the
	// community's web app, on another path of the same origin, calls the API with the session.
	navigate(t, ctx, app.URL+"/app/feed")
	if _, me := pageGraphQL(t, ctx, meQuery, nil); graphtest.Dig(me.Data, "me", "email") != "admin@example.com" || graphtest.Dig(me.Data, "me", "role") != "ADMIN" {
		t.Fatalf("me: %s", me.Raw)
	}
}

// TestBrowserLogout signs a member in by JWT SSO, signs out with the home page's button, and
// checks the member lands on the JWT SSO logout URL and that the old cookie is dead. It also
// saves screenshots of the login and home pages.
func TestBrowserLogout(t *testing.T) {
	ctx := newChrome(t)
	app := newBrowserApp(t)

	// The customer's site, where members go after signing out.
	customer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Signed out</title><h1>You have signed out of the customer's site</h1>`)
	}))
	t.Cleanup(customer.Close)
	admin := browser(t)
	app.login(admin, "admin@example.com", adminPass)
	r := app.gql(admin, "", `mutation($u: String!) { updateJwtSsoSettings(input: {logoutUrl: $u}) { jwtSso { logoutUrl } } }`,
		map[string]any{"u": customer.URL + "/logged-out"})
	if graphtest.Dig(r.Data, "updateJwtSsoSettings", "jwtSso", "logoutUrl") != customer.URL+"/logged-out" {
		t.Fatalf("set the logout URL: %s", r.Raw)
	}

	loginShot := func() string {
		if loc, status := navigate(t, ctx, app.URL+"/auth/login"); status != http.StatusOK || !strings.HasPrefix(loc, app.URL+"/auth/login") {
			t.Fatalf("login page: %d %s", status, loc)
		}
		return screenshot(t, ctx, "login")
	}()
	assertPNG(t, loginShot)

	navigate(t, ctx, app.ssoLink(t, authtest.Claims(map[string]any{"sub": "cust-9", "email": "sam@example.com", "name": "Sam Sample"}), "/"))
	if loc := location(t, ctx); loc != app.URL+"/" {
		t.Fatalf("after SSO: %s", loc)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "You are signed in as sam@example.com") {
		t.Fatalf("home page: %q", text)
	}
	homeShot := screenshot(t, ctx, "home")
	assertPNG(t, homeShot)

	old := browserCookie(t, ctx, app.URL, "community_session")
	if old == nil || old.Value == "" {
		t.Fatal("no session cookie after SSO")
	}
	// The saved cookie works outside the browser too, until logout.
	oldClient := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	withOld := func() graphtest.Result {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, app.URL+"/graphql", strings.NewReader(jsonString(map[string]any{"query": meQuery})))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: old.Name, Value: old.Value})
		return graphtest.Do(t, oldClient, req)
	}
	if r := withOld(); graphtest.Dig(r.Data, "me", "email") != "sam@example.com" {
		t.Fatalf("me with the cookie before logout: %s", r.Raw)
	}

	loc, status := clickAndWait(t, ctx, `form[action="/auth/logout"] button`)
	if loc != customer.URL+"/logged-out" || status != http.StatusOK {
		t.Fatalf("after logout: %d %s, want %s/logged-out", status, loc, customer.URL)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "You have signed out of the customer's site") {
		t.Fatalf("logout page: %q", text)
	}
	if c := browserCookie(t, ctx, app.URL, "community_session"); c != nil {
		t.Fatalf("the browser still holds a session cookie: %+v", c)
	}
	// The old cookie, replayed by hand, no longer signs anyone in.
	r = withOld()
	signedOut := (r.Status == http.StatusOK && r.Code() == "" && r.Data["me"] == nil) || r.Code() == "UNAUTHENTICATED"
	if !signedOut {
		t.Fatalf("me with the old cookie after logout: %d %s", r.Status, r.Raw)
	}
	// And the browser, back on the community, is signed out.
	navigate(t, ctx, app.URL+"/")
	if text := pageText(t, ctx); !strings.Contains(text, "You are not signed in.") {
		t.Fatalf("home page after logout: %q", text)
	}
}

// TestBrowserAuthParam opens /?auth=true without a session: the browser goes to the login page,
// and after signing in there it comes back to / without auth=true.
func TestBrowserAuthParam(t *testing.T) {
	ctx := newChrome(t)
	app := newBrowserApp(t)

	loc, status := navigate(t, ctx, app.URL+"/?auth=true")
	if status != http.StatusOK || loc != app.URL+"/auth/login?redirect_uri=%2F" {
		t.Fatalf("without a session: %d %s", status, loc)
	}
	fillForm(t, ctx, map[string]string{"#email": "admin@example.com", "#password": adminPass})
	loc, status = clickAndWait(t, ctx, `form[action="/auth/login/direct"] button[type="submit"]`)
	if loc != app.URL+"/" || status != http.StatusOK {
		t.Fatalf("after login: %d %s, want %s/", status, loc, app.URL)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "You are signed in as admin@example.com") {
		t.Fatalf("home page: %q", text)
	}
	// Signed in, ?auth=true passes through untouched.
	if loc, _ := navigate(t, ctx, app.URL+"/?auth=true"); loc != app.URL+"/?auth=true" {
		t.Fatalf("signed in: %s", loc)
	}
}
