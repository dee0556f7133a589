package webtest

import (
	"io"
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
