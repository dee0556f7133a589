package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrPrivateAddress is the error of a connection refused because the address it would reach is
// not public.
var ErrPrivateAddress = errors.New("webhook: the address is not public")

// nonPublic are the ranges a webhook may not reach (besides what netip calls loopback, private,
// link-local, unspecified and multicast): carrier-grade NAT, benchmarking, documentation,
// reserved, the IPv4/IPv6 translation prefixes and discard-only.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// PublicIP reports whether ip is a public unicast address: not loopback, private, link-local,
// unspecified, multicast or one of the other reserved ranges (an IPv4-mapped IPv6 address is
// judged as its IPv4 address).
func PublicIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	return publicAddr(a)
}

func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// control refuses, at connect time, a connection to an address that is not public: the check
// runs on the address the dialer is about to connect to, after name resolution, so a name that
// resolves to a public address when the URL is checked and to a private one later (DNS
// rebinding) is refused too.
func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	if !publicAddr(ap.Addr()) {
		return ErrPrivateAddress
	}
	return nil
}

// MaxResponseBytes is how much of a response body is read (and then discarded).
const MaxResponseBytes = 64 << 10

// NewClient returns the HTTP client deliveries go out with: each request at most timeout, no
// redirects followed (a 3xx is the answer), no proxy from the environment, and unless
// allowPrivate no connection to an address that is not public (checked at connect time).
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = control
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           64,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
