package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/webhook"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/webhookdelivery"
)

func testSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(bytes.Repeat([]byte{9}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// addWebhook registers rc for events (all when none) directly in the database and gives rc the
// secret; it returns the webhook.
func addWebhook(t testing.TB, db *store.DB, s *seal.Sealer, rc *authtest.Receiver, events ...string) *ent.Webhook {
	t.Helper()
	if len(events) == 0 {
		events = auth.WebhookEvents
	}
	secret, text := webhook.NewSecret()
	w := db.Client.Webhook.Create().SetURL(rc.URL + "/hook?token=secret-token").SetEvents(events).
		SetSecret(s.Seal(webhook.PurposeSecret, secret)).SaveX(context.Background())
	rc.SetSecret(t, text)
	return w
}

// newWorker is a worker over db with short delays, allowed to reach the loopback receiver.
func newWorker(db *store.DB, s *seal.Sealer, timeout time.Duration) *webhook.Worker {
	return &webhook.Worker{
		DB: db, Sealer: s, Client: webhook.NewClient(timeout, true), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll: 10 * time.Millisecond, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
	}
}

// record writes a USER_CREATED security event for a new member, as a change would, in its own
// transaction; it returns the member.
func record(t testing.TB, db *store.DB, email string) *ent.User {
	t.Helper()
	ctx := context.Background()
	u := db.Client.User.Create().SetEmail(email).SetUsername(strings.Split(email, "@")[0]).SaveX(ctx)
	if err := auth.Record(ctx, db.Client, auth.Event{Type: auth.EventUserCreated, UserID: u.ID}); err != nil {
		t.Fatal(err)
	}
	return u
}

func deliveries(t testing.TB, db *store.DB) []*ent.WebhookDelivery {
	t.Helper()
	return db.Client.WebhookDelivery.Query().Order(ent.Asc(webhookdelivery.FieldID)).AllX(context.Background())
}

// runUntil runs w's RunOnce until done holds of the deliveries, or fails after timeout.
func runUntil(t testing.TB, w *webhook.Worker, timeout time.Duration, done func([]*ent.WebhookDelivery) bool) []*ent.WebhookDelivery {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := deliveries(t, w.DB)
		if done(got) {
			return got
		}
		if time.Now().After(deadline) {
			for _, d := range got {
				t.Logf("delivery %d: %s attempts %d code %v error %q", d.ID, d.Status, d.Attempts, d.LastResponseCode, d.LastError)
			}
			t.Fatalf("not done within %s", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func allIn(status webhookdelivery.Status) func([]*ent.WebhookDelivery) bool {
	return func(ds []*ent.WebhookDelivery) bool {
		for _, d := range ds {
			if d.Status != status {
				return false
			}
		}
		return len(ds) > 0
	}
}

// TestSign: the signature is the one the Standard Webhooks library computes and verifies.
func TestSign(t *testing.T) {
	secret, text := webhook.NewSecret()
	if !strings.HasPrefix(text, "whsec_") {
		t.Fatalf("secret %q", text)
	}
	lib, err := standardwebhooks.NewWebhook(text)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	body := []byte(`{"type":"member.login","data":{}}`)
	want, err := lib.Sign("msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	got := webhook.Sign(secret, "msg_1", at, body)
	if got != want {
		t.Fatalf("signature %q, the library's %q", got, want)
	}
	h := http.Header{}
	h.Set(webhook.HeaderID, "msg_1")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(webhook.HeaderSignature, got)
	if err := lib.Verify(body, h); err != nil {
		t.Fatalf("the library refuses the signature: %v", err)
	}
	if err := lib.Verify(append(body, ' '), h); err == nil {
		t.Fatal("the library accepts a changed body")
	}
}

// TestOutboxInTransaction: the outbox rows commit or roll back with the change whose security
// event they come from; none are written for a webhook that is disabled or wants other events,
// and a change without a transaction of its own gets one for its event and its rows.
func TestOutboxInTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := testSealer(t)
		rc := authtest.StartReceiver(t)
		addWebhook(t, db, s, rc, auth.WebhookMemberCreated)
		other := addWebhook(t, db, s, rc, auth.WebhookMemberLogin)
		off := addWebhook(t, db, s, rc)
		db.Client.Webhook.UpdateOne(off).SetEnabled(false).ExecX(ctx)

		change := func(commit bool) {
			t.Helper()
			tx, err := db.Client.Tx(ctx)
			if err != nil {
				t.Fatal(err)
			}
			u := tx.User.Create().SetEmail("tx@example.com").SetUsername("tx").SaveX(ctx)
			if err := auth.Record(ctx, tx.Client(), auth.Event{Type: auth.EventUserCreated, UserID: u.ID}); err != nil {
				t.Fatal(err)
			}
			if commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		change(false)
		if got := deliveries(t, db); len(got) != 0 {
			t.Fatalf("a rolled-back change left %d outbox rows", len(got))
		}
		if n := db.Client.SecurityEvent.Query().CountX(ctx); n != 0 {
			t.Fatalf("a rolled-back change left %d events", n)
		}
		change(true)
		got := deliveries(t, db)
		if len(got) != 1 || got[0].Event != auth.WebhookMemberCreated || got[0].WebhookID == other.ID || got[0].WebhookID == off.ID {
			t.Fatalf("a committed change's outbox: %+v", got)
		}
		var p struct {
			Type string
			Data struct{ Member map[string]any }
		}
		if err := json.Unmarshal([]byte(got[0].Payload), &p); err != nil || p.Type != auth.WebhookMemberCreated || p.Data.Member["email"] != "tx@example.com" {
			t.Fatalf("payload %s (%v)", got[0].Payload, err)
		}

		// Without a transaction: the event and its rows are written together.
		record(t, db, "solo@example.com")
		if got := deliveries(t, db); len(got) != 2 {
			t.Fatalf("outbox rows %d, want 2", len(got))
		}
		// An event no webhook wants writes no row.
		if err := auth.Record(ctx, db.Client, auth.Event{Type: auth.EventSettingsChanged}); err != nil {
			t.Fatal(err)
		}
		if got := deliveries(t, db); len(got) != 2 {
			t.Fatalf("outbox rows %d, want 2", len(got))
		}
	})
}

// TestRetries: a delivery answered 500, then too slowly, is retried with the same webhook-id
// until the endpoint takes it; one that always fails ends FAILED after MaxAttempts, with the
// last response code and an error that does not show the URL.
func TestRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := testSealer(t)
		rc := authtest.StartReceiver(t)
		rc.Respond = func(n int, w http.ResponseWriter) {
			switch n {
			case 1, 2:
				w.WriteHeader(http.StatusInternalServerError)
			case 3:
				time.Sleep(700 * time.Millisecond) // past the client's timeout
				w.WriteHeader(http.StatusNoContent)
			default:
				w.WriteHeader(http.StatusOK)
			}
		}
		addWebhook(t, db, s, rc)
		record(t, db, "retry@example.com")
		w := newWorker(db, s, 300*time.Millisecond)
		w.Metrics = webhook.NewMetrics(prometheus.NewRegistry())
		got := runUntil(t, w, 15*time.Second, allIn(webhookdelivery.StatusDELIVERED))
		d := got[0]
		for result, want := range map[string]float64{webhook.ResultRetry: 3, webhook.ResultDelivered: 1, webhook.ResultFailed: 0} {
			if n := testutil.ToFloat64(w.Metrics.Attempts(result)); n != want {
				t.Errorf("%s attempts counted %v, want %v", result, n, want)
			}
		}
		if d.Attempts != 4 || d.LastResponseCode == nil || *d.LastResponseCode != 200 || d.LastAttemptAt == nil || d.LastError != "" {
			t.Fatalf("delivered after retries: attempts %d, code %v, error %q", d.Attempts, d.LastResponseCode, d.LastError)
		}
		ids := rc.Delivered()
		// The slow answer arrived after the client gave up: the receiver may count it delivered.
		for _, x := range ids {
			if x.ID != d.MessageID {
				t.Fatalf("webhook-id %q, the delivery's %q", x.ID, d.MessageID)
			}
		}
		if rc.Attempts() != 4 || rc.Invalid() != 0 {
			t.Fatalf("receiver: %d attempts, %d invalid", rc.Attempts(), rc.Invalid())
		}
	})
}

func TestBoundedRetries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := testSealer(t)
		rc := authtest.StartReceiver(t)
		rc.Respond = func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
		addWebhook(t, db, s, rc)
		record(t, db, "fail@example.com")
		w := newWorker(db, s, time.Second)
		w.MaxAttempts = 3
		got := runUntil(t, w, 10*time.Second, allIn(webhookdelivery.StatusFAILED))
		d := got[0]
		if d.Attempts != 3 || d.LastResponseCode == nil || *d.LastResponseCode != 503 || rc.Attempts() != 3 {
			t.Fatalf("failed: attempts %d (receiver %d), code %v", d.Attempts, rc.Attempts(), d.LastResponseCode)
		}
		if d.LastError == "" || strings.Contains(d.LastError, "secret-token") || strings.Contains(d.LastError, "127.0.0.1") {
			t.Fatalf("last error %q", d.LastError)
		}
		// A FAILED delivery is not claimed again.
		if n, err := w.RunOnce(context.Background()); err != nil || n != 0 {
			t.Fatalf("claimed %d (%v)", n, err)
		}
		// Redelivered, it goes out again with the same webhook-id.
		rc.Respond = nil
		if ok, err := authdb.Redeliver(context.Background(), db.Client, d.ID, time.Now()); err != nil || !ok {
			t.Fatalf("redeliver: %v %v", ok, err)
		}
		got = runUntil(t, w, 10*time.Second, allIn(webhookdelivery.StatusDELIVERED))
		if got[0].Attempts != 1 || len(rc.Delivered()) != 1 || rc.Delivered()[0].ID != d.MessageID {
			t.Fatalf("redelivered: attempts %d, received %v", got[0].Attempts, rc.Delivered())
		}
	})
}

