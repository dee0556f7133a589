package auth

import (
	"slices"

	"github.com/community/sso/auth/authdb"
)

// Webhook event types (docs/WEBHOOKS.md).
const (
	WebhookMemberCreated          = "member.created"
	WebhookMemberUpdated          = "member.updated"
	WebhookMemberSuspended        = "member.suspended"
	WebhookMemberUnsuspended      = "member.unsuspended"
	WebhookMemberLogin            = "member.login"
	WebhookSSOConflict            = "sso.conflict"
	WebhookSpaceMembershipChanged = "space.membership.changed"
)

// WebhookEvents are the event types a webhook may subscribe to.
var WebhookEvents = []string{
	WebhookMemberCreated, WebhookMemberUpdated, WebhookMemberSuspended, WebhookMemberUnsuspended,
	WebhookMemberLogin, WebhookSSOConflict, WebhookSpaceMembershipChanged,
}

// webhookMessage maps a security event to the webhook event it reports, if any. Every change a
// webhook tells of is recorded as a security event through RecordAll, in the change's
// transaction: mapping them here makes every path (logins, GraphQL mutations, sync) emit its
// webhook events in that transaction, with no code of its own.
func webhookMessage(e Event) (authdb.WebhookMessage, bool) {
	m := authdb.WebhookMessage{UserID: e.UserID, Data: map[string]any{}}
	switch e.Type {
	case EventUserCreated:
		m.Type = WebhookMemberCreated
	case EventUserUpdated, EventUserLinked:
		fields := stringList(e.Detail["fields"])
		if e.Type == EventUserLinked && !slices.Contains(fields, "externalId") {
			fields = append(fields, "externalId")
		}
		if len(fields) == 0 {
			return m, false // a login that only skipped values: nothing changed
		}
		m.Type = WebhookMemberUpdated
		m.Data["changes"] = fields
	case EventEmailVerified, EventEmailReleased:
		// The member confirmed a new address, or lost an unconfirmed one to a member who proved it.
		m.Type = WebhookMemberUpdated
		m.Data["changes"] = []string{"email"}
	case EventStatusChanged:
		switch e.Detail["to"] {
		case "SUSPENDED":
			m.Type = WebhookMemberSuspended
		case "ACTIVE":
			m.Type = WebhookMemberUnsuspended
		default:
			return m, false
		}
	case EventLoginSucceeded:
		m.Type = WebhookMemberLogin
		m.Data["method"] = e.Method
	case EventSSOConflict:
		m.Type = WebhookSSOConflict
		for _, k := range []string{"existingUserId", "existingExternalId", "incomingExternalId", "email"} {
			if v, ok := e.Detail[k]; ok {
				m.Data[k] = v
			}
		}
		m.Data["method"] = e.Method
	case EventSpaceMembershipChanged:
		m.Type = WebhookSpaceMembershipChanged
		if c, ok := e.Detail["changes"]; ok {
			m.Data["changes"] = c
		} else {
			c := map[string]any{"space": e.Detail["spaceId"], "action": e.Detail["action"]}
			if r, ok := e.Detail["role"]; ok {
				c["role"] = r
			}
			m.Data["changes"] = []any{c}
		}
	default:
		return m, false
	}
	return m, true
}

// stringList reads a detail's list of names ([]string, or []any of strings once decoded).
func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return append([]string(nil), l...)
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
