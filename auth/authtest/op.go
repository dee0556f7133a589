package authtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	opstorage "github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/community/sso/auth/web/webtest"
)

// opUsers are the members of the test OpenID Provider: id → user. Passwords are all "verysecure".
// Each provider serves its own copy (OP.EditUser changes it).
var opUsers = map[string]*opstorage.User{
	"op-alice": {ID: "op-alice", Username: "alice", Password: "verysecure", FirstName: "Alice", LastName: "Anders", Email: "alice@example.com", EmailVerified: true, PreferredLanguage: language.English},
	"op-bob":   {ID: "op-bob", Username: "bob", Password: "verysecure", FirstName: "Bob", LastName: "Brown", Email: "bob@example.com", EmailVerified: false, PreferredLanguage: language.English},
}

// opUserStore is one provider's members, the extra claims its user info gives each, and the
// session ids (sid) its id_tokens named for each.
type opUserStore struct {
	mu     sync.Mutex
	users  map[string]opstorage.User
	claims map[string]map[string]any
	sids   map[string][]string
}

func newOPUserStore() *opUserStore {
	s := &opUserStore{users: map[string]opstorage.User{}, claims: map[string]map[string]any{}, sids: map[string][]string{}}
	for id, u := range opUsers {
		s.users[id] = *u
	}
	return s
}

func (s *opUserStore) GetUserByID(id string) *opstorage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return nil
	}
	return &u
}

func (s *opUserStore) GetUserByUsername(name string) *opstorage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Username == name {
			return &u
		}
	}
	return nil
}

func (*opUserStore) ExampleClientID() string { return "community" }

func (s *opUserStore) extraClaims(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.claims[id])
}

// opStorage is the example storage whose user info also carries the store's extra claims.
type opStorage struct {
	*opstorage.Storage
	users *opUserStore
}

func (s opStorage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, info, tokenID, subject, origin); err != nil {
		return err
	}
	for k, v := range s.users.extraClaims(info.Subject) {
		info.AppendClaims(k, v)
	}
	return nil
}

// SetUserinfoFromRequest adds to an id_token the provider's session id (sid), as providers that
// support back-channel logout do: one per sign-in of a member at the provider (its subject and
// authentication time), the same in the id_tokens of its refreshes.
func (s opStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, req, scopes); err != nil {
		return err
	}
	h := sha256.Sum256([]byte(req.GetSubject() + "\x00" + req.GetAuthTime().UTC().Format(time.RFC3339Nano)))
	sid := "sid-" + hex.EncodeToString(h[:12])
	info.AppendClaims("sid", sid)
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	if ids := s.users.sids[req.GetSubject()]; len(ids) == 0 || ids[len(ids)-1] != sid {
		s.users.sids[req.GetSubject()] = append(ids, sid)
	}
	return nil
}

// OP is a real OpenID Provider (zitadel's OpenID Certified OP package, its example storage
// and login UI) on an HTTPS test server.
type OP struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Server       *httptest.Server
	Storage      *opstorage.Storage
	users        *opUserStore
	// TokenFailures, while positive, makes the token endpoint answer 503 (and counts down).
	TokenFailures atomic.Int32
	// KeySetFetches counts the requests for the provider's key set (its jwks_uri).
	KeySetFetches atomic.Int32

	mu      sync.Mutex
	handler http.Handler
}

// StartOP starts the provider on HTTPS; Register adds the relying party's redirect URI once it
// is known.
func StartOP(t testing.TB) *OP { return StartOPWith(t, true) }