// TestLeaseExpires: a worker that claims a delivery and dies leaves it to another worker once
// the lease ends, which delivers it with the same webhook-id; the dead worker's late outcome
// changes nothing. On MySQL/MariaDB the two workers have databases of their own, as two
// replicas do.
func TestLeaseExpires(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, backend, storetest.Options{})
			other := db
			if backend == store.MySQL {
				other = secondReplica(t, db)
			}
			s := testSealer(t)
			rc := authtest.StartReceiver(t)
			addWebhook(t, db, s, rc)
			record(t, db, "lease@example.com")

			lease := 300 * time.Millisecond
			held, err := authdb.ClaimDeliveries(ctx, db.Client, backend == store.MySQL, time.Now(), lease, 10)
			if err != nil || len(held) != 1 {
				t.Fatalf("claim: %v %v", held, err)
			}
			// The first worker dies here. The second finds nothing due while the lease runs.
			w := newWorker(other, s, time.Second)
			if n, err := w.RunOnce(ctx); err != nil || n != 0 {
				t.Fatalf("claimed a held delivery: %d %v", n, err)
			}
			time.Sleep(lease + 50*time.Millisecond)
			got := runUntil(t, w, 5*time.Second, allIn(webhookdelivery.StatusDELIVERED))
			if r := rc.Delivered(); len(r) != 1 || r[0].ID != held[0].MessageID || got[0].MessageID != held[0].MessageID {
				t.Fatalf("received %v, the claimed delivery's id %q", r, held[0].MessageID)
			}
			late, err := authdb.FinishDelivery(ctx, db.Client, held[0], authdb.DeliveryOutcome{Status: webhookdelivery.StatusFAILED, At: time.Now()})
			if err != nil || late {
				t.Fatalf("the dead worker's late outcome applied: %v %v", late, err)
			}
			if d := deliveries(t, db)[0]; d.Status != webhookdelivery.StatusDELIVERED {
				t.Fatalf("status %s", d.Status)
			}
		})
	}
}

