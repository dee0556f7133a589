package graph_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

func newServer(t *testing.T, db *store.DB, cfg graph.HandlerConfig) (*httptest.Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(&logs, nil))
	}
	srv := httptest.NewServer(graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client}, cfg))
	t.Cleanup(srv.Close)
	return srv, &logs
}

func TestTransport(t *testing.T) {
	db := storetest.SQLite(t)
	srv, logs := newServer(t, db, graph.HandlerConfig{Introspection: true})

	t.Run("typename over POST", func(t *testing.T) {
		r := graphtest.Post(t, nil, srv.URL, "", "{ __typename }", nil)
		if r.Status != 200 || r.Data["__typename"] != "Query" || len(r.Errors) != 0 {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
	})
	t.Run("typename over GET", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"?query="+url.QueryEscape("{ __typename }"), nil)
		r := graphtest.Do(t, nil, req)
		if r.Status != 200 || r.Data["__typename"] != "Query" {
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	})
	t.Run("graphql-response+json on request", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"?query="+url.QueryEscape("{ nope }"), nil)
		req.Header.Set("Accept", "application/graphql-response+json")
		r := graphtest.Do(t, nil, req)
		if r.Status != 400 || r.Code() != "GRAPHQL_VALIDATION_FAILED" || r.Header.Get("Content-Type") != "application/graphql-response+json" {
			t.Fatalf("got %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Raw)
		}
	})

	tests := []struct {
		name       string
		method     string
		ctype      string
		body       string
		query      string
		wantStatus int
		wantCode   string
	}{
		{"form post refused", http.MethodPost, "application/x-www-form-urlencoded", "query=%7B__typename%7D", "", 400, "BAD_REQUEST"},
		{"text post refused", http.MethodPost, "text/plain", `{"query":"{ __typename }"}`, "", 400, "BAD_REQUEST"},
		{"graphql content type refused", http.MethodPost, "application/graphql", `{ __typename }`, "", 400, "BAD_REQUEST"},
		{"no content type", http.MethodPost, "", `{"query":"{ __typename }"}`, "", 400, "BAD_REQUEST"},
		{"put refused", http.MethodPut, "application/json", `{"query":"{ __typename }"}`, "", 405, "BAD_USER_INPUT"},
		{"malformed json", http.MethodPost, "application/json", `{"query": "{ __typename }", "token": "SECRET-IN-BODY"`, "", 400, "BAD_REQUEST"},
		{"invalid json", http.MethodPost, "application/json", `{ __typename }`, "", 400, "BAD_REQUEST"},
		{"empty body", http.MethodPost, "application/json", ``, "", 400, "BAD_REQUEST"},
		{"batched array", http.MethodPost, "application/json", `[{"query":"{ __typename }"},{"query":"{ __typename }"}]`, "", 400, "BAD_REQUEST"},
		{"empty array", http.MethodPost, "application/json", `[]`, "", 400, "BAD_REQUEST"},
		{"json string", http.MethodPost, "application/json", `"{ __typename }"`, "", 400, "BAD_REQUEST"},
		{"json number", http.MethodPost, "application/json", `42`, "", 400, "BAD_REQUEST"},
		{"json true", http.MethodPost, "application/json", `true`, "", 400, "BAD_REQUEST"},
		{"json null", http.MethodPost, "application/json", `null`, "", 400, "BAD_REQUEST"},
		{"object without query", http.MethodPost, "application/json", `{"token":"SECRET-IN-BODY"}`, "", 400, "BAD_REQUEST"},
		{"query not a string", http.MethodPost, "application/json", `{"query":["{ __typename }"]}`, "", 400, "BAD_REQUEST"},
		{"variables not an object", http.MethodPost, "application/json", `{"query":"{ __typename }","variables":[1]}`, "", 400, "BAD_REQUEST"},
		{"variables a string", http.MethodPost, "application/json", `{"query":"{ __typename }","variables":"{}"}`, "", 400, "BAD_REQUEST"},
		{"extensions not an object", http.MethodPost, "application/json", `{"query":"{ __typename }","extensions":7}`, "", 400, "BAD_REQUEST"},
		{"operationName not a string", http.MethodPost, "application/json", `{"query":"{ __typename }","operationName":1}`, "", 400, "BAD_REQUEST"},
		{"null variables accepted", http.MethodPost, "application/json", `{"query":"{ __typename }","variables":null,"operationName":null}`, "", 200, ""},
		{"parse error", http.MethodPost, "application/json", `{"query":"{ __typename "}`, "", 422, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", http.MethodPost, "application/json", `{"query":"{ nope }"}`, "", 422, "GRAPHQL_VALIDATION_FAILED"},
		{"GET with bad variables", http.MethodGet, "", "", "query=" + url.QueryEscape("{ __typename }") + "&variables=notjson", 400, "BAD_REQUEST"},
		{"GET with array variables", http.MethodGet, "", "", "query=" + url.QueryEscape("{ __typename }") + "&variables=" + url.QueryEscape("[1]"), 400, "BAD_REQUEST"},
		{"anonymous users", http.MethodPost, "application/json", `{"query":"{ users { totalCount } }"}`, "", 200, "UNAUTHENTICATED"},
		{"anonymous securityEvents", http.MethodPost, "application/json", `{"query":"{ securityEvents { totalCount } }"}`, "", 200, "UNAUTHENTICATED"},
		{"anonymous node", http.MethodPost, "application/json", `{"query":"{ node(id: 1) { id } }"}`, "", 200, "UNAUTHENTICATED"},
		{"wrong variable type", http.MethodPost, "application/json", `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":{"x":1}}}`, "", 422, "GRAPHQL_VALIDATION_FAILED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := srv.URL
			if tt.query != "" {
				target += "?" + tt.query
			}
			req, _ := http.NewRequest(tt.method, target, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			r := graphtest.Do(t, nil, req)
			if r.Status != tt.wantStatus || r.Code() != tt.wantCode {
				t.Fatalf("got %d %q, want %d %q: %s", r.Status, r.Code(), tt.wantStatus, tt.wantCode, r.Raw)
			}
			if strings.Contains(r.Raw, "SECRET-IN-BODY") {
				t.Fatalf("the response echoes the request body: %s", r.Raw)
			}
		})
	}
	if strings.Contains(logs.String(), "SECRET-IN-BODY") {
		t.Fatal("the log holds the request body")
	}
}

