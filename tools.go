//go:build tools

// The generators this module pins. gqlgen is also a `tool` in go.mod (`go tool gqlgen`), but
// `go generate` runs it from graph/gqlgen.go, with the project's plugin; entc runs from
// ent/entc.go. Importing them here keeps their versions in go.mod and go.sum.
package main

import (
	_ "entgo.io/contrib/entgql"
	_ "entgo.io/ent/cmd/ent"
	_ "entgo.io/ent/entc/gen"
	_ "github.com/99designs/gqlgen"
)
