package oauth2sso

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
)

// PurposeClientSecret is the seal purpose of the stored client secret.
const PurposeClientSecret = "setting:oauth2-client-secret"

// DiscoveryTTL is how long a discovery document is trusted before it is fetched again.
const DiscoveryTTL = time.Hour

// memberfulQuery is the GraphQL query of Memberful's member API.
const memberfulQuery = "{currentMember{id email fullName username}}"

// Provider is the community's identity provider, resolved from the settings: presets filled in,
// discovery done.
type Provider struct {
	Kind         settings.Oauth2Provider
	ClientID     string
	ClientSecret string
	AuthURL      string
	TokenURL     string
	UserInfoURL  string
	// Issuer is the OpenID Connect issuer; "" for a plain OAuth2 provider.
	Issuer string
	Scopes []string
	// EndSessionURL is the OIDC end_session_endpoint, when the provider has one.
	EndSessionURL string

	oidc *oidc.Provider
}

// OIDC reports whether the provider issues id_tokens that must be verified.
func (p *Provider) OIDC() bool { return p.oidc != nil }

// Config is the x/oauth2 configuration of the provider for a redirect URL.
func (p *Provider) Config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     p.ClientID,
		ClientSecret: p.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthURL, TokenURL: p.TokenURL},
		RedirectURL:  redirectURL,
		Scopes:       p.Scopes,
	}
}

// preset is what a provider kind fills in from the domain setting.
type preset struct {
	issuer                      string
	authURL, tokenURL, userInfo string
	scopes                      []string
}

// NormalizeDomain turns a provider domain as an admin types it into the stored form: surrounding
// spaces, an https:// prefix (any case) and trailing slashes removed
// ("https://dev-123.okta.com/oauth2/default/" → "dev-123.okta.com/oauth2/default"). Another
// scheme is refused: the presets always use https.
func NormalizeDomain(s string) (string, error) {
	s = strings.TrimSpace(s)
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if !strings.EqualFold(scheme, "https") {
			return "", fmt.Errorf("oauth2sso: the provider is always reached with https, not %q; give the host name, such as dev-123.okta.com", scheme)
		}
		s = rest
	}
	return strings.TrimRight(s, "/"), nil
}

func presetFor(kind settings.Oauth2Provider, domain string) preset {
	d, err := NormalizeDomain(domain)
	if err != nil {
		d = strings.TrimSpace(domain) // the settings refuse such a domain; a stored one fails discovery
	}
	base := "https://" + d
	switch kind {
	case settings.Oauth2ProviderOKTA:
		// The issuer is the domain as given: dev-1.okta.com or dev-1.okta.com/oauth2/default.
		return preset{issuer: base}
	case settings.Oauth2ProviderAUTH0:
		return preset{issuer: base + "/"}
	case settings.Oauth2ProviderOUTSETA:
		return preset{issuer: base, scopes: []string{"openid", "profile", "email", "outseta"}}
	case settings.Oauth2ProviderWORDPRESS:
		// WP OAuth Server.
		return preset{authURL: base + "/oauth/authorize", tokenURL: base + "/oauth/token", userInfo: base + "/oauth/me", scopes: []string{"basic"}}
	case settings.Oauth2ProviderMEMBERFUL:
		return preset{authURL: base + "/oauth", tokenURL: base + "/oauth/token", userInfo: base + "/api/graphql/member?query=" + url.QueryEscape(memberfulQuery)}
	}
	return preset{}
}

// Discovery resolves providers from settings and caches their discovery documents.
type Discovery struct {
	// Client makes every request to providers, discovery and key sets included.
	Client *HTTPClient
	Now    func() time.Time
	TTL    time.Duration

	mu      sync.Mutex
	entries map[string]discovered
}

type discovered struct {
	provider   *oidc.Provider
	endSession string
	scopes     []string
	at         time.Time
}

