package auth

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are the server-rendered pages, each the layout around one content template.
var pages = func() map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range []string{"login", "direct", "home", "message", "oauth2test", "forgot", "reset"} {
		m[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/form.html", "templates/"+name+".html"))
	}
	return m
}()

// Message is the data of the message page: errors of the login flows, confirmations.
type Message struct {
	Title      string
	Heading    string
	Message    string
	Hint       string
	Code       string
	Alert      bool
	ActionURL  string
	ActionText string
	ActionPost bool
}

// render writes page with data and status; the page is buffered so a template error becomes a
// clean 500 instead of half a page.
func render(w http.ResponseWriter, log *slog.Logger, status int, page string, data any) {
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		log.Error("auth: render page", "page", page, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// RenderMessage writes the message page.
func RenderMessage(w http.ResponseWriter, log *slog.Logger, status int, m Message) {
	if m.Title == "" {
		m.Title = m.Heading
	}
	render(w, log, status, "message", m)
}

// OAuth2Report is the data of the OAuth2 test-mode page: what the provider said and what a login
// would do, nothing written.
type OAuth2Report struct {
	Title         string
	IDTokenClaims string // JSON, secrets redacted
	UserInfo      string // JSON, secrets redacted
	HasRefresh    bool
	Profile       string // JSON
	Decision      string
	Reason        string
	Message       string
	Role          string
	UserID        int
	Changed       []string
	Skipped       []string
}

// RenderOAuth2Report writes the OAuth2 test-mode page.
func RenderOAuth2Report(w http.ResponseWriter, log *slog.Logger, rep OAuth2Report) {
	if rep.Title == "" {
		rep.Title = "Single sign-on test"
	}
	render(w, log, http.StatusOK, "oauth2test", rep)
}
