package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Space is a place in the community that members join.
type Space struct {
	ent.Schema
}

// Fields of the Space.
func (Space) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").
			NotEmpty().
			MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("slug").
			NotEmpty().
			MaxLen(100).
			Unique().
			Annotations(entgql.OrderField("SLUG")),
	}
}

// Edges of the Space.
func (Space) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("members", SpaceMembership.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), entgql.Directives(hasRole("MODERATOR"))),
	}
}

// Mixin of the Space.
func (Space) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the Space.
func (Space) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField().Directives(hasRole("MEMBER")),
	}
}

// SpaceMembership is a member's place in a space, with its role there.
type SpaceMembership struct {
	ent.Schema
}

// Fields of the SpaceMembership.
func (SpaceMembership) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(hidden()),
		field.Int("space_id").Immutable().Annotations(hidden()),
		field.Enum("role").
			Values("ADMIN", "MEMBER").
			Default("MEMBER"),
	}
}

// Edges of the SpaceMembership.
func (SpaceMembership) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("spaces").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
		edge.From("space", Space.Type).
			Ref("members").
			Field("space_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the SpaceMembership: one membership per member and space (which also serves a
// member's memberships), and a space's members (the foreign key).
func (SpaceMembership) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "space_id").Unique(),
		index.Fields("space_id"),
	}
}

// Mixin of the SpaceMembership.
func (SpaceMembership) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}
