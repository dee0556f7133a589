package jwtsso

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/oauth2sso"
	"github.com/community/sso/ent"
)

// Limits of the pasted public keys (the setting jwt_public_keys).
const (
	MaxPublicKeys      = 10
	MaxPublicKeyLength = 16384
)

// ErrPublicKey is returned for a public key the settings cannot take.
var ErrPublicKey = errors.New("jwtsso: public key")

// asymmetric are the algorithms a public key verifies, for any key type.
var asymmetric = []string{"RS256", "PS256", "ES256", "EdDSA"}

// secretMethods is the one algorithm the secret verifies.
var secretMethods = []string{jwt.SigningMethodHS256.Alg()}

// publicKey is a parsed public key: the algorithms its type verifies, never more.
type publicKey struct {
	kid     string
	key     crypto.PublicKey
	methods []string
}

// ParsePublicKey reads a public key as the settings take it: a PEM block "PUBLIC KEY" (SPKI)
// or "RSA PUBLIC KEY" (PKCS #1), or a JWK JSON object of a public key. RSA keys (at least
// auth.MinRSABits) verify RS256 and PS256, EC P-256 keys ES256, Ed25519 keys EdDSA; nothing else is
// taken (no private key, no certificate, no symmetric key). kid is the JWK's kid, "" for PEM.
func ParsePublicKey(s string) (kid string, methods []string, err error) {
	k, err := parsePublicKey(s)
	if err != nil {
		return "", nil, err
	}
	return k.kid, k.methods, nil
}

func parsePublicKey(s string) (*publicKey, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxPublicKeyLength {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrPublicKey, MaxPublicKeyLength)
	}
	var kid, alg string
	var key any
	if strings.HasPrefix(s, "{") {
		var jwk jose.JSONWebKey
		if err := json.Unmarshal([]byte(s), &jwk); err != nil {
			return nil, fmt.Errorf("%w: not a JWK: %v", ErrPublicKey, err)
		}
		if !jwk.Valid() || !jwk.IsPublic() {
			return nil, fmt.Errorf("%w: the JWK is not a public key", ErrPublicKey)
		}
		kid, key, alg = jwk.KeyID, jwk.Key, jwk.Algorithm
	} else {
		block, rest := pem.Decode([]byte(s))
		if block == nil || strings.TrimSpace(string(rest)) != "" {
			return nil, fmt.Errorf("%w: not one PEM block or JWK", ErrPublicKey)
		}
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			return nil, fmt.Errorf("%w: a PEM %q block is not a public key (give PUBLIC KEY or RSA PUBLIC KEY)", ErrPublicKey, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrPublicKey, err)
		}
	}
	k, err := typedKey(kid, key)
	if err != nil || alg == "" {
		return k, err
	}
	// A JWK that names its algorithm verifies that one alone.
	if !slices.Contains(k.methods, alg) {
		return nil, fmt.Errorf("%w: the JWK's alg %q is not one its key type verifies (%s)", ErrPublicKey, alg, strings.Join(k.methods, ", "))
	}
	k.methods = []string{alg}
	return k, nil
}

// typedKey is key with the algorithms its type verifies.
func typedKey(kid string, key any) (*publicKey, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < auth.MinRSABits {
			return nil, fmt.Errorf("%w: an RSA key needs at least %d bits", ErrPublicKey, auth.MinRSABits)
		}
		return &publicKey{kid: kid, key: k, methods: []string{"RS256", "PS256"}}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: an EC key must be on P-256 (ES256)", ErrPublicKey)
		}
		return &publicKey{kid: kid, key: k, methods: []string{"ES256"}}, nil
	case ed25519.PublicKey:
		return &publicKey{kid: kid, key: k, methods: []string{"EdDSA"}}, nil
	default:
		return nil, fmt.Errorf("%w: %T keys are not taken (RSA, EC P-256 or Ed25519)", ErrPublicKey, key)
	}
}

// keyName is how a pasted key is named (Token.Key): its kid, or its place in the list.
func (k *publicKey) name(i int) string {
	if k.kid != "" {
		return k.kid
	}
	return "public key " + strconv.Itoa(i+1)
}

// keyMemo keeps the public keys parsed, so that a login does not parse PEM or JSON again: its
// entries are the settings' own strings, dropped all at once when they grow past a bound.
type keyMemo struct {
	mu   sync.Mutex
	keys map[string]*publicKey
}

func (m *keyMemo) get(s string) (*publicKey, error) {
	m.mu.Lock()
	k, ok := m.keys[s]
	m.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := parsePublicKey(s)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.keys == nil || len(m.keys) >= 4*MaxPublicKeys {
		m.keys = map[string]*publicKey{}
	}
	m.keys[s] = k
	m.mu.Unlock()
	return k, nil
}

// verifies reports whether k may verify a token of algorithm alg with key id kid: its type
// verifies alg, and the kid names k (named: the kid names one of the keys), or the kid names
// none of the keys and k has none, or the token has none.
func (k *publicKey) verifies(alg, kid string, named bool) bool {
	switch {
	case named && k.kid != kid:
		return false
	case !named && kid != "" && k.kid != "":
		return false
	}
	return slices.Contains(k.methods, alg)
}

// unverified decodes a token's header and its claims (numbers exact) once, before any key is
// chosen: the header's alg and kid choose the keys to try, and each key checks the signature of
// that one decoding (verifySignature). Nothing it decodes is trusted before a key verified it.
var unverified = jwt.NewParser(jwt.WithJSONNumber())

