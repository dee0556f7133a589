package graph

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// responseData are answers' data as gqlgen writes them, and as the JSON scalar (encoding/json,
// with a newline) adds to them.
var responseData = []string{
	`{"users":{"edges":[{"node":{"id":"1","email":"ada@example.com","name":"Ada Lovelace"}}]}}`,
	"{\"me\":{\"name\":\"<script>alert(\\\"&\\\")</script>\",\"tagline\":\"a \\\"quoted\\\" \\\\ \u2028 \u2029 \u00e9 \u2027\"}}",
	"{\"detail\":{\"a\": [1, 2,\t3]}\n,\"x\":\"  spaced  \\n \"}",
	`{"s":"\u003c already escaped \" < \\"}`,
	`{"nothing":null,"list":[],"obj":{},"n":-1.5e+10,"t":true,"f":false}`,
	"\"a string with \u00e9, \u2713 and \u2028\"",
}

// TestWriteResponse: byte for byte what json.Marshal writes, for answers with data only (written
// by writeCompactHTML) and with anything else.
func TestWriteResponse(t *testing.T) {
	hasNext := true
	var responses []*graphql.Response
	for _, d := range responseData {
		responses = append(responses, &graphql.Response{Data: json.RawMessage(d)})
	}
	responses = append(responses,
		&graphql.Response{},
		&graphql.Response{Data: json.RawMessage(responseData[1]), Errors: gqlerror.List{{Message: "<no>", Path: ast.Path{ast.PathName("me")}}}},
		&graphql.Response{Data: json.RawMessage(responseData[0]), Extensions: map[string]any{"cost": 3}},
		&graphql.Response{Data: json.RawMessage(responseData[0]), Label: "l", Path: ast.Path{ast.PathIndex(1)}, HasNext: &hasNext},
	)
	for _, resp := range responses {
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeResponse(rec, resp)
		if got := rec.Body.String(); got != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

// FuzzWriteCompactHTML: for any JSON document, what encoding/json writes for it as a
// json.RawMessage.
func FuzzWriteCompactHTML(f *testing.F) {
	for _, d := range responseData {
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		want, err := json.Marshal(json.RawMessage(doc))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if writeCompactHTML(&got, doc); got.String() != string(want) {
			t.Fatalf("%q: got %q, want %q", doc, got.String(), want)
		}
	})
}
