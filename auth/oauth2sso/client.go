package oauth2sso

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/config"
)

// Limits of requests to providers (DefaultTimeout is IDP_TIMEOUT's default).
const (
	DefaultTimeout        = config.DefaultIdPTimeout
	DefaultConnectTimeout = 5 * time.Second
	MaxResponseBytes      = 1 << 20
)

// ErrResponseTooLarge is returned when a provider's answer exceeds MaxResponseBytes.
var ErrResponseTooLarge = errors.New("oauth2sso: provider response too large")

// HTTPClient is the one client for every request to the provider: discovery, key sets, token
// and user info. It bounds the time (connect and total) and the size of every answer.
type HTTPClient struct {
	c *http.Client
}

// NewHTTPClient wraps base (nil: a new transport with DefaultConnectTimeout) so that every
// response body is limited to MaxResponseBytes and every request to timeout (0: DefaultTimeout).
func NewHTTPClient(base *http.Client, timeout time.Duration) *HTTPClient {
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	var rt http.RoundTripper
	if base != nil && base.Transport != nil {
		rt = base.Transport
	} else {
		dialer := &net.Dialer{Timeout: DefaultConnectTimeout, KeepAlive: 30 * time.Second}
		rt = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   DefaultConnectTimeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	return &HTTPClient{c: &http.Client{
		Transport: limitedTransport{rt},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("oauth2sso: too many redirects")
			}
			return nil
		},
	}}
}

// Client is the underlying *http.Client.
func (c *HTTPClient) Client() *http.Client { return c.c }

// Context returns ctx carrying the client for x/oauth2 and go-oidc.
func (c *HTTPClient) Context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, c.c)
}

type limitedTransport struct{ rt http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the limit from a longer one.
		var one [1]byte
		if n, _ := b.rc.Read(one[:]); n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// getJSON GETs url with the access token and decodes a JSON object, numbers kept exact.
func (c *HTTPClient) getJSON(ctx context.Context, url, accessToken string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("oauth2sso: user info request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := c.c.Do(req)
	if err != nil {
		return nil, providerError("user info", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, providerError("user info", err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("oauth2sso: user info: status %d", resp.StatusCode)
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
			return nil, &auth.SSOError{Code: auth.CodeIDPUnavailable, Message: "The sign-in provider did not answer.", Err: err}
		}
		return nil, &auth.SSOError{Code: auth.CodeIDPError, Message: "The sign-in provider refused to share your profile.", Err: err}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, &auth.SSOError{Code: auth.CodeIDPError, Message: "The sign-in provider's profile answer is not JSON.", Err: fmt.Errorf("oauth2sso: user info content type %q", mt)}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, &auth.SSOError{Code: auth.CodeIDPError, Message: "The sign-in provider's profile answer is not a JSON object.", Err: fmt.Errorf("oauth2sso: decode user info: %v", err)}
	}
	return m, nil
}

// providerError turns a failed request to the provider into an SSO error: a provider that
// cannot be reached, is too slow or answers 5xx is IDP_UNAVAILABLE; one that answers with
// nonsense or refuses is IDP_ERROR.
func providerError(step string, err error) *auth.SSOError {
	wrapped := fmt.Errorf("oauth2sso: %s: %w", step, err)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && (re.Response.StatusCode >= 500 || re.Response.StatusCode == http.StatusTooManyRequests) {
			return &auth.SSOError{Code: auth.CodeIDPUnavailable, Message: "The sign-in provider did not answer.", Err: wrapped}
		}
		e := &auth.SSOError{Code: auth.CodeIDPError, Message: "The sign-in provider refused the sign-in.", Err: wrapped}
		if re.ErrorCode != "" {
			e.Detail = map[string]any{"idpError": safeCode(re.ErrorCode)}
		}
		return e
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &auth.SSOError{Code: auth.CodeIDPUnavailable, Message: "The sign-in provider did not answer in time.", Err: wrapped}
	}
	var oe *net.OpError
	var de *net.DNSError
	if errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &auth.SSOError{Code: auth.CodeIDPUnavailable, Message: "The sign-in provider could not be reached.", Err: wrapped}
	}
	// go-oidc reports a failed discovery as "<status>: <body>".
	if s := err.Error(); len(s) > 3 && s[0] == '5' && s[1] >= '0' && s[1] <= '9' && s[3] == ' ' {
		return &auth.SSOError{Code: auth.CodeIDPUnavailable, Message: "The sign-in provider did not answer.", Err: wrapped}
	}
	return &auth.SSOError{Code: auth.CodeIDPError, Message: "The sign-in provider answered in a way the community does not understand.", Err: wrapped}
}

// safeCode keeps an OAuth2 error code printable and short: it comes from outside.
func safeCode(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, s)
}

