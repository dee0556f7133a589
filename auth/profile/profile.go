// Package profile validates what members' profiles hold: custom profile field values by their
// field's type, picture and settings URLs, profile field keys and the payload keys that fill them.
package profile

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/profilefield"
)

// MaxValueLength bounds a custom field's value.
const MaxValueLength = 2000

// MaxURLLength bounds URLs (pictures, settings).
const MaxURLLength = 2048

// ErrInvalid wraps every validation failure of this package.
var ErrInvalid = errors.New("invalid value")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Value checks value against a field of type typ (and options for SELECT) and returns its stored
// form: numbers in canonical decimal, booleans as "true"/"false", dates as YYYY-MM-DD, emails
// normalized.
func Value(typ profilefield.Type, options []string, value string) (string, error) {
	value = strings.TrimSpace(value)
	if !utf8.ValidString(value) {
		return "", invalid("not valid UTF-8")
	}
	if len(value) > MaxValueLength {
		return "", invalid("longer than %d bytes", MaxValueLength)
	}
	switch typ {
	case profilefield.TypeTEXT:
		return value, nil
	case profilefield.TypeNUMBER:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return "", invalid("%q is not a number", value)
		}
		return strconv.FormatFloat(f, 'f', -1, 64), nil
	case profilefield.TypeBOOLEAN:
		switch strings.ToLower(value) {
		case "true", "1", "yes", "on":
			return "true", nil
		case "false", "0", "no", "off":
			return "false", nil
		}
		return "", invalid("%q is not true or false", value)
	case profilefield.TypeURL:
		return HTTPURL(value)
	case profilefield.TypeEMAIL:
		e, err := auth.NormalizeEmail(value)
		if err != nil {
			return "", invalid("%q is not an email address", value)
		}
		return e, nil
	case profilefield.TypeDATE:
		if d, err := time.Parse(time.DateOnly, value); err == nil {
			return d.Format(time.DateOnly), nil
		}
		if d, err := time.Parse(time.RFC3339, value); err == nil {
			return d.UTC().Format(time.DateOnly), nil
		}
		return "", invalid("%q is not a date (YYYY-MM-DD)", value)
	case profilefield.TypeSELECT:
		if slices.Contains(options, value) {
			return value, nil
		}
		return "", invalid("%q is not one of the options", value)
	}
	return "", invalid("unknown field type %q", typ)
}

// HTTPURL checks an absolute http or https URL with a host, as a picture or a link.
func HTTPURL(s string) (string, error) {
	if len(s) > MaxURLLength {
		return "", invalid("longer than %d bytes", MaxURLLength)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || strings.ContainsAny(s, " \t\r\n") {
		return "", invalid("%q is not an http or https URL", s)
	}
	return s, nil
}

// SettingsURL checks a URL an admin configures: absolute https, or http for localhost and
// loopback addresses only (a development IdP on the same machine).
func SettingsURL(s string) error {
	if _, err := HTTPURL(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return invalid("%q must use https (http only for localhost)", s)
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// Key checks a profile field key: a lower-case identifier of at most 64 characters.
func Key(k string) error {
	if !keyPattern.MatchString(k) {
		return invalid("%q must start with a letter and hold only a-z, 0-9 and _ (at most 64)", k)
	}
	return nil
}

// ReservedPayloadKeys are payload keys the SSO methods read for themselves; a custom field may not
// claim them.
var ReservedPayloadKeys = []string{
	"sub", "id", "ID", "nameid", "email", "user_email", "emailAddress", "email_verified",
	"name", "display_name", "displayName", "full_name", "fullName", "username", "user_login",
	"nickname", "preferred_username", "picture", "icon_url", "tagline", "exp", "iat", "nbf", "iss", "aud", "azp",
	"jti", "nonce", "at_hash", "c_hash", "auth_time", "spaceIds", "spaces", "spacesOperation",
}

// ExternalKeys checks the ordered payload keys of a profile field: non-empty, unique within the
// field, at most 20 of at most 100 bytes each, none reserved.
func ExternalKeys(keys []string) error {
	if len(keys) > 20 {
		return invalid("at most 20 external keys")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		switch {
		case strings.TrimSpace(k) == "":
			return invalid("an external key is empty")
		case len(k) > 100:
			return invalid("external key %q is longer than 100 bytes", k)
		case seen[k]:
			return invalid("external key %q appears twice", k)
		case slices.Contains(ReservedPayloadKeys, k):
			return invalid("external key %q is reserved for the sign-in payload", k)
		}
		seen[k] = true
	}
	return nil
}
