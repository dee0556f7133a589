package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/mail"
	"github.com/community/sso/auth/mail/mailtest"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph"
	"github.com/community/sso/graph/graphtest"
)

// gqlErr is the first GraphQL error of a gqlgen client call, decoded.
type gqlErr struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func firstError(t *testing.T, err error) gqlErr {
	t.Helper()
	var raw client.RawJsonError
	if err == nil {
		t.Fatal("no error")
	}
	if !errorsAs(err, &raw) {
		t.Fatalf("error %v is not a GraphQL error", err)
	}
	var list []gqlErr
	if err := json.Unmarshal(raw.RawMessage, &list); err != nil || len(list) == 0 {
		t.Fatalf("errors %s: %v", raw.RawMessage, err)
	}
	return list[0]
}

func errorsAs(err error, target *client.RawJsonError) bool {
	e, ok := err.(client.RawJsonError)
	if ok {
		*target = e
	}
	return ok
}

type changeEmailResp struct {
	UpdateUser struct {
		Email         string
		EmailVerified bool
		PendingEmail  *string
	}
}

// TestMemberEmailChange: a member's own email change is pending until the link mailed to the new
// address is opened (the link itself is tested through the server in package auth).
func TestMemberEmailChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		smtp := mailtest.Start(t, mailtest.Options{})
		sender, err := mail.New(smtp.Config())
		if err != nil {
			t.Fatal(err)
		}
		logs := &webtest.LogBuffer{}
		cfg := graph.HandlerConfig{Log: slog.New(slog.NewJSONHandler(logs, nil))}
		const publicURL = "https://community.example.com"
		withMail := client.New(graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client, PublicURL: publicURL, Mail: sender}, cfg))
		noMail := client.New(graph.NewHandler(&graph.Resolver{DB: db, Client: db.Client, PublicURL: publicURL}, cfg))

		mk := func(email, username string, role user.Role, verified bool) *ent.User {
			return db.Client.User.Create().SetEmail(email).SetUsername(username).SetName(username).SetRole(role).SetEmailVerified(verified).SaveX(ctx)
		}
		mia := mk("mia@example.com", "mia", user.RoleMEMBER, true)
		ceo := mk("ceo@example.com", "ceo", user.RoleMEMBER, true)
		ghost := mk("ghost@example.com", "ghost", user.RoleMEMBER, false)
		admin := mk("admin@example.com", "admin", user.RoleADMIN, true)
		mod := mk("mod@example.com", "mod", user.RoleMODERATOR, true)
		tokens := func() int { return db.Client.EmailToken.Query().CountX(ctx) }
		change := func(c *client.Client, u *ent.User, email string) (changeEmailResp, error) {
			var resp changeEmailResp
			err := c.Post(graphtest.ChangeEmail, &resp, graphtest.As(u), client.Var("id", u.ID), client.Var("email", email))
			return resp, err
		}

		t.Run("no mail set up: FORBIDDEN with a reason", func(t *testing.T) {
			_, err := change(noMail, mia, "mia.new@example.com")
			e := firstError(t, err)
			if e.Extensions["code"] != "FORBIDDEN" || e.Extensions["reason"] != "EMAIL_CHANGE_NEEDS_MAIL" || !strings.Contains(e.Message, "mail") {
				t.Fatalf("got %+v", e)
			}
			if tokens() != 0 || db.Client.User.GetX(ctx, mia.ID).Email != "mia@example.com" {
				t.Fatal("something changed")
			}
		})

		t.Run("a verified member's address: CONFLICT, no mail", func(t *testing.T) {
			_, err := change(withMail, mia, "CEO@example.com")
			e := firstError(t, err)
			if e.Extensions["code"] != "CONFLICT" || e.Extensions["field"] != "email" || e.Extensions["conflictingUserId"] == nil {
				t.Fatalf("got %+v", e)
			}
			if n := len(smtp.Messages()); n != 0 || tokens() != 0 {
				t.Fatalf("%d mails, %d links", n, tokens())
			}
			_ = ceo
		})

		t.Run("a new address is pending and mailed", func(t *testing.T) {
			resp, err := change(withMail, mia, " Mia.New@Example.com ")
			if err != nil {
				t.Fatal(err)
			}
			u := resp.UpdateUser
			if u.Email != "mia@example.com" || !u.EmailVerified || u.PendingEmail == nil || *u.PendingEmail != "mia.new@example.com" {
				t.Fatalf("got %+v", u)
			}
			m := smtp.Wait(t, 1)
			if len(m.To) != 1 || m.To[0] != "mia.new@example.com" {
				t.Fatalf("mailed to %v", m.To)
			}
			link := m.Link(t, publicURL+"/auth/email/verify?token=")
			tok := strings.TrimPrefix(link, publicURL+"/auth/email/verify?token=")
			stored := db.Client.EmailToken.Query().OnlyX(ctx)
			if stored.Purpose != emailtoken.PurposeVERIFY_EMAIL || stored.Email != "mia.new@example.com" || *stored.UserID != mia.ID ||
				!bytes.Equal(stored.TokenHash, auth.HashToken(tok)) || bytes.Contains(stored.TokenHash, []byte(tok)) {
				t.Fatalf("stored %+v", stored)
			}
			if db.Client.User.GetX(ctx, mia.ID).Email != "mia@example.com" {
				t.Fatal("email changed before the link was opened")
			}
			if n := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventEmailChangeRequested)).CountX(ctx); n != 1 {
				t.Fatalf("%d EMAIL_CHANGE_REQUESTED events", n)
			}
		})

		t.Run("pendingEmail is for the user itself and admins", func(t *testing.T) {
			const q = `query($id: ID!) { user(id: $id) { pendingEmail } }`
			var resp struct {
				User struct{ PendingEmail *string }
			}
			withMail.MustPost(q, &resp, graphtest.As(admin), client.Var("id", mia.ID))
			if resp.User.PendingEmail == nil || *resp.User.PendingEmail != "mia.new@example.com" {
				t.Fatalf("admin sees %v", resp.User.PendingEmail)
			}
			resp.User.PendingEmail = nil
			withMail.MustPost(q, &resp, graphtest.As(mod), client.Var("id", mia.ID))
			if resp.User.PendingEmail != nil {
				t.Fatalf("a moderator sees %q", *resp.User.PendingEmail)
			}
		})

		t.Run("an unverified holder does not block the change", func(t *testing.T) {
			resp, err := change(withMail, mia, "ghost@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if p := resp.UpdateUser.PendingEmail; p == nil || *p != "ghost@example.com" {
				t.Fatalf("pending %v", p)
			}
			if m := smtp.Wait(t, 2); m.To[0] != "ghost@example.com" {
				t.Fatalf("mailed to %v", m.To)
			}
			if db.Client.User.GetX(ctx, ghost.ID).Email != "ghost@example.com" {
				t.Fatal("the holder lost its address before the link was opened")
			}
		})

		t.Run("the current verified address changes nothing", func(t *testing.T) {
			before := tokens()
			resp, err := change(withMail, mia, "mia@example.com")
			if err != nil || tokens() != before || len(smtp.Messages()) != 2 {
				t.Fatalf("%v; %d links, %d mails", err, tokens(), len(smtp.Messages()))
			}
			if p := resp.UpdateUser.PendingEmail; p == nil || *p != "ghost@example.com" {
				t.Fatalf("pending %v", p)
			}
		})

		t.Run("an unverified member can verify its current address", func(t *testing.T) {
			resp, err := change(withMail, ghost, "ghost@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if u := resp.UpdateUser; u.EmailVerified || u.PendingEmail == nil || *u.PendingEmail != "ghost@example.com" {
				t.Fatalf("got %+v", u)
			}
			if m := smtp.Wait(t, 3); m.To[0] != "ghost@example.com" {
				t.Fatalf("mailed to %v", m.To)
			}
		})

		t.Run("a mail that cannot be sent is a clear error and leaves nothing pending", func(t *testing.T) {
			smtp.SetRefuse(true)
			defer smtp.SetRefuse(false)
			_, err := change(withMail, mia, "mia.third@example.com")
			e := firstError(t, err)
			if e.Extensions["code"] != "SERVICE_UNAVAILABLE" || e.Extensions["reason"] != "EMAIL_NOT_SENT" || !strings.Contains(e.Message, "could not be sent") {
				t.Fatalf("got %+v", e)
			}
			pending, err := auth.PendingEmail(ctx, db.Client, mia.ID, timeNow())
			if err != nil || pending != "" {
				t.Fatalf("pending %q, %v", pending, err)
			}
			l := logs.String()
			if !strings.Contains(l, "mail an email confirmation link") || strings.Contains(l, "token=") {
				t.Fatalf("logs: %s", l)
			}
		})

		t.Run("at most 5 changes an hour", func(t *testing.T) {
			// mia asked 3 times so far (one of them not sent).
			for i, want := range []string{"", "", "FORBIDDEN"} {
				_, err := change(withMail, mia, "mia"+string(rune('a'+i))+"@example.com")
				if want == "" {
					if err != nil {
						t.Fatalf("change %d: %v", i, err)
					}
					continue
				}
				if e := firstError(t, err); e.Extensions["code"] != want || e.Extensions["reason"] != "EMAIL_CHANGE_RATE_LIMITED" {
					t.Fatalf("got %+v", e)
				}
			}
		})

		t.Run("an admin sets an email directly, verified, without mail", func(t *testing.T) {
			mails := len(smtp.Messages())
			resp, err := change(withMail, admin, "admin2@example.com")
			if err != nil || resp.UpdateUser.Email != "admin2@example.com" || !resp.UpdateUser.EmailVerified {
				t.Fatalf("%v %+v", err, resp)
			}
			var other changeEmailResp
			err = noMail.Post(graphtest.ChangeEmail, &other, graphtest.As(admin), client.Var("id", ghost.ID), client.Var("email", "ghost.fixed@example.com"))
			if err != nil || other.UpdateUser.Email != "ghost.fixed@example.com" || !other.UpdateUser.EmailVerified {
				t.Fatalf("%v %+v", err, other)
			}
			if len(smtp.Messages()) != mails {
				t.Fatal("an admin's change sent mail")
			}
		})

		t.Run("an admin's change withdraws the member's pending link", func(t *testing.T) {
			pending := func() *string {
				var resp struct {
					User struct{ PendingEmail *string }
				}
				withMail.MustPost(`query($id: ID!) { user(id: $id) { pendingEmail } }`, &resp, graphtest.As(admin), client.Var("id", mia.ID))
				return resp.User.PendingEmail
			}
			if pending() == nil {
				t.Fatal("mia has no pending change to withdraw")
			}
			var resp changeEmailResp
			if err := withMail.Post(graphtest.ChangeEmail, &resp, graphtest.As(admin), client.Var("id", mia.ID), client.Var("email", "mia.set@example.com")); err != nil {
				t.Fatal(err)
			}
			if p := pending(); p != nil || resp.UpdateUser.Email != "mia.set@example.com" {
				t.Fatalf("pending %v after the admin set %s", p, resp.UpdateUser.Email)
			}
		})
	})
}

func timeNow() time.Time { return time.Now() }
