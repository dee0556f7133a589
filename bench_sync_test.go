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
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/graph/graphtest"
)

// syncBatch is the number of payloads of one syncMembers call in the benchmark.
const syncBatch = 1000

// syncPayloads are the claims of syncBatch new members of batch, each with the benchmark's
// spaces and field values (as loginURL signs them), their externalIds starting with prefix+"-".
func syncPayloads(prefix string, batch int) []map[string]any {
	p := make([]map[string]any, syncBatch)
	for i := range p {
		n := fmt.Sprintf("%04d-%04d", batch, i)
		c := map[string]any{"sub": prefix + "-" + n, "email": prefix + n + "@example.com", "name": prefix + " " + n, "spaceIds": benchSpaces}
		for _, k := range benchFieldKeys {
			c[k] = "value " + n
		}
		p[i] = c
	}
	return p
}

// syncFloor is the floor of one syncMembers call: the provisioning work of a JWT SSO login for
// each payload (provision.MapJWT and provision.Provisioner.Login), without HTTP and without
// verifying a token.
type syncFloor struct {
	p  *provision.Provisioner
	st *ent.Settings
}

func newSyncFloor(b *testing.B, l *jwtLogin) *syncFloor {
	st, _, err := jwtsso.LoadLoginSettings(context.Background(), l.db.Client)
	if err != nil {
		b.Fatal(err)
	}
	return &syncFloor{st: st, p: &provision.Provisioner{
		DB: l.db, Log: slog.New(slog.DiscardHandler),
		Sessions: &auth.Sessions{Client: l.db.Client, Lifetime: l.app.Cfg.SessionLifetime},
	}}
}

// logins provisions payloads as JWT SSO logins of new members.
func (f *syncFloor) logins(b *testing.B, payloads []map[string]any) {
	ctx := context.Background()
	for _, c := range payloads {
		pr, err := provision.MapJWT(c)
		if err != nil {
			b.Fatal(err)
		}
		res, err := f.p.Login(ctx, provision.Request{
			Method: session.MethodJWT, Profile: pr, Roles: jwtsso.Roles(f.st), SyncUsername: f.st.SyncUsername,
			Session: auth.SessionOptions{Bearer: true},
		})
		if err != nil || !res.Created {
			b.Fatalf("login: %v", err)
		}
	}
}

// syncQuery is the benchmark's syncMembers call.
const syncQuery = `mutation($p: [JSON!]!) { syncMembers(input: {payloads: $p}) { created failed results { decision } } }`

// syncCall sends payloads in one syncMembers call as the admin of token, and checks that each
// made a member.
func syncCall(b *testing.B, l *jwtLogin, token string, payloads []map[string]any) {
	r := graphtest.Post(b, l.client, l.app.URL+"/graphql", token, syncQuery, map[string]any{"p": payloads})
	if r.Code() != "" || graphtest.Dig(r.Data, "syncMembers", "created") != float64(len(payloads)) {
		b.Fatalf("syncMembers: %.300s", r.Raw)
	}
}

func BenchmarkSyncMembers1000Floor(b *testing.B) {
	l := newJWTLogin(b, benchDB)
	f := newSyncFloor(b, l)
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		f.logins(b, syncPayloads("sync", batch))
		batch++
	}
	b.StopTimer()
	checkNewMembers(b, l, "sync", batch*syncBatch)
	recordFloor(b, "SyncMembers1000")
}

func BenchmarkSyncMembers1000(b *testing.B) {
	l := newJWTLogin(b, benchDB)
	token := adminToken(b, l.app)
	batch := 0
	b.ReportAllocs()
	for b.Loop() {
		syncCall(b, l, token, syncPayloads("sync", batch))
		batch++
	}
	b.StopTimer()
	checkNewMembers(b, l, "sync", batch*syncBatch)
	reportRatio(b, "SyncMembers1000")
}

// BenchmarkSyncMembers1000Paired runs a syncMembers call of 1,000 new members and its floor (the
// same members' login provisioning) by turns, one of each per iteration (which goes first
// alternates), on one database, and reports the mean time of each and their ratio, as
// benchJWTLoginPaired does for logins.
func BenchmarkSyncMembers1000Paired(b *testing.B) {
	l := newJWTLogin(b, benchDB)
	f := newSyncFloor(b, l)
	token := adminToken(b, l.app)
	var floorTime, syncTime time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		fp, sp := syncPayloads("floor", i), syncPayloads("sync", i)
		t0 := time.Now()
		if i%2 == 0 {
			f.logins(b, fp)
			t1 := time.Now()
			syncCall(b, l, token, sp)
			floorTime, syncTime = floorTime+t1.Sub(t0), syncTime+time.Since(t1)
		} else {
			syncCall(b, l, token, sp)
			t1 := time.Now()
			f.logins(b, fp)
			syncTime, floorTime = syncTime+t1.Sub(t0), floorTime+time.Since(t1)
		}
		i++
	}
	b.StopTimer()
	checkNewMembers(b, l, "floor", i*syncBatch)
	checkNewMembers(b, l, "sync", i*syncBatch)
	b.ReportMetric(float64(floorTime.Nanoseconds())/float64(i), "floor-ns/call")
	b.ReportMetric(float64(syncTime.Nanoseconds())/float64(i), "sync-ns/call")
	b.ReportMetric(float64(syncTime)/float64(floorTime), "x-floor")
}
