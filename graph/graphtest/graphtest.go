// Package graphtest helps tests drive the GraphQL API: over HTTP (Post, Result), with gqlgen's
// client as a given viewer (As), and with the documents of the attacks the request limits stop.
package graphtest

import (
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/client"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
)

// As sends the operation as u (nil: anonymous), as the session middleware would have found it.
func As(u *ent.User) client.Option {
	return func(r *client.Request) {
		if u != nil {
			r.HTTP = r.HTTP.WithContext(auth.NewContext(r.HTTP.Context(), &auth.Viewer{User: u}))
		}
	}
}

// The documents of the attacks the request limits stop (graph.Limits).

// FanOut is levels fragments, each spreading the next twice: 2^levels copies of { me { id } }
// once expanded, in a document of a few hundred bytes.
func FanOut(levels int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range levels {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { me { id } }\n", levels)
	return b.String()
}

// Repeated is { me { field field … } } with n copies of field.
func Repeated(field string, n int) string {
	return "{ me { " + strings.Repeat(field+" ", n) + "} }"
}

// Aliases is n aliased copies of sel at the root: { a0: sel a1: sel … }.
func Aliases(sel string, n int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, sel)
	}
	b.WriteString("}")
	return b.String()
}
