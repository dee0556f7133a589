package oauth2sso

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/seal"
)

// PurposeFlow is the seal purpose of the flow cookie.
const PurposeFlow = "cookie:oauth2-flow"

// FlowLifetime is how long a member has at the provider before the flow cookie expires.
const FlowLifetime = 10 * time.Minute

// Flow cookie names: the __Host- prefix when the public URL is https.
const (
	flowCookie       = "community_oauth2_flow"
	secureFlowCookie = "__Host-community_oauth2_flow"
)

// maxFlowCookie bounds the cookie a callback reads before opening it.
const maxFlowCookie = 3000

// errFlow is every reason a flow cookie is refused: missing, tampered, expired, too large.
var errFlow = errors.New("oauth2sso: no valid flow cookie")

// flow is the state of one login between /auth/oauth2/login and the callback. It lives only in
// the sealed cookie.
type flow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Test     bool   `json:"t,omitempty"`
	Expires  int64  `json:"e"`
}

// randomString is 256 random bits, base64url.
func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Errorf("oauth2sso: random: %w", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sealFlow returns the cookie value of f.
func sealFlow(s *seal.Sealer, f flow) string {
	b, err := json.Marshal(f)
	if err != nil {
		panic(fmt.Errorf("oauth2sso: encode flow: %w", err))
	}
	return base64.RawURLEncoding.EncodeToString(s.Seal(PurposeFlow, b))
}

// openFlow reads a cookie value: it must be sealed by this community's key for this purpose and
// not expired at now.
func openFlow(s *seal.Sealer, value string, now time.Time) (flow, error) {
	var f flow
	if value == "" || len(value) > maxFlowCookie {
		return f, errFlow
	}
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return f, errFlow
	}
	b, err := s.Open(PurposeFlow, raw)
	if err != nil {
		return f, errFlow
	}
	if err := json.Unmarshal(b, &f); err != nil || f.State == "" || f.Verifier == "" {
		return f, errFlow
	}
	if !now.Before(time.Unix(f.Expires, 0)) {
		return f, errFlow
	}
	return f, nil
}

// sameState compares the callback's state with the cookie's in constant time.
func sameState(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func flowCookieName(secure bool) string {
	if secure {
		return secureFlowCookie
	}
	return flowCookie
}

// newFlowCookie is the flow cookie, named for secure (the public URL is https) and Secure also
// when https (the browser reached the server over https). framed (the flow runs inside a frame
// while the community may be embedded, see framed) makes it SameSite=None, Secure and
// Partitioned, so that the framed callback gets it back.
func newFlowCookie(secure, https, framed bool, value string, maxAge int) *http.Cookie {
	c := &http.Cookie{
		Name:     flowCookieName(secure),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   secure || https,
		SameSite: http.SameSiteLaxMode,
	}
	if framed {
		auth.CrossSite(c)
	}
	return c
}

// framed reports whether r is a navigation inside a frame while the community may be embedded:
// the flow's start and its callback both are, so the callback clears the cookie the start set.
func framed(r *http.Request) bool {
	return auth.InFrame(r) && len(auth.EmbedOrigins(r)) > 0
}
