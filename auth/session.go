package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// Cookie names: the __Host- prefix (Secure, Path=/, no Domain) when the public URL is https.
const (
	cookieName       = "community_session"
	secureCookieName = "__Host-community_session"
)

// seenEvery is how often a session's or token's last use is written back: at most once a minute,
// so that reads stay reads.
const seenEvery = time.Minute

// tokenBytes is the size of session and API tokens: 256 random bits.
const tokenBytes = 32

// APITokenPrefix starts every API token, so a leaked one is easy to recognise and scan for.
const APITokenPrefix = "cst_"

// SessionTokenPrefix starts every session token given to an app as a bearer token (POST
// /api/auth/sso/token): Lookup tells it from an API token by it, and a leaked one is as easy to
// recognise as an API token. Cookie session tokens have no prefix and are not accepted as bearers.
const SessionTokenPrefix = "css_"

// maxTokenLength bounds the session cookie and bearer tokens Lookup reads.
const maxTokenLength = 128

// ErrNoSession is returned when a request carries no valid session or token.
var ErrNoSession = errors.New("auth: no valid session")

// Sessions creates, finds and ends browser sessions and checks API tokens.
type Sessions struct {
	Client   *ent.Client
	Lifetime time.Duration
	// Secure sets the Secure flag and the __Host- cookie prefix (PUBLIC_URL is https).
	Secure bool
	Now    func() time.Time
	// Revalidator, when set, checks a session whose RevalidateAt has passed with the identity
	// provider that made it (OAuth2 refresh revalidation).
	Revalidator Revalidator
}

// Revalidator checks a session with its identity provider. Revalidate reports whether the session
// may go on: false ends it (the provider refused), true keeps it (revalidated, or the provider
// could not be asked and it is retried later).
type Revalidator interface {
	Revalidate(ctx context.Context, sess *ent.Session) bool
}

// Time is the sessions' clock: Now when set, else the time of day.
func (s *Sessions) Time() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// CookieName is the name of the session cookie.
func (s *Sessions) CookieName() string {
	if s.Secure {
		return secureCookieName
	}
	return cookieName
}

// NewToken returns a random 256-bit token (base64url) and its SHA-256.
func NewToken() (string, []byte) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Errorf("auth: random token: %w", err))
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	return tok, HashToken(tok)
}

// HashToken is the SHA-256 of a token, the only form the database keeps.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// SessionOptions carry what a login method stores with its session.
type SessionOptions struct {
	IDToken      []byte // sealed
	RefreshToken []byte // sealed
	RevalidateAt *time.Time
	// SID is the OpenID Connect session id the id_token named (its sid claim), by which
	// back-channel logout ends the session; "" for none.
	SID string
	// At is the time of the login; zero means now.
	At time.Time
	// LoginRecorded says the member's last_login_at already holds At (the member was created by
	// this login), so Start writes no UPDATE for it.
	LoginRecorded bool
	// Replaces is the token of the session the browser had before this login (Sessions.Token):
	// Start ends it.
	Replaces string
	// Bearer makes the session's token a bearer token for an app (SessionTokenPrefix) rather than
	// a cookie's.
	Bearer bool
}

// Started is a session a login just made: what the browser's cookie (or the app's bearer
// token) needs.
type Started struct {
	ID        int
	Token     string
	ExpiresAt time.Time
}

// statementAttempts and statementBackoff bound the retries of a statement that commits alone and
// lost a lock conflict (store.IsDeadlock).
const (
	statementAttempts = 4
	statementBackoff  = 10 * time.Millisecond
)

// Start creates a session for the member userID after a successful login and returns it with
// its token; the caller sets the cookie (FinishLogin) once the transaction holding the session
// commits. The session the browser already had (opts.Replaces) ends: every login gets a new
// token. The session keeps the address and agent of ctx (RequestContext).
func (s *Sessions) Start(ctx context.Context, client *ent.Client, userID int, method session.Method, opts SessionOptions) (Started, error) {
	// Outside a transaction each statement commits alone: one that loses a lock conflict is
	// tried again (inside one, the caller runs the whole transaction again).
	retry := func(fn func() error) error { return fn() }
	if client == nil {
		client = s.Client
		retry = func(fn func() error) error {
			return store.Retry(ctx, statementAttempts, statementBackoff, store.IsDeadlock, fn)
		}
	}
	if opts.Replaces != "" {
		if err := retry(func() error { return authdb.EndSession(ctx, client, HashToken(opts.Replaces)) }); err != nil {
			return Started{}, err
		}
	}
	tok, _ := NewToken()
	if opts.Bearer {
		tok = SessionTokenPrefix + tok
	}
	hash := HashToken(tok)
	now := opts.At
	if now.IsZero() {
		now = s.Time()
	}
	info, expires := RequestInfoFrom(ctx), now.Add(s.Lifetime)
	var id int
	err := retry(func() (err error) {
		id, err = authdb.InsertSession(ctx, client, authdb.Session{
			TokenHash: hash, UserID: userID, Method: method, At: now, ExpiresAt: expires,
			IP: info.IP, Agent: info.UserAgent, IDToken: opts.IDToken, RefreshToken: opts.RefreshToken,
			RevalidateAt: opts.RevalidateAt, SID: opts.SID,
		})
		return err
	})
	if err != nil {
		return Started{}, fmt.Errorf("auth: create session: %w", err)
	}
	if !opts.LoginRecorded {
		if err := retry(func() error { return authdb.RecordLogin(ctx, client, userID, now) }); err != nil {
			return Started{}, err
		}
	}
	return Started{ID: id, Token: tok, ExpiresAt: expires}, nil
}

