// Package playground serves GraphiQL, the in-browser GraphQL IDE, from the binary alone: the
// page is a small template of this package's, and every file it loads is embedded and served
// under AssetsPath. Nothing comes from another host, so the playground works without internet.
//
// The embedded files:
//
//   - npm/: graphiql's self-contained browser build (graphiql.min.js and graphiql.min.css, a UMD
//     bundle that needs only React and ReactDOM), the UMD production builds of react and
//     react-dom, each package's license, and manifest.json (the versions, the registry's
//     integrity of each tarball, the SHA-256 of each file). refresh.sh writes them from the npm
//     registry; it is the only step that touches the network, and go generate does not run it.
//     The package's tests check the files against the manifest and look for URLs to other hosts.
//   - static/: this package's own script, which starts GraphiQL with a fetcher that sends the
//     session cookie (credentials: 'same-origin'), and stylesheet.
//
// Each file is served under a name that carries the start of its SHA-256
// (graphiql.min.0123456789abcdef.js), computed from the embedded bytes on first use, with
// "Cache-Control: public, max-age=31536000, immutable": a browser fetches it once, and a new
// release or an edit is a new name. Files are sent gzip-compressed to clients that accept it.
//
// The page's Content-Security-Policy lets it run scripts only from its own origin (no inline
// script: the page names the endpoint in a data attribute that static/playground.js reads), load
// styles from its own origin and the one style element GraphiQL makes while a dialog is open (a
// nonce new with every answer, which static/playground.js hands to GraphiQL as
// __webpack_nonce__), images and fonts also from data: URLs (graphiql's stylesheet carries its
// fonts and icons inline), and connect only to its own origin: the endpoint must be a path on
// this server.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// AssetsPath is where Assets serves the embedded files: mount it as
// "GET "+AssetsPath+"{name}".
const AssetsPath = "/playground/assets/"

// policy is the page's Content-Security-Policy; nonce lets GraphiQL add the one style element
// it makes (react-remove-scroll's, while a dialog is open).
func policy(nonce string) string {
	return "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-" + nonce + "'; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
}

// immutable is the Cache-Control of a served file, whose name changes with its content.
const immutable = "public, max-age=31536000, immutable"

//go:embed npm static
var files embed.FS

// contentTypes are the types of the files served, by extension.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".txt": "text/plain; charset=utf-8",
}

// asset is one embedded file as it is served.
type asset struct {
	file   string // its path in files: npm/graphiql.min.js
	served string // the name it is served under: graphiql.min.0123456789abcdef.js
	body   []byte
	ctype  string
	etag   string
	gzip   func() []byte // body gzip-compressed, or nil when that is not smaller; made on first use
}

// catalog is every served file, by served name and by its name in npm/ or static/.
type catalog struct {
	served map[string]*asset
	byName map[string]*asset
}

// assets reads the embedded files once: every file of npm/ and static/ but the manifest.
var assets = sync.OnceValue(func() catalog {
	c := catalog{served: map[string]*asset{}, byName: map[string]*asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == manifestFile {
			return err
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		ext := path.Ext(name)
		ctype, ok := contentTypes[ext]
		if !ok {
			return fmt.Errorf("no content type for %s", p)
		}
		if c.byName[name] != nil {
			return fmt.Errorf("%s and %s have one name", c.byName[name].file, p)
		}
		sum := sha256.Sum256(body)
		a := &asset{
			file:   p,
			served: strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:8]) + ext,
			body:   body,
			ctype:  ctype,
			etag:   `"` + hex.EncodeToString(sum[:16]) + `"`,
			gzip:   sync.OnceValue(func() []byte { return gzipped(body) }),
		}
		c.served[a.served], c.byName[name] = a, a
		return nil
	})
	if err != nil {
		panic("playground: embedded files: " + err.Error())
	}
	return c
})

// manifestFile is the manifest refresh.sh writes; it is not served.
const manifestFile = "npm/manifest.json"

// gzipped is b gzip-compressed, or nil when that saves nothing.
func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(b)                                       // a bytes.Buffer does not fail
	_ = zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}

// URL is the path the embedded file name (graphiql.min.js, playground.js) is served at.
func URL(name string) (string, error) {
	a := assets().byName[name]
	if a == nil {
		return "", fmt.Errorf("playground: no embedded file %s", name)
	}
	return AssetsPath + a.served, nil
}

// Assets serves the embedded files under AssetsPath, by their served names, with their content
// types, immutable caching, an ETag, and gzip for clients that accept it. Any other name is 404.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := assets().served[strings.TrimPrefix(r.URL.Path, AssetsPath)]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", immutable)
		h.Set("Vary", "Accept-Encoding")
		body, etag := a.body, a.etag
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			if gz := a.gzip(); gz != nil {
				body, etag = gz, strings.TrimSuffix(etag, `"`)+`-gzip"`
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip tells whether an Accept-Encoding header value accepts gzip: its first coding that
// is gzip or * has no q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if c := strings.ToLower(strings.TrimSpace(coding)); c != "gzip" && c != "*" {
			continue
		}
		for param := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
			if q, err := strconv.ParseFloat(v, 64); strings.EqualFold(k, "q") && err == nil && q == 0 {
				return false
			}
		}
		return true
	}
	return false
}

var page = template.Must(template.New("page").Funcs(template.FuncMap{"asset": URL}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{asset "graphiql.min.css"}}">
<link rel="stylesheet" href="{{asset "playground.css"}}">
<link rel="license" href="{{asset "graphiql.LICENSE.txt"}}" title="GraphiQL">
<link rel="license" href="{{asset "react.LICENSE.txt"}}" title="React">
<link rel="license" href="{{asset "react-dom.LICENSE.txt"}}" title="ReactDOM">
<script src="{{asset "react.production.min.js"}}" defer></script>
<script src="{{asset "react-dom.production.min.js"}}" defer></script>
<script src="{{asset "graphiql.min.js"}}" defer></script>
<script src="{{asset "playground.js"}}" nonce="{{.Nonce}}" defer></script>
</head>
<body>
<div id="graphiql" data-endpoint="{{.Endpoint}}"><p class="loading">Loading…</p></div>
<noscript><p class="loading">GraphiQL needs JavaScript.</p></noscript>
</body>
</html>
`))

// Page serves the GraphiQL page, titled title, that sends GraphQL requests to endpoint, a path on
// this server ("/graphql"), with the session cookie. It carries its Content-Security-Policy and
// may be framed by this origin only.
func Page(title, endpoint string) http.Handler {
	if !strings.HasPrefix(endpoint, "/") || strings.HasPrefix(endpoint, "//") {
		panic("playground: the endpoint must be a path on this server: " + endpoint)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce := newNonce()
		var buf bytes.Buffer
		if err := page.Execute(&buf, pageData{Title: title, Endpoint: endpoint, Nonce: nonce}); err != nil {
			panic(err) // the template names embedded files only: the package's tests render it
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", policy(nonce))
		h.Set("X-Frame-Options", "SAMEORIGIN")
		_, _ = w.Write(buf.Bytes())
	})
}

// pageData fills the page's template.
type pageData struct {
	Title, Endpoint string
	// Nonce is the page's style nonce; it is written on static/playground.js's script element,
	// which hands it to GraphiQL.
	Nonce string
}

// newNonce is 16 random bytes in URL-safe base64, which HTML does not escape.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return base64.RawURLEncoding.EncodeToString(b)
}
