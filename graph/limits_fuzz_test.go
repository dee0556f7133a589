package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// FuzzDocumentLimits sends documents to the handler as an anonymous caller. Each is either
// refused by a cheap limit (body, tokens, selections, directives, depth), refused by
// validation or complexity, or answered; never an internal error. And a document the cheap
// limits let through is within them when counted the slow way, every fragment expanded at
// every spread: the memoised count never undercounts. The seed corpus (the attacks and
// everyday queries) runs in every go test.
func FuzzDocumentLimits(f *testing.F) {
	introspection, err := os.ReadFile("testdata/introspection.graphql")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		graphtest.FanOut(24), graphtest.FanOut(40), graphtest.FanOut(6), graphtest.FanOut(7),
		graphtest.Repeated("id", 60000), graphtest.Repeated("id", 150), graphtest.Repeated("id @include(if: true)", 1000),
		graphtest.Aliases("me { id }", 150),
		string(introspection),
		"{ me { id email spaces { role space { slug } } fields { key value } } }",
		"{ loginOptions { methods loginUrl } }",
		"query Q($x: Boolean!) { me @include(if: $x) { id } }",
		"fragment A on Query { ...B } fragment B on Query { ...A } { ...A }",
		"fragment A on Query { me { ...U ...U } } fragment U on User { id ...V } fragment V on User { email } { ...A ...A }",
		"{ me { ... on User { ... on User { ... on User { id } } } } }",
		"{ a: me { id } a: me { email } }",
		"{ me { a: id a: email } }",
		"{ __schema { types { fields { type { ofType { ofType { name } } } } } } }",
		"{ me { id ",
		"{ me { \"unterminated } }",
		"query { __typename } query { __typename }",
		"",
		"\x00{}",
	} {
		f.Add(seed)
	}
	db := storetest.SQLite(f)
	h := graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client}, graph.HandlerConfig{Introspection: true})
	lim := graph.DefaultAnonymousLimits
	f.Fuzz(func(t *testing.T, query string) {
		body, _ := json.Marshal(map[string]any{"query": query})
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var resp struct {
			Data   json.RawMessage `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, not JSON: %.300s", rec.Code, rec.Body)
		}
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %.300s", rec.Code, rec.Body)
		}
		code := ""
		if len(resp.Errors) > 0 {
			code, _ = resp.Errors[0].Extensions["code"].(string)
		}
		if len(resp.Errors) > graph.MaxErrors+1 {
			t.Fatalf("%d errors", len(resp.Errors))
		}
		for _, e := range resp.Errors {
			if e.Extensions["code"] == graph.CodeInternal || e.Extensions["code"] == nil {
				t.Fatalf("error without a code, or internal: %.300s", rec.Body)
			}
		}
		switch code {
		case graph.CodeRequestTooLarge:
			if int64(len(body)) <= lim.Bytes {
				t.Fatalf("a body of %d bytes refused as too large", len(body))
			}
			return
		case graph.CodeTokenLimit:
			if n := tokens(query); n <= lim.Tokens {
				t.Fatalf("refused for tokens with %d", n)
			}
			return
		case graph.CodeDocumentLimit, graph.CodeDepth:
			return
		}
		// Let through the cheap limits: within them counted the slow way.
		if int64(len(body)) > lim.Bytes {
			t.Fatalf("a body of %d bytes let through (code %q)", len(body), code)
		}
		if n := tokens(query); n > lim.Tokens {
			t.Fatalf("%d tokens let through (code %q)", n, code)
		}
		doc, err := parser.ParseQuery(&ast.Source{Input: query})
		if err != nil {
			return
		}
		if n := expand(doc, lim.Selections+1); n > lim.Selections {
			t.Fatalf("%d+ selections let through (code %q)", n, code)
		}
	})
}

// tokens counts the lexical tokens of query up to its end or its first lexing error.
func tokens(query string) int {
	lx := lexer.New(&ast.Source{Input: query})
	n := 0
	for {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			return n
		}
		n++
	}
}

// expand counts the selections of doc's operations with every fragment expanded at every
// spread, stopping at stop. A fragment already being expanded on the path counts once.
func expand(doc *ast.QueryDocument, stop int) int {
	n := 0
	onPath := map[string]bool{}
	var walk func(set ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			if n >= stop {
				return
			}
			n++
			switch s := sel.(type) {
			case *ast.Field:
				walk(s.SelectionSet)
			case *ast.InlineFragment:
				walk(s.SelectionSet)
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil && !onPath[s.Name] {
					onPath[s.Name] = true
					walk(f.SelectionSet)
					onPath[s.Name] = false
				}
			}
		}
	}
	for _, op := range doc.Operations {
		walk(op.SelectionSet)
	}
	return n
}
