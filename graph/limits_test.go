package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// limitsServer serves limitsHandler over HTTP.
func limitsServer(t *testing.T, db *store.DB, cfg graph.HandlerConfig) (*httptest.Server, string) {
	t.Helper()
	h, tok := limitsHandler(t, db, cfg)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, tok
}

// limitsHandler is the GraphQL handler behind the session middleware and a body limit of
// 1 MiB, as the server mounts it, with an admin's API token.
func limitsHandler(t testing.TB, db *store.DB, cfg graph.HandlerConfig) (http.Handler, string) {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	sessions := &auth.Sessions{Client: db.Client}
	h := sessions.Middleware(db, cfg.Log, auth.WriteGraphQLError)(graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client}, cfg))
	ctx := context.Background()
	admin := db.Client.User.Create().SetEmail("admin@example.com").SetName("Admin").SetUsername("admin").SetRole(user.RoleADMIN).SaveX(ctx)
	tok, _, err := auth.NewAPIToken(ctx, db.Client, admin, "limits", nil)
	if err != nil {
		t.Fatal(err)
	}
	return http.MaxBytesHandler(h, 1<<20), tok
}

// TestRequestLimits sends each attack, and documents just inside and outside each limit,
// through real HTTP as an anonymous caller and as a signed-in admin.
func TestRequestLimits(t *testing.T) {
	db := storetest.SQLite(t)
	srv, token := limitsServer(t, db, graph.HandlerConfig{})
	deep := "{ me { spaces { space { members { user { spaces { space { members { user { id } } } } } } } } } }" // 10 levels
	const ok = ""
	tests := []struct {
		name             string
		query            string
		anonymous, admin string // the code expected, ok for an answer without errors
	}{
		{"24-level fragment fan-out", graphtest.FanOut(24), graph.CodeDocumentLimit, graph.CodeDocumentLimit},
		{"40-level fragment fan-out", graphtest.FanOut(40), graph.CodeDocumentLimit, graph.CodeDocumentLimit},
		{"60,000 repeated fields (180 KB)", graphtest.Repeated("id", 60000), graph.CodeRequestTooLarge, graph.CodeTokenLimit},
		{"20,000 repeated fields (60 KB)", graphtest.Repeated("id", 20000), graph.CodeTokenLimit, graph.CodeTokenLimit},
		{"a 70 KB comment", "# " + strings.Repeat("x", 70<<10) + "\n{ me { id } }", graph.CodeRequestTooLarge, ok},
		{"1,000 directives", graphtest.Repeated("id @include(if: true)", 1000), graph.CodeTokenLimit, graph.CodeDocumentLimit},
		{"250 directives, within the tokens", graphtest.Repeated("id @skip(if: false)", 250), graph.CodeTokenLimit, graph.CodeDocumentLimit},
		{"2,500 repeated fields", graphtest.Repeated("id", 2500), graph.CodeTokenLimit, graph.CodeDocumentLimit},
		{"1,500 repeated fields", graphtest.Repeated("id", 1500), graph.CodeDocumentLimit, graph.CodeComplexity},
		{"900 repeated fields, validated in linear time", graphtest.Repeated("id", 900), graph.CodeDocumentLimit, ok},
		{"600 repeated fields", graphtest.Repeated("id", 600), graph.CodeDocumentLimit, ok},
		{"300 repeated fields", graphtest.Repeated("id", 300), graph.CodeComplexity, ok},
		{"150 repeated fields", graphtest.Repeated("id", 150), ok, ok},
		{"fan-out of 6 levels", graphtest.FanOut(6), ok, ok},
		{"fan-out of 7 levels", graphtest.FanOut(7), graph.CodeDocumentLimit, ok},
		{"fan-out of 9 levels", graphtest.FanOut(9), graph.CodeDocumentLimit, graph.CodeDocumentLimit},
		{"10 levels deep", deep, graph.CodeDepth, ok},
		{"complexity 300", graphtest.Aliases("me { id }", 150), graph.CodeComplexity, ok},
		{"complexity 1,200", graphtest.Aliases("me { id }", 600), graph.CodeTokenLimit, graph.CodeComplexity},
		{"a small query", "{ me { id email } loginOptions { emailPasswordEnabled } }", ok, ok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, caller := range []struct {
				name, token, want string
			}{{"anonymous", "", tt.anonymous}, {"admin", token, tt.admin}} {
				r := graphtest.Post(t, nil, srv.URL, caller.token, tt.query, nil)
				if got := r.Code(); got != caller.want {
					t.Fatalf("%s: code %q, want %q: %.300s", caller.name, got, caller.want, r.Raw)
				}
				switch {
				case caller.want == ok && r.Status != http.StatusOK:
					t.Fatalf("%s: status %d", caller.name, r.Status)
				case caller.want == graph.CodeRequestTooLarge && r.Status != http.StatusRequestEntityTooLarge:
					t.Fatalf("%s: status %d", caller.name, r.Status)
				case caller.want != ok && caller.want != graph.CodeRequestTooLarge && (r.Status != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Data != nil):
					// Refused before it ran: one error, no data, a request error's status.
					t.Fatalf("%s: status %d, %d errors: %.300s", caller.name, r.Status, len(r.Errors), r.Raw)
				}
				if caller.want == ok && caller.token != "" && strings.Contains(r.Raw, `"me":null`) {
					t.Fatalf("%s: answered without the viewer: %.300s", caller.name, r.Raw)
				}
			}
		})
	}

	t.Run("a refusal is remembered per kind of caller", func(t *testing.T) {
		// Accepted for the admin first: the anonymous caller must still be refused.
		q := graphtest.Repeated("email", 700)
		if r := graphtest.Post(t, nil, srv.URL, token, q, nil); r.Code() != ok {
			t.Fatalf("admin: %.300s", r.Raw)
		}
		if r := graphtest.Post(t, nil, srv.URL, "", q, nil); r.Code() != graph.CodeDocumentLimit {
			t.Fatalf("anonymous after the admin: %.300s", r.Raw)
		}
	})

	t.Run("graphql-response+json answers 400", func(t *testing.T) {
		b, _ := json.Marshal(map[string]any{"query": graphtest.FanOut(30)})
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/graphql-response+json")
		if r := graphtest.Do(t, nil, req); r.Status != http.StatusBadRequest || r.Code() != graph.CodeDocumentLimit {
			t.Fatalf("status %d: %.300s", r.Status, r.Raw)
		}
	})

	t.Run("GET is limited alike", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"?query="+url.QueryEscape(graphtest.FanOut(30)), nil)
		if r := graphtest.Do(t, nil, req); r.Code() != graph.CodeDocumentLimit {
			t.Fatalf("status %d: %.300s", r.Status, r.Raw)
		}
	})

	t.Run("body over the limit", func(t *testing.T) {
		r := graphtest.Post(t, nil, srv.URL, "", graphtest.Repeated("id", 400000), nil) // 1.2 MB
		if r.Status != http.StatusRequestEntityTooLarge || r.Code() != graph.CodeRequestTooLarge {
			t.Fatalf("status %d: %.300s", r.Status, r.Raw)
		}
	})

	t.Run("a document that does not parse keeps gqlgen's answer", func(t *testing.T) {
		if r := graphtest.Post(t, nil, srv.URL, "", "{ me { id ", nil); r.Code() != "GRAPHQL_PARSE_FAILED" {
			t.Fatalf("%.300s", r.Raw)
		}
	})
}

