package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/auth/webhook"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/graph/graphtest"
)

// webhookMessage is a delivered payload.
type webhookMessage struct {
	ID   string
	Type string `json:"type"`
	Data struct {
		Member  map[string]any `json:"member"`
		Changes any            `json:"changes"`
		Method  string         `json:"method"`
		Email   string         `json:"email"`
	} `json:"data"`
}

func messages(t *testing.T, rc *authtest.Receiver) []webhookMessage {
	t.Helper()
	var out []webhookMessage
	for _, d := range rc.Delivered() {
		var m webhookMessage
		if err := json.Unmarshal(d.Body, &m); err != nil {
			t.Fatalf("payload %s: %v", d.Body, err)
		}
		m.ID = d.ID
		out = append(out, m)
	}
	return out
}

func types(ms []webhookMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Type)
	}
	return out
}

// startWorker runs the delivery worker of app's database, as server.go does, until the test ends.
func startWorker(t *testing.T, app *authtest.App) {
	t.Helper()
	sealer, err := seal.New(app.Cfg.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		(&webhook.Worker{DB: app.DB, Sealer: sealer, Client: webhook.NewClient(app.Cfg.WebhookTimeout, app.Cfg.WebhookAllowPrivate),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Poll: 10 * time.Millisecond, Backoff: 10 * time.Millisecond}).Run(ctx)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestWebhooks: an admin registers a webhook through the API; every event type, whichever path
// makes it (JWT SSO logins, GraphQL mutations, a conflicting login), reaches a real receiver
// that verifies the signatures; a rolled-back mutation sends nothing; deliveries are listed and
// redelivered with the same webhook-id; only admins manage webhooks.
func TestWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		app := testserver.New(t, db, testserver.Options{Env: map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true"}})
		c := app.Callers()
		jwtSecret := app.EnableJWT(c.Admin)
		rc := authtest.StartReceiver(t)
		startWorker(t, app)

		// Input errors, and who may manage webhooks.
		for _, tt := range []struct{ input, field string }{
			{`{url: "ftp://hooks.example.com/in", events: ["member.login"]}`, "url"},
			{`{url: "not a url", events: ["member.login"]}`, "url"},
			{`{url: "https://user:pw@hooks.example.com/in", events: ["member.login"]}`, "url"},
			{`{url: "https://hooks.example.com/in", events: []}`, "events"},
			{`{url: "https://hooks.example.com/in", events: ["member.deleted"]}`, "events"},
		} {
			before := storetest.Snapshot(t, db)
			r := app.GQL(c.Admin, "", `mutation { createWebhook(input: `+tt.input+`) { secret } }`, nil)
			if r.Code() != "BAD_USER_INPUT" || r.Field() != tt.field {
				t.Errorf("%s: %s", tt.input, r.Raw)
			}
			if storetest.Snapshot(t, db) != before {
				t.Errorf("%s changed data", tt.input)
			}
		}
		for _, who := range []*http.Client{c.Member, c.Moderator} {
			if r := app.GQL(who, "", `mutation { createWebhook(input: {url: "https://hooks.example.com/in", events: ["member.login"]}) { secret } }`, nil); r.Code() != "FORBIDDEN" {
				t.Fatalf("a non-admin creates a webhook: %s", r.Raw)
			}
			if r := app.GQL(who, "", `{ webhooks { id } }`, nil); r.Code() != "FORBIDDEN" {
				t.Fatalf("a non-admin lists webhooks: %s", r.Raw)
			}
		}

		r := app.GQL(c.Admin, "", `mutation($in: CreateWebhookInput!) { createWebhook(input: $in) { secret webhook { id url events enabled } } }`,
			map[string]any{"in": map[string]any{"url": rc.URL + "/in", "events": auth.WebhookEvents}})
		secret, _ := graphtest.Dig(r.Data, "createWebhook", "secret").(string)
		hookID := graphtest.Dig(r.Data, "createWebhook", "webhook", "id")
		if !strings.HasPrefix(secret, webhook.SecretPrefix) || hookID == nil {
			t.Fatalf("createWebhook: %s", r.Raw)
		}
		if strings.Contains(storetest.Snapshot(t, db), strings.TrimPrefix(secret, webhook.SecretPrefix)) {
			t.Fatal("the signing secret is stored in the clear")
		}
		rc.SetSecret(t, secret)
		r = app.GQL(c.Admin, "", `{ webhooks { id url events enabled } }`, nil)
		if graphtest.Dig(r.Data, "webhooks", 0, "id") != hookID || graphtest.Dig(r.Data, "webhooks", 0, "url") != rc.URL+"/in" || graphtest.Dig(r.Data, "webhooks", 0, "enabled") != true {
			t.Fatalf("webhooks: %s", r.Raw)
		}
		if r := app.GQL(c.Moderator, "", `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": hookID}); r.Code() != "FORBIDDEN" {
			t.Fatalf("a moderator reads a webhook by node: %s", r.Raw)
		}
		if r := app.GQL(c.Admin, "", `{ webhooks { id secret } }`, nil); r.Code() == "" {
			t.Fatalf("the secret is readable: %s", r.Raw)
		}

		r = app.GQL(c.Admin, "", `mutation { createSpace(input: {name: "General", slug: "general"}) { id } }`, nil)
		spaceID := graphtest.Dig(r.Data, "createSpace", "id")
		login := func(over map[string]any) int {
			t.Helper()
			over["jti"] = fmt.Sprintf("wh-%d", time.Now().UnixNano())
			tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(jwtSecret), authtest.Claims(over), nil)
			return app.SSOGet(webtest.Browser(t), tok, "/", "application/json").Status
		}
		// A new member, with a space: member.created, space.membership.changed, member.login.
		if s := login(map[string]any{"sub": "ext-w1", "email": "w1@example.com", "name": "W One", "spaceIds": []any{"general"}}); s != http.StatusSeeOther {
			t.Fatalf("login: %d", s)
		}
		w1 := app.DB.Client.User.Query().Where().AllX(context.Background())
		var memberID string
		for _, u := range w1 {
			if u.Email == "w1@example.com" {
				memberID = fmt.Sprint(u.ID)
			}
		}
		// The same member with a new name: member.updated (name), member.login.
		if s := login(map[string]any{"sub": "ext-w1", "email": "w1@example.com", "name": "W Renamed"}); s != http.StatusSeeOther {
			t.Fatalf("login: %d", s)
		}
		// An admin suspends and reinstates the member: member.updated and member.suspended, then
		// member.updated and member.unsuspended; then takes it out of the space.
		for _, st := range []string{"SUSPENDED", "ACTIVE"} {
			if r := app.GQL(c.Admin, "", `mutation($id: ID!, $s: UserStatus!) { updateUser(id: $id, input: {status: $s}) { status } }`,
				map[string]any{"id": memberID, "s": st}); r.Code() != "" {
				t.Fatalf("updateUser: %s", r.Raw)
			}
		}
		if r := app.GQL(c.Admin, "", `mutation($s: ID!, $u: ID!) { removeSpaceMember(spaceId: $s, userId: $u) }`, map[string]any{"s": spaceID, "u": memberID}); r.Code() != "" {
			t.Fatalf("removeSpaceMember: %s", r.Raw)
		}
		// A rolled-back mutation: the rename is undone with the failing field, and sends nothing.
		if r := app.GQL(c.Admin, "", `mutation($id: ID!) { a: updateUser(id: $id, input: {name: "Rolled Back"}) { name } b: deleteSpace(id: 999999) }`,
			map[string]any{"id": memberID}); r.Code() != "NOT_FOUND" {
			t.Fatalf("failing mutation: %s", r.Raw)
		}
		// A direct (password) login: member.login, committed with its session.
		app.Login(webtest.Browser(t), "member@example.com", authtest.Password)
		// A conflicting login (another externalId, the member's email): sso.conflict, nothing else.
		if s := login(map[string]any{"sub": "ext-other", "email": "w1@example.com", "name": "Other"}); s != http.StatusConflict {
			t.Fatalf("conflicting login: %d", s)
		}

		want := []string{
			"member.created", "space.membership.changed", "member.login",
			"member.updated", "member.login",
			"member.updated", "member.suspended", "member.updated", "member.unsuspended",
			"space.membership.changed",
			"member.login",
			"sso.conflict",
		}
		rc.WaitFor(t, 20*time.Second, "every event", func(d []authtest.Delivery) bool { return len(d) >= len(want) })
		time.Sleep(100 * time.Millisecond) // nothing more comes
		got := messages(t, rc)
		gotTypes := types(got)
		sortedGot, sortedWant := slices.Sorted(slices.Values(gotTypes)), slices.Sorted(slices.Values(want))
		if !slices.Equal(sortedGot, sortedWant) {
			t.Fatalf("delivered %q\nwant %q", gotTypes, want)
		}
		if rc.Invalid() != 0 {
			t.Fatalf("%d deliveries with a bad signature", rc.Invalid())
		}
		ids := map[string]bool{}
		for _, m := range got {
			ids[m.ID] = true
			switch m.Type {
			case "member.created":
				if m.Data.Member["externalId"] != "ext-w1" || m.Data.Member["email"] != "w1@example.com" || m.Data.Member["id"] != memberID {
					t.Errorf("member.created: %+v", m.Data)
				}
			case "member.login":
				direct := m.Data.Method == "PASSWORD" && m.Data.Member["email"] == "member@example.com"
				if !direct && (m.Data.Method != "JWT" || m.Data.Member["id"] != memberID) {
					t.Errorf("member.login: %+v", m.Data)
				}
			case "member.updated":
				ch := fmt.Sprint(m.Data.Changes)
				if ch != "[name]" && ch != "[status]" {
					t.Errorf("member.updated changes %v", m.Data.Changes)
				}
				if m.Data.Member["name"] == "Rolled Back" {
					t.Errorf("a rolled-back change was delivered: %+v", m.Data)
				}
			case "sso.conflict":
				if m.Data.Email != "w1@example.com" || m.Data.Member["id"] != memberID {
					t.Errorf("sso.conflict: %+v", m.Data)
				}
			}
		}
		if len(ids) != len(want) {
			t.Fatalf("%d distinct webhook-ids for %d events", len(ids), len(want))
		}

		// The deliveries as the API lists them, and a redelivery with the same webhook-id.
		r = app.GQL(c.Admin, "", `query($id: ID!) { webhookDeliveries(webhookId: $id, first: 50) { totalCount edges { node { id event messageId status attempts lastResponseCode lastAttemptAt } } } }`,
			map[string]any{"id": hookID})
		if n, _ := graphtest.Dig(r.Data, "webhookDeliveries", "totalCount").(float64); int(n) != len(want) {
			t.Fatalf("webhookDeliveries: %s", r.Raw)
		}
		first := graphtest.Dig(r.Data, "webhookDeliveries", "edges", 0, "node").(map[string]any)
		if first["status"] != "DELIVERED" || first["attempts"].(float64) != 1 || first["lastResponseCode"].(float64) != 204 || first["lastAttemptAt"] == nil {
			t.Fatalf("delivery: %v", first)
		}
		r = app.GQL(c.Admin, "", `mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { status attempts } }`, map[string]any{"id": first["id"]})
		if graphtest.Dig(r.Data, "redeliverWebhook", "status") != "PENDING" {
			t.Fatalf("redeliverWebhook: %s", r.Raw)
		}
		again := rc.WaitFor(t, 10*time.Second, "the redelivery", func(d []authtest.Delivery) bool { return len(d) > len(want) })
		if again[len(want)].ID != first["messageId"] {
			t.Fatalf("redelivered with id %q, want %q", again[len(want)].ID, first["messageId"])
		}
		if r := app.GQL(c.Admin, "", `mutation { redeliverWebhook(deliveryId: 999999) { status } }`, nil); r.Code() != "NOT_FOUND" {
			t.Fatalf("redeliver unknown: %s", r.Raw)
		}

		// Disabled, it gets nothing; deleted, it is gone with its deliveries.
		r = app.GQL(c.Admin, "", `mutation($id: ID!) { updateWebhook(id: $id, input: {enabled: false, events: ["member.login"]}) { enabled events } }`, map[string]any{"id": hookID})
		if graphtest.Dig(r.Data, "updateWebhook", "enabled") != false || fmt.Sprint(graphtest.Dig(r.Data, "updateWebhook", "events")) != "[member.login]" {
			t.Fatalf("updateWebhook: %s", r.Raw)
		}
		before := app.DB.Client.WebhookDelivery.Query().CountX(context.Background())
		if s := login(map[string]any{"sub": "ext-w1", "email": "w1@example.com", "name": "W Renamed"}); s != http.StatusSeeOther {
			t.Fatalf("login: %d", s)
		}
		if n := app.DB.Client.WebhookDelivery.Query().CountX(context.Background()); n != before {
			t.Fatalf("a disabled webhook got %d new deliveries", n-before)
		}
		if r := app.GQL(c.Admin, "", `mutation($id: ID!) { updateWebhook(id: $id, input: {url: "gopher://x"}) { url } }`, map[string]any{"id": hookID}); r.Code() != "BAD_USER_INPUT" || r.Field() != "url" {
			t.Fatalf("updateWebhook bad url: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": hookID})
		if graphtest.Dig(r.Data, "deleteWebhook") != true {
			t.Fatalf("deleteWebhook: %s", r.Raw)
		}
		r = app.GQL(c.Admin, "", `{ webhooks { id } }`, nil)
		if l, ok := graphtest.Dig(r.Data, "webhooks").([]any); !ok || len(l) != 0 || app.DB.Client.WebhookDelivery.Query().CountX(context.Background()) != 0 {
			t.Fatalf("after delete: %s", r.Raw)
		}
	})
}

// TestWebhookURLsArePublic: without WEBHOOK_ALLOW_PRIVATE, only https URLs of public hosts.
func TestWebhookURLsArePublic(t *testing.T) {
	db := storetest.SQLite(t)
	app := testserver.New(t, db, testserver.Options{})
	c := app.Callers()
	for _, u := range []string{"http://hooks.example.com/in", "https://127.0.0.1/in", "https://localhost/in", "https://169.254.169.254/", "https://[::1]/in"} {
		r := app.GQL(c.Admin, "", `mutation($u: String!) { createWebhook(input: {url: $u, events: ["member.login"]}) { secret } }`, map[string]any{"u": u})
		if r.Code() != "BAD_USER_INPUT" || r.Field() != "url" {
			t.Errorf("%s: %s", u, r.Raw)
		}
	}
	r := app.GQL(c.Admin, "", `mutation { createWebhook(input: {url: "https://hooks.example.com/in", events: ["member.login", "member.login"]}) { webhook { events } } }`, nil)
	if fmt.Sprint(graphtest.Dig(r.Data, "createWebhook", "webhook", "events")) != "[member.login]" {
		t.Fatalf("%s", r.Raw)
	}
}
