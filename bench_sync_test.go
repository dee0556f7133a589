package main

// syncMembers with 1,000 payloads of new members against its floor: the provisioning work of
// 1,000 JWT SSO logins of new members with the same payloads, done by the server's own
// provisioning core (provision.Provisioner.Login, one transaction and one session each) without
// HTTP. The goal is a ratio of at most 1: a sync costs no more than the logins it replaces. Run:
//
//	go test -run=NONE -bench='SyncMembers1000' -benchmem -count=5 .
//
// See docs/PERFORMANCE.md.

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/graph/graphtest"
)

// syncBatch is the number of payloads of one syncMembers call in the benchmark.
const syncBatch = 1000

// syncPayloads are the claims of syncBatch new members of batch, each with the benchmark's
// spaces and field values (as loginURL signs them), their externalIds starting with "sync-".
func syncPayloads(batch int) []map[string]any {
	p := make([]map[string]any, syncBatch)
	for i := range p {
		n := fmt.Sprintf("%04d-%04d", batch, i)
		c := map[string]any{"sub": "sync-" + n, "email": "sync" + n + "@example.com", "name": "Synced " + n, "spaceIds": benchSpaces}
		for _, k := range benchFieldKeys {
			c[k] = "value " + n
		}
		p[i] = c
	}
	return p
}

func BenchmarkSyncMembers1000Floor(b *testing.B) {
	l := newJWTLogin(b, benchDB)
	ctx := context.Background()
	st, err := jwtsso.LoadLoginSettings(ctx, l.db.Client)
	if err != nil {
		b.Fatal(err)
	}
	p := &provision.Provisioner{
		DB: l.db, Log: slog.New(slog.DiscardHandler),
		Sessions: &auth.Sessions{Client: l.db.Client, Lifetime: l.app.Cfg.SessionLifetime},
	}
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range syncPayloads(batch) {
			pr, err := provision.MapJWT(c)
			if err != nil {
				b.Fatal(err)
			}
			res, err := p.Login(ctx, provision.Request{
				Method: session.MethodJWT, Profile: pr, Roles: jwtsso.Roles(st), SyncUsername: st.SyncUsername,
				Session: auth.SessionOptions{Bearer: true},
			})
			if err != nil || !res.Created {
				b.Fatalf("login: %v", err)
			}
		}
		batch++
	}
	b.StopTimer()
	checkNewMembers(b, l, "sync", batch*syncBatch)
	recordFloor(b, "SyncMembers1000")
}

func BenchmarkSyncMembers1000(b *testing.B) {
	l := newJWTLogin(b, benchDB)
	token := adminToken(b, l.app)
	query := `mutation($p: [JSON!]!) { syncMembers(input: {payloads: $p}) { created failed results { decision } } }`
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		r := graphtest.Post(b, l.client, l.app.URL+"/graphql", token, query, map[string]any{"p": syncPayloads(batch)})
		if r.Code() != "" || graphtest.Dig(r.Data, "syncMembers", "created") != float64(syncBatch) {
			b.Fatalf("syncMembers: %.300s", r.Raw)
		}
		batch++
	}
	b.StopTimer()
	checkNewMembers(b, l, "sync", batch*syncBatch)
	reportRatio(b, "SyncMembers1000")
}
