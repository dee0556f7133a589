package authdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/webhook"
	"github.com/community/sso/ent/webhookdelivery"
)

// seedDeliveries makes two enabled webhooks and a disabled one, and n deliveries of the first:
// every tenth PENDING (half of those due at now, half later), the others DELIVERED or FAILED.
func seedDeliveries(t *testing.T, db *store.DB, now time.Time, n int) (hooks []*ent.Webhook) {
	t.Helper()
	ctx := context.Background()
	for i, enabled := range []bool{true, true, false} {
		hooks = append(hooks, db.Client.Webhook.Create().SetURL(fmt.Sprintf("https://hooks%d.example.com/in", i)).
			SetEvents([]string{"member.login"}).SetSecret([]byte{byte(i)}).SetEnabled(enabled).SaveX(ctx))
	}
	var batch []*ent.WebhookDeliveryCreate
	flush := func() {
		if len(batch) > 0 {
			db.Client.WebhookDelivery.CreateBulk(batch...).ExecX(ctx)
			batch = batch[:0]
		}
	}
	for i := range n {
		status, next := webhookdelivery.StatusDELIVERED, now.Add(-time.Duration(i)*time.Second)
		switch {
		case i%10 == 0 && i%20 == 0:
			status = webhookdelivery.StatusPENDING
		case i%10 == 0:
			status, next = webhookdelivery.StatusPENDING, now.Add(time.Duration(i)*time.Second)
		case i%7 == 0:
			status = webhookdelivery.StatusFAILED
		}
		batch = append(batch, db.Client.WebhookDelivery.Create().SetWebhookID(hooks[0].ID).SetEvent("member.login").
			SetPayload("{}").SetMessageID(fmt.Sprintf("msg_%d", i)).SetStatus(status).SetNextAttemptAt(next.UTC()))
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
	return hooks
}

// TestDeliveryStatements: the fixed statements of the webhook outbox read and write what the
// ent queries they stand for do, on both backends.
func TestDeliveryStatements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		hooks := seedDeliveries(t, db, now, 200)

		// The enabled webhooks.
		got, err := subscribers(ctx, db.Client, []WebhookMessage{{Type: "member.login"}})
		if err != nil {
			t.Fatal(err)
		}
		want := db.Client.Webhook.Query().Where(webhook.Enabled(true)).IDsX(ctx)
		if keys := slices.Sorted(func(yield func(int) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}); !slices.Equal(keys, want) {
			t.Fatalf("subscribers %v, ent %v", keys, want)
		}

		// The due deliveries, oldest due first.
		for _, limit := range []int{3, 100} {
			entIDs := db.Client.WebhookDelivery.Query().
				Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.NextAttemptAtLTE(now)).
				Order(ent.Asc(webhookdelivery.FieldNextAttemptAt)).Limit(limit).IDsX(ctx)
			q := dueDeliveries
			if db.Driver == store.MySQL {
				q += skipLocked
			}
			rows, err := db.SQL.QueryContext(ctx, q, webhookdelivery.StatusPENDING, now, limit)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int
			for rows.Next() {
				var id int
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			rows.Close()
			if !slices.Equal(ids, entIDs) || len(ids) == 0 {
				t.Fatalf("limit %d: due %v, ent %v", limit, ids, entIDs)
			}
		}

		// A claim takes exactly the due rows, reads them as ent does, and holds them for the lease.
		due := db.Client.WebhookDelivery.Query().
			Where(webhookdelivery.StatusEQ(webhookdelivery.StatusPENDING), webhookdelivery.NextAttemptAtLTE(now)).
			Order(ent.Asc(webhookdelivery.FieldNextAttemptAt)).AllX(ctx)
		claimed, err := ClaimDeliveries(ctx, db.Client, db.Driver == store.MySQL, now, time.Minute, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != len(due) {
			t.Fatalf("claimed %d, due %d", len(claimed), len(due))
		}
		for i, c := range claimed {
			row := db.Client.WebhookDelivery.GetX(ctx, c.ID)
			if c.MessageID != row.MessageID || c.Payload != row.Payload || c.Event != row.Event || c.Attempts != row.Attempts ||
				c.URL != hooks[0].URL || string(c.Secret) != string(hooks[0].Secret) {
				t.Fatalf("claimed %+v, ent %+v", c, row)
			}
			if row.Claim != c.Claim || row.LockedUntil == nil || !row.LockedUntil.Equal(now.Add(time.Minute)) || !row.NextAttemptAt.Equal(now.Add(time.Minute)) {
				t.Fatalf("claimed row %d: claim %q locked until %v next %v", i, row.Claim, row.LockedUntil, row.NextAttemptAt)
			}
		}
		if again, err := ClaimDeliveries(ctx, db.Client, db.Driver == store.MySQL, now, time.Minute, 100); err != nil || len(again) != 0 {
			t.Fatalf("claimed held rows again: %d %v", len(again), err)
		}

		// The outbox INSERT writes what ent would: one row per subscribed enabled webhook.
		u := db.Client.User.Create().SetEmail("o@example.com").SetUsername("o").SaveX(ctx)
		before := db.Client.WebhookDelivery.Query().CountX(ctx)
		if err := RecordEvents(ctx, db.Client, now, []Event{{Type: "LOGIN_SUCCEEDED", UserID: u.ID}},
			[]WebhookMessage{{Type: "member.login", UserID: u.ID}}); err != nil {
			t.Fatal(err)
		}
		rows := db.Client.WebhookDelivery.Query().Order(ent.Desc(webhookdelivery.FieldID)).Limit(2).AllX(ctx)
		if n := db.Client.WebhookDelivery.Query().CountX(ctx); n != before+2 {
			t.Fatalf("%d rows written, want 2", n-before)
		}
		for _, r := range rows {
			if r.Status != webhookdelivery.StatusPENDING || r.Attempts != 0 || !r.NextAttemptAt.Equal(now) || !r.CreatedAt.Equal(now) ||
				r.Event != "member.login" || r.MessageID != rows[0].MessageID || r.Claim != "" || r.LockedUntil != nil || r.LastResponseCode != nil ||
				!strings.Contains(r.Payload, `"email":"o@example.com"`) || r.WebhookID == hooks[2].ID {
				t.Fatalf("outbox row %+v", r)
			}
		}
	})
}

// TestClaimPlans: claiming due deliveries reads only the due rows, through the (status,
// next_attempt_at) index, never the whole table, however many delivered rows it holds.
func TestClaimPlans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		seedDeliveries(t, db, now, 5000)
		if db.Driver == store.MySQL {
			if _, err := db.SQL.ExecContext(ctx, "ANALYZE TABLE `"+webhookdelivery.Table+"`"); err != nil {
				t.Fatal(err)
			}
		}
		ids := []any{1, 2, 3}
		q := dueDeliveries
		if db.Driver == store.MySQL {
			q += skipLocked
		}
		for _, s := range []struct {
			q    string
			args []any
		}{
			{q, []any{webhookdelivery.StatusPENDING, now, 32}},
			{claimDeliveries + "(?, ?, ?)", append([]any{"c", now, now, now, webhookdelivery.StatusPENDING, now}, ids...)},
			{claimedDeliveries + "(?, ?, ?)", append([]any{"c"}, ids...)},
			{enabledWebhooks, []any{true}},
		} {
			steps, err := storetest.Explain(ctx, db, s.q, s.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range steps {
				if st.Table == webhookdelivery.Table && (st.FullScan || st.Rows > 1000) {
					t.Errorf("%s reads the whole table: %s", s.q, st.Detail)
				}
			}
		}
	})
}
