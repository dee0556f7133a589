package auth_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authtest"
	"github.com/community/sso/auth/authtest/testserver"
	"github.com/community/sso/auth/mail/mailtest"
	"github.com/community/sso/auth/routes"
	"github.com/community/sso/auth/web/webtest"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// mailApp serves the routes with mail through a real SMTP server and a clock for the mailed
// links; sends counts the mails sent in the background (the password reset links).
func mailApp(t *testing.T, db *store.DB) (app *authtest.App, smtp *mailtest.Server, clock *authtest.Clock, sends *sync.WaitGroup) {
	t.Helper()
	smtp = mailtest.Start(t, mailtest.Options{Username: "relay", Password: "relay-password-1"})
	clock, sends = &authtest.Clock{}, &sync.WaitGroup{}
	return testserver.New(t, db, testserver.Options{Env: smtp.Env(), Deps: routes.Deps{Now: clock.Now, Background: sends}}), smtp, clock, sends
}

// noTokensLogged checks that no token of a mailed link reached the server's log.
func noTokensLogged(t *testing.T, app *authtest.App, smtp *mailtest.Server) {
	t.Helper()
	logs := app.Logs.String()
	msgs := smtp.Messages()
	if len(msgs) == 0 || !strings.Contains(logs, "token=REDACTED") {
		t.Fatal("nothing to check: no mail, or no link request in the log")
	}
	for _, m := range msgs {
		_, tok, ok := strings.Cut(m.Text, "?token=")
		tok, _, _ = strings.Cut(tok, "\n")
		if !ok || len(tok) < 40 {
			t.Fatalf("no token in %q", m.Text)
		}
		if strings.Contains(logs, tok) {
			t.Fatalf("token of the mail to %v is in the log", m.To)
		}
	}
}

const meEmailQ = `{ me { email emailVerified pendingEmail } }`

// changeEmail asks, as c's viewer, for user id's email to become email.
func changeEmail(app *authtest.App, c *http.Client, id int, email string) graphtest.Result {
	app.T.Helper()
	return app.GQL(c, "", graphtest.ChangeEmail, map[string]any{"id": id, "email": email})
}

// mustChange is changeEmail, which must leave email pending.
func mustChange(t *testing.T, app *authtest.App, c *http.Client, id int, email string) {
	t.Helper()
	if r := changeEmail(app, c, id, email); r.Code() != "" || graphtest.Dig(r.Data, "updateUser", "pendingEmail") != email {
		t.Fatalf("change to %s: %s", email, r.Raw)
	}
}

