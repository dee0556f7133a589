package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth/web/webtest"
	"github.com/prometheus/client_golang/prometheus"
)

func TestRedactQuery(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"harmless", "redirect_uri=/x&page=2", "redirect_uri=/x&page=2"},
		{"jwt", "jwt=SECRET&redirect_uri=/x", "jwt=REDACTED&redirect_uri=/x"},
		{"mixed case key", "JWT=SECRET&Token=S2", "JWT=REDACTED&Token=REDACTED"},
		{"repeated key", "token=a&x=1&token=b", "token=REDACTED&x=1&token=REDACTED"},
		{"oauth callback", "code=abc&state=def&session_state=x&iss=https%3A%2F%2Fidp",
			"code=REDACTED&state=REDACTED&session_state=REDACTED&iss=https%3A%2F%2Fidp"},
		{"every secret key",
			"id_token=1&id_token_hint=2&access_token=3&refresh_token=4&password=5&client_secret=6&secret=7",
			"id_token=REDACTED&id_token_hint=REDACTED&access_token=REDACTED&refresh_token=REDACTED&password=REDACTED&client_secret=REDACTED&secret=REDACTED"},
		{"encoding kept", "id_token_hint=eyJ&post_logout_redirect_uri=%2Fhome%3Fa%3D1",
			"id_token_hint=REDACTED&post_logout_redirect_uri=%2Fhome%3Fa%3D1"},
		{"encoded key", "%6Awt=SECRET&%4A%57%54=S2", "%6Awt=REDACTED&%4A%57%54=REDACTED"},
		{"encoded value", "jwt=a%2Eb%2Ec", "jwt=REDACTED"},
		{"plus in key", "client+secret=x&client_secret=y", "client+secret=x&client_secret=REDACTED"},
		{"jwt-looking value under another key", "redirect_uri=%2Fx%3Fjwt%3DeyJhbGciOi.x.y", "redirect_uri=REDACTED"},
		{"empty value", "jwt=&a=b", "jwt=REDACTED&a=b"},
		{"GraphQL GET", "query=query(%24e%3AString)%7Buser(email%3A%24e)%7Bid%7D%7D&variables=%7B%22e%22%3A%22pat%40example.com%22%7D",
			"query=query(%24e%3AString)%7Buser(email%3A%24e)%7Bid%7D%7D&variables=REDACTED"},
		{"key without value", "jwt&a=b", "jwt&a=b"},
		{"empty parts", "a=1&&jwt=x&", "a=1&&jwt=REDACTED&"},
		{"malformed escape", "q=%zz&jwt=SECRET", "REDACTED"},
		{"malformed escape in secret", "jwt=SE%zzCRET", "REDACTED"},
		{"semicolon", "redirect_uri=/x;jwt=SECRET", "REDACTED"},
		{"malformed escape in a key", "%zz=1&jwt=SECRET", "REDACTED"},
		{"malformed escape in a key without value", "a=1&%zz", "REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactQuery(tt.in); got != tt.want {
				t.Fatalf("RedactQuery(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// stack is the server's chain around a mux with a few test routes.
type stack struct {
	srv     *httptest.Server
	logs    *webtest.LogBuffer
	metrics *Metrics
}

func newStack(t *testing.T, limit int64, routes map[string]http.HandlerFunc) *stack {
	t.Helper()
	var logs webtest.LogBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(reg))
	for pattern, h := range routes {
		mux.Handle(pattern, h)
	}
	var h http.Handler = Instrument(m, log, mux)
	h = LimitBody(limit)(h)
	h = SecurityHeaders(h)
	h = Recover(log)(h)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &stack{srv: srv, logs: &logs, metrics: m}
}

func (s *stack) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func (s *stack) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, req)
}

// records decodes the JSON log lines with the given message.
func (s *stack) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

