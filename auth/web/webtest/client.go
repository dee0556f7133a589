package webtest

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"testing"
)

// Browser is an HTTP client with a cookie jar that does not follow redirects: a test reads
// each 303 and its cookies as a browser receives them.
func Browser(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// BrowserFrom is a Browser whose connections are made from the loopback address ip (any of
// 127.0.0.0/8), so that the server sees a client address of its own.
func BrowserFrom(t testing.TB, ip string) *http.Client {
	t.Helper()
	c := Browser(t)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	t.Cleanup(tr.CloseIdleConnections)
	c.Transport = tr
	return c
}

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Do sends req with c (a new Browser when nil) and reads the answer.
func Do(t testing.TB, c *http.Client, req *http.Request) Response {
	t.Helper()
	if c == nil {
		c = Browser(t)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// Cookie returns the last cookie of that name the response sets: the one a browser keeps.
func (r Response) Cookie(name string) *http.Cookie {
	var last *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			last = c
		}
	}
	return last
}
