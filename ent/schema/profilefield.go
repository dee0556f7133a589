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

// ProfileField is a custom profile field that the community defines and SSO fills.
type ProfileField struct {
	ent.Schema
}

// Fields of the ProfileField.
func (ProfileField) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").
			NotEmpty().
			MaxLen(64).
			Unique(),
		field.String("name").
			NotEmpty().
			MaxLen(200),
		field.Enum("type").
			Values("TEXT", "NUMBER", "BOOLEAN", "URL", "EMAIL", "DATE", "SELECT").
			Default("TEXT"),
		field.Strings("options").
			Optional().
			Comment("The allowed values of a SELECT field."),
		field.Strings("external_keys").
			Optional().
			Comment("Payload keys read in order at each SSO login; the first non-empty value wins."),
	}
}

// Edges of the ProfileField.
func (ProfileField) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("values", ProfileFieldValue.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), hidden()),
	}
}

// Mixin of the ProfileField.
func (ProfileField) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// ProfileFieldValue is one member's value of one profile field.
type ProfileFieldValue struct {
	ent.Schema
}

// Fields of the ProfileFieldValue.
func (ProfileFieldValue) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id").Immutable().Annotations(hidden()),
		field.Int("field_id").Immutable().Annotations(hidden()),
		field.String("key").
			NotEmpty().
			MaxLen(64).
			Comment("The profile field's key."),
		field.Text("value"),
	}
}

// Edges of the ProfileFieldValue.
func (ProfileFieldValue) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("fields").
			Field("user_id").
			Unique().
			Required().
			Immutable().
			Annotations(hidden()),
		edge.From("profile_field", ProfileField.Type).
			Ref("values").
			Field("field_id").
			Unique().
			Required().
			Immutable().
			Annotations(hidden()),
	}
}

// Indexes of the ProfileFieldValue.
func (ProfileFieldValue) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "field_id").Unique(),
		index.Fields("field_id"),
	}
}

// Mixin of the ProfileFieldValue.
func (ProfileFieldValue) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Annotations of the ProfileFieldValue.
func (ProfileFieldValue) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("UserField")}
}
