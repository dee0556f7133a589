package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/store"
)

// MaxEmbedOrigins is how many embed origins the settings hold.
const MaxEmbedOrigins = 20

// NormalizeEmbedOrigins checks the admin's embed origins and returns them normalized (lower-case
// host, no default port, as a browser sends them in Origin) without duplicates: each an https
// origin, or http://localhost[:port] or http://127.0.0.1[:port] for development. A non-empty
// list also needs publicURL to be https (or loopback http, for development): a framed community
// keeps its session only in a Secure cookie.
func NormalizeEmbedOrigins(origins []string, publicURL string) ([]string, error) {
	out := []string{}
	for _, s := range origins {
		o, err := web.NormalizeOrigin(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("auth: embed origin: %w", err)
		}
		if !strings.HasPrefix(o, "https://") && !loopbackHTTP(o) {
			return nil, fmt.Errorf("auth: embed origin %q: must be https (http only for localhost or 127.0.0.1)", s)
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) > MaxEmbedOrigins {
		return nil, fmt.Errorf("auth: at most %d embed origins", MaxEmbedOrigins)
	}
	if len(out) > 0 {
		u, err := url.Parse(publicURL)
		if err != nil || u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname())) {
			return nil, errors.New("auth: embedding needs PUBLIC_URL to be https (http only on localhost or 127.0.0.1, for development): a framed page keeps its session only in a Secure cookie")
		}
	}
	return out, nil
}

// loopbackHTTP reports whether the normalized origin o is http on localhost or 127.0.0.1.
func loopbackHTTP(o string) bool {
	rest, ok := strings.CutPrefix(o, "http://")
	if !ok {
		return false
	}
	host := rest
	if h, _, err := net.SplitHostPort(rest); err == nil {
		host = h
	}
	return loopbackHost(host)
}

func loopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1"
}

// embedKey keys the request's embedding state in its context.
type embedKey struct{}

// SettingsLoader reads the columns of the settings row a route's handler uses, embed_origins
// among them (for [EmbeddingWith]), and whether any webhook is enabled (true when it does not
// know): when none is, the request's events are written without looking for subscribers
// ([RecordAll]).
type SettingsLoader func(ctx context.Context, client *ent.Client) (st *ent.Settings, webhooks bool, err error)

// embedding is one request's embed origins, read from the settings row at most once: before an
// Embedding route runs, or when an answer no route took is written.
type embedding struct {
	ctx     context.Context
	db      *store.DB
	log     *slog.Logger
	once    sync.Once
	origins []string
	// load, when an EmbeddingWith route set it, reads the row in the columns its handler uses;
	// st and err are what it read, for RouteSettings.
	load SettingsLoader
	st   *ent.Settings
	err  error
	// noWebhooks: load read the row and found no webhook enabled.
	noWebhooks bool
	// route is set by an Embedding route: its answers carry the frame policy whatever their
	// status; other answers carry it only when no route took the request (404, 405).
	route bool
}

func (e *embedding) get() []string {
	e.once.Do(func() {
		if !e.db.Ready() {
			return // the answer is a 503 (web.RequireDatabase), which nobody frames
		}
		var st *ent.Settings
		var err error
		if e.load != nil {
			var webhooks bool
			st, webhooks, err = e.load(e.ctx, e.db.Client)
			e.st, e.err, e.noWebhooks = st, err, err == nil && !webhooks
		} else {
			st, err = LoadSettings(e.ctx, e.db.Client, settings.FieldEmbedOrigins)
		}
		if err != nil {
			// Not embedding is the safe side: frame-ancestors 'self', SameSite=Lax, no CORS.
			e.log.Error("auth: read embed origins", "err", err)
			return
		}
		e.origins = st.EmbedOrigins
	})
	return e.origins
}

// Embedding makes the admin's embed origins (AuthSettings.embedOrigins) apply to the answers of
// next: every answer's Content-Security-Policy names who may frame it, frame-ancestors 'self'
// and those origins (in a page's own policy, or alone on an API answer); while there are any,
// X-Frame-Options, which cannot name them, is dropped. [EmbedOrigins] tells the session and
// flow cookies, CORS and the API's cross-origin check about them.
//
// The origins are read from the settings row once per request, before the route's handler runs
// (one single-column read): the settings take effect at once on every replica, with no cache to
// go stale. (Reading them when the answer is written would be cheaper where nothing needs them,
// but a handler may answer while its transaction holds SQLite's only connection.)
func Embedding(db *store.DB, log *slog.Logger) func(http.Handler) http.Handler {
	return embedMiddleware(db, log, true, nil)
}