func TestRequestLogHoldsNoSecrets(t *testing.T) {
	s := newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /api/auth/sso": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/x", http.StatusSeeOther)
		},
	})
	req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/api/auth/sso?jwt=SECRETJWT&redirect_uri=/x", nil)
	req.Header.Set("Cookie", "community_session=SECRETCOOKIE")
	req.Header.Set("Authorization", "Bearer SECRETBEARER")
	req.Header.Set("User-Agent", "test-agent/1.0")
	req.Header.Set(RequestIDHeader, "abc-123")
	client := s.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	out := s.logs.String()
	for _, secret := range []string{"SECRETJWT", "SECRETCOOKIE", "SECRETBEARER", "community_session"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %s:\n%s", secret, out)
		}
	}
	recs := s.records(t, "request")
	if len(recs) != 1 {
		t.Fatalf("want 1 request line, got %d:\n%s", len(recs), out)
	}
	rec := recs[0]
	want := map[string]any{
		"level": "INFO", "method": "GET", "path": "/api/auth/sso", "query": "jwt=REDACTED&redirect_uri=/x",
		"route": "/api/auth/sso", "status": 303.0, "ip": "127.0.0.1", "user_agent": "test-agent/1.0",
		"request_id": "abc-123",
	}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	for _, k := range []string{"bytes", "duration"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("log lacks %s", k)
		}
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
}

func TestLogLevels(t *testing.T) {
	s := newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /healthz": func(w http.ResponseWriter, r *http.Request) {},
		"GET /readyz":  func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) },
		"GET /page":    func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello") },
	})
	for _, p := range []string{"/healthz", "/readyz", "/page", "/metrics"} {
		s.get(t, p)
	}
	want := map[string]string{"/healthz": "DEBUG", "/readyz": "WARN", "/page": "INFO", "/metrics": "DEBUG"}
	got := map[string]string{}
	for _, rec := range s.records(t, "request") {
		got[rec["path"].(string)] = rec["level"].(string)
		if rec["path"] == "/page" && rec["bytes"] != 5.0 {
			t.Errorf("bytes %v, want 5", rec["bytes"])
		}
	}
	for p, level := range want {
		if got[p] != level {
			t.Errorf("%s logged at %q, want %s", p, got[p], level)
		}
	}
}

func TestRequestID(t *testing.T) {
	seen := make(chan string, 1)
	s := newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /id": func(w http.ResponseWriter, r *http.Request) { seen <- RequestID(r.Context()) },
	})
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name, in string
		reused   bool
	}{
		{"well-formed", "req-1_A.b", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"none", "", false},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "bad id", false},
		{"newline attempt", "a%0Ab", false},
		{"non-ascii", "idé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.srv.URL+"/id", nil)
			if tt.in != "" {
				req.Header.Set(RequestIDHeader, tt.in)
			}
			resp, _ := s.do(t, req)
			got := resp.Header.Get(RequestIDHeader)
			if handlerID := <-seen; got != handlerID {
				t.Fatalf("response id %q, handler saw %q", got, handlerID)
			}
			if tt.reused && got != tt.in {
				t.Fatalf("id %q not reused, got %q", tt.in, got)
			}
			if !tt.reused && !hexID.MatchString(got) {
				t.Fatalf("generated id %q is not 32 hex digits", got)
			}
		})
	}
	if RequestID(t.Context()) != "" {
		t.Fatal("RequestID of a bare context is not empty")
	}
}

