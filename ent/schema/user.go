package schema

import (
	"errors"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/community/sso/auth/identity"
)

// User is a member of the community.
type User struct {
	ent.Schema
}

// binary makes MySQL/MariaDB compare the column byte for byte, as SQLite does: identifiers are
// matched in their canonical form only (package identity), never by a collation's case or
// accent folding.
var binary = entsql.Annotation{Collation: "utf8mb4_bin"}

// canonical rejects a value that is not in its canonical form, so the unique indexes hold one
// row per canonical identifier.
func canonical(form func(string) (string, error)) func(string) error {
	return func(s string) error {
		c, err := form(s)
		if err != nil {
			return err
		}
		if c != s {
			return errors.New("not in canonical form")
		}
		return nil
	}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("external_id").
			Optional().
			Nillable().
			Unique().
			MaxLen(identity.MaxExternalIDLength).
			Validate(canonical(identity.ExternalID)).
			Annotations(entgql.OrderField("EXTERNAL_ID"), entgql.MapsTo("externalId"), binary),
		field.String("email").
			NotEmpty().
			MaxLen(identity.MaxEmailLength).
			Unique().
			Validate(canonical(identity.Email)).
			Annotations(entgql.OrderField("EMAIL"), binary),
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
			MaxLen(identity.MaxUsernameLength).
			Unique().
			Validate(canonical(identity.Username)).
			Annotations(entgql.OrderField("USERNAME"), binary),
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

// Indexes of the User. The unique fields have their unique indexes; every other field the users
// connection orders by has one, so a page in that order (and a range filter on it) reads the
// page's rows, not the table.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		// The active admins, read (and locked on MySQL/MariaDB) by every change that could
		// leave the community without one (ent/store's last-admin hook); also ROLE.
		index.Fields("role", "status"),
		index.Fields("status"),
		index.Fields("name"),
		index.Fields("last_login_at"),
		index.Fields("created_at"),
		index.Fields("updated_at"),
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
