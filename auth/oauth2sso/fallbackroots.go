//go:build fallbackroots

package oauth2sso

// Trusted roots for the calls to identity providers where the system has none, as in the
// container image (Containerfile builds with -tags fallbackroots): x509.SetFallbackRoots, used
// only without system roots. Other builds leave them out: the package parses its bundle at
// start, 0.7 MB of heap that a host with its own roots never uses.
import _ "golang.org/x/crypto/x509roots/fallback"