func TestLimits(t *testing.T) {
	db := storetest.SQLite(t)
	srv, _ := newServer(t, db, graph.HandlerConfig{Limits: graph.Limits{Complexity: 20, Depth: 3}})
	deep := "{ me { spaces { space { members { user { id } } } } } }"
	if r := graphtest.Post(t, nil, srv.URL, "", deep, nil); r.Code() != graph.CodeDepth {
		t.Fatalf("deep query: %s", r.Raw)
	}
	if r := graphtest.Post(t, nil, srv.URL, "", "{ a: me { id } b: me { id } c: me { id } d: me { id } e: me { id } f: me { id } g: me { id } h: me { id } i: me { id } j: me { id } k: me { id } }", nil); r.Code() != graph.CodeComplexity {
		t.Fatalf("complex query: %s", r.Raw)
	}
	if r := graphtest.Post(t, nil, srv.URL, "", "fragment F on Query { me { spaces { space { id } } } } { ...F }", nil); r.Code() != graph.CodeDepth {
		t.Fatalf("deep query through a fragment: %s", r.Raw)
	}
	if r := graphtest.Post(t, nil, srv.URL, "", "{ me { id } }", nil); len(r.Errors) != 0 || r.Data["me"] != nil {
		t.Fatalf("shallow query: %s", r.Raw)
	}
	// Introspection is off here, and does not count toward depth when it is on.
	if r := graphtest.Post(t, nil, srv.URL, "", "{ __schema { types { name } } }", nil); r.Code() == "" {
		t.Fatalf("introspection answered while disabled: %s", r.Raw)
	}
	srv2, _ := newServer(t, db, graph.HandlerConfig{Limits: graph.Limits{Complexity: 100000, Depth: 3}, Introspection: true})
	if r := graphtest.Post(t, nil, srv2.URL, "", "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }", nil); len(r.Errors) != 0 {
		t.Fatalf("introspection refused: %s", r.Raw)
	}
}

func TestErrorPresenter(t *testing.T) {
	db := storetest.SQLite(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	present := graph.ErrorPresenter(log, db)
	ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter, nil)
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"internal", errors.New("dial tcp 10.0.0.1:3306: password=hunter2 refused"), graph.CodeInternal, "internal server error"},
		{"app error", graph.BadInput("email", "email is not valid"), graph.CodeBadUserInput, "email is not valid"},
		{"not found", graph.NotFound("user"), graph.CodeNotFound, "user not found"},
		{"forbidden", graph.Forbidden(""), graph.CodeForbidden, "you are not allowed to do this"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := present(ctx, tt.err)
			if got.Extensions["code"] != tt.wantCode || got.Message != tt.wantMsg {
				t.Fatalf("got %q %v", got.Message, got.Extensions)
			}
		})
	}
	if !strings.Contains(logs.String(), "hunter2") {
		t.Fatal("the internal error's detail should be in the log")
	}
	rec := graph.Recover(log)(ctx, "boom")
	if got := present(ctx, rec); got.Extensions["code"] != graph.CodeInternal || strings.Contains(got.Message, "boom") {
		t.Fatalf("recovered panic presented as %q %v", got.Message, got.Extensions)
	}
}

