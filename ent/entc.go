//go:build ignore

package main

import (
	"fmt"
	"log"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
	"github.com/vektah/gqlparser/v2/ast"
)

func main() {
	ex, err := entgql.NewExtension(
		entgql.WithConfigPath("../gqlgen.yml"),
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("../graph/ent.graphqls"),
		entgql.WithWhereInputs(true),
		entgql.WithSchemaHook(nonNullLists, externalIDNames),
	)
	if err != nil {
		log.Fatalf("entc: create entgql extension: %v", err)
	}
	err = entc.Generate("./schema", &gen.Config{
		Features: []gen.Feature{
			gen.FeatureGlobalID,
			gen.FeatureUpsert,
			gen.FeatureLock,
			gen.FeatureExecQuery,
			gen.FeatureModifier,
		},
	}, entc.Extensions(ex), overrideAfter("template/paginate.tmpl", "template/haswith.tmpl"))
	if err != nil {
		log.Fatalf("entc: generate: %v", err)
	}
}

// overrideAfter adds templates that redefine blocks of the extension's templates: they are
// added after the extension's, so theirs are replaced.
func overrideAfter(files ...string) entc.Option {
	return func(cfg *gen.Config) error {
		t, err := gen.NewTemplate("overrides").Funcs(entgql.TemplateFuncs).ParseFiles(files...)
		if err != nil {
			return fmt.Errorf("entc: parse %v: %w", files, err)
		}
		cfg.Templates = append(cfg.Templates, t)
		return nil
	}
}

// externalIDNames spells externalID as externalId in every generated name (where-inputs), as
// the User type does, and WebhookDelivery's messageID as messageId. gqlgen binds names to Go
// fields case-insensitively, so the Go side is unchanged.
func externalIDNames(_ *gen.Graph, s *ast.Schema) error {
	for _, def := range s.Types {
		for _, f := range def.Fields {
			f.Name = strings.ReplaceAll(f.Name, "externalID", "externalId")
			f.Name = strings.ReplaceAll(f.Name, "messageID", "messageId")
		}
	}
	return nil
}

// nonNullLists makes the member's own lists non-null ([T!]!): an empty list, never null.
func nonNullLists(_ *gen.Graph, s *ast.Schema) error {
	for typ, fields := range map[string][]string{"User": {"spaces", "fields"}} {
		def, ok := s.Types[typ]
		if !ok {
			return fmt.Errorf("entc: type %s not found", typ)
		}
		for _, name := range fields {
			f := def.Fields.ForName(name)
			if f == nil {
				return fmt.Errorf("entc: field %s.%s not found", typ, name)
			}
			f.Type.NonNull = true
		}
	}
	return nil
}
