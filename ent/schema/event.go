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

// Indexes of the SecurityEvent: the log is read newest first, all of it, by type or by member
// (user_id also serves the foreign key); created_at is also the retention's pruning. Every login
// writes to this table, so it has no index that only the login throttle needs (see LoginThrottle).
func (SecurityEvent) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("created_at"),
		index.Fields("type", "created_at"),
		index.Fields("user_id", "created_at"),
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

// LoginThrottle counts the failed direct (email and password) logins of one client address, or of
// one email address from one client address, for the login throttle (auth/throttle.go). A row is
// a counter changed with compare-and-set updates, so concurrent attempts each get a count of
// their own; every replica reads the same rows. The security log has each failure as a
// LOGIN_FAILED event; this table keeps the throttle's reads and writes off the log.
type LoginThrottle struct {
	ent.Schema
}

// Fields of the LoginThrottle.
func (LoginThrottle) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxLen(64).Unique().Immutable().
			Comment("SHA-256, hex, of what is counted: the client address, or the address and the email."),
		field.String("ip").Default("").MaxLen(64).Immutable().
			Comment("The client address (an IPv6 address counts by its /64 prefix)."),
		field.String("subject").Default("").MaxLen(200).Immutable().
			Comment("The normalized email for a per-email counter; empty for the address's counter."),
		field.Int("failures").Default(0).NonNegative().
			Comment("Attempts counted: an attempt counts from the moment it is checked until it succeeds."),
		field.Time("last_at").SchemaType(datetime).
			Comment("When the latest counted attempt started; a per-email counter's delay runs from it."),
		field.Time("expires_at").SchemaType(datetime).
			Comment("When the counter is forgotten: the end of the address's window, or the end of the delay plus a window."),
	}
}

// Indexes of the LoginThrottle: the pruning (the key has its unique index).
func (LoginThrottle) Indexes() []ent.Index {
	return []ent.Index{index.Fields("expires_at")}
}

// Mixin of the LoginThrottle.
func (LoginThrottle) Mixin() []ent.Mixin {
	return []ent.Mixin{CreatedMixin{}}
}

// Annotations of the LoginThrottle.
func (LoginThrottle) Annotations() []schema.Annotation {
	return []schema.Annotation{hidden()}
}
