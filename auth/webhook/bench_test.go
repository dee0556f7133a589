package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/webhook"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/webhookdelivery"
)

// BenchmarkDelivery measures the delivery worker's throughput to a loopback receiver that
// answers 204 at once: b.N due deliveries are in the outbox, and one worker (default batch and
// concurrency) claims, signs, sends and records them all. It reports deliveries/s; the claim
// and the outcome UPDATEs are the database's share, the HTTP round trips the rest.
func BenchmarkDelivery(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, backend, storetest.Options{})
			s := testSealer(b)
			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(srv.Close)
			key, _ := webhook.NewSecret()
			hook := db.Client.Webhook.Create().SetURL(srv.URL + "/in").SetEvents(auth.WebhookEvents).
				SetSecret(s.Seal(webhook.PurposeSecret, key)).SaveX(ctx)
			payload := `{"type":"member.login","timestamp":"2026-11-30T12:00:00Z","data":{"member":{"id":"1","externalId":"ext-1","email":"m@example.com","name":"M","username":"m","role":"MEMBER","status":"ACTIVE"},"method":"JWT"}}`
			now := time.Now().UTC()
			var batch []*ent.WebhookDeliveryCreate
			for i := range b.N {
				batch = append(batch, db.Client.WebhookDelivery.Create().SetWebhookID(hook.ID).SetEvent(auth.WebhookMemberLogin).
					SetPayload(payload).SetMessageID(fmt.Sprintf("msg_bench_%d", i)).SetNextAttemptAt(now))
				if len(batch) == 500 || i == b.N-1 {
					db.Client.WebhookDelivery.CreateBulk(batch...).ExecX(ctx)
					batch = batch[:0]
				}
			}
			w := newWorker(db, s, 10*time.Second)
			b.ResetTimer()
			start := time.Now()
			for got.Load() < int64(b.N) {
				if _, err := w.RunOnce(ctx); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if n := db.Client.WebhookDelivery.Query().Where(webhookdelivery.StatusEQ(webhookdelivery.StatusDELIVERED)).CountX(ctx); n != b.N {
				b.Fatalf("%d delivered, want %d", n, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
		})
	}
}
