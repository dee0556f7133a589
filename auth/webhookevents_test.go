package auth

import (
	"fmt"
	"testing"
)

// TestWebhookMessage: which security events become which webhook events, with what data.
func TestWebhookMessage(t *testing.T) {
	for _, tt := range []struct {
		e       Event
		typ     string // "": none
		changes string
	}{
		{Event{Type: EventUserCreated, UserID: 1}, WebhookMemberCreated, "<nil>"},
		{Event{Type: EventUserUpdated, UserID: 1, Detail: map[string]any{"fields": []string{"name", "company"}}}, WebhookMemberUpdated, "[name company]"},
		{Event{Type: EventUserUpdated, UserID: 1, Detail: map[string]any{"skipped": []string{"plan"}}}, "", ""},
		{Event{Type: EventUserLinked, UserID: 1, Detail: map[string]any{"fields": []string(nil)}}, WebhookMemberUpdated, "[externalId]"},
		{Event{Type: EventEmailVerified, UserID: 1}, WebhookMemberUpdated, "[email]"},
		{Event{Type: EventEmailReleased, UserID: 1}, WebhookMemberUpdated, "[email]"},
		{Event{Type: EventStatusChanged, UserID: 1, Detail: map[string]any{"from": "ACTIVE", "to": "SUSPENDED"}}, WebhookMemberSuspended, "<nil>"},
		{Event{Type: EventStatusChanged, UserID: 1, Detail: map[string]any{"from": "SUSPENDED", "to": "ACTIVE"}}, WebhookMemberUnsuspended, "<nil>"},
		{Event{Type: EventLoginSucceeded, UserID: 1, Method: "OAUTH2"}, WebhookMemberLogin, "<nil>"},
		{Event{Type: EventSSOConflict, UserID: 1, Detail: map[string]any{"email": "a@example.com", "fix": "x"}}, WebhookSSOConflict, "<nil>"},
		{Event{Type: EventSpaceMembershipChanged, UserID: 1, Detail: map[string]any{"spaceId": 7, "action": "LEAVE"}}, WebhookSpaceMembershipChanged, "[map[action:LEAVE space:7]]"},
		{Event{Type: EventLoginFailed}, "", ""},
		{Event{Type: EventRoleChanged, UserID: 1}, "", ""}, // the USER_UPDATED beside it names the role
		{Event{Type: EventSettingsChanged}, "", ""},
	} {
		t.Run(tt.e.Type, func(t *testing.T) {
			m, ok := webhookMessage(tt.e)
			if !ok {
				if tt.typ != "" {
					t.Fatalf("no webhook event, want %s", tt.typ)
				}
				return
			}
			if m.Type != tt.typ || m.UserID != tt.e.UserID || fmt.Sprint(m.Data["changes"]) != tt.changes {
				t.Fatalf("%+v, want %s with changes %s", m, tt.typ, tt.changes)
			}
			if _, ok := m.Data["fix"]; ok {
				t.Fatal("the admin's hint went into the payload")
			}
		})
	}
}