func TestMetrics(t *testing.T) {
	var s *stack
	s = newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /api/auth/sso": func(w http.ResponseWriter, r *http.Request) {
			s.metrics.Login("JWT", "success")
		},
		"POST /auth/login/direct": func(w http.ResponseWriter, r *http.Request) {
			s.metrics.Login("PASSWORD", "INVALID_CREDENTIALS")
			w.WriteHeader(http.StatusUnauthorized)
		},
		"GET /users/{id}": func(w http.ResponseWriter, r *http.Request) {},
		"GET /boom":       func(w http.ResponseWriter, r *http.Request) { panic("boom") },
	})
	requests := []struct{ method, path string }{
		{"GET", "/api/auth/sso?jwt=a"}, {"GET", "/api/auth/sso?jwt=b"},
		{"POST", "/auth/login/direct"},
		{"GET", "/users/1"}, {"GET", "/users/2"}, {"GET", "/users/3"},
		{"GET", "/nowhere"}, {"POST", "/users/1"}, {"FOO", "/users/1"},
		{"GET", "/boom"},
	}
	for _, rq := range requests {
		req, _ := http.NewRequest(rq.method, s.srv.URL+rq.path, nil)
		s.do(t, req)
	}
	_, body := s.get(t, "/metrics")
	for _, want := range []string{
		`community_http_requests_total{code="200",method="GET",route="/api/auth/sso"} 2`,
		`community_http_requests_total{code="401",method="POST",route="/auth/login/direct"} 1`,
		`community_http_requests_total{code="200",method="GET",route="/users/{id}"} 3`,
		`community_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`community_http_requests_total{code="405",method="POST",route="unmatched"} 1`,
		`community_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`community_http_requests_total{code="500",method="GET",route="/boom"} 1`,
		`community_http_request_duration_seconds_count{method="GET",route="/api/auth/sso"} 2`,
		`community_logins_total{method="jwt",result="success"} 2`,
		`community_logins_total{method="password",result="invalid_credentials"} 1`,
		`community_http_requests_in_flight 1`, // the scrape itself
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, leak := range []string{"/users/1", "FOO", "jwt="} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics hold %q", leak)
		}
	}
}

func TestMetricsOwnRegistry(t *testing.T) {
	// Two servers in one process: each registers on its own registry.
	NewMetrics(prometheus.NewRegistry())
	NewMetrics(prometheus.NewRegistry())
	var m *Metrics
	m.Login("JWT", "success") // a nil *Metrics counts nothing
}

