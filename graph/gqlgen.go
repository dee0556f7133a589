//go:build ignore

// gqlgen.go runs gqlgen with the settings in ../gqlgen.yml and one plugin of this project's,
// sequentialFields. `go generate ./...` runs it from the module root (see ent/generate.go); a
// plain `go tool gqlgen generate` would leave out the plugin and change graph/generated.go.
package main

import (
	"log"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
)

// sequentialFields resolves the fields of every object type in order, on the goroutine that
// marshals the object; only Query's root fields keep gqlgen's goroutine per field.
//
// gqlgen gives a field a goroutine of its own when its resolver takes a context. Here those are
// ent's edge methods (User.spaces, User.fields, SpaceMembership.space, …), and the resolvers of
// Query load those edges up front with entgql's field collection, so the goroutines only wait on
// each other: for users(first: 100) with spaces and fields, 100 of them a page.
type sequentialFields struct{}

// Name implements plugin.Plugin.
func (sequentialFields) Name() string { return "sequentialfields" }

// GenerateCode implements plugin.CodeGenerator; gqlgen calls it before it writes the executor.
func (sequentialFields) GenerateCode(data *codegen.Data) error {
	for _, o := range data.Objects {
		if o.Definition != data.Schema.Query {
			o.DisableConcurrency = true
		}
	}
	return nil
}

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("gqlgen: load config: %v", err)
	}
	if err := api.Generate(cfg, api.AddPlugin(sequentialFields{})); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
}
