package web

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// NormalizeOrigin checks that s is an origin (scheme://host[:port]) and returns it lower-cased,
// without the scheme's default port, as a browser sends it in the Origin header.
func NormalizeOrigin(s string) (string, error) {
	if s == "*" {
		return "", errors.New(`"*" is not allowed (the API is used with credentials): list each origin`)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port])", s)
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return "", fmt.Errorf("%q must be scheme://host[:port] only, without a path, query or trailing slash", s)
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}
