package web

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseProxies reads a TRUSTED_PROXIES list: comma-separated CIDR prefixes ("10.0.0.0/8",
// "fd00::/8") or single addresses ("192.0.2.7", a /32 or /128). Empty entries are skipped; the
// error names every entry that is neither.
func ParseProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for part := range strings.SplitSeq(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(part); err == nil && a.Zone() == "" {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		bad = append(bad, fmt.Sprintf("%q", part))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("not a CIDR prefix or IP address: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// Proxies are the peers whose forwarding headers are believed.
type Proxies []netip.Prefix

// trusts reports whether a is one of the proxies.
func (p Proxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// clientKey holds the client's address and scheme as TrustProxies worked them out.
type clientKey struct{}

type client struct {
	ip    string
	https bool
}

// TrustProxies works out, once per request, the client's address and whether it reached the edge
// over https, and puts them in the request's context for [ClientIP] and [IsHTTPS]. Only when the
// connection's peer is one of proxies are forwarding headers read: `Forwarded` (RFC 7239) when
// present, else `X-Forwarded-For` and `X-Forwarded-Proto`. The client is the right-most address
// that is not a trusted proxy, walking from the peer towards the left: addresses a client wrote
// itself at the left of the list are never taken. An entry that is not an address stops the
// walk at the trusted hop that passed it on. From any other peer, and with no proxies, the headers
// change nothing: the client is the peer, and https means a TLS connection.
func TrustProxies(proxies Proxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if len(proxies) == 0 {
			return next // ClientIP and IsHTTPS read the connection itself
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := proxies.client(r)
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
		})
	}
}

// client is the request's client as TrustProxies describes it.
func (p Proxies) client(r *http.Request) client {
	c := client{ip: peerHost(r), https: r.TLS != nil}
	peer, err := netip.ParseAddr(c.ip)
	if len(p) == 0 || err != nil || !p.trusts(peer) {
		return c
	}
	hops, protos := forwarded(r.Header)
	// Walk from the right: each hop was appended by the proxy to its right, trusted so far.
	c.ip = peer.Unmap().String()
	chosen := -1
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(hops[i])
		if !ok {
			break // garbage from the hop before: keep the trusted proxy that passed it on
		}
		c.ip, chosen = a.Unmap().String(), i
		if !p.trusts(a) {
			break
		}
	}
	switch {
	case chosen >= 0 && len(protos) == len(hops) && protos[chosen] != "":
		c.https = strings.EqualFold(protos[chosen], "https")
	case len(protos) > 0 && protos[len(protos)-1] != "":
		// X-Forwarded-Proto with one value (the edge's): the scheme the client used.
		c.https = strings.EqualFold(protos[len(protos)-1], "https")
	}
	return c
}

// forwarded returns the hops of the Forwarded header's for= parameters and their proto=, or,
// without one, of X-Forwarded-For and X-Forwarded-Proto; every header line counts, in order.
func forwarded(h http.Header) (hops, protos []string) {
	if lines := h.Values("Forwarded"); len(lines) > 0 {
		for _, line := range lines {
			for elem := range strings.SplitSeq(line, ",") {
				var forHop, proto string
				for pair := range strings.SplitSeq(elem, ";") {
					k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
					v = strings.Trim(strings.TrimSpace(v), `"`)
					switch strings.ToLower(strings.TrimSpace(k)) {
					case "for":
						forHop = v
					case "proto":
						proto = v
					}
				}
				hops, protos = append(hops, forHop), append(protos, proto)
			}
		}
		return hops, protos
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	for _, line := range h.Values("X-Forwarded-Proto") {
		for proto := range strings.SplitSeq(line, ",") {
			protos = append(protos, strings.TrimSpace(proto))
		}
	}
	return hops, protos
}

// hopAddr reads one hop: an address, with or without a port ("192.0.2.1:4711",
// "[2001:db8::1]:4711", "2001:db8::1"). "unknown" and obfuscated identifiers are not addresses.
func hopAddr(hop string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr(), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(hop, "["), "]"))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a, true
}

// peerHost is the host of the connection's remote address.
func peerHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ClientIP returns the client's address: the one [TrustProxies] worked out, or, outside it, the
// connection's peer.
func ClientIP(r *http.Request) string {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c.ip
	}
	return peerHost(r)
}

// IsHTTPS reports whether the client reached the server over https: a TLS connection, or a
// trusted proxy's word (see [TrustProxies]).
func IsHTTPS(r *http.Request) bool {
	if c, ok := r.Context().Value(clientKey{}).(client); ok {
		return c.https
	}
	return r.TLS != nil
}
