package main

// The edge, for real: Debian's nginx with docs/examples/nginx.conf, over https with a certificate
// made here, serving the example frontend (docs/examples/frontend) at / and passing the API and
// sign-in routes to two replicas of the server on one MariaDB database. A headless Chromium signs
// a member in through it. The test needs nginx (apt-get install nginx), Chromium and
// TEST_MYSQL_DSN; without one it skips, except under CI=true, where it fails.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/loginthrottle"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

const (
	nginxSitePath = "docs/examples/nginx.conf"
	frontendPath  = "docs/examples/frontend"
	// nginxPeer is the address nginx connects to the replicas from (proxy_bind), the one
	// TRUSTED_PROXIES lists: it differs from every client's, so the test tells them apart.
	nginxPeer = "127.0.0.2"
)

// nginxPath returns nginx's executable: $NGINX_PATH, else /usr/sbin/nginx or nginx on the PATH.
// Without one the test skips, or fails under CI=true.
func nginxPath(t testing.TB) string {
	t.Helper()
	return toolPath(t, "edge test", "nginx", "NGINX_PATH", "apt-get install -y nginx", "/usr/sbin/nginx", "nginx")
}

// edgeCert is a self-signed certificate for 127.0.0.1 and localhost, in PEM files.
type edgeCert struct {
	CertFile, KeyFile string
	Roots             *x509.CertPool // trusts it
	SPKI              string         // base64 SHA-256 of its public key, as Chromium names it
}

func newEdgeCert(t *testing.T, dir string) edgeCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "community edge test"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := edgeCert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Roots: x509.NewCertPool()}
	if err := os.WriteFile(c.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Roots.AddCert(cert)
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	c.SPKI = base64.StdEncoding.EncodeToString(sum[:])
	return c
}

// nginxMain is the main configuration the test wraps around the site file: what a machine's own
// nginx.conf holds (Debian's /etc/nginx/nginx.conf), here with the logs and temporary files in
// the test's folder, nginx's prefix (-p).
const nginxMain = `worker_processes 1;
error_log error.log info;
events { worker_connections 256; }
http {
    types { text/html html; text/javascript js; text/css css; }
    default_type application/octet-stream;
    access_log access.log;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    include community.conf;
}
`

// placeholder is an @NAME@ of the site file.
var placeholder = regexp.MustCompile(`@[A-Z0-9_]+@`)

// startNginx runs nginx with the site file, its placeholders replaced by values, until the test
// ends, and waits until https://listen/readyz answers 200 through it. ln holds listen's port
// until nginx takes it. It returns nginx's folder (its logs are there).
func startNginx(t *testing.T, ln net.Listener, values map[string]string, roots *x509.CertPool) string {
	t.Helper()
	bin := nginxPath(t)
	site, err := os.ReadFile(nginxSitePath)
	if err != nil {
		t.Fatal(err)
	}
	conf := placeholder.ReplaceAllStringFunc(string(site), func(p string) string {
		v, ok := values[strings.Trim(p, "@")]
		if !ok {
			t.Fatalf("%s: no value for %s", nginxSitePath, p)
		}
		return v
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "community.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(nginxMain), 0o644); err != nil {
		t.Fatal(err)
	}
	global := "daemon off; pid " + filepath.Join(dir, "nginx.pid") + ";"
	if os.Geteuid() == 0 {
		// As root, nginx would run its workers as nobody, who cannot enter the test's folders.
		global += " user root;"
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"), "-g", global)
	stderr := &webtest.LogBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers go with it
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return stderr.String() + string(b)
	}
	ln.Close()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM) // fast shutdown
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	ready := "https://" + values["LISTEN"] + "/readyz"
	for deadline := time.Now().Add(60 * time.Second); ; {
		select {
		case err := <-exited:
			t.Fatalf("nginx stopped: %v\n%s", err, errorLog())
		default:
		}
		resp, err := c.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not answer %s: %v\n%s", ready, err, errorLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.CloseIdleConnections()
	return dir
}

// edgeClient is a browser (webtest.Browser) that trusts roots and connects from the loopback
// address from.
func edgeClient(t testing.TB, from string, roots *x509.CertPool) *http.Client {
	t.Helper()
	c := webtest.BrowserFrom(t, from)
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: roots}
	return c
}

