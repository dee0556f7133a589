package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// BenchmarkRefusal measures the refusal of each attack TestRequestLimits sends, from an
// anonymous caller and then from an admin, on the handler chain the server mounts (session
// middleware, body limit, GraphQL handler), against { __typename } on the same handler from
// the same caller, run first: each reports x-typename, its ns/op over that floor's. Run:
//
//	go test -run=NONE -bench=Refusal -benchmem -count=5 ./graph
func BenchmarkRefusal(b *testing.B) {
	db := storetest.SQLite(b)
	h, token := limitsHandler(b, db, graph.HandlerConfig{})
	var floor float64
	for _, bc := range []struct {
		name, query, code string
		admin             bool // sent with an admin's API token
	}{
		{"typename", "{ __typename }", "", false},
		{"fan-out-24", graphtest.FanOut(24), graph.CodeDocumentLimit, false},
		{"fan-out-40", graphtest.FanOut(40), graph.CodeDocumentLimit, false},
		{"repeated-60000", graphtest.Repeated("id", 60000), graph.CodeRequestTooLarge, false},
		{"repeated-20000", graphtest.Repeated("id", 20000), graph.CodeTokenLimit, false},
		{"directives-1000", graphtest.Repeated("id @include(if: true)", 1000), graph.CodeTokenLimit, false},
		// The same attacks from a signed-in admin, whose limits are higher.
		{"admin/typename", "{ __typename }", "", true},
		{"admin/fan-out-40", graphtest.FanOut(40), graph.CodeDocumentLimit, true},
		{"admin/repeated-60000", graphtest.Repeated("id", 60000), graph.CodeTokenLimit, true},
		{"admin/directives-1000", graphtest.Repeated("id @include(if: true)", 1000), graph.CodeDocumentLimit, true},
	} {
		body, _ := json.Marshal(map[string]any{"query": bc.query})
		serve := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if bc.admin {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		// The answer is the one expected, before anything is timed.
		rec := serve()
		var resp struct {
			Errors []struct {
				Extensions struct{ Code string } `json:"extensions"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &resp)
		if got := ""; len(resp.Errors) > 0 {
			got = resp.Errors[0].Extensions.Code
			if got != bc.code {
				b.Fatalf("%s: code %q, want %q", bc.name, got, bc.code)
			}
		} else if bc.code != "" {
			b.Fatalf("%s: answered: %.200s", bc.name, rec.Body)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				serve()
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if bc.code == "" {
				floor = ns
			}
			if floor > 0 {
				b.ReportMetric(ns/floor, "x-typename")
			}
		})
	}
}