func TestRecover(t *testing.T) {
	s := newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /panic": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "community_session=half-done")
			w.Header().Set("Content-Type", "text/html")
			w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
			panic("secret panic detail")
		},
		"GET /graphql": func(w http.ResponseWriter, r *http.Request) { panic(errors.New("resolver exploded")) },
	})
	tests := []struct {
		name, path, accept, wantType, wantBody string
	}{
		{"page", "/panic", "text/html,application/xhtml+xml,*/*;q=0.8", "text/plain; charset=utf-8", "internal server error\n"},
		{"json", "/panic", "application/json", "application/json",
			`{"error":{"code":"INTERNAL_SERVER_ERROR","message":"internal server error"}}` + "\n"},
		{"graphql without accept", "/graphql", "", "application/json",
			`{"error":{"code":"INTERNAL_SERVER_ERROR","message":"internal server error"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.logs.Reset()
			req, _ := http.NewRequest(http.MethodGet, s.srv.URL+tt.path, nil)
			req.Header.Set("Accept", tt.accept)
			req.Header.Set(RequestIDHeader, "panic-id")
			resp, body := s.do(t, req)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if body != tt.wantBody || strings.Contains(body, "secret") || strings.Contains(body, "exploded") {
				t.Fatalf("body %q", body)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			if resp.Header.Get(RequestIDHeader) != "panic-id" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("kept headers lost: %v", resp.Header)
			}
			if tt.path == "/panic" {
				if len(resp.Cookies()) != 0 {
					t.Errorf("the half-done answer's cookie went out: %v", resp.Cookies())
				}
				if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
					t.Errorf("CORS header lost: %v", resp.Header)
				}
			}
			recs := s.records(t, "web: panic serving request")
			if len(recs) != 1 {
				t.Fatalf("want one panic log line:\n%s", s.logs)
			}
			rec := recs[0]
			if rec["level"] != "ERROR" || rec["request_id"] != "panic-id" ||
				!strings.Contains(rec["stack"].(string), "web_test.go") {
				t.Errorf("panic log %v", rec)
			}
			if p := rec["panic"].(string); p != "secret panic detail" && p != "resolver exploded" {
				t.Errorf("panic value %q", p)
			}
			reqs := s.records(t, "request")
			if len(reqs) != 1 || reqs[0]["status"] != 500.0 || reqs[0]["panic"] != true || reqs[0]["level"] != "WARN" {
				t.Errorf("request log %v", reqs)
			}
		})
	}
}

func TestRecoverAfterAnswerStarted(t *testing.T) {
	s := newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /stream": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("late")
		},
	})
	resp, err := s.srv.Client().Get(s.srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a broken answer read as complete")
	}
	if recs := s.records(t, "web: panic serving request"); len(recs) != 1 || recs[0]["answer_started"] != true {
		t.Fatalf("panic log %v", recs)
	}
}

func TestRecoverPassesAbortHandler(t *testing.T) {
	h := Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	t.Fatal("no panic")
}

func TestLimitBody(t *testing.T) {
	s := newStack(t, 16, map[string]http.HandlerFunc{
		"POST /upload": func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			var tooLarge *http.MaxBytesError
			switch {
			case errors.As(err, &tooLarge):
				WriteJSONError(w, http.StatusRequestEntityTooLarge, "BAD_USER_INPUT", "too large")
			case err != nil:
				http.Error(w, err.Error(), http.StatusBadRequest)
			default:
				_, _ = w.Write(b)
			}
		},
	})
	tests := []struct {
		name          string
		body          string
		unknownLength bool
		status        int
	}{
		{"within", strings.Repeat("x", 16), false, http.StatusOK},
		{"declared too large", strings.Repeat("x", 100), false, http.StatusRequestEntityTooLarge},
		{"streamed too large", strings.Repeat("x", 100), true, http.StatusRequestEntityTooLarge},
		{"streamed within", "small", true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.unknownLength {
				body = io.MultiReader(body) // hides the length: chunked
			}
			req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/upload", body)
			resp, got := s.do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, got)
			}
			if tt.status == http.StatusOK && got != tt.body {
				t.Fatalf("echo %q", got)
			}
			if tt.status != http.StatusOK && !resp.Close {
				t.Error("the server keeps the connection after a too-large body")
			}
		})
	}
}

func TestFlushThroughInstrument(t *testing.T) {
	proceed := make(chan struct{})
	controllerErrs := make(chan error, 2)
	s := newStack(t, 1<<10, map[string]http.HandlerFunc{
		"GET /stream": func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			controllerErrs <- rc.SetWriteDeadline(time.Now().Add(10 * time.Second)) // through Unwrap
			_, _ = io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			select {
			case <-proceed:
			case <-time.After(5 * time.Second):
			}
			_, _ = io.WriteString(w, "second\n")
			controllerErrs <- rc.Flush()
		},
	})
	// The handler holds the rest of its answer until the first line has arrived: the headers and
	// the first line reach the client only if Flush works through Instrument.
	type first struct {
		resp *http.Response
		br   *bufio.Reader
		line string
		err  error
	}
	firstCh := make(chan first, 1)
	go func() {
		resp, err := s.srv.Client().Get(s.srv.URL + "/stream")
		if err != nil {
			firstCh <- first{err: err}
			return
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		firstCh <- first{resp, br, line, err}
	}()
	var f first
	select {
	case f = <-firstCh:
	case <-time.After(3 * time.Second):
		close(proceed)
		t.Fatal("the flushed line did not arrive before the handler finished")
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
	defer f.resp.Body.Close()
	if f.line != "first\n" {
		t.Fatalf("first line %q", f.line)
	}
	br := f.br
	close(proceed)
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Fatalf("rest %q", rest)
	}
	for range 2 {
		if err := <-controllerErrs; err != nil {
			t.Errorf("ResponseController through Instrument: %v", err)
		}
	}
}

// plainWriter is a ResponseWriter that cannot flush.
type plainWriter struct{ h http.Header }

func (p *plainWriter) Header() http.Header         { return p.h }
func (p *plainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (p *plainWriter) WriteHeader(int)             {}

func TestRecorderFlushNotSupported(t *testing.T) {
	rec := &recorder{ResponseWriter: &plainWriter{h: http.Header{}}}
	if err := http.NewResponseController(rec).Flush(); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("Flush on a writer that cannot flush: %v", err)
	}
	rec.Flush() // silent
	if rec.status != 0 {
		t.Fatalf("status %d after a failed flush", rec.status)
	}
	rec.WriteHeader(http.StatusEarlyHints)
	rec.WriteHeader(http.StatusCreated)
	if rec.status != http.StatusCreated {
		t.Fatalf("status %d, want 201 (1xx is not the answer)", rec.status)
	}
}

func TestWantsJSON(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", true},
		{"Application/JSON; charset=utf-8", true},
		{"application/graphql-response+json, application/json;q=0.9", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
		{"application/json, text/html", true},
		{"text/html, application/json", false},
		{"text/html;q=0.5, application/json", true},
		{"application/json;q=0.5, text/html", false},
		{"application/json;q=0", false},
		{"application/json;q=bogus", false},
		{"application/jsonp", false},
		{"text/plain, application/json;q=0.1", true},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if tt.accept != "" {
			req.Header.Set("Accept", tt.accept)
		}
		if got := WantsJSON(req); got != tt.want {
			t.Errorf("WantsJSON(Accept: %q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
	// Several Accept lines count as one list.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Add("Accept", "text/html;q=0.1")
	req.Header.Add("Accept", "application/json")
	if !WantsJSON(req) {
		t.Error("WantsJSON with two Accept lines")
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1"},
		{"192.0.2.1", "192.0.2.1"},
		{"", ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tt.remote
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		req.Header.Set("X-Real-Ip", "203.0.113.9")
		if got := ClientIP(req); got != tt.want {
			t.Errorf("ClientIP(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

func TestWriteJSONError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSONError(rec, http.StatusConflict, "SSO_CONFLICT", `ask an admin <"x">`)
	if rec.Code != http.StatusConflict {
		t.Fatalf("status %d", rec.Code)
	}
	if rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("headers %v", rec.Header())
	}
	var got struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Error.Code != "SSO_CONFLICT" || got.Error.Message != `ask an admin <"x">` {
		t.Fatalf("body %s", rec.Body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		referrer string
	}{
		{"defaults", func(http.ResponseWriter, *http.Request) {}, "strict-origin-when-cross-origin"},
		{"handler's own referrer policy", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Referrer-Policy", "no-referrer")
		}, "no-referrer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			SecurityHeaders(tt.handler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			h := rec.Header()
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != tt.referrer {
				t.Fatalf("headers %v", h)
			}
			if h.Get("X-Frame-Options") != "" || h.Get("Content-Security-Policy") != "" {
				t.Fatalf("framing or CSP set globally: %v", h)
			}
		})
	}
}

type fakeReady bool

func (f fakeReady) Ready() bool { return bool(f) }

func TestRequireDatabase(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	tests := []struct {
		ready  bool
		path   string
		accept string
		status int
		body   string
	}{
		{true, "/graphql", "", 204, ""},
		{false, "/graphql", "", 503, `"errors":[{"extensions":{"code":"SERVICE_UNAVAILABLE"}`},
		{false, "/auth/login", "application/json", 503, `{"error":{"code":"SERVICE_UNAVAILABLE"`},
		{false, "/auth/login", "text/html", 503, "temporarily unavailable"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		req.Header.Set("Accept", tt.accept)
		RequireDatabase(fakeReady(tt.ready), ok).ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%v %s %s: %d %s", tt.ready, tt.path, tt.accept, rec.Code, rec.Body)
		}
		if !tt.ready && rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tt.path)
		}
	}
}
