package auth

import (
	"context"
	"slices"
	"testing"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/ent/webhookdelivery"
)

// TestBootstrapAdminEvents: the admin BootstrapAdmin creates, and a member it promotes or
// reinstates, are in the security log with the source ADMIN_EMAIL, and so in the webhook outbox;
// a start that changes nothing records nothing.
func TestBootstrapAdminEvents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		c.Webhook.Create().SetURL("https://hooks.example.com/in").SetSecret([]byte("sealed")).
			SetEvents([]string{WebhookMemberCreated, WebhookMemberUpdated, WebhookMemberUnsuspended}).ExecX(ctx)
		events := func() []string {
			t.Helper()
			var out []string
			for _, e := range c.SecurityEvent.Query().Order(ent.Asc(securityevent.FieldID)).AllX(ctx) {
				if e.Detail["source"] != bootstrapSource {
					t.Fatalf("%s without the source: %v", e.Type, e.Detail)
				}
				out = append(out, e.Type)
			}
			c.SecurityEvent.Delete().ExecX(ctx)
			return out
		}
		outbox := func() []string {
			t.Helper()
			var out []string
			for _, d := range c.WebhookDelivery.Query().Order(ent.Asc(webhookdelivery.FieldID)).AllX(ctx) {
				out = append(out, d.Event)
			}
			c.WebhookDelivery.Delete().ExecX(ctx)
			return out
		}
		const pass = "bootstrap-password-1"

		u, err := BootstrapAdmin(ctx, c, "Owner@Example.com", pass)
		if err != nil {
			t.Fatal(err)
		}
		if got := events(); !slices.Equal(got, []string{EventUserCreated}) {
			t.Fatalf("created: events %q", got)
		}
		if got := outbox(); !slices.Equal(got, []string{WebhookMemberCreated}) {
			t.Fatalf("created: outbox %q", got)
		}

		if _, err := BootstrapAdmin(ctx, c, "owner@example.com", pass); err != nil {
			t.Fatal(err)
		}
		if got, box := events(), outbox(); len(got) != 0 || len(box) != 0 {
			t.Fatalf("an unchanged admin: events %q, outbox %q", got, box)
		}

		// Another admin who can sign in (a password) keeps the community's invariant while this
		// one is demoted and suspended.
		c.User.Create().SetEmail("other@example.com").SetUsername("other").SetRole(user.RoleADMIN).SetPasswordHash("$argon2id$other").ExecX(ctx)
		c.User.UpdateOneID(u.ID).SetRole(user.RoleMEMBER).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
		if _, err := BootstrapAdmin(ctx, c, "owner@example.com", pass); err != nil {
			t.Fatal(err)
		}
		if got := events(); !slices.Equal(got, []string{EventUserUpdated, EventRoleChanged, EventStatusChanged}) {
			t.Fatalf("reinstated: events %q", got)
		}
		if got := outbox(); !slices.Equal(got, []string{WebhookMemberUpdated, WebhookMemberUnsuspended}) {
			t.Fatalf("reinstated: outbox %q", got)
		}
	})
}