func (d *Discovery) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Resolve builds the provider of st: the preset of its kind, explicit URLs winning, and the
// discovery document of its issuer. The client secret is unsealed with sealer.
func (d *Discovery) Resolve(ctx context.Context, st *ent.Settings, sealer *seal.Sealer) (*Provider, error) {
	p := &Provider{Kind: st.Oauth2Provider, ClientID: st.Oauth2ClientID}
	if len(st.Oauth2ClientSecret) > 0 {
		secret, err := sealer.Open(PurposeClientSecret, st.Oauth2ClientSecret)
		if err != nil {
			return nil, &auth.SSOError{Code: auth.CodeIDPError, Message: "Single sign-on is not configured correctly.", Err: fmt.Errorf("oauth2sso: open client secret: %w", err)}
		}
		p.ClientSecret = string(secret)
	}
	pre := presetFor(st.Oauth2Provider, st.Oauth2Domain)
	p.Issuer = firstNonEmpty(st.Oauth2Issuer, pre.issuer)
	p.AuthURL = firstNonEmpty(st.Oauth2AuthorizationURL, pre.authURL)
	p.TokenURL = firstNonEmpty(st.Oauth2TokenURL, pre.tokenURL)
	p.UserInfoURL = firstNonEmpty(st.Oauth2UserInfoURL, pre.userInfo)
	p.Scopes = slices.Clone(st.Oauth2Scopes)
	if len(p.Scopes) == 0 {
		p.Scopes = pre.scopes
	}
	if p.Issuer != "" {
		disc, err := d.discover(ctx, p.Issuer)
		if err != nil {
			return nil, err
		}
		p.oidc = disc.provider
		p.EndSessionURL = disc.endSession
		ep := disc.provider.Endpoint()
		p.AuthURL = firstNonEmpty(st.Oauth2AuthorizationURL, ep.AuthURL)
		p.TokenURL = firstNonEmpty(st.Oauth2TokenURL, ep.TokenURL)
		p.UserInfoURL = firstNonEmpty(st.Oauth2UserInfoURL, disc.provider.UserInfoEndpoint())
		if len(p.Scopes) == 0 {
			p.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile}
		}
		if !slices.Contains(p.Scopes, oidc.ScopeOpenID) {
			p.Scopes = append([]string{oidc.ScopeOpenID}, p.Scopes...)
		}
		// Refresh revalidation needs a refresh token, which OIDC providers give for offline_access.
		if st.Oauth2RefreshMinutes > 0 && !slices.Contains(p.Scopes, oidc.ScopeOfflineAccess) &&
			(len(disc.scopes) == 0 || slices.Contains(disc.scopes, oidc.ScopeOfflineAccess)) {
			p.Scopes = append(p.Scopes, oidc.ScopeOfflineAccess)
		}
	}
	if p.AuthURL == "" || p.TokenURL == "" {
		return nil, &auth.SSOError{Code: auth.CodeIDPError, Message: "Single sign-on is not configured correctly.", Err: errors.New("oauth2sso: no authorization or token URL")}
	}
	if !p.OIDC() && p.UserInfoURL == "" {
		return nil, &auth.SSOError{Code: auth.CodeIDPError, Message: "Single sign-on is not configured correctly.", Err: errors.New("oauth2sso: a provider without an issuer needs a user info URL")}
	}
	return p, nil
}

// discover returns the cached discovery of issuer, fetching it when missing or older than TTL.
func (d *Discovery) discover(ctx context.Context, issuer string) (discovered, error) {
	ttl := d.TTL
	if ttl == 0 {
		ttl = DiscoveryTTL
	}
	now := d.now()
	d.mu.Lock()
	e, ok := d.entries[issuer]
	d.mu.Unlock()
	if ok && now.Sub(e.at) < ttl {
		return e, nil
	}
	found, err := oidc.NewProvider(d.Client.Context(ctx), issuer)
	if err != nil {
		return discovered{}, providerError("discovery", err)
	}
	var extra struct {
		EndSession string   `json:"end_session_endpoint"`
		Scopes     []string `json:"scopes_supported"`
		JWKSURL    string   `json:"jwks_uri"`
		Algorithms []string `json:"id_token_signing_alg_values_supported"`
	}
	_ = found.Claims(&extra)
	// The same provider, with a key set whose fetches keySetTransport bounds.
	ep := found.Endpoint()
	cfg := oidc.ProviderConfig{
		IssuerURL: issuer, AuthURL: ep.AuthURL, TokenURL: ep.TokenURL, DeviceAuthURL: ep.DeviceAuthURL,
		UserInfoURL: found.UserInfoEndpoint(), JWKSURL: extra.JWKSURL, Algorithms: extra.Algorithms,
	}
	p := cfg.NewProvider(oidc.ClientContext(context.Background(), d.Client.KeySetClient(extra.JWKSURL, d.now)))
	e = discovered{provider: p, endSession: extra.EndSession, scopes: extra.Scopes, at: now}
	d.mu.Lock()
	if d.entries == nil {
		d.entries = map[string]discovered{}
	}
	d.entries[issuer] = e
	d.mu.Unlock()
	return e, nil
}

// Forget drops the cached discovery of every issuer, so the next login fetches it again.
func (d *Discovery) Forget() {
	d.mu.Lock()
	d.entries = nil
	d.mu.Unlock()
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
