package web

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestParseProxies(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the prefixes, comma-separated; "" for none
		err  string
	}{
		{in: "", want: ""},
		{in: " , ", want: ""},
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "10.1.2.3/8, 192.0.2.7", want: "10.0.0.0/8,192.0.2.7/32"},
		{in: "fd00::/8,2001:db8::1", want: "fd00::/8,2001:db8::1/128"},
		{in: "::ffff:192.0.2.7", want: "192.0.2.7/32"},
		{in: "10.0.0.0/8, proxy.internal, 300.1.1.1", err: `"proxy.internal", "300.1.1.1"`},
		{in: "fe80::1%eth0", err: `"fe80::1%eth0"`},
		{in: "10.0.0.0/33", err: `"10.0.0.0/33"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseProxies(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseProxies(%q) = %v, %v; want an error naming %s", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if strings.Join(s, ",") != tc.want {
				t.Fatalf("ParseProxies(%q) = %v, want %s", tc.in, s, tc.want)
			}
		})
	}
}

// TestTrustProxies: forwarding headers count only from a trusted peer, the client is the
// right-most address that is not a trusted proxy, and what a client writes at the left of the
// list is never believed.
func TestTrustProxies(t *testing.T) {
	proxies := Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name    string
		none    bool // TRUSTED_PROXIES empty
		peer    string
		tls     bool
		headers map[string][]string
		ip      string
		https   bool
	}{
		{name: "no proxies: headers ignored", none: true, peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"}}, ip: "10.0.0.1"},
		{name: "untrusted peer: spoofed headers ignored", peer: "203.0.113.9:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "Forwarded": {"for=198.51.100.8;proto=https"}, "X-Forwarded-Proto": {"https"}}, ip: "203.0.113.9"},
		{name: "untrusted peer over TLS", peer: "203.0.113.9:5000", tls: true, ip: "203.0.113.9", https: true},
		{name: "trusted peer without headers", peer: "10.0.0.1:5000", ip: "10.0.0.1"},
		{name: "one proxy", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7"}, "X-Forwarded-Proto": {"https"}}, ip: "198.51.100.7", https: true},
		{name: "client-written entries on the left are skipped", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"1.1.1.1, 127.0.0.1, 198.51.100.7"}}, ip: "198.51.100.7"},
		{name: "two trusted proxies", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7, 10.0.0.2"}, "X-Forwarded-Proto": {"http"}}, ip: "198.51.100.7"},
		{name: "several header lines", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"6.6.6.6", "198.51.100.7, 10.0.0.2"}}, ip: "198.51.100.7"},
		{name: "every hop trusted: the left-most", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"10.0.0.3, 10.0.0.2"}}, ip: "10.0.0.3"},
		{name: "garbage stops at the hop that passed it", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7, not-an-ip, 10.0.0.2"}}, ip: "10.0.0.2"},
		{name: "address with port", peer: "10.0.0.1:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7:4711"}}, ip: "198.51.100.7"},
		{name: "IPv6 peer and client", peer: "[fd00::1]:5000",
			headers: map[string][]string{"X-Forwarded-For": {"2001:db8::7"}}, ip: "2001:db8::7"},
		{name: "IPv4-mapped peer", peer: "[::ffff:10.0.0.1]:5000",
			headers: map[string][]string{"X-Forwarded-For": {"198.51.100.7"}}, ip: "198.51.100.7"},
		{name: "Forwarded wins over X-Forwarded-For", peer: "10.0.0.1:5000",
			headers: map[string][]string{
				"Forwarded":       {`for=198.51.100.9;proto=https, for="[2001:db8::9]:4711";proto=http;by=10.0.0.1`},
				"X-Forwarded-For": {"198.51.100.7"},
			}, ip: "2001:db8::9"},
		{name: "Forwarded proto of the chosen hop", peer: "10.0.0.1:5000",
			headers: map[string][]string{"Forwarded": {`for=198.51.100.9;proto=https`, `for=10.0.0.2;proto=http`}}, ip: "198.51.100.9", https: true},
		{name: "Forwarded unknown hop", peer: "10.0.0.1:5000",
			headers: map[string][]string{"Forwarded": {`for=unknown, for=10.0.0.2`}}, ip: "10.0.0.2"},
		{name: "trusted peer says http over TLS", peer: "10.0.0.1:5000", tls: true,
			headers: map[string][]string{"X-Forwarded-Proto": {"http"}}, ip: "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proxies
			if tc.none {
				p = nil
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			var ip string
			var https bool
			TrustProxies(p)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				ip, https = ClientIP(r), IsHTTPS(r)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if ip != tc.ip || https != tc.https {
				t.Fatalf("client %s https=%v, want %s https=%v", ip, https, tc.ip, tc.https)
			}
		})
	}
	t.Run("outside TrustProxies", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = "10.0.0.1:5000"
		r.Header.Set("X-Forwarded-For", "198.51.100.7")
		if ClientIP(r) != "10.0.0.1" || IsHTTPS(r) {
			t.Fatalf("%s %v", ClientIP(r), IsHTTPS(r))
		}
	})
}
