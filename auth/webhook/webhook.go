// Package webhook delivers the community's member events to the webhooks admins register: the
// signing secrets (Standard Webhooks, whsec_…), the endpoint URL rules, the signature, the
// outbound HTTP client that refuses private addresses at connect time, and the Worker that
// claims due rows of the outbox (authdb.ClaimDeliveries) and delivers them with retries.
//
// The outbox rows are written by auth.RecordAll, in the transaction of the change they report.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/community/sso/auth"
)

// PurposeSecret is the seal purpose of a webhook's signing secret.
const PurposeSecret = "webhook:secret"

// SecretPrefix starts a signing secret's text form; the rest is the secret's bytes in base64.
const SecretPrefix = "whsec_"

// secretSize is the number of random bytes of a new secret.
const secretSize = 32

// NewSecret returns a new random signing secret: its bytes and its text form (whsec_<base64>),
// which the admin sees once.
func NewSecret() ([]byte, string) {
	b := make([]byte, secretSize)
	_, _ = rand.Read(b)
	return b, SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// Headers of a delivery (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Sign is the webhook-signature value of a message: "v1," and the base64 HMAC-SHA256, under the
// secret's bytes, of "id.timestamp.body" (timestamp in Unix seconds).
func Sign(secret []byte, msgID string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ErrEvents is CheckEvents' error: an empty list, or a type that is not a webhook event.
var ErrEvents = errors.New("webhook: events must name one or more of " + strings.Join(auth.WebhookEvents, ", "))

// CheckEvents returns events without duplicates, in their order, or ErrEvents.
func CheckEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, ErrEvents
	}
	var out []string
	for _, e := range events {
		if !slices.Contains(auth.WebhookEvents, e) {
			return nil, fmt.Errorf("%w (not %q)", ErrEvents, e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// ErrURL is CheckURL's error.
var ErrURL = errors.New("webhook: invalid url")

// maxURLLength is the longest URL (the column's size).
const maxURLLength = 2000

// CheckURL checks an endpoint URL: absolute https with a host, no user information or fragment;
// with allowPrivate also http. A host that is an IP literal must be a public address unless
// allowPrivate (names are checked when connecting: see Dialer). It returns the URL as given.
func CheckURL(raw string, allowPrivate bool) (string, error) {
	if len(raw) > maxURLLength {
		return "", fmt.Errorf("%w: longer than %d characters", ErrURL, maxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrURL, "not a URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return "", fmt.Errorf("%w: the scheme must be https", ErrURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: no host", ErrURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: user information is not allowed", ErrURL)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", fmt.Errorf("%w: a fragment is not allowed", ErrURL)
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && !allowPrivate && !PublicIP(ip) {
		return "", fmt.Errorf("%w: the address is not public", ErrURL)
	}
	// localhost and its subdomains (RFC 6761) always name this machine; a trailing dot names
	// the same host. (Other names are checked when a delivery connects.)
	if host := strings.ToLower(strings.TrimSuffix(u.Hostname(), ".")); (host == "localhost" || strings.HasSuffix(host, ".localhost")) && !allowPrivate {
		return "", fmt.Errorf("%w: the address is not public", ErrURL)
	}
	return raw, nil
}