// Token is the session token r's cookie carries, or "".
func (s *Sessions) Token(r *http.Request) string {
	if c, err := r.Cookie(s.CookieName()); err == nil {
		return c.Value
	}
	return ""
}

// SetCookie gives the browser of r the cookie of a session Start made.
func (s *Sessions) SetCookie(w http.ResponseWriter, r *http.Request, started Started) {
	http.SetCookie(w, s.cookie(r, started.Token, started.ExpiresAt))
}

// cookie is the session cookie for r: Secure when the public URL is https (the cookie's name
// then has the __Host- prefix) and also when the browser reached the server over https
// (web.IsHTTPS: TLS, or a trusted proxy's word). While the community may be embedded (the
// admin's embed origins, [EmbedOrigins]) it is SameSite=None, Secure and Partitioned (CHIPS):
// a framed page on another site keeps it, in a jar of that site's own.
func (s *Sessions) cookie(r *http.Request, value string, expires time.Time) *http.Cookie {
	c := s.cookieFor(r, len(EmbedOrigins(r)) > 0)
	c.Value = value
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// cookieFor is the session cookie without value and lifetime, for embedding or not.
func (s *Sessions) cookieFor(r *http.Request, embedded bool) *http.Cookie {
	c := &http.Cookie{
		Name:     s.CookieName(),
		Path:     "/",
		HttpOnly: true,
		Secure:   s.Secure || web.IsHTTPS(r),
		SameSite: http.SameSiteLaxMode,
	}
	if embedded {
		CrossSite(c)
	}
	return c
}

// Clear removes the session cookie from the browser of r, with the attributes it was set with.
// A browser keeps a partitioned and an unpartitioned cookie of one name apart, so while the
// community may be embedded the unpartitioned one (set before embedding was turned on) is
// removed too.
func (s *Sessions) Clear(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookie(r, "", time.Time{}))
	if len(EmbedOrigins(r)) > 0 {
		c := s.cookieFor(r, false)
		c.MaxAge = -1
		http.SetCookie(w, c)
	}
}

// BearerToken is the token of r's `Authorization: Bearer` header, "" when r has none or the
// header is not a bearer token.
func BearerToken(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// Lookup finds the viewer of r: a session cookie, or an `Authorization: Bearer` token, which
// is an app's session token (SessionTokenPrefix) or an API token (APITokenPrefix). When r has an
// Authorization header its cookie is not read. It returns ErrNoSession for an unknown, expired
// or revoked token and for a suspended user.
func (s *Sessions) Lookup(ctx context.Context, r *http.Request) (*Viewer, error) {
	if r.Header.Get("Authorization") != "" {
		tok := BearerToken(r)
		switch {
		case tok == "" || len(tok) > maxTokenLength:
			return nil, ErrNoSession
		case strings.HasPrefix(tok, SessionTokenPrefix):
			return s.lookupSession(ctx, tok)
		}
		return s.lookupAPIToken(ctx, tok)
	}
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" || len(c.Value) > maxTokenLength {
		return nil, ErrNoSession
	}
	return s.lookupSession(ctx, c.Value)
}

