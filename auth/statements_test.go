package auth

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestRecordAll: events written with one statement read back through ent as they were given,
// in order; an event without a user or a detail stores NULL; an invalid event writes nothing.
func TestRecordAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("ev@example.com").SetUsername("ev").SaveX(ctx)
		long := strings.Repeat("é", 300) // 600 bytes: cut on a rune boundary
		events := []Event{
			{Type: EventLoginSucceeded, UserID: u.ID, Method: "JWT", IP: "192.0.2.7", Agent: "Agent/1.0", Detail: map[string]any{"decision": "UPDATE", "n": 2.0, "list": []any{"a", "b"}}},
			{Type: EventLoginFailed, Method: "PASSWORD", IP: "2001:db8::1", Agent: long, Subject: "who@example.com"},
		}
		before := time.Now().Add(-time.Second)
		if err := RecordAll(ctx, c, events...); err != nil {
			t.Fatal(err)
		}
		after := time.Now().Add(time.Second)
		got := c.SecurityEvent.Query().Order(ent.Asc(securityevent.FieldID)).AllX(ctx)
		if len(got) != 2 {
			t.Fatalf("%d events, want 2", len(got))
		}
		first, second := got[0], got[1]
		if first.Type != EventLoginSucceeded || first.UserID == nil || *first.UserID != u.ID || first.Method != "JWT" ||
			first.IP != "192.0.2.7" || first.UserAgent != "Agent/1.0" || first.Subject != "" {
			t.Fatalf("first event %+v", first)
		}
		if first.Detail["decision"] != "UPDATE" || first.Detail["n"] != 2.0 || !slices.Equal(first.Detail["list"].([]any), []any{"a", "b"}) {
			t.Fatalf("first event's detail %v", first.Detail)
		}
		if second.Type != EventLoginFailed || second.UserID != nil || second.Detail != nil || second.Subject != "who@example.com" ||
			second.UserAgent != authdb.Truncate(long, 512) || len(second.UserAgent) != 512 {
			t.Fatalf("second event %+v", second)
		}
		for _, e := range got {
			if e.CreatedAt.Before(before) || e.CreatedAt.After(after) {
				t.Fatalf("event written at %v, not between %v and %v", e.CreatedAt, before, after)
			}
		}
		if n := c.SecurityEvent.Query().Where(securityevent.HasUser()).CountX(ctx); n != 1 {
			t.Fatalf("%d events linked to a user, want 1", n)
		}

		// Refused events are authdb.InsertEvents' (TestInsertEventsAsEnt); one is enough here.
		if err := RecordAll(ctx, c, Event{Type: EventLoginSucceeded}, Event{Type: ""}); err == nil {
			t.Fatal("RecordAll wrote an event without a type")
		}
		if n := c.SecurityEvent.Query().CountX(ctx); n != 2 {
			t.Fatalf("%d events after a refused write, want 2", n)
		}
		if err := RecordAll(ctx, c); err != nil {
			t.Fatalf("no events: %v", err)
		}
	})
}

// TestStart: the session Start inserts reads back through ent with what the login gave it, the
// member's login time moves unless the login already wrote it, and the cookie carries the token
// whose hash is stored.
func TestStart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		s := &Sessions{Client: c, Lifetime: 24 * time.Hour, Now: func() time.Time { return now }}
		u := c.User.Create().SetEmail("st@example.com").SetUsername("st").SaveX(ctx)
		revalidate := now.Add(10 * time.Minute)
		for _, tc := range []struct {
			name     string
			method   session.Method
			opts     SessionOptions
			at       time.Time // the session's start
			lastSeen time.Time // the member's last_login_at after Start
		}{
			{"password", session.MethodPASSWORD, SessionOptions{}, now, now},
			{"oauth2 tokens", session.MethodOAUTH2, SessionOptions{IDToken: []byte("sealed-id"), RefreshToken: []byte("sealed-refresh"), RevalidateAt: &revalidate, At: now.Add(time.Minute)}, now.Add(time.Minute), now.Add(time.Minute)},
			{"login time already written", session.MethodJWT, SessionOptions{At: now.Add(2 * time.Minute), LoginRecorded: true}, now.Add(2 * time.Minute), now.Add(time.Minute)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := httptest.NewRequest("GET", "/api/auth/sso", nil)
				r.RemoteAddr = "192.0.2.9:1234"
				r.Header.Set("User-Agent", "Browser/2.0")
				started, err := s.Start(RequestContext(r), c, u.ID, tc.method, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				got := c.Session.GetX(ctx, started.ID)
				if string(got.TokenHash) != string(HashToken(started.Token)) || got.UserID != u.ID || got.Method != tc.method ||
					!got.CreatedAt.Equal(tc.at) || !got.LastSeenAt.Equal(tc.at) || !got.ExpiresAt.Equal(tc.at.Add(24*time.Hour)) ||
					!started.ExpiresAt.Equal(got.ExpiresAt) || got.IP != "192.0.2.9" || got.UserAgent != "Browser/2.0" {
					t.Fatalf("session %+v, started %+v", got, started)
				}
				if string(got.IDToken) != string(tc.opts.IDToken) || string(got.RefreshToken) != string(tc.opts.RefreshToken) {
					t.Fatalf("sealed tokens %q, %q; want %q, %q", got.IDToken, got.RefreshToken, tc.opts.IDToken, tc.opts.RefreshToken)
				}
				if (got.RevalidateAt == nil) != (tc.opts.RevalidateAt == nil) || (got.RevalidateAt != nil && !got.RevalidateAt.Equal(revalidate)) {
					t.Fatalf("revalidate at %v, want %v", got.RevalidateAt, tc.opts.RevalidateAt)
				}
				if last := c.User.GetX(ctx, u.ID).LastLoginAt; last == nil || !last.Equal(tc.lastSeen) {
					t.Fatalf("last login %v, want %v", last, tc.lastSeen)
				}
				w := httptest.NewRecorder()
				s.SetCookie(w, r, started)
				cookies := w.Result().Cookies()
				if len(cookies) != 1 || cookies[0].Value != started.Token || !cookies[0].HttpOnly || !cookies[0].Expires.Equal(started.ExpiresAt) {
					t.Fatalf("cookie %+v", cookies)
				}
			})
		}
		t.Run("invalid method", func(t *testing.T) {
			before := c.Session.Query().CountX(ctx)
			if _, err := s.Start(ctx, c, u.ID, session.Method("SAML"), SessionOptions{}); err == nil {
				t.Fatal("a session with an unknown method")
			}
			if n := c.Session.Query().CountX(ctx); n != before {
				t.Fatalf("%d sessions, want %d", n, before)
			}
		})
	})
}