// TestAnonymousLimitsAllowIntrospection: GraphiQL's introspection query, the largest thing
// an anonymous visitor of the playground sends, fits the anonymous limits.
func TestAnonymousLimitsAllowIntrospection(t *testing.T) {
	q, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	srv, _ := limitsServer(t, db, graph.HandlerConfig{Introspection: true})
	r := graphtest.Post(t, nil, srv.URL, "", string(q), nil)
	if len(r.Errors) != 0 || !strings.Contains(r.Raw, `"name":"User"`) {
		t.Fatalf("status %d: %.500s", r.Status, r.Raw)
	}
}

// blockingDriver holds every statement on the spaces table until its context ends (or, if it
// never does, until release), and records what happened.
type blockingDriver struct {
	dialect.Driver
	mu      sync.Mutex
	blocked chan struct{} // closed when the first statement is held
	release chan struct{}
	held    bool
	causes  []error // why each held statement was let go: its context's cause, or nil
	late    int     // statements that reached the driver after their context had ended
}

func newBlockingDriver(d dialect.Driver) *blockingDriver {
	return &blockingDriver{Driver: d, blocked: make(chan struct{}), release: make(chan struct{})}
}

func (d *blockingDriver) hold(ctx context.Context, q string) {
	if ctx.Err() != nil {
		d.mu.Lock()
		d.late++
		d.mu.Unlock()
		return
	}
	if !strings.Contains(q, "`spaces`") && !strings.Contains(q, `"spaces"`) {
		return
	}
	d.mu.Lock()
	if !d.held {
		d.held = true
		close(d.blocked)
	}
	d.mu.Unlock()
	var cause error
	select {
	case <-ctx.Done():
		cause = context.Cause(ctx)
	case <-d.release:
	}
	d.mu.Lock()
	d.causes = append(d.causes, cause)
	d.mu.Unlock()
}