// IsKeyFetchError reports whether err, from go-oidc's remote key set, says the key set could not
// be fetched (go-oidc has no error type for it; its message says "fetching keys").
func IsKeyFetchError(err error) bool {
	return err != nil && strings.Contains(err.Error(), "fetching keys")
}

// KeySetRefreshInterval is the least time between two fetches of a provider's key set.
const KeySetRefreshInterval = 30 * time.Second

// keySetTransport lets the provider's key set (url) be fetched at most once per
// KeySetRefreshInterval. go-oidc fetches the key set again for every token that the keys it holds
// do not verify (an unknown kid, or a forged signature), and the back-channel logout route takes
// tokens from anyone: without a bound, each forged token would make the server fetch the
// provider's keys. Between fetches the last answer is served again, so a token signed with a
// key the provider published less than KeySetRefreshInterval after the last fetch is refused
// until the next one. Other requests pass through.
type keySetTransport struct {
	url  string
	next http.RoundTripper
	now  func() time.Time

	mu     sync.Mutex // held during a fetch: concurrent ones wait for it
	at     time.Time
	header http.Header
	body   []byte
}

func (t *keySetTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || req.URL.String() != t.url {
		return t.next.RoundTrip(req)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.body != nil && t.now().Sub(t.at) < KeySetRefreshInterval {
		return t.answer(req), nil
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	t.at, t.header, t.body = t.now(), resp.Header.Clone(), trustedKeys(body)
	return t.answer(req), nil
}

// trustedKeys is the key set body without the keys the server does not verify signatures with:
// symmetric keys, private keys (published, they sign for anyone), keys for encryption (use
// "enc"), RSA keys under auth.MinRSABits bits, EC keys on a curve other than P-256, P-384 or
// P-521, and keys it cannot read (RFC 7517 section 5: a set's keys that are not understood are
// ignored). A body that is not a key set is kept as it is, for go-oidc to refuse.
func trustedKeys(body []byte) []byte {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || set.Keys == nil {
		return body
	}
	kept := make([]json.RawMessage, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err == nil && trustedKey(k) {
			kept = append(kept, raw)
		}
	}
	if len(kept) == len(set.Keys) {
		return body
	}
	set.Keys = kept
	out, err := json.Marshal(set)
	if err != nil {
		return body
	}
	return out
}

// trustedKey reports whether the server verifies signatures with k (trustedKeys).
func trustedKey(k jose.JSONWebKey) bool {
	if k.Use == "enc" {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return key.N.BitLen() >= auth.MinRSABits
	case *ecdsa.PublicKey:
		return key.Curve == elliptic.P256() || key.Curve == elliptic.P384() || key.Curve == elliptic.P521()
	case ed25519.PublicKey:
		return true
	}
	return false
}

// KeySetClient is c for fetching the key set at url: its fetches bounded to one per
// KeySetRefreshInterval (keySetTransport), every other rule of c kept. now is the clock (nil:
// time.Now).
func (c *HTTPClient) KeySetClient(url string, now func() time.Time) *http.Client {
	if now == nil {
		now = time.Now
	}
	return &http.Client{
		Transport: &keySetTransport{url: url, next: c.c.Transport, now: now},
		Timeout:   c.c.Timeout, CheckRedirect: c.c.CheckRedirect,
	}
}

// NewRemoteKeySet is go-oidc's key set of url (cached; fetched again for a key it does not
// hold) fetched with KeySetClient.
func (c *HTTPClient) NewRemoteKeySet(url string, now func() time.Time) *oidc.RemoteKeySet {
	return oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), c.KeySetClient(url, now)), url)
}

// answer is the last key set fetched, as an answer to req. Its length is the kept body's, which
// trustedKeys may have shortened, not the provider's Content-Length.
func (t *keySetTransport) answer(req *http.Request) *http.Response {
	header := t.header.Clone()
	header.Del("Content-Length")
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: header, Body: io.NopCloser(bytes.NewReader(t.body)), ContentLength: int64(len(t.body)),
		Request: req,
	}
}