// EmbeddingWith is [Embedding] for a route whose handler reads the settings row as well: load
// reads the columns the handler uses and the embed origins in one statement, once per request,
// and the handler takes what it read with [RouteSettings] instead of reading the row again.
func EmbeddingWith(db *store.DB, log *slog.Logger, load SettingsLoader) func(http.Handler) http.Handler {
	return embedMiddleware(db, log, true, load)
}

// RouteSettings returns the settings row that r's [EmbeddingWith] read, or the error reading
// it; ok is false when no such read was made for r (the handler then reads the row itself).
func RouteSettings(r *http.Request) (st *ent.Settings, ok bool, err error) {
	e, found := r.Context().Value(embedKey{}).(*embedding)
	if !found || e.load == nil {
		return nil, false, nil
	}
	e.get()
	if e.st == nil && e.err == nil {
		return nil, false, nil
	}
	return e.st, true, e.err
}

// noWebhooks reports whether ctx is a request whose settings read ([EmbeddingWith]) found no
// webhook enabled.
func noWebhooks(ctx context.Context) bool {
	e, ok := ctx.Value(embedKey{}).(*embedding)
	return ok && e.load != nil && e.noWebhooks
}

// FramePolicy goes around the server's whole mux: answers no route took (404, 405) carry the
// frame policy of [Embedding] too, so that the community is not framed by way of an unknown
// path. Health, readiness, metrics and static files, which are not Embedding routes, neither
// read the settings nor carry the policy.
func FramePolicy(db *store.DB, log *slog.Logger) func(http.Handler) http.Handler {
	return embedMiddleware(db, log, false, nil)
}

func embedMiddleware(db *store.DB, log *slog.Logger, route bool, load SettingsLoader) func(http.Handler) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e, ok := r.Context().Value(embedKey{}).(*embedding)
			if !ok {
				e = &embedding{ctx: r.Context(), db: db, log: log}
				r = r.WithContext(context.WithValue(r.Context(), embedKey{}, e))
				w = &frameWriter{ResponseWriter: w, e: e}
			}
			if route {
				// Read before the handler runs: a handler may answer while its transaction holds
				// the database's only connection (SQLite).
				e.route = true
				if load != nil && e.load == nil {
					e.load = load
				}
				e.get()
			}
			next.ServeHTTP(w, r)
		})
	}
}

// EmbedOrigins returns the embed origins for r (nil outside [Embedding] or when there are none).
func EmbedOrigins(r *http.Request) []string {
	if e, ok := r.Context().Value(embedKey{}).(*embedding); ok {
		return e.get()
	}
	return nil
}

// EmbedOrigin reports whether origin (an Origin header) is one of r's embed origins.
func EmbedOrigin(r *http.Request, origin string) bool {
	return origin != "" && slices.Contains(EmbedOrigins(r), origin)
}

// InFrame reports whether the browser loads r as the document of a frame (Sec-Fetch-Dest).
func InFrame(r *http.Request) bool {
	d := r.Header.Get("Sec-Fetch-Dest")
	return d == "iframe" || d == "frame"
}

// CrossSite makes c a cookie that a page framed on another site gets back: SameSite=None, Secure
// and Partitioned (CHIPS), kept in a jar of that site's own.
func CrossSite(c *http.Cookie) {
	c.Secure, c.SameSite, c.Partitioned = true, http.SameSiteNoneMode, true
}

// frameWriter sets the answer's frame policy when its header is written.
type frameWriter struct {
	http.ResponseWriter
	e     *embedding
	wrote bool
}

func (w *frameWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if w.e.route || code == http.StatusNotFound || code == http.StatusMethodNotAllowed {
			setFrameAncestors(w.Header(), w.e.get())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *frameWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *frameWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// frameAncestorsSelf is the directive every policy of the server's pages ends its list with.
const frameAncestorsSelf = "frame-ancestors 'self'"

// setFrameAncestors lets origins (none: the server's own pages only) frame the answer of h:
// they join the page policy's frame-ancestors 'self', or make the whole policy of an answer
// without one. With origins, X-Frame-Options goes: it cannot name them, and a browser that
// knows frame-ancestors ignores it anyway.
func setFrameAncestors(h http.Header, origins []string) {
	directive := frameAncestorsSelf
	if len(origins) > 0 {
		directive += " " + strings.Join(origins, " ")
	}
	switch csp := h.Get("Content-Security-Policy"); {
	case csp == "":
		h.Set("Content-Security-Policy", directive)
	case strings.Contains(csp, frameAncestorsSelf+";") || strings.HasSuffix(csp, frameAncestorsSelf):
		h.Set("Content-Security-Policy", strings.Replace(csp, frameAncestorsSelf, directive, 1))
	case !strings.Contains(csp, "frame-ancestors"):
		h.Set("Content-Security-Policy", csp+"; "+directive)
	}
	if len(origins) > 0 {
		h.Del("X-Frame-Options")
	}
}
