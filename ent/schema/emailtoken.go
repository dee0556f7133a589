package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// EmailToken is a mailed single-use link: the confirmation of a member's new email address
// (VERIFY_EMAIL) or a password reset (RESET_PASSWORD). The mail holds a random token; the
// database only its SHA-256. A RESET_PASSWORD request for an unknown email is kept too, without
// a user, so the rate limit counts every request alike.
type EmailToken struct {
	ent.Schema
}

// Fields of the EmailToken.
func (EmailToken) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("purpose").Values("VERIFY_EMAIL", "RESET_PASSWORD").Immutable(),
		field.Bytes("token_hash").
			SchemaType(sha256Column).
			Validate(sha256Size).
			Unique().
			Immutable().
			Sensitive(),
		field.Int("user_id").Optional().Nillable().Immutable(),
		field.String("email").MaxLen(200).Immutable().
			Comment("VERIFY_EMAIL: the new address to confirm; RESET_PASSWORD: the normalized address asked for."),
		field.String("ip").Default("").MaxLen(64).Immutable().
			Comment("The client address of the request, for the rate limit."),
		field.Time("expires_at").SchemaType(datetime),
		field.Time("used_at").SchemaType(datetime).Optional().Nillable(),
	}
}

// Edges of the EmailToken.
func (EmailToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("user", User.Type).
			Field("user_id").
			Unique().
			Immutable().
			Annotations(entsql.OnDelete(entsql.Cascade)),
	}
}

// Indexes of the EmailToken: a member's pending change, the rate limit's counts, the pruning.
func (EmailToken) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("user_id", "purpose"),
		index.Fields("email", "purpose", "created_at"),
		index.Fields("ip", "purpose", "created_at"),
		index.Fields("expires_at"),
	}
}

// Mixin of the EmailToken.
func (EmailToken) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the EmailToken.
func (EmailToken) Annotations() []schema.Annotation {
	return []schema.Annotation{hidden()}
}