func (d *blockingDriver) Query(ctx context.Context, q string, args, v any) error {
	d.hold(ctx, q)
	return d.Driver.Query(ctx, q, args, v)
}

func (d *blockingDriver) Exec(ctx context.Context, q string, args, v any) error {
	d.hold(ctx, q)
	return d.Driver.Exec(ctx, q, args, v)
}

// TestRequestsStop: a request whose deadline passes, or whose client goes away, stops its
// database work then, and answers TIMEOUT when it can still answer.
func TestRequestsStop(t *testing.T) {
	const query = "{ spaces(first: 5) { totalCount edges { node { id members { user { id } } } } } }"
	for _, tc := range []struct {
		name      string
		timeout   time.Duration
		hangUp    bool
		wantCause string
	}{
		{"deadline", 300 * time.Millisecond, false, "graph: request timed out"},
		{"client goes away", time.Minute, true, context.Canceled.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var drv *blockingDriver
			db := storetest.Open(t, store.SQLite, storetest.Options{WrapDriver: func(d dialect.Driver) dialect.Driver {
				drv = newBlockingDriver(d)
				return drv
			}})
			srv, token := limitsServer(t, db, graph.HandlerConfig{Timeout: tc.timeout})
			// Whatever happens, nothing is held once the test ends.
			t.Cleanup(func() { close(drv.release) })
			done := make(chan graphtest.Result, 1)
			ctx, hangUp := context.WithCancel(context.Background())
			defer hangUp()
			go func() {
				b, _ := json.Marshal(map[string]any{"query": query})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					done <- graphtest.Result{Raw: err.Error()}
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				out := graphtest.Result{Status: resp.StatusCode, Raw: string(body)}
				_ = json.Unmarshal(body, &out)
				done <- out
			}()
			select {
			case <-drv.blocked:
			case <-time.After(30 * time.Second):
				t.Fatal("the query never reached the spaces table")
			}
			if tc.hangUp {
				hangUp()
			}
			var r graphtest.Result
			select {
			case r = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("no answer, and the statement was not let go")
			}
			// The server may still be unwinding after the client gave up: wait for the held
			// statement to be let go.
			deadline := time.Now().Add(30 * time.Second)
			for {
				drv.mu.Lock()
				n := len(drv.causes)
				drv.mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			srv.Close() // waits for the handler to return
			drv.mu.Lock()
			defer drv.mu.Unlock()
			if len(drv.causes) != 1 || drv.causes[0] == nil || drv.causes[0].Error() != tc.wantCause {
				t.Fatalf("held statements let go by %v, want one by %q", drv.causes, tc.wantCause)
			}
			// One statement may race the end (the page's count and its rows go out together);
			// none runs for the nested fields.
			if drv.late > 1 {
				t.Fatalf("%d statements reached the database after the request ended", drv.late)
			}
			if tc.hangUp {
				if !errors.Is(ctx.Err(), context.Canceled) {
					t.Fatal("client not cancelled")
				}
				return
			}
			if r.Code() != graph.CodeTimeout || r.Status != http.StatusOK {
				t.Fatalf("status %d: %.300s", r.Status, r.Raw)
			}
		})
	}
}

// TestPassedDeadline: once the deadline has passed, no resolver starts: the request answers
// TIMEOUT and nothing reaches the database after it.
func TestPassedDeadline(t *testing.T) {
	var drv *blockingDriver
	db := storetest.Open(t, store.SQLite, storetest.Options{WrapDriver: func(d dialect.Driver) dialect.Driver {
		drv = newBlockingDriver(d)
		return drv
	}})
	srv, token := limitsServer(t, db, graph.HandlerConfig{Timeout: time.Nanosecond})
	t.Cleanup(func() { close(drv.release) })
	r := graphtest.Post(t, nil, srv.URL, token, "{ me { id } spaces(first: 5) { totalCount } users(first: 5) { totalCount } }", nil)
	if r.Code() != graph.CodeTimeout || r.Data != nil {
		t.Fatalf("%.300s", r.Raw)
	}
	drv.mu.Lock()
	defer drv.mu.Unlock()
	if drv.late != 0 || drv.held {
		t.Fatalf("%d statements reached the database after the deadline (held: %v)", drv.late, drv.held)
	}
}
