package schema

import (
	"errors"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// User is a member of the community.
type User struct {
	ent.Schema
}

// normalizedEmail rejects an email that is not in its normalized (trimmed, lower-cased) form,
// so the unique index on email is a unique index on the normalized form.
func normalizedEmail(s string) error {
	if s != strings.ToLower(strings.TrimSpace(s)) {
		return errors.New("email must be normalized (trimmed and lower-cased)")
	}
	return nil
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("external_id").
			Optional().
			Nillable().
			Unique().
			MaxLen(50).
			Annotations(entgql.OrderField("EXTERNAL_ID"), entgql.MapsTo("externalId")),
		field.String("email").
			NotEmpty().
			MaxLen(200).
			Unique().
			Validate(normalizedEmail).
			Annotations(entgql.OrderField("EMAIL")),
		field.Bool("email_verified").
			Default(true).
			Comment("The member proved it owns the email: it came verified from SSO, was set by an admin, or was confirmed by a mailed link.").
			Annotations(entgql.Skip(entgql.SkipWhereInput)),
		field.String("name").
			Default("").
			MaxLen(200).
			Annotations(entgql.OrderField("NAME")),
		field.String("username").
			NotEmpty().
			MaxLen(100).
			Unique().
			Annotations(entgql.OrderField("USERNAME")),
		field.String("tagline").
			Default("").
			MaxLen(500),
		field.String("picture").
			Default("").
			MaxLen(2048),
		field.Enum("role").
			Values("ADMIN", "MODERATOR", "MEMBER").
			Default("MEMBER").
			Annotations(entgql.OrderField("ROLE")),
		field.Enum("status").
			Values("ACTIVE", "SUSPENDED").
			Default("ACTIVE").
			Annotations(entgql.OrderField("STATUS")),
		field.String("password_hash").
			Optional().
			Sensitive().
			Annotations(hidden()),
		field.Time("last_login_at").SchemaType(datetime).
			Optional().
			Nillable().
			Annotations(entgql.OrderField("LAST_LOGIN_AT")),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("spaces", SpaceMembership.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("fields", ProfileFieldValue.Type).
			Annotations(entsql.OnDelete(entsql.Cascade)),
		edge.To("sessions", Session.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), hidden()),
		edge.To("api_tokens", APIToken.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), hidden()),
		edge.To("security_events", SecurityEvent.Type).
			Annotations(entsql.OnDelete(entsql.SetNull), hidden()),
	}
}

// Mixin of the User.
func (User) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Annotations of the User.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField().Directives(hasRole("ADMIN")),
	}
}