// StartOPWith starts the provider, on HTTPS or on plain HTTP (a browser without the test's
// certificate; the community allows http only for loopback providers).
func StartOPWith(t testing.TB, useTLS bool) *OP {
	t.Helper()
	op := &OP{ClientID: "community-web", ClientSecret: "op-client-secret", users: newOPUserStore()}
	op.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			op.KeySetFetches.Add(1)
		}
		if r.URL.Path == "/oauth/token" && op.TokenFailures.Load() > 0 {
			op.TokenFailures.Add(-1)
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
		op.mu.Lock()
		h := op.handler
		op.mu.Unlock()
		if h == nil {
			http.Error(w, "provider not ready", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	if useTLS {
		op.Server.StartTLS()
	} else {
		op.Server.Start()
	}
	t.Cleanup(op.Server.Close)
	op.Issuer = op.Server.URL
	return op
}

// Register creates the provider's storage with one web client whose redirect URI is
// publicURL/auth/oauth2/callback.
func (op *OP) Register(publicURL string) {
	op.Storage = opstorage.NewStorageWithClients(op.users, map[string]*opstorage.Client{
		op.ClientID: opstorage.WebClient(op.ClientID, op.ClientSecret, publicURL+"/auth/oauth2/callback"),
	})
	h := exampleop.SetupServer(op.Issuer, opStorage{op.Storage, op.users}, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
	op.mu.Lock()
	op.handler = h
	op.mu.Unlock()
}

// EditUser changes a member at the provider: what its next tokens and user info say.
func (op *OP) EditUser(id string, edit func(*opstorage.User)) {
	op.users.mu.Lock()
	defer op.users.mu.Unlock()
	u := op.users.users[id]
	edit(&u)
	op.users.users[id] = u
}

// SetClaims sets the extra claims the provider's user info gives a member (nil values are sent
// as null).
func (op *OP) SetClaims(id string, claims map[string]any) {
	op.users.mu.Lock()
	defer op.users.mu.Unlock()
	op.users.claims[id] = claims
}

// SessionIDs are the session ids (sid) the provider's id_tokens named for the member id, one per
// sign-in at the provider, oldest first.
func (op *OP) SessionIDs(id string) []string {
	op.users.mu.Lock()
	defer op.users.mu.Unlock()
	return append([]string(nil), op.users.sids[id]...)
}

// LogoutClaims are the claims of a valid back-channel logout token from the provider (OpenID
// Connect Back-Channel Logout 1.0), issued now with a new jti and naming nobody yet; over changes
// them (nil deletes a claim), e.g. {"sid": sid} or {"sub": "op-alice"}.
func (op *OP) LogoutClaims(over map[string]any) map[string]any {
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	now := time.Now()
	c := map[string]any{
		"iss": op.Issuer, "aud": op.ClientID, "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
		"jti":    hex.EncodeToString(jti),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	Override(c, over)
	return c
}

// SignLogout signs claims with the provider's own signing key (the one its key set publishes),
// typed logout+jwt, as the provider signs the logout tokens it sends. The provider must be
// registered (Register).
func (op *OP) SignLogout(t testing.TB, claims map[string]any) string {
	t.Helper()
	key, err := op.Storage.SigningKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return SignJWS(t, jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()}},
		claims, map[jose.HeaderKey]any{"typ": "logout+jwt"})
}

// BackchannelPost posts body, of type contentType (none when empty), to the back-channel logout
// endpoint as a provider's server does: no cookie, no Origin, no Sec-Fetch-Site.
func (a *App) BackchannelPost(contentType, body string) webtest.Response {
	a.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/auth/oauth2/backchannel-logout", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return a.Do(&http.Client{}, req)
}

// BackchannelLogout posts the logout token as the provider's server does.
func (a *App) BackchannelLogout(token string) webtest.Response {
	a.T.Helper()
	return a.BackchannelPost("application/x-www-form-urlencoded", url.Values{"logout_token": {token}}.Encode())
}

// Domain is the provider's host:port, as an admin enters it for a preset provider.
func (op *OP) Domain() string { return strings.TrimPrefix(op.Issuer, "https://") }

// Member is a browser trusting the provider's certificate.
func (op *OP) Member(t testing.TB) *http.Client {
	t.Helper()
	c := webtest.Browser(t)
	c.Transport = op.Server.Client().Transport
	return c
}

// SignIn follows a login that starts at start (a URL of the community) through the provider's
// login form as username, and returns the community's answer to the callback.
func (op *OP) SignIn(t testing.TB, c *http.Client, start, username, password string) *http.Response {
	t.Helper()
	cb, err := c.Get(op.ToCallback(t, c, start, username, password))
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// ToCallback follows a login from start through the provider's login form as username, up to
// the redirect back to the community, and returns that callback URL unvisited.
func (op *OP) ToCallback(t testing.TB, c *http.Client, start, username, password string) string {
	t.Helper()
	next := start
	for range 12 {
		resp, err := c.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if strings.HasPrefix(next, op.Issuer) && resp.StatusCode == http.StatusOK && strings.Contains(next, "/login/username") {
			// The provider's login form.
			u, _ := url.Parse(next)
			id := u.Query().Get("authRequestID")
			post, err := c.PostForm(op.Issuer+"/login/username", url.Values{"username": {username}, "password": {password}, "id": {id}})
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, post.Body)
			post.Body.Close()
			if post.StatusCode != http.StatusFound {
				t.Fatalf("provider login as %s: %d", username, post.StatusCode)
			}
			next = resolve(t, next, post.Header.Get("Location"))
			continue
		}
		if resp.StatusCode < 300 || resp.StatusCode >= 400 {
			t.Fatalf("GET %s: unexpected %d", next, resp.StatusCode)
		}
		loc := resolve(t, next, resp.Header.Get("Location"))
		if strings.Contains(loc, "/auth/oauth2/callback") {
			return loc
		}
		next = loc
	}
	t.Fatalf("login from %s did not reach the callback", start)
	return ""
}

func resolve(t testing.TB, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := b.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r.String()
}

// Revoke revokes a refresh token at the provider's revocation endpoint, as the provider's
// admin ending the member's grant would.
func (op *OP) Revoke(t testing.TB, token string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, op.Issuer+"/revoke",
		strings.NewReader(url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(op.ClientID, op.ClientSecret)
	resp, err := op.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at provider: %d", resp.StatusCode)
	}
}
