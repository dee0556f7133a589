package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/community/sso/auth/web/webtest"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// serve mounts the page and the files as server.go does, over real HTTP.
func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /playground", Page("Community GraphQL", "/graphql"))
	mux.Handle("GET "+AssetsPath+"{name}", Assets())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// get asks srv for path with the request headers (name, value pairs), without the transport's
// own gzip handling, so the test sees the bytes as sent.
func get(t *testing.T, srv *httptest.Server, method, path string, headers ...string) webtest.Response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return webtest.Do(t, srv.Client(), req)
}

// manifest is npm/manifest.json as refresh.sh writes it.
type manifest struct {
	Packages []struct{ Name, Version, Integrity string }
	Files    []struct{ Name, From, SHA256 string }
}

func readManifest(t *testing.T) manifest {
	t.Helper()
	b, err := files.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", manifestFile, err)
	}
	return m
}

// TestManifest: the embedded npm files are those manifest.json lists, byte for byte (SHA-256),
// from the packages and versions it names, each package with its license.
func TestManifest(t *testing.T) {
	m := readManifest(t)
	versions := map[string]string{}
	for _, p := range m.Packages {
		if p.Version == "" || !strings.HasPrefix(p.Integrity, "sha512-") {
			t.Errorf("package %+v: no version or integrity", p)
		}
		versions[p.Name] = p.Version
	}
	if got := slices.Sorted(maps.Keys(versions)); !slices.Equal(got, []string{"graphiql", "react", "react-dom"}) {
		t.Errorf("packages %q, want graphiql, react and react-dom", got)
	}
	listed := map[string]bool{}
	for _, f := range m.Files {
		listed[f.Name] = true
		b, err := files.ReadFile("npm/" + f.Name)
		if err != nil {
			t.Errorf("%s is in the manifest, not embedded: %v", f.Name, err)
			continue
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("npm/%s: SHA-256 %x, the manifest says %s", f.Name, sum, f.SHA256)
		}
		pkg, _, _ := strings.Cut(f.From, "/")
		name, version, _ := strings.Cut(pkg, "@")
		if versions[name] == "" || versions[name] != version {
			t.Errorf("%s comes from %s, not a package of the manifest", f.Name, f.From)
		}
	}
	for name := range versions {
		if !listed[name+".LICENSE.txt"] {
			t.Errorf("no license of %s", name)
		}
	}
	entries, err := fs.ReadDir(files, "npm")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if "npm/"+e.Name() != manifestFile && !listed[e.Name()] {
			t.Errorf("npm/%s is embedded but not in the manifest", e.Name())
		}
	}
}

// attrURL finds the URLs of a page's src and href attributes.
var attrURL = regexp.MustCompile(`\s(?:src|href)="([^"]*)"`)

// TestPageNamesOnlyItsOwnFiles: the page's scripts, styles and links are the embedded files,
// served here with their content types, and the page names no other host, not even in text.
func TestPageNamesOnlyItsOwnFiles(t *testing.T) {
	srv := serve(t)
	r := get(t, srv, http.MethodGet, "/playground")
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", r.Status, r.Header.Get("Content-Type"))
	}
	page := r.Body
	if m := hostURL.FindString(page); m != "" || strings.Contains(page, "://") {
		t.Errorf("the page names a host (%q):\n%s", m, page)
	}
	urls := attrURL.FindAllStringSubmatch(page, -1)
	served := map[string]bool{}
	for _, m := range urls {
		u := m[1]
		if !strings.HasPrefix(u, AssetsPath) {
			t.Errorf("the page names %s, not an embedded file", u)
			continue
		}
		a := get(t, srv, http.MethodGet, u)
		want := contentTypes[path.Ext(u)]
		if a.Status != http.StatusOK || a.Header.Get("Content-Type") != want {
			t.Errorf("%s: %d %q, want 200 %q", u, a.Status, a.Header.Get("Content-Type"), want)
		}
		served[path.Base(u)] = true
	}
	// Every embedded file is on the page: four scripts, two stylesheets, three licenses.
	for name, a := range assets().served {
		if !served[name] {
			t.Errorf("the page does not name %s (%s)", name, a.file)
		}
	}
	if !strings.Contains(page, `data-endpoint="/graphql"`) || !strings.Contains(page, "<title>Community GraphQL</title>") {
		t.Errorf("page without its endpoint or title:\n%s", page)
	}
}

