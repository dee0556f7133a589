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

// Webhook is an endpoint that receives the community's member events (auth/webhook), signed the
// Standard Webhooks way with its own secret.
type Webhook struct {
	ent.Schema
}

// Fields of the Webhook.
func (Webhook) Fields() []ent.Field {
	return []ent.Field{
		field.String("url").NotEmpty().MaxLen(2000),
		field.Strings("events").
			Comment("The event types it receives (member.created, member.login, …)."),
		field.Bytes("secret").
			Sensitive().
			Comment("The signing secret's bytes, sealed (auth/seal, purpose webhook:secret).").
			Annotations(hidden()),
		field.Bool("enabled").Default(true),
	}
}

// Edges of the Webhook.
func (Webhook) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("deliveries", WebhookDelivery.Type).
			Annotations(entsql.OnDelete(entsql.Cascade), hidden()),
	}
}

// Indexes of the Webhook: the enabled endpoints, read by every write of a security event that
// maps to a webhook event (authdb.InsertEvents).
func (Webhook) Indexes() []ent.Index {
	return []ent.Index{index.Fields("enabled")}
}

// Mixin of the Webhook.
func (Webhook) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Annotations of the Webhook.
func (Webhook) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput)}
}

// WebhookDelivery is one event for one webhook: the transactional outbox's row, written in the
// transaction of the change it reports, and its delivery state. A worker claims a due row for a
// lease (claim, locked_until; next_attempt_at moves to the lease's end, so a worker that dies
// leaves the row due again), delivers it, and records the outcome.
type WebhookDelivery struct {
	ent.Schema
}

// Fields of the WebhookDelivery.
func (WebhookDelivery) Fields() []ent.Field {
	return []ent.Field{
		field.Int("webhook_id").Immutable().Annotations(hidden()),
		field.String("event").NotEmpty().MaxLen(64).Immutable(),
		field.Text("payload").Immutable().
			Comment("The JSON body sent, the same at every attempt.").
			Annotations(entgql.Type("String")),
		field.String("message_id").NotEmpty().MaxLen(64).Immutable().
			Comment("The webhook-id header: the same at every attempt and redelivery."),
		field.Enum("status").Values("PENDING", "DELIVERED", "FAILED").Default("PENDING"),
		field.Int("attempts").Default(0).NonNegative(),
		field.Time("next_attempt_at").SchemaType(datetime).
			Comment("When the row is due: the next attempt, or the end of a claim's lease.").
			Annotations(hidden()),
		field.Time("last_attempt_at").SchemaType(datetime).Optional().Nillable(),
		field.Int("last_response_code").Optional().Nillable(),
		field.String("last_error").Default("").MaxLen(500).
			Comment("Why the last attempt failed, without secrets or the response body."),
		field.String("claim").Default("").MaxLen(64).
			Comment("The random token of the worker that holds the row, until locked_until.").
			Annotations(hidden()),
		field.Time("locked_until").SchemaType(datetime).Optional().Nillable().Annotations(hidden()),
	}
}

// Edges of the WebhookDelivery.
func (WebhookDelivery) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("webhook", Webhook.Type).
			Ref("deliveries").
			Field("webhook_id").
			Unique().
			Required().
			Immutable().
			Annotations(hidden()),
	}
}

// Indexes of the WebhookDelivery: the due rows (claims read only those, oldest first), and one
// webhook's deliveries newest first (webhookDeliveries; also the foreign key).
func (WebhookDelivery) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("status", "next_attempt_at"),
		index.Fields("webhook_id"),
	}
}

// Mixin of the WebhookDelivery.
func (WebhookDelivery) Mixin() []ent.Mixin {
	return []ent.Mixin{TimeMixin{}}
}

// Annotations of the WebhookDelivery.
func (WebhookDelivery) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entgql.RelayConnection(),
		entgql.Skip(entgql.SkipWhereInput, entgql.SkipOrderField, entgql.SkipMutationCreateInput, entgql.SkipMutationUpdateInput),
	}
}
