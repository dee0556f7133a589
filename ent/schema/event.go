package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// SecurityEvent is one entry of the security log: logins, failures, conflicts, settings changes.
type SecurityEvent struct {
	ent.Schema
}

// Fields of the SecurityEvent.
func (SecurityEvent) Fields() []ent.Field {
	return []ent.Field{
		field.String("type").NotEmpty().MaxLen(64),
		field.Int("user_id").Optional().Nillable().Annotations(hidden()),
		field.String("method").Default("").MaxLen(16),
		field.String("ip").Default("").MaxLen(64),
		field.String("user_agent").Default("").MaxLen(512),
		field.String("subject").Default("").MaxLen(200).
			Comment("What the event is about when it has no user, e.g. the normalized email of a failed login.").
			Annotations(hidden()),
		field.JSON("detail", map[string]any{}).
			Optional().
			Annotations(entgql.Type("JSON"), entgql.Skip(entgql.SkipWhereInput)),
	}
}

// Edges of the SecurityEvent.
func (SecurityEvent) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).
			Ref("security_events").
			Field("user_id").
			Unique(),
	}
}

// Indexes of the SecurityEvent: the log is read newest first, all of it or by type. Every login
// writes to this table, so it has no index that only the rate limit needs (see LoginFailure).
func (SecurityEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"),
		index.Fields("type", "created_at"),
	}
}

// Mixin of the SecurityEvent.
func (SecurityEvent) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the SecurityEvent.
func (SecurityEvent) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.QueryField().Directives(hasRole("ADMIN")),
	}
}

// ReplayMarker remembers a used JWT SSO token id (jti) until the token expires.
type ReplayMarker struct {
	ent.Schema
}

// Fields of the ReplayMarker.
func (ReplayMarker) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(64).Unique().
			Comment("SHA-256 of the jti, hex."),
		field.Time("expires_at").SchemaType(datetime),
	}
}

// Indexes of the ReplayMarker.
func (ReplayMarker) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Mixin of the ReplayMarker.
func (ReplayMarker) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the ReplayMarker.
func (ReplayMarker) Annotations() []schema.Annotation {
	return []schema.Annotation{hidden()}
}

// LoginFailure is a failed direct (email and password) login, kept for the rate limit until its
// window has passed. The security log has the same failure as a LOGIN_FAILED event; this table
// keeps the rate limit's lookups off the log, which every login writes to.
type LoginFailure struct {
	ent.Schema
}

// Fields of the LoginFailure.
func (LoginFailure) Fields() []ent.Field {
	return []ent.Field{
		field.String("ip").Default("").MaxLen(64),
		field.String("subject").Default("").MaxLen(200).
			Comment("The normalized email the login was for."),
		field.Time("expires_at").SchemaType(datetime),
	}
}

// Indexes of the LoginFailure: the two counts of the rate limit, and the pruning.
func (LoginFailure) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("ip", "created_at"),
		index.Fields("subject", "created_at"),
		index.Fields("expires_at"),
	}
}

// Mixin of the LoginFailure.
func (LoginFailure) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the LoginFailure.
func (LoginFailure) Annotations() []schema.Annotation {
	return []schema.Annotation{hidden()}
}
