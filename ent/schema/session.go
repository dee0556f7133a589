package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Session is a signed-in browser. The cookie holds a random token; the database only its SHA-256.
type Session struct {
	ent.Schema
}

// Fields of the Session.
func (Session) Fields() []ent.Field {
	return []ent.Field{
		field.Bytes("token_hash").
			SchemaType(sha256Column).
			Validate(sha256Size).
			Unique().
			Sensitive(),
		field.Int("user_id").Immutable(),
		field.Enum("method").Values("PASSWORD", "OAUTH2", "JWT").Immutable(),
		field.Time("expires_at").SchemaType(datetime),
		field.Time("last_seen_at").SchemaType(datetime),
		field.String("ip").Default("").MaxLen(64),
		field.String("user_agent").Default("").MaxLen(512),
		field.Bytes("id_token").Optional().Sensitive().Comment("Sealed."),
		field.Bytes("refresh_token").Optional().Sensitive().Comment("Sealed."),
		field.Time("revalidate_at").SchemaType(datetime).Optional().Nillable(),
		field.String("oidc_sid").Optional().Nillable().Immutable().MaxLen(255).
			Comment("The OpenID Connect session id (the id_token's sid) of an OAUTH2 session; back-channel logout ends sessions by it."),
	}
}

// Edges of the Session.
func (Session) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("sessions").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the Session: the pruning, a member's sessions (revokeUserSessions; MySQL would
// index the foreign key by itself, SQLite does not), and the sessions of one OpenID Connect
// session id (back-channel logout).
func (Session) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("expires_at"),
		index.Fields("user_id"),
		index.Fields("oidc_sid"),
	}
}

// Mixin of the Session.
func (Session) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the Session.
func (Session) Annotations() []schema.Annotation {
	return []schema.Annotation{hidden()}
}

// APIToken lets an admin's script call the API with `Authorization: Bearer`.
type APIToken struct {
	ent.Schema
}

// Fields of the APIToken.
func (APIToken) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxLen(200),
		field.Bytes("token_hash").
			SchemaType(sha256Column).
			Validate(sha256Size).
			Unique().
			Sensitive().
			Annotations(hidden()),
		field.Int("user_id").Immutable().Annotations(hidden()),
		field.Time("last_used_at").SchemaType(datetime).Optional().Nillable(),
		field.Time("expires_at").SchemaType(datetime).Optional().Nillable(),
	}
}

// Edges of the APIToken.
func (APIToken) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("api_tokens").
			Field("user_id").
			Unique().
			Required().
			Immutable(),
	}
}

// Indexes of the APIToken: a member's tokens (the foreign key).
func (APIToken) Indexes() []ent.Index {
	return []ent.Index{index.Fields("user_id")}
}

// Mixin of the APIToken.
func (APIToken) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the APIToken.
func (APIToken) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Type("ApiToken")}
}