func TestErrorLimit(t *testing.T) {
	db := storetest.SQLite(t)
	// Limits far above the documents here, for anyone: this is about errors, not limits.
	high := graph.Limits{Tokens: 1e6, Selections: 1e6, Directives: 1e6, Complexity: 1 << 20}
	srv, _ := newServer(t, db, graph.HandlerConfig{Limits: high, AnonymousLimits: high})
	repeat := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
			b.WriteByte(' ')
		}
		return b.String()
	}
	tests := []struct {
		name      string
		query     string
		wantCode  string // the code of the errors kept
		maxStatus int
	}{
		{"1,000 undefined variables in directives", "{ " + repeat(1000, func(i int) string { return fmt.Sprintf("a%d: __typename @include(if: $undefined)", i) }) + "}", "GRAPHQL_VALIDATION_FAILED", 422},
		{"1,000 unknown fields", "{ " + repeat(1000, func(i int) string { return fmt.Sprintf("a%d: nope", i) }) + "}", "GRAPHQL_VALIDATION_FAILED", 422},
		{"40 resolver errors", "{ " + repeat(40, func(i int) string { return fmt.Sprintf("a%d: node(id: 1) { id }", i) }) + "}", graph.CodeUnauthenticated, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := graphtest.Post(t, nil, srv.URL, "", tt.query, nil)
			if r.Status != tt.maxStatus {
				t.Fatalf("status %d: %.300s", r.Status, r.Raw)
			}
			if len(r.Errors) != graph.MaxErrors+1 {
				t.Fatalf("%d errors, want %d: %.300s", len(r.Errors), graph.MaxErrors+1, r.Raw)
			}
			for _, e := range r.Errors[:graph.MaxErrors] {
				if e.Extensions["code"] != tt.wantCode {
					t.Fatalf("kept error %q has code %v", e.Message, e.Extensions["code"])
				}
			}
			last := r.Errors[graph.MaxErrors]
			if last.Extensions["code"] != graph.CodeTooManyErrors || !strings.HasPrefix(last.Message, "too many errors") {
				t.Fatalf("last error: %+v", last)
			}
			if len(r.Raw) > 8<<10 {
				t.Fatalf("response of %d bytes", len(r.Raw))
			}
		})
	}
	t.Run("20 errors are kept as they are", func(t *testing.T) {
		r := graphtest.Post(t, nil, srv.URL, "", "{ "+repeat(graph.MaxErrors, func(i int) string { return fmt.Sprintf("a%d: nope", i) })+"}", nil)
		if len(r.Errors) != graph.MaxErrors || r.Errors[graph.MaxErrors-1].Extensions["code"] == graph.CodeTooManyErrors {
			t.Fatalf("%d errors: %.300s", len(r.Errors), r.Raw)
		}
	})
}

func TestSuggestions(t *testing.T) {
	db := storetest.SQLite(t)
	queries := []struct{ name, query string }{
		{"field", "{ mee { id } }"},
		{"field on a type", "{ loginOptions { jwtSs { enabled } } }"},
		{"argument", "{ node(i: 1) { id } }"},
		{"type", "fragment F on Quer { __typename } { ...F }"},
		{"input field", `query($i: CreateUserInput = {emial: "a@example.com", name: "A"}) { __typename }`},
		{"enum value", `query($p: OAuth2Provider = "OKTA") { __typename }`},
	}
	for _, introspection := range []bool{true, false} {
		srv, _ := newServer(t, db, graph.HandlerConfig{Introspection: introspection})
		for _, q := range queries {
			t.Run(fmt.Sprintf("introspection %v/%s", introspection, q.name), func(t *testing.T) {
				r := graphtest.Post(t, nil, srv.URL, "", q.query, nil)
				if len(r.Errors) == 0 {
					t.Fatalf("no error: %s", r.Raw)
				}
				suggests := strings.Contains(r.Raw, "Did you mean")
				if suggests != introspection {
					t.Fatalf("suggestions %v with introspection %v: %s", suggests, introspection, r.Raw)
				}
			})
		}
	}
}

// TestInvalidArguments: an argument value that a scalar's parser refuses (a cursor, a time, an
// ID, a JSON object that is not one) is the client's error, BAD_USER_INPUT naming the argument,
// not an internal one; the other fields of the operation still run.
func TestInvalidArguments(t *testing.T) {
	app := testserver.New(t, storetest.SQLite(t), testserver.Options{})
	c := app.Callers()
	for _, tt := range []struct {
		name, query string
		vars        map[string]any
		field       string
	}{
		{"cursor", `{ users(first: 2, after: "garbage") { totalCount } }`, nil, "after"},
		{"time in a where input", `query($t: Time) { securityEvents(first: 1, where: {createdAtGT: $t}) { totalCount } }`, map[string]any{"t": "yesterday"}, "createdAtGT"},
		{"ID", `{ user(id: "zz") { id } }`, nil, "id"},
		{"JSON payload that is not an object", `mutation($p: [JSON!]!) { syncMembers(input: {payloads: $p, dryRun: true}) { created } }`, map[string]any{"p": []any{map[string]any{"sub": "a"}, 5}}, "payloads"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := app.GQL(c.Admin, "", tt.query, tt.vars)
			if r.Code() != graph.CodeBadUserInput || r.Field() != tt.field {
				t.Fatalf("got %s", r.Raw)
			}
		})
	}
	r := app.GQL(c.Admin, "", `{ me { email } user(id: "zz") { id } }`, nil)
	if graphtest.Dig(r.Data, "me", "email") != "admin@example.com" || r.Code() != graph.CodeBadUserInput {
		t.Fatalf("the operation's other field: %s", r.Raw)
	}
}