// CrossOrigin guards next with p, the check that refuses cross-site requests riding on the
// browser's session cookie, except for a request that carries an Authorization header and no
// session cookie: its credential is a bearer token (an app's session token or an API token),
// which a browser never sends on its own, so a cross-site request cannot borrow it. Lookup
// reads only the Authorization header of such a request.
func (s *Sessions) CrossOrigin(p *http.CrossOriginProtection, next http.Handler) http.Handler {
	guarded := p.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie(s.CookieName()); err != nil && r.Header.Get("Authorization") != "" {
			next.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func (s *Sessions) lookupSession(ctx context.Context, tok string) (*Viewer, error) {
	sess, err := authdb.SessionByToken(ctx, s.Client, HashToken(tok))
	if err != nil {
		return nil, fmt.Errorf("auth: look up session: %w", err)
	}
	if sess == nil {
		return nil, ErrNoSession
	}
	now := s.Time()
	if !now.Before(sess.ExpiresAt) || sess.Edges.User.Status != user.StatusACTIVE {
		return nil, ErrNoSession
	}
	if s.Revalidator != nil && sess.RevalidateAt != nil && !now.Before(*sess.RevalidateAt) {
		if !s.Revalidator.Revalidate(ctx, sess) {
			return nil, ErrNoSession
		}
		// A revalidation re-applies what the provider says (role, profile): this request sees it.
		u, err := authdb.Member(ctx, s.Client, sess.UserID)
		if err != nil {
			return nil, fmt.Errorf("auth: look up session: %w", err)
		}
		if u == nil || u.Status != user.StatusACTIVE {
			return nil, ErrNoSession
		}
		sess.Edges.User = u
	}
	if now.Sub(sess.LastSeenAt) >= seenEvery {
		// Sliding expiry, written at most once a minute.
		// A touch that lost a lock conflict lost it to another write of the row (another
		// request's touch, on Galera perhaps on another node): the session stays valid.
		if err := authdb.TouchSession(ctx, s.Client, sess, now, now.Add(s.Lifetime)); err != nil && !ent.IsNotFound(err) && !store.IsDeadlock(err) {
			return nil, fmt.Errorf("auth: touch session: %w", err)
		}
	}
	return &Viewer{User: sess.Edges.User, Session: sess}, nil
}

func (s *Sessions) lookupAPIToken(ctx context.Context, tok string) (*Viewer, error) {
	if !strings.HasPrefix(tok, APITokenPrefix) {
		return nil, ErrNoSession
	}
	t, err := authdb.APITokenByToken(ctx, s.Client, HashToken(tok))
	if err != nil {
		return nil, fmt.Errorf("auth: look up api token: %w", err)
	}
	if t == nil {
		return nil, ErrNoSession
	}
	now := s.Time()
	if (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) || t.Edges.User.Status != user.StatusACTIVE {
		return nil, ErrNoSession
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= seenEvery {
		if err := authdb.TouchAPIToken(ctx, s.Client, t, now); err != nil && !ent.IsNotFound(err) && !store.IsDeadlock(err) {
			return nil, fmt.Errorf("auth: touch api token: %w", err)
		}
	}
	return &Viewer{User: t.Edges.User, APIToken: t}, nil
}

// End deletes the session r carries, if any, and clears the cookie. It returns the ended session.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) (*ent.Session, error) {
	s.Clear(w, r)
	c, err := r.Cookie(s.CookieName())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	sess, err := authdb.TakeSession(ctx, s.Client, HashToken(c.Value))
	if err != nil {
		return nil, fmt.Errorf("auth: end session: %w", err)
	}
	return sess, nil
}

// EndBearer deletes the session of r's bearer token (SessionTokenPrefix), if there is one, and
// returns it. It leaves the cookie alone: an app's logout ends the app's session only.
func (s *Sessions) EndBearer(ctx context.Context, r *http.Request) (*ent.Session, error) {
	tok := BearerToken(r)
	if !strings.HasPrefix(tok, SessionTokenPrefix) {
		return nil, nil
	}
	sess, err := authdb.TakeSession(ctx, s.Client, HashToken(tok))
	if err != nil {
		return nil, fmt.Errorf("auth: end session: %w", err)
	}
	return sess, nil
}

// RevokeUser ends every session of a user and returns how many there were.
func RevokeUser(ctx context.Context, client *ent.Client, userID int) (int, error) {
	n, err := authdb.EndMemberSessions(ctx, client, userID)
	if err != nil {
		return 0, fmt.Errorf("auth: revoke sessions: %w", err)
	}
	return n, nil
}

// NewAPIToken creates an API token for u and returns the token itself (shown once) and its record.
func NewAPIToken(ctx context.Context, client *ent.Client, u *ent.User, name string, expiresAt *time.Time) (string, *ent.APIToken, error) {
	tok, _ := NewToken()
	tok = APITokenPrefix + tok
	t, err := client.APIToken.Create().
		SetName(name).
		SetTokenHash(HashToken(tok)).
		SetUserID(u.ID).
		SetNillableExpiresAt(expiresAt).
		Save(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("auth: create api token: %w", err)
	}
	return tok, t, nil
}