// hostURL finds URLs with a host, protocol-relative ones included.
var hostURL = regexp.MustCompile(`(?i)(?:https?:)?//([a-z0-9-]+(?:\.[a-z0-9-]+)+)`)

// linkHosts are the hosts the third-party bundles name without loading anything from them: XML
// namespaces (www.w3.org) and links in messages and comments. A release that names another host
// fails TestBundlesLoadNothingFromOtherHosts until someone has looked at what it does with it.
var linkHosts = map[string]bool{
	"www.w3.org":       true, // SVG and XLink namespaces
	"github.com":       true, // links in error messages and license comments
	"reactjs.org":      true, // React's error decoder link
	"radix-ui.com":     true, // a link in a Radix warning
	"codemirror.net":   true, // a link in a CodeMirror comment
	"commonmark.org":   true, // markdown-it's comment
	"en.wikipedia.org": true, // a comment on floating point
}

// TestBundlesLoadNothingFromOtherHosts looks into what the page loads. This package's own script
// and stylesheet name no host at all. The third-party bundles name only the hosts of linkHosts,
// and the stylesheets take every url() from data: and import nothing.
func TestBundlesLoadNothingFromOtherHosts(t *testing.T) {
	for name, a := range assets().byName {
		text := string(a.body)
		switch {
		case strings.HasPrefix(a.file, "static/"):
			if m := hostURL.FindString(text); m != "" || strings.Contains(text, "://") {
				t.Errorf("%s names a host: %q", a.file, m)
			}
		case path.Ext(name) == ".js":
			for _, m := range hostURL.FindAllStringSubmatch(text, -1) {
				if !linkHosts[strings.ToLower(m[1])] {
					t.Errorf("%s names %s: look at what it does with it, then add the host to linkHosts if it loads nothing", a.file, m[0])
				}
			}
		}
		if path.Ext(name) == ".css" {
			if strings.Contains(text, "@import") {
				t.Errorf("%s imports a stylesheet", a.file)
			}
			for _, m := range regexp.MustCompile(`url\(\s*["']?([^"')]{0,16})`).FindAllStringSubmatch(text, -1) {
				if !strings.HasPrefix(m[1], "data:") {
					t.Errorf("%s loads url(%s…)", a.file, m[1])
				}
			}
			if m := hostURL.FindString(text); m != "" {
				t.Errorf("%s names %s", a.file, m)
			}
		}
	}
	// The check finds what it looks for.
	if !hostURL.MatchString(`e.src="//cdn.example.net/x.js"`) || hostURL.FindStringSubmatch(`fetch("https://unpkg.com/graphiql")`)[1] != "unpkg.com" {
		t.Fatal("hostURL misses a URL")
	}
}