// KeySetKey names a key of the key set (jwksUrl) that verified a token without a kid.
const KeySetKey = "key set"

// verifySignature finds the key that verifies the token, and returns its claims (not yet
// validated) and the key's name (Token.Key). The token's alg only chooses which keys to try;
// each key verifies the algorithms of its own type (WithValidMethods per key, go-jose's key
// types for the key set): HS256 the secret (and the previous one in a rotation's grace
// period), RS256 and PS256 an RSA key, ES256 an EC P-256 key, EdDSA an Ed25519 key; any other
// alg, none included, no key. A key set that cannot be fetched is IDP_UNAVAILABLE.
func (v *Verifier) verifySignature(ctx context.Context, tokenString string, st *ent.Settings, now time.Time) (jwt.MapClaims, string, error) {
	claims := jwt.MapClaims{}
	tok, parts, err := unverified.ParseUnverified(tokenString, claims)
	var alg string
	if tok != nil {
		alg, _ = tok.Header["alg"].(string)
	}
	invalid := func() error {
		return fmt.Errorf("jwtsso: no key verifies a token of algorithm %q: %w", alg, jwt.ErrTokenSignatureInvalid)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, "", invalid() // no alg, or one golang-jwt does not know: no key
	case err != nil:
		return nil, "", err
	}
	kid, _ := tok.Header["kid"].(string)
	signed := tokenString[:len(parts[0])+1+len(parts[1])]
	// verify checks the signature with key, which verifies the algorithms methods only (as
	// golang-jwt's WithValidMethods).
	verify := func(methods []string, key any) error {
		if !slices.Contains(methods, alg) {
			return fmt.Errorf("jwtsso: signing method %s is invalid for this key: %w", alg, jwt.ErrTokenSignatureInvalid)
		}
		if err := tok.Method.Verify(signed, tok.Signature, key); err != nil {
			return fmt.Errorf("jwtsso: %w: %w", jwt.ErrTokenSignatureInvalid, err)
		}
		return nil
	}
	// open unseals a stored secret; one that does not open with this SECRET_KEY disables JWT SSO.
	open := func(sealed []byte) ([]byte, error) {
		secret, err := v.Sealer.Open(PurposeSecret, sealed)
		if err != nil {
			return nil, &auth.SSOError{Code: auth.CodeSSODisabled, Message: "JWT sign-in is not set up correctly.", Err: err}
		}
		return secret, nil
	}
	switch {
	case alg == jwt.SigningMethodHS256.Alg():
		if len(st.JwtSecret) == 0 {
			return nil, "", invalid()
		}
		secret, err := open(st.JwtSecret)
		if err != nil {
			return nil, "", err
		}
		err = verify(secretMethods, secret)
		if err != nil && PreviousSecretExpiry(st, now) != nil {
			// Inside a rotation's grace period the secret it replaced still signs in.
			previous, perr := open(st.JwtPreviousSecret)
			if perr != nil {
				return nil, "", perr
			}
			if verify(secretMethods, previous) == nil {
				return claims, KeyPreviousSecret, nil
			}
		}
		if err != nil {
			return nil, "", err
		}
		return claims, KeySecret, nil
	case slices.Contains(asymmetric, alg):
		keys := make([]*publicKey, len(st.JwtPublicKeys))
		named := false // the token's kid names one of the keys: that one alone is tried
		for i, s := range st.JwtPublicKeys {
			if k, err := v.memo.get(s); err == nil { // keys are checked when saved
				keys[i] = k
				named = named || (kid != "" && k.kid == kid)
			}
		}
		for i, k := range keys {
			if k == nil || !k.verifies(alg, kid, named) {
				continue
			}
			if verify(k.methods, k.key) == nil {
				return claims, k.name(i), nil
			}
		}
		if st.JwtJwksURL != "" {
			return v.verifyWithKeySet(ctx, tokenString, st.JwtJwksURL, kid)
		}
	}
	return nil, "", invalid()
}

// verifyWithKeySet verifies the token with the key set at url (go-oidc's remote key set: the
// keys are kept, and fetched again for a kid it does not hold, at most once per
// oauth2sso.KeySetRefreshInterval).
func (v *Verifier) verifyWithKeySet(ctx context.Context, tokenString, url, kid string) (jwt.MapClaims, string, error) {
	payload, err := v.keySet(url).VerifySignature(ctx, tokenString)
	if err != nil {
		if oauth2sso.IsKeyFetchError(err) || errors.Is(err, context.DeadlineExceeded) {
			return nil, "", &auth.SSOError{Code: auth.CodeIDPUnavailable, Message: "The keys that verify sign-in tokens could not be fetched.", Err: fmt.Errorf("jwtsso: key set: %w", err)}
		}
		return nil, "", fmt.Errorf("jwtsso: key set: %v: %w", err, jwt.ErrTokenSignatureInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	claims := jwt.MapClaims{}
	if err := dec.Decode(&claims); err != nil {
		return nil, "", fmt.Errorf("jwtsso: key set: claims: %v: %w", err, jwt.ErrTokenMalformed)
	}
	if kid == "" {
		kid = KeySetKey
	}
	return claims, kid, nil
}

// keySet is the remote key set of url, made again when the setting changes.
func (v *Verifier) keySet(url string) *oidc.RemoteKeySet {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.jwks == nil || v.jwksURL != url {
		c := v.Client
		if c == nil {
			c = oauth2sso.NewHTTPClient(nil, 0)
		}
		v.jwksURL, v.jwks = url, c.NewRemoteKeySet(url, v.Now)
	}
	return v.jwks
}
