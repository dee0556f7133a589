// Package ent holds the data model: the schemas in ent/schema and the code ent generates from them.
//
// `go generate ./...` runs ent (with entgql, which writes graph/ent.graphqls) and then gqlgen
// (graph/gqlgen.go).
package ent

//go:generate go run -mod=mod entc.go
//go:generate sh -c "cd .. && go run graph/gqlgen.go"
