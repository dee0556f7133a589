package auth

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
)

// Security event types.
const (
	EventLoginSucceeded         = "LOGIN_SUCCEEDED"
	EventLoginFailed            = "LOGIN_FAILED"
	EventLogout                 = "LOGOUT"
	EventAPITokenCreated        = "API_TOKEN_CREATED"
	EventAPITokenRevoked        = "API_TOKEN_REVOKED"
	EventSessionRevoked         = "SESSION_REVOKED"
	EventSessionRevalidated     = "SESSION_REVALIDATED"
	EventRevalidationDeferred   = "SESSION_REVALIDATION_DEFERRED"
	EventRateLimited            = "RATE_LIMITED"
	EventUserCreated            = "USER_CREATED"
	EventUserLinked             = "USER_LINKED"
	EventUserUpdated            = "USER_UPDATED"
	EventSSOConflict            = "SSO_CONFLICT"
	EventRoleChanged            = "ROLE_CHANGED"
	EventRoleChangeRefused      = "ROLE_CHANGE_REFUSED"
	EventStatusChanged          = "STATUS_CHANGED"
	EventSpaceMembershipChanged = "SPACE_MEMBERSHIP_CHANGED"
	EventSettingsChanged        = "SETTINGS_CHANGED"
	EventIdentifierReview       = "IDENTIFIER_REVIEW"
	// EventMemberSynced is a member created or updated without a login (POST /api/auth/sso/sync,
	// syncMembers); its detail names the source, the decision and the changed fields.
	EventMemberSynced = "MEMBER_SYNCED"
	// EventMemberSyncFailed is a sync that was refused; its detail names the source and the
	// reason (an SSO error code).
	EventMemberSyncFailed = "MEMBER_SYNC_FAILED"
	// EventJWTPreviousSecretUsed is a JWT SSO login or sync whose token only the secret a
	// rotation replaced verified, inside the rotation's grace period: its user is the member.
	EventJWTPreviousSecretUsed = "JWT_PREVIOUS_SECRET_USED"
)

// Event is one security log entry to record (the row authdb.InsertEvents writes).
type Event authdb.Event

// FromRequest fills the event's ip and user agent from r.
func (e Event) FromRequest(r *http.Request) Event {
	if r == nil {
		return e
	}
	e.IP = ClientIP(r)
	e.Agent = r.UserAgent()
	return e
}

// ClientIP is the address of the connection's peer (see web.ClientIP).
func ClientIP(r *http.Request) string { return web.ClientIP(r) }

// Record writes e with client (which may be a transaction's client, so the event commits or
// rolls back with the change it describes).
func Record(ctx context.Context, client *ent.Client, e Event) error {
	return RecordAll(ctx, client, e)
}

// RecordAll writes events, in order, with one statement (authdb.InsertEvents), written now,
// and the webhook events they map to (webhookMessage) into the outbox for the webhooks that
// want them, in the same transaction (authdb.RecordEvents). A request whose settings read
// found no webhook enabled (a login: [EmbeddingWith]) does not look for them again: a webhook
// enabled while such a request runs gets the events of the requests that start after it.
func RecordAll(ctx context.Context, client *ent.Client, events ...Event) error {
	rows := make([]authdb.Event, len(events))
	var msgs []authdb.WebhookMessage
	hooks := !noWebhooks(ctx)
	for i, e := range events {
		rows[i] = authdb.Event(e)
		if !hooks {
			continue
		}
		if m, ok := webhookMessage(e); ok {
			msgs = append(msgs, m)
		}
	}
	return authdb.RecordEvents(ctx, client, time.Now(), rows, msgs)
}

// RecordOrLog records e and logs (never fails the request) when the database refuses it. client
// is not a transaction's: a lost lock conflict (store.IsDeadlock) is tried again.
func RecordOrLog(ctx context.Context, client *ent.Client, log *slog.Logger, e Event) {
	err := store.Retry(ctx, statementAttempts, statementBackoff, store.IsDeadlock, func() error { return Record(ctx, client, e) })
	if err != nil {
		log.WarnContext(ctx, "auth: record security event", "type", e.Type, "err", err)
	}
}