// TestAssets: the files are served under names that carry their SHA-256, cached as immutable,
// gzip-compressed for clients that accept it, revalidated by ETag; other names are 404.
func TestAssets(t *testing.T) {
	srv := serve(t)
	if len(assets().served) != 9 {
		t.Errorf("%d files served, want 9", len(assets().served))
	}
	for name, a := range assets().byName {
		u, err := URL(name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(a.body)
		ext := path.Ext(name)
		if want := AssetsPath + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:8]) + ext; u != want {
			t.Errorf("URL(%s) = %s, want %s", name, u, want)
		}
		r := get(t, srv, http.MethodGet, u)
		if r.Status != http.StatusOK || !bytes.Equal([]byte(r.Body), a.body) || r.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: %d, %d bytes, encoding %q", u, r.Status, len(r.Body), r.Header.Get("Content-Encoding"))
		}
		if r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s: Cache-Control %q, Vary %q", u, r.Header.Get("Cache-Control"), r.Header.Get("Vary"))
		}
		etag := r.Header.Get("ETag")
		if nm := get(t, srv, http.MethodGet, u, "If-None-Match", etag); etag == "" || nm.Status != http.StatusNotModified {
			t.Errorf("%s with If-None-Match %s: %d", u, etag, nm.Status)
		}

		gz := get(t, srv, http.MethodGet, u, "Accept-Encoding", "gzip, deflate, br")
		if gz.Status != http.StatusOK || gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("ETag") == etag {
			t.Errorf("%s with gzip: %d, encoding %q, ETag %q", u, gz.Status, gz.Header.Get("Content-Encoding"), gz.Header.Get("ETag"))
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader([]byte(gz.Body)))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if plain, err := io.ReadAll(zr); err != nil || !bytes.Equal(plain, a.body) {
			t.Errorf("%s: the gzip body is not the file (%v)", u, err)
		}
		if gz.Header.Get("Content-Type") != r.Header.Get("Content-Type") {
			t.Errorf("%s: gzip changes the type to %q", u, gz.Header.Get("Content-Type"))
		}
	}
	js, _ := URL("graphiql.min.js")
	size := strconv.Itoa(len(assets().byName["graphiql.min.js"].body))
	if h := get(t, srv, http.MethodHead, js); h.Status != http.StatusOK || len(h.Body) != 0 || h.Header.Get("Content-Length") != size {
		t.Errorf("HEAD %s: %d, %d bytes, Content-Length %q", js, h.Status, len(h.Body), h.Header.Get("Content-Length"))
	}
	for _, p := range []string{AssetsPath + "graphiql.min.js", AssetsPath + "manifest.json", AssetsPath + "graphiql.min.0000000000000000.js", AssetsPath + "nope"} {
		if r := get(t, srv, http.MethodGet, p); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, r.Status)
		}
	}
	if _, err := URL("nope.js"); err == nil {
		t.Error("URL of a file that is not embedded")
	}
}

// TestPageHeaders: the page carries its Content-Security-Policy with a nonce new with every
// answer, written on this package's script for GraphiQL's style element, and is not cached.
func TestPageHeaders(t *testing.T) {
	srv := serve(t)
	nonceAttr := regexp.MustCompile(`<script src="` + regexp.QuoteMeta(AssetsPath) + `playground\.[0-9a-f]{16}\.js" nonce="([A-Za-z0-9_-]{22})" defer>`)
	seen := map[string]bool{}
	for range 2 {
		r := get(t, srv, http.MethodGet, "/playground")
		m := nonceAttr.FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("no nonce on the page's own script:\n%s", r.Body)
		}
		nonce := m[1]
		want := "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-" + nonce + "'; img-src 'self' data:; " +
			"font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
		if got := r.Header.Get("Content-Security-Policy"); got != want {
			t.Errorf("Content-Security-Policy %q, want %q", got, want)
		}
		if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Errorf("Cache-Control %q, X-Frame-Options %q", r.Header.Get("Cache-Control"), r.Header.Get("X-Frame-Options"))
		}
		if seen[nonce] {
			t.Errorf("nonce %s twice", nonce)
		}
		seen[nonce] = true
	}
	for _, endpoint := range []string{"https://api.example.com/graphql", "//api.example.com/graphql", "graphql"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Page accepted the endpoint %s", endpoint)
				}
			}()
			Page("x", endpoint)
		}()
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                       false,
		"identity":               false,
		"gzip":                   true,
		"gzip, deflate, br":      true,
		"br;q=1.0, GZIP;q=0.5":   true,
		"gzip;q=0":               false,
		"gzip; q=0.000":          false,
		"gzip;q=0.001":           true,
		"*":                      true,
		"deflate, *;q=0":         false,
		"x-gzip":                 false,
		"br, gzip;q=0, identity": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