// TestEmailOwnership: the squatting of issue 12 no longer works. A member's email change only
// happens through the link mailed to the new address (a GET shows a confirmation, the POST
// applies it, once), and the real owner of an address signs in with SSO whoever asked for it.
func TestEmailOwnership(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app, smtp, clock, _ := mailApp(t, db)
		const pass = "a-long-password-1"
		admin := webtest.Browser(t)
		app.CreateUser("admin@example.com", pass, user.RoleADMIN)
		app.Login(admin, "admin@example.com", pass)
		kimUser := app.CreateUser("kim@example.com", pass, user.RoleMEMBER)
		kim := webtest.Browser(t)
		app.Login(kim, "kim@example.com", pass)
		mails := 0
		next := func() mailtest.Message { mails++; return smtp.Wait(t, mails) }
		email := func() (string, bool) {
			u := db.Client.User.GetX(ctx, kimUser.ID)
			return u.Email, u.EmailVerified
		}

		t.Run("squatting a verified address is a conflict, and no mail goes out", func(t *testing.T) {
			r := changeEmail(app, kim, kimUser.ID, "admin@example.com")
			if r.Code() != "CONFLICT" {
				t.Fatalf("%s", r.Raw)
			}
			if len(smtp.Messages()) != 0 {
				t.Fatal("mail sent")
			}
		})

		var link string
		t.Run("a new address waits for the link mailed to it", func(t *testing.T) {
			r := changeEmail(app, kim, kimUser.ID, "kim@new.example.com")
			if r.Code() != "" || graphtest.Dig(r.Data, "updateUser", "email") != "kim@example.com" || graphtest.Dig(r.Data, "updateUser", "pendingEmail") != "kim@new.example.com" {
				t.Fatalf("%s", r.Raw)
			}
			m := next()
			if m.To[0] != "kim@new.example.com" || m.Subject != "Confirm your new email address" || m.Header.Get("From") == "" {
				t.Fatalf("mail to %v: %q", m.To, m.Subject)
			}
			link = app.MailedLink(m, "/auth/email/verify")
		})

		t.Run("opening the link (GET) only asks to confirm", func(t *testing.T) {
			for range 2 { // a mail scanner, then the member
				r := app.Get(nil, link)
				if r.Status != http.StatusOK || !strings.Contains(r.Body, `method="post"`) || !strings.Contains(r.Body, "kim@new.example.com") {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			if e, _ := email(); e != "kim@example.com" {
				t.Fatalf("email is %s after GETs", e)
			}
		})

		t.Run("confirming (POST) applies the change, verified", func(t *testing.T) {
			r := app.PostForm(nil, link, nil)
			if r.Status != http.StatusOK || !strings.Contains(r.Body, "kim@new.example.com") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if e, v := email(); e != "kim@new.example.com" || !v {
				t.Fatalf("email %s verified=%v", e, v)
			}
			me := app.GQL(kim, "", meEmailQ, nil)
			if graphtest.Dig(me.Data, "me", "email") != "kim@new.example.com" || graphtest.Dig(me.Data, "me", "emailVerified") != true || graphtest.Dig(me.Data, "me", "pendingEmail") != nil {
				t.Fatalf("%s", me.Raw)
			}
			if app.CountEvents(auth.EventEmailVerified) != 1 {
				t.Fatal("no EMAIL_VERIFIED event")
			}
		})

		t.Run("a link works once", func(t *testing.T) {
			for _, r := range []webtest.Response{app.PostForm(nil, link, nil), app.Get(nil, link)} {
				if r.Status != http.StatusGone || !strings.Contains(r.Body, "LINK_USED") {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
		})

		t.Run("an unknown link", func(t *testing.T) {
			for _, r := range []webtest.Response{
				app.Get(nil, "/auth/email/verify?token=not-a-token"),
				app.PostForm(nil, "/auth/email/verify", url.Values{"token": {"not-a-token"}}),
				app.Get(nil, "/auth/email/verify"),
			} {
				if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "LINK_UNKNOWN") {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
		})

		t.Run("a link expires after 24 hours", func(t *testing.T) {
			if r := changeEmail(app, kim, kimUser.ID, "kim@late.example.com"); r.Code() != "" {
				t.Fatalf("%s", r.Raw)
			}
			late := app.MailedLink(next(), "/auth/email/verify")
			clock.Advance(auth.VerifyEmailLifetime)
			defer clock.Advance(-auth.VerifyEmailLifetime)
			for _, r := range []webtest.Response{app.Get(nil, late), app.PostForm(nil, late, nil)} {
				if r.Status != http.StatusGone || !strings.Contains(r.Body, "LINK_EXPIRED") {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			if e, _ := email(); e != "kim@new.example.com" {
				t.Fatalf("email is %s", e)
			}
		})

		t.Run("only the newest link works", func(t *testing.T) {
			mustChange(t, app, kim, kimUser.ID, "kim@a.example.com")
			first := app.MailedLink(next(), "/auth/email/verify")
			mustChange(t, app, kim, kimUser.ID, "kim@b.example.com")
			second := app.MailedLink(next(), "/auth/email/verify")
			if r := app.PostForm(nil, first, nil); r.Status != http.StatusGone {
				t.Fatalf("replaced link: %d %s", r.Status, r.Body)
			}
			if r := app.PostForm(nil, second, nil); r.Status != http.StatusOK {
				t.Fatalf("newest link: %d %s", r.Status, r.Body)
			}
			if e, _ := email(); e != "kim@b.example.com" {
				t.Fatalf("email is %s", e)
			}
		})

		t.Run("an address a verified member took meanwhile stays theirs", func(t *testing.T) {
			mustChange(t, app, kim, kimUser.ID, "race@example.com")
			l := app.MailedLink(next(), "/auth/email/verify")
			app.CreateUser("race@example.com", "", user.RoleMEMBER)
			if r := app.PostForm(nil, l, nil); r.Status != http.StatusConflict || !strings.Contains(r.Body, "EMAIL_TAKEN") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if e, _ := email(); e != "kim@b.example.com" {
				t.Fatalf("email is %s", e)
			}
		})

		t.Run("confirming takes the address from an unverified holder", func(t *testing.T) {
			clock.Advance(2 * time.Hour) // out of the rate limit's window (5 changes an hour)
			holder := db.Client.User.Create().SetEmail("held@example.com").SetUsername("held").SetEmailVerified(false).SaveX(ctx)
			mustChange(t, app, kim, kimUser.ID, "held@example.com")
			l := app.MailedLink(next(), "/auth/email/verify")
			if r := app.PostForm(nil, l, nil); r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if e, v := email(); e != "held@example.com" || !v {
				t.Fatalf("email %s verified=%v", e, v)
			}
			if h := db.Client.User.GetX(ctx, holder.ID); h.Email != auth.ReleasedEmail(holder.ID) || h.EmailVerified {
				t.Fatalf("holder kept %s", h.Email)
			}
			ev := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventEmailReleased)).OnlyX(ctx)
			if ev.Detail["releasedUserId"] != strconv.Itoa(holder.ID) || ev.Detail["claimedByUserId"] != strconv.Itoa(kimUser.ID) {
				t.Fatalf("event %+v", ev.Detail)
			}
		})

		t.Run("the real owner's SSO login is not blocked by a pending squat", func(t *testing.T) {
			secret := app.EnableJWT(admin)
			mustChange(t, app, kim, kimUser.ID, "ceo@example.com") // pending, never confirmed
			next()
			ceo := webtest.Browser(t)
			tok := authtest.Sign(t, jwt.SigningMethodHS256, []byte(secret), authtest.Claims(map[string]any{"sub": "ceo-1", "email": "ceo@example.com", "name": "The CEO"}), nil)
			if r := app.SSOGet(ceo, tok, "/", ""); r.Status != http.StatusSeeOther {
				t.Fatalf("CEO's first login: %d %s", r.Status, r.Body)
			}
			me := app.GQL(ceo, "", meEmailQ, nil)
			if graphtest.Dig(me.Data, "me", "email") != "ceo@example.com" || graphtest.Dig(me.Data, "me", "emailVerified") != true {
				t.Fatalf("%s", me.Raw)
			}
			if e, _ := email(); e != "held@example.com" {
				t.Fatalf("kim's email is %s", e)
			}
		})

		t.Run("logs never carry a link's token", func(t *testing.T) {
			noTokensLogged(t, app, smtp)
		})
	})
}

// TestPasswordReset: the forgotten password flow of email/password communities.
func TestPasswordReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		app, smtp, clock, sends := mailApp(t, db)
		const oldPass, newPass = "the-old-password", "the-new-password"
		kimUser := app.CreateUser("kim@example.com", oldPass, user.RoleMEMBER)
		app.CreateUser("admin@example.com", oldPass, user.RoleADMIN)
		laptop, phone := webtest.Browser(t), webtest.Browser(t)
		app.Login(laptop, "kim@example.com", oldPass)
		app.Login(phone, "kim@example.com", oldPass)
		mails := 0
		next := func() mailtest.Message { mails++; return smtp.Wait(t, mails) }
		// noMore checks, once the mails sent in the background are out, that no mail beyond the
		// expected ones went.
		noMore := func() {
			t.Helper()
			sends.Wait()
			if n := len(smtp.Messages()); n != mails {
				t.Fatalf("%d mails, want %d", n, mails)
			}
		}
		forgot := func(email string) webtest.Response {
			return app.PostForm(nil, "/auth/password/forgot", url.Values{"email": {email}})
		}
		// Each part starts with fresh rate limit windows.
		fresh := func() { clock.Advance(2 * time.Hour) }

		t.Run("the direct login page links to the form", func(t *testing.T) {
			if r := app.Get(nil, "/auth/login/direct"); !strings.Contains(r.Body, `href="/auth/password/forgot"`) {
				t.Fatalf("%s", r.Body)
			}
			if r := app.Get(nil, "/auth/password/forgot"); r.Status != http.StatusOK || !strings.Contains(r.Body, `name="email"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		var link string
		t.Run("the same answer for an existing and a missing address", func(t *testing.T) {
			missing := forgot("nobody@example.com")
			existing := forgot("KIM@example.com")
			if missing.Status != http.StatusOK || existing.Status != missing.Status || existing.Body != missing.Body {
				t.Fatalf("existing: %d %s\nmissing: %d %s", existing.Status, existing.Body, missing.Status, missing.Body)
			}
			m := next()
			if m.To[0] != "kim@example.com" || m.Subject != "Reset your password" {
				t.Fatalf("mail to %v: %q", m.To, m.Subject)
			}
			noMore()
			link = app.MailedLink(m, "/auth/password/reset")
		})

		t.Run("the form checks the new password", func(t *testing.T) {
			r := app.Get(nil, link)
			if r.Status != http.StatusOK || !strings.Contains(r.Body, `name="password2"`) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			tok := strings.TrimPrefix(link, "/auth/password/reset?token=")
			for _, form := range []url.Values{
				{"token": {tok}, "password": {"short"}, "password2": {"short"}},
				{"token": {tok}, "password": {newPass}, "password2": {newPass + "x"}},
			} {
				if r := app.PostForm(nil, "/auth/password/reset", form); r.Status != http.StatusBadRequest {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			if r := app.PostForm(nil, "/auth/password/reset", url.Values{"token": {"nope"}, "password": {newPass}, "password2": {newPass}}); r.Status != http.StatusNotFound {
				t.Fatalf("unknown link: %d %s", r.Status, r.Body)
			}
		})

		t.Run("a reset sets the password once and ends every session", func(t *testing.T) {
			tok := strings.TrimPrefix(link, "/auth/password/reset?token=")
			form := url.Values{"token": {tok}, "password": {newPass}, "password2": {newPass}}
			if r := app.PostForm(nil, "/auth/password/reset", form); r.Status != http.StatusOK || !strings.Contains(r.Body, "password was changed") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			for _, c := range []*http.Client{laptop, phone} {
				if me := app.GQL(c, "", `{ me { id } }`, nil); me.Data["me"] != nil {
					t.Fatalf("a session survived: %s", me.Raw)
				}
			}
			if r := app.PostForm(webtest.Browser(t), "/auth/login/direct", url.Values{"email": {"kim@example.com"}, "password": {oldPass}}); r.Status != http.StatusUnauthorized {
				t.Fatalf("old password: %d", r.Status)
			}
			app.Login(laptop, "kim@example.com", newPass)
			if r := app.PostForm(nil, "/auth/password/reset", form); r.Status != http.StatusGone || !strings.Contains(r.Body, "LINK_USED") {
				t.Fatalf("second use: %d %s", r.Status, r.Body)
			}
			ev := db.Client.SecurityEvent.Query().Where(securityevent.Type(auth.EventPasswordReset)).OnlyX(ctx)
			if *ev.UserID != kimUser.ID || ev.Detail["sessionsEnded"] != float64(2) {
				t.Fatalf("event %+v", ev)
			}
		})

		t.Run("a link expires after an hour", func(t *testing.T) {
			fresh()
			forgot("kim@example.com")
			l := app.MailedLink(next(), "/auth/password/reset")
			clock.Advance(auth.ResetPasswordLifetime)
			if r := app.Get(nil, l); r.Status != http.StatusGone || !strings.Contains(r.Body, "LINK_EXPIRED") {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})

		t.Run("3 requests per address an hour, existing or not", func(t *testing.T) {
			fresh()
			for _, email := range []string{"kim@example.com", "nobody@example.com"} {
				var answers []string
				for range 4 {
					r := forgot(email)
					answers = append(answers, strconv.Itoa(r.Status))
				}
				if got := strings.Join(answers, " "); got != "200 200 200 429" {
					t.Fatalf("%s: %s", email, got)
				}
			}
			mails += 3
			noMore()
		})

		t.Run("10 requests per client address an hour", func(t *testing.T) {
			fresh()
			for i := range 11 {
				r := forgot("someone" + strconv.Itoa(i) + "@example.com")
				if want := map[bool]int{true: 429, false: 200}[i == 10]; r.Status != want {
					t.Fatalf("request %d: %d", i+1, r.Status)
				}
			}
		})

		t.Run("with password sign-in off, only admins get a link", func(t *testing.T) {
			fresh()
			app.Settings().Update().SetEmailPasswordEnabled(false).ExecX(ctx)
			defer app.Settings().Update().SetEmailPasswordEnabled(true).ExecX(ctx)
			member, adm := forgot("kim@example.com"), forgot("admin@example.com")
			if member.Status != http.StatusOK || member.Body != adm.Body {
				t.Fatalf("answers differ: %d / %d", member.Status, adm.Status)
			}
			if m := next(); m.To[0] != "admin@example.com" {
				t.Fatalf("mail to %v", m.To)
			}
			noMore()
		})

		t.Run("logs never carry a link's token", func(t *testing.T) {
			noTokensLogged(t, app, smtp)
		})
	})
}

// TestMailNotConfigured: without SMTP_HOST there is no reset form and no link to it.
func TestMailNotConfigured(t *testing.T) {
	app := testserver.New(t, storetest.SQLite(t), testserver.Options{})
	if r := app.Get(nil, "/auth/login/direct"); strings.Contains(r.Body, "/auth/password/forgot") {
		t.Fatal("the direct login page links to the reset form")
	}
	for _, r := range []webtest.Response{
		app.Get(nil, "/auth/password/forgot"),
		app.PostForm(nil, "/auth/password/forgot", url.Values{"email": {"kim@example.com"}}),
	} {
		if r.Status != http.StatusNotFound || !strings.Contains(r.Body, "MAIL_NOT_CONFIGURED") {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	}
}