// secondReplica opens db's MySQL/MariaDB database again, as another replica would.
func secondReplica(t testing.TB, db *store.DB) *store.DB {
	t.Helper()
	var name string
	if err := db.SQL.QueryRow("SELECT DATABASE()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(storetest.MySQLDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName, cfg.ParseTime = name, true
	other, err := store.Open(context.Background(), store.MySQL, cfg.FormatDSN(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return other
}

// TestReplicas: two workers on one MySQL/MariaDB database, as two replicas, share the due
// deliveries (FOR UPDATE SKIP LOCKED): every one is delivered once.
func TestReplicas(t *testing.T) {
	storetest.MySQLDSN(t)
	db := storetest.Open(t, store.MySQL, storetest.Options{})
	other := secondReplica(t, db)
	s := testSealer(t)
	rc := authtest.StartReceiver(t)
	addWebhook(t, db, s, rc, auth.WebhookMemberCreated)
	const n = 60
	for i := range n {
		record(t, db, "r"+strconv.Itoa(i)+"@example.com")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range []*store.DB{db, other} {
		w := newWorker(d, s, 5*time.Second)
		w.Batch = 4
		wg.Add(1)
		go func() { defer wg.Done(); w.Run(ctx) }()
	}
	got := rc.WaitFor(t, 30*time.Second, "every delivery", func(d []authtest.Delivery) bool { return len(d) >= n })
	cancel()
	wg.Wait()
	seen := map[string]bool{}
	for _, d := range rc.Delivered() {
		if seen[d.ID] {
			t.Fatalf("%s delivered twice", d.ID)
		}
		seen[d.ID] = true
	}
	if len(got) != n || len(seen) != n {
		t.Fatalf("%d deliveries, %d ids, want %d", len(got), len(seen), n)
	}
}

// TestCheckURL: only https URLs (and http with allowPrivate) with a host, no user information or
// fragment; an address literal or localhost that is not public only with allowPrivate.
func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://hooks.example.com/in", false, true},
		{"https://hooks.example.com:8443/in?x=1", false, true},
		{"http://hooks.example.com/in", false, false},
		{"http://127.0.0.1:8080/in", true, true},
		{"https://127.0.0.1/in", false, false},
		{"https://localhost/in", false, false},
		{"https://LocalHost./in", false, false},
		{"https://hooks.localhost/in", false, false},
		{"https://localhost.example.com/in", false, true},
		{"http://localhost:8080/in", true, true},
		{"https://10.1.2.3/in", false, false},
		{"https://192.168.1.1/in", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://[::1]/in", false, false},
		{"https://[fe80::1]/in", false, false},
		{"https://[::ffff:127.0.0.1]/in", false, false},
		{"https://0.0.0.0/in", false, false},
		{"https://93.184.215.14/in", false, true},
		{"ftp://hooks.example.com/in", true, false},
		{"hooks.example.com/in", false, false},
		{"https:///in", false, false},
		{"https://user:pass@hooks.example.com/in", false, false},
		{"https://hooks.example.com/in#frag", false, false},
		{"https://hooks.example.com/" + strings.Repeat("a", 2000), false, false},
	} {
		t.Run(c.url[:min(len(c.url), 40)], func(t *testing.T) {
			_, err := webhook.CheckURL(c.url, c.allowPrivate)
			if (err == nil) != c.ok {
				t.Fatalf("CheckURL(%q, %v): %v", c.url, c.allowPrivate, err)
			}
			if err != nil && !errors.Is(err, webhook.ErrURL) {
				t.Fatalf("error %v is not ErrURL", err)
			}
		})
	}
}

func TestPublicIP(t *testing.T) {
	for ip, public := range map[string]bool{
		"8.8.8.8": true, "2606:4700::1111": true, "127.0.0.1": false, "10.0.0.1": false, "172.16.5.4": false,
		"192.168.0.1": false, "169.254.169.254": false, "0.0.0.0": false, "224.0.0.1": false, "100.64.0.1": false,
		"::1": false, "::": false, "fe80::1": false, "fc00::1": false, "ff02::1": false, "::ffff:10.0.0.1": false,
		"::ffff:8.8.8.8": true, "255.255.255.255": false,
	} {
		if got := webhook.PublicIP(net.ParseIP(ip)); got != public {
			t.Errorf("PublicIP(%s) = %v, want %v", ip, got, public)
		}
	}
}

// TestClientRefusals: the delivery client refuses, when it connects, an address that is not
// public, whether the URL names it or a name resolves to it (so a name that resolves elsewhere
// later, DNS rebinding, is refused too); it follows no redirect and reads a capped body.
func TestClientRefusals(t *testing.T) {
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/target", http.StatusFound)
		case "/big":
			_, _ = w.Write(bytes.Repeat([]byte("x"), 10<<20))
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	strict := webhook.NewClient(2*time.Second, false)
	for _, u := range []string{srv.URL + "/a", "http://localhost:" + port + "/b", "http://[::ffff:127.0.0.1]:" + port + "/c"} {
		resp, err := strict.Post(u, "application/json", strings.NewReader("{}"))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("%s: reached a loopback address", u)
		}
		if !errors.Is(err, webhook.ErrPrivateAddress) {
			t.Fatalf("%s: %v, want ErrPrivateAddress", u, err)
		}
	}
	for _, p := range []string{"/a", "/b", "/c"} {
		if _, ok := hits.Load(p); ok {
			t.Fatalf("the refused request reached %s", p)
		}
	}
	// Redirects are answers, never followed.
	open := webhook.NewClient(2*time.Second, true)
	resp, err := open.Post(srv.URL+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := hits.Load("/target"); ok || resp.StatusCode != http.StatusFound {
		t.Fatalf("redirect: status %d, followed %v", resp.StatusCode, ok)
	}
}

// TestBodyCapped: a worker reads at most MaxResponseBytes of an answer.
func TestBodyCapped(t *testing.T) {
	db := storetest.SQLite(t)
	s := testSealer(t)
	rc := authtest.StartReceiver(t)
	wrote := make(chan int64, 1)
	rc.Respond = func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusOK)
		var n int64
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for range 1024 { // 32 MiB, unless the reader stops
			k, err := w.Write(chunk)
			n += int64(k)
			if err != nil {
				break
			}
		}
		wrote <- n
	}
	addWebhook(t, db, s, rc)
	record(t, db, "big@example.com")
	w := newWorker(db, s, 5*time.Second)
	runUntil(t, w, 10*time.Second, allIn(webhookdelivery.StatusDELIVERED))
	if n := <-wrote; n >= 32<<20 {
		t.Fatalf("the whole %d-byte body was read", n)
	}
}