// requestIPs are the ip fields of the request lines of a replica's JSON log.
func requestIPs(t *testing.T, log string) []string {
	t.Helper()
	var ips []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct{ Msg, IP string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "request" {
			ips = append(ips, line.IP)
		}
	}
	return ips
}

// TestEdgeNginx puts nginx in front of two replicas, as docs/examples/nginx.conf says, and goes
// through it over https as a member's browser and as an attacker: the member clicks the example
// frontend's sign-in button, signs in at the customer's site by JWT SSO, lands back on the
// frontend with its name and spaces rendered from GraphQL and a __Host- Secure session cookie,
// and signs out. Failed direct logins through nginx count against the client's address, never
// nginx's: a client that fails 20 times is throttled, whatever X-Forwarded-For or Forwarded it
// sends, and the member's browser still signs in.
func TestEdgeNginx(t *testing.T) {
	nginxPath(t)
	dsn := storetest.NewMySQLDatabase(t)
	cert := newEdgeCert(t, t.TempDir())
	// Chromium accepts this certificate, by its key, and no other.
	ctx := newChrome(t, chromedp.Flag("ignore-certificate-errors-spki-list", cert.SPKI))

	// The port nginx will listen on, held until nginx starts: the replicas need PUBLIC_URL first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	public := "https://" + ln.Addr().String()
	env := map[string]string{
		"DATABASE_URL":    "mysql://" + dsn,
		"SECRET_KEY":      base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)),
		"PUBLIC_URL":      public,
		"TRUSTED_PROXIES": nginxPeer,
	}
	var replicas []string
	var logs []*webtest.LogBuffer
	for range 2 {
		base, out, _, _ := started(t, env)
		replicas = append(replicas, strings.TrimPrefix(base, "http://"))
		logs = append(logs, out)
	}
	frontend, err := filepath.Abs(frontendPath)
	if err != nil {
		t.Fatal(err)
	}
	ngx := startNginx(t, ln, map[string]string{
		"LISTEN":          ln.Addr().String(),
		"CERTIFICATE":     cert.CertFile,
		"CERTIFICATE_KEY": cert.KeyFile,
		"FRONTEND":        frontend,
		"REPLICA_1":       replicas[0],
		"REPLICA_2":       replicas[1],
		"PROXY_BIND":      nginxPeer,
	}, cert.Roots)
	t.Logf("nginx at %s (logs in %s), replicas %s", public, ngx, replicas)

	db, err := store.Open(context.Background(), store.MySQL, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	app := &testApp{t: t, URL: public, DB: db}
	admin := edgeClient(t, "127.0.0.1", cert.Roots)
	token := adminToken(t, app)
	gql := func(query string) graphtest.Result {
		t.Helper()
		r := app.gql(admin, token, query, nil)
		if r.Status != http.StatusOK || r.Code() != "" {
			t.Fatalf("%s: %d %s", query, r.Status, r.Raw)
		}
		return r
	}

	// The customer's site: a member signed in there is sent back to the community with a token.
	var secret string
	customer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims := authtest.Claims(map[string]any{
			"sub": "cust-42", "email": "robin@example.com", "name": "Robin Reader",
			"spaceIds": []string{"general"}, "jti": rand.Text(),
		})
		q := url.Values{"jwt": {authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), claims, nil)}, "redirect_uri": {r.URL.Query().Get("referrer_uri")}}
		http.Redirect(w, r, public+"/api/auth/sso?"+q.Encode(), http.StatusFound)
	}))
	t.Cleanup(customer.Close)
	secret, _ = gql(`mutation { regenerateJwtSsoSecret }`).Data["regenerateJwtSsoSecret"].(string)
	gql(fmt.Sprintf(`mutation { updateJwtSsoSettings(input: {enabled: true, loginButtonText: "Sign in with Example", authorizationUrl: %q}) { jwtSso { enabled } } }`, customer.URL+"/community-login"))
	// JWT SSO alone: /auth/login goes straight to the customer's site.
	gql(`mutation { updateAuthSettings(input: {emailPasswordEnabled: false}) { emailPasswordEnabled } }`)
	gql(`mutation { createSpace(input: {name: "General", slug: "general"}) { id } }`)

	// The frontend comes with the policy it runs under, at / and at the paths of its own pages.
	for _, path := range []string{"/", "/spaces/general"} {
		front := app.get(admin, path)
		if front.Status != http.StatusOK || !strings.Contains(front.Header.Get("Content-Security-Policy"), "script-src 'self'") || !strings.Contains(front.Body, `<script src="/app.js"`) {
			t.Fatalf("GET %s through nginx: %d %q\n%s", path, front.Status, front.Header.Get("Content-Security-Policy"), front.Body)
		}
	}

	// The member's browser opens the community: signed out, the sign-in button.
	inTab(t, ctx, "watch the page", command(page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageWatch}))
	if loc, status := navigate(t, ctx, public+"/"); loc != public+"/" || status != http.StatusOK {
		t.Fatalf("frontend: %d %s", status, loc)
	}
	inTab(t, ctx, "see the sign-in button", chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	if text := pageText(t, ctx); !strings.Contains(text, "You are not signed in.") || !strings.Contains(text, "Sign in with Example") {
		t.Fatalf("signed-out page: %q", text)
	}
	// Through /auth/login and the customer's site, back to the frontend.
	if loc, status := clickAndWait(t, ctx, "#sign-in"); loc != public+"/" || status != http.StatusOK {
		t.Fatalf("after signing in: %d %s, want %s/", status, loc, public)
	}
	inTab(t, ctx, "see the member", chromedp.WaitVisible(chromedp.CSS("#signed-in")))
	if name := inTab(t, ctx, "read the name", chromedp.Evaluate[string](`document.getElementById('name').textContent`)); name != "Robin Reader" {
		t.Fatalf("name on the page: %q", name)
	}
	if text := pageText(t, ctx); !strings.Contains(text, "Signed in as robin@example.com.") || !strings.Contains(text, "General") {
		t.Fatalf("signed-in page: %q", text)
	}
	if slugs := inTab(t, ctx, "read the spaces", chromedp.Evaluate[[]string](`[...document.querySelectorAll('#spaces li')].map(li => li.dataset.slug)`)); !slices.Equal(slugs, []string{"general"}) {
		t.Fatalf("spaces on the page: %q", slugs)
	}
	assertPNG(t, screenshot(t, ctx, "frontend"))
	ck := browserCookie(t, ctx, public, "__Host-community_session")
	if ck == nil || !ck.Secure || !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteLax || ck.Path != "/" || ck.Domain != "127.0.0.1" {
		t.Fatalf("session cookie: %+v", ck)
	}
	if other := browserCookie(t, ctx, public, "community_session"); other != nil {
		t.Fatalf("a cookie without the prefix: %+v", other)
	}
	// The sign-in was recorded under the browser's address, not nginx's.
	login, err := db.Client.SecurityEvent.Query().Where(securityevent.Type("LOGIN_SUCCEEDED"), securityevent.Method("JWT")).Only(context.Background())
	if err != nil || login.IP != "127.0.0.1" {
		t.Fatalf("the sign-in's security event: %+v %v, want the browser's address", login, err)
	}

	// Signing out comes back to the frontend, signed out.
	if loc, _ := clickAndWait(t, ctx, "#sign-out"); loc != public+"/" {
		t.Fatalf("after signing out: %s", loc)
	}
	inTab(t, ctx, "see the sign-in button again", chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	if ck := browserCookie(t, ctx, public, "__Host-community_session"); ck != nil {
		t.Fatalf("the session cookie is still there: %+v", ck)
	}
	watch := inTab(t, ctx, "read the watch", chromedp.Evaluate[struct{ Violations, Errors []string }](`window.__watch`))
	if len(watch.Violations) > 0 || len(watch.Errors) > 0 {
		t.Fatalf("Content-Security-Policy violations %q, errors %q", watch.Violations, watch.Errors)
	}

	// An attacker at 127.0.0.3 guesses passwords through nginx, claiming other addresses in the
	// forwarding headers. nginx replaces X-Forwarded-For and drops Forwarded: the server counts
	// 127.0.0.3, and throttles it after 20 failures.
	attacker := edgeClient(t, "127.0.0.3", cert.Roots)
	guess := func(i int) webtest.Response {
		req, _ := http.NewRequest(http.MethodPost, public+"/auth/login/direct", strings.NewReader(url.Values{
			"email": {fmt.Sprintf("guess-%d@example.com", i)}, "password": {"not the password"},
		}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
		req.Header.Set("Forwarded", fmt.Sprintf("for=203.0.113.%d;proto=https", i))
		return app.do(attacker, req)
	}
	for i := 1; i <= 20; i++ {
		if r := guess(i); r.Status != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401\n%s", i, r.Status, r.Body)
		}
	}
	if r := guess(21); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("guess 21: %d (Retry-After %q), want 429", r.Status, r.Header.Get("Retry-After"))
	}
	failed := db.Client.SecurityEvent.Query().Where(securityevent.Type("LOGIN_FAILED")).AllX(context.Background())
	if len(failed) != 21 {
		t.Fatalf("%d LOGIN_FAILED events, want 21", len(failed))
	}
	for _, e := range failed {
		if e.IP != "127.0.0.3" {
			t.Fatalf("LOGIN_FAILED event with ip %q, want the attacker's 127.0.0.3: %+v", e.IP, e)
		}
	}
	if last := failed[len(failed)-1]; last.Detail["reason"] != "RATE_LIMITED" || last.Detail["scope"] != "address" {
		t.Fatalf("the refused guess: %+v", last.Detail)
	}
	counted := db.Client.LoginThrottle.Query().Where(loginthrottle.Subject("")).AllX(context.Background())
	if len(counted) != 1 || counted[0].IP != "127.0.0.3" || counted[0].Failures != 20 {
		t.Fatalf("address counters: %+v, want one for 127.0.0.3 with 20 failures", counted)
	}

	// nginx's own address is not throttled: the member's browser, at 127.0.0.1, signs in with the
	// direct login form while the attacker waits.
	app.createUser("owner@example.com", adminPass, user.RoleADMIN)
	navigate(t, ctx, public+"/auth/login/direct?redirect_uri=%2F")
	fillForm(t, ctx, map[string]string{"#email": "owner@example.com", "#password": adminPass})
	if loc, status := clickAndWait(t, ctx, `button[type="submit"]`); loc != public+"/" || status != http.StatusOK {
		t.Fatalf("the browser's direct login: %d %s", status, loc)
	}
	inTab(t, ctx, "see the admin", chromedp.WaitVisible(chromedp.CSS("#signed-in")))
	if r := guess(22); r.Status != http.StatusTooManyRequests {
		t.Fatalf("the attacker after the member's login: %d, want 429", r.Status)
	}

	// nginx's access log has the browser's requests, but not the sign-in link's token.
	access, err := os.ReadFile(filepath.Join(ngx, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(access), `"GET /app.js HTTP/1.1" 200`) || strings.Contains(string(access), "jwt=") {
		t.Fatalf("nginx's access log:\n%s", access)
	}

	// Both replicas served, and every request either logged came from a client's address.
	for i, l := range logs {
		ips := requestIPs(t, l.String())
		if len(ips) == 0 {
			t.Fatalf("replica %d logged no request", i+1)
		}
		for _, ip := range ips {
			if ip != "127.0.0.1" && ip != "127.0.0.3" {
				t.Fatalf("replica %d logged a request from %q:\n%s", i+1, ip, l)
			}
		}
	}
}
