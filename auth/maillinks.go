package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/mail"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// ResetLimit bounds the password reset requests within Window: per email address and per client
// address. Every request counts, for an address with an account or without.
type ResetLimit struct {
	PerEmail int
	PerIP    int
	Window   time.Duration
}

// DefaultResetLimit allows 3 reset requests per email address and 10 per client address an hour.
var DefaultResetLimit = ResetLimit{PerEmail: 3, PerIP: 10, Window: time.Hour}

// MailLinks serves the pages of the mailed links: the confirmation of a member's new email
// address (/auth/email/verify) and the forgotten password flow (/auth/password/forgot and
// /auth/password/reset). A GET never uses a link up (mail scanners open links); the POST of
// the page it shows does.
type MailLinks struct {
	DB *store.DB
	// Mail sends the reset links; nil when the server has no SMTP server: the reset pages then
	// say that passwords cannot be reset by mail.
	Mail        mail.Sender
	PublicURL   string
	Log         *slog.Logger
	CrossOrigin *http.CrossOriginProtection
	ResetLimit  ResetLimit
	// Passwords bounds the password hashes running at once (nil: no bound).
	Passwords *password.Limiter
	Now       func() time.Time
	// Sends counts the reset mails being sent in the background, for the server to wait for
	// at shutdown (nil: MailLinks counts them itself; Wait waits for them either way).
	Sends *sync.WaitGroup

	sends sync.WaitGroup
}

// inFlight is the wait group of the mails being sent.
func (h *MailLinks) inFlight() *sync.WaitGroup {
	if h.Sends != nil {
		return h.Sends
	}
	return &h.sends
}

func (h *MailLinks) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *MailLinks) client() *ent.Client { return h.DB.Client }

func (h *MailLinks) resetLimit() ResetLimit {
	if h.ResetLimit.Window == 0 {
		return DefaultResetLimit
	}
	return h.ResetLimit
}

// Register mounts the routes on mux, each wrapped by wrap.
func (h *MailLinks) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	mux.Handle("GET /auth/email/verify", wrap(http.HandlerFunc(h.verifyForm)))
	mux.Handle("POST /auth/email/verify", wrap(h.CrossOrigin.Handler(http.HandlerFunc(h.verify))))
	mux.Handle("GET /auth/password/forgot", wrap(http.HandlerFunc(h.forgotForm)))
	mux.Handle("POST /auth/password/forgot", wrap(h.CrossOrigin.Handler(http.HandlerFunc(h.forgot))))
	mux.Handle("GET /auth/password/reset", wrap(http.HandlerFunc(h.resetForm)))
	mux.Handle("POST /auth/password/reset", wrap(h.CrossOrigin.Handler(http.HandlerFunc(h.reset))))
}

// Wait waits for the reset mails being sent in the background.
func (h *MailLinks) Wait() { h.inFlight().Wait() }

// linkToken is the token of a link page's request: the query's, else the form's.
func linkToken(r *http.Request) string {
	if tok := r.URL.Query().Get("token"); tok != "" {
		return tok
	}
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get("token")
}

func (h *MailLinks) verifyForm(w http.ResponseWriter, r *http.Request) {
	tok := linkToken(r)
	t, err := FindEmailToken(r.Context(), h.client(), emailtoken.PurposeVERIFY_EMAIL, tok, h.now())
	if err != nil {
		h.linkError(w, r, err, emailtoken.PurposeVERIFY_EMAIL)
		return
	}
	RenderMessage(w, h.Log, http.StatusOK, Message{
		Title:      "Confirm your email address",
		Heading:    "Confirm your email address",
		Message:    "Use " + t.Email + " as the email address of your community account?",
		ActionURL:  "/auth/email/verify?token=" + url.QueryEscape(tok),
		ActionText: "Confirm " + t.Email,
		ActionPost: true,
	})
}

// verify applies the email change of a link: the member's email becomes the confirmed address.
// An unverified holder of the address loses it (EMAIL_RELEASED); a verified one keeps it, and
// the link stays unused.
func (h *MailLinks) verify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tx, t, u := h.openLink(w, r, emailtoken.PurposeVERIFY_EMAIL, linkToken(r))
	if tx == nil {
		return
	}
	defer func() { _ = tx.Rollback() }()
	client := tx.Client()
	if u.Status != user.StatusACTIVE {
		RenderMessage(w, h.Log, http.StatusForbidden, Message{Heading: "Account suspended",
			Message: "This account is suspended, so its email address cannot change.", Code: CodeUserSuspended, Alert: true})
		return
	}
	base := Event{Method: "EMAIL_LINK"}.FromRequest(r)
	var events []Event
	holder, err := client.User.Query().Where(user.Email(t.Email), user.IDNEQ(u.ID)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		h.fail(w, r, err)
		return
	case holder.EmailVerified:
		RenderMessage(w, h.Log, http.StatusConflict, Message{Heading: "Address already in use",
			Message: t.Email + " now belongs to another community account, so it cannot become yours.",
			Hint:    "Please contact the community's admins if it is your address.", Code: "EMAIL_TAKEN", Alert: true})
		return
	default:
		if err := ReleaseEmail(ctx, client, holder); err != nil {
			h.fail(w, r, err)
			return
		}
		events = append(events, EmailReleased(base, holder.ID, u.ID, t.Email, "EMAIL_LINK"))
	}
	if err := client.User.UpdateOneID(u.ID).SetEmail(t.Email).SetEmailVerified(true).Exec(ctx); err != nil {
		h.fail(w, r, err)
		return
	}
	e := base
	e.Type, e.UserID = EventEmailVerified, u.ID
	e.Detail = map[string]any{"from": u.Email, "to": t.Email}
	if err := RecordAll(ctx, client, append(events, e)...); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := tx.Commit(); err != nil {
		h.fail(w, r, err)
		return
	}
	RenderMessage(w, h.Log, http.StatusOK, Message{Heading: "Email address confirmed",
		Message: "Your community account now uses " + t.Email + ".", ActionURL: "/", ActionText: "Go to the community"})
}

// openLink begins the transaction that uses the link tok of purpose, and reads the member it was
// sent to. Where it cannot, it answers the request (linkError for a link that cannot be used),
// rolls back and returns a nil transaction; otherwise the caller ends tx.
func (h *MailLinks) openLink(w http.ResponseWriter, r *http.Request, purpose emailtoken.Purpose, tok string) (*ent.Tx, *ent.EmailToken, *ent.User) {
	ctx := r.Context()
	tx, err := h.client().Tx(ctx)
	if err != nil {
		h.fail(w, r, err)
		return nil, nil, nil
	}
	client := tx.Client()
	t, err := UseEmailToken(ctx, client, purpose, tok, h.now())
	if err != nil {
		_ = tx.Rollback()
		h.linkError(w, r, err, purpose)
		return nil, nil, nil
	}
	u, err := client.User.Get(ctx, *t.UserID)
	if err != nil {
		_ = tx.Rollback()
		h.fail(w, r, err)
		return nil, nil, nil
	}
	return tx, t, u
}

// linkError answers a link that cannot be used, saying why and what to do.
func (h *MailLinks) linkError(w http.ResponseWriter, r *http.Request, err error, purpose emailtoken.Purpose) {
	again := Message{Hint: "Change your email in the community again to get a new link."}
	if purpose == emailtoken.PurposeRESET_PASSWORD {
		again = Message{Hint: "You can ask for a new link.", ActionURL: "/auth/password/forgot", ActionText: "Ask for a new link"}
	}
	m := again
	m.Alert = true
	switch {
	case errors.Is(err, ErrLinkUnknown):
		m.Heading, m.Code = "This link is not valid", "LINK_UNKNOWN"
		m.Message = "Check that you opened the whole link from the mail."
		RenderMessage(w, h.Log, http.StatusNotFound, m)
	case errors.Is(err, ErrLinkUsed):
		m.Heading, m.Code = "This link was already used", "LINK_USED"
		m.Message = "Each link works once."
		RenderMessage(w, h.Log, http.StatusGone, m)
	case errors.Is(err, ErrLinkExpired):
		m.Heading, m.Code = "This link has expired", "LINK_EXPIRED"
		m.Message = "A link works for a limited time (24 hours to confirm an email, 1 hour to reset a password), and only the newest one you asked for works."
		RenderMessage(w, h.Log, http.StatusGone, m)
	default:
		h.fail(w, r, err)
	}
}

// forgotData is the data of the forgot-password page.
type forgotData struct {
	Title string
	Error string
	Email string
	Sent  bool
}

// noMail answers the reset pages of a server that sends no mail.
func (h *MailLinks) noMail(w http.ResponseWriter) {
	RenderMessage(w, h.Log, http.StatusNotFound, Message{Heading: "Password reset is not available",
		Message: "This community does not send mail, so a password cannot be reset by mail.",
		Hint:    "Please contact the community's admins.", Code: "MAIL_NOT_CONFIGURED", Alert: true})
}

func (h *MailLinks) forgotForm(w http.ResponseWriter, r *http.Request) {
	if h.Mail == nil {
		h.noMail(w)
		return
	}
	render(w, h.Log, http.StatusOK, "forgot", forgotData{Title: "Forgot your password?"})
}

// forgot mails a reset link to the address of the form when it is an active member's verified
// email that may sign in with a password. The answer is the same whether or not it is, and the
// mail is sent in the background, so neither the page nor its timing tells.
func (h *MailLinks) forgot(w http.ResponseWriter, r *http.Request) {
	if h.Mail == nil {
		h.noMail(w)
		return
	}
	ctx := r.Context()
	d := forgotData{Title: "Forgot your password?"}
	if err := r.ParseForm(); err != nil {
		d.Error = "The form could not be read. Please try again."
		render(w, h.Log, http.StatusBadRequest, "forgot", d)
		return
	}
	d.Email = r.PostForm.Get("email")
	email, err := NormalizeEmail(d.Email)
	if err != nil {
		d.Error = "Enter a valid email address."
		render(w, h.Log, http.StatusBadRequest, "forgot", d)
		return
	}
	now, ip := h.now(), ClientIP(r)
	if limited, err := h.resetLimited(ctx, email, ip, now); err != nil {
		h.fail(w, r, err)
		return
	} else if limited {
		RecordOrLog(ctx, h.client(), h.Log, Event{Type: EventRateLimited, Subject: email,
			Detail: map[string]any{"reason": "PASSWORD_RESET"}}.FromRequest(r))
		w.Header().Set("Retry-After", "3600")
		d.Error = "Too many password reset requests. Please wait an hour and try again."
		render(w, h.Log, http.StatusTooManyRequests, "forgot", d)
		return
	}
	u, err := h.client().User.Query().Where(user.Email(email)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		h.fail(w, r, err)
		return
	}
	st, err := LoadSettings(ctx, h.client(), settings.FieldEmailPasswordEnabled)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	userID := 0
	if u != nil && u.Status == user.StatusACTIVE && u.EmailVerified && (st.EmailPasswordEnabled || u.Role == user.RoleADMIN) {
		userID = u.ID
	}
	tok, _, err := NewEmailToken(ctx, h.client(), emailtoken.PurposeRESET_PASSWORD, userID, email, ip, now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if userID != 0 {
		RecordOrLog(ctx, h.client(), h.Log, Event{Type: EventPasswordResetRequested, UserID: userID}.FromRequest(r))
		h.send(ctx, userID, ResetPasswordMessage(h.PublicURL, u.Email, u.Name, tok))
	}
	d.Sent, d.Email = true, ""
	render(w, h.Log, http.StatusOK, "forgot", d)
}

// send mails m in the background; a failure is logged (without the message, whose link is a
// secret).
func (h *MailLinks) send(ctx context.Context, userID int, m mail.Message) {
	ctx = context.WithoutCancel(ctx)
	sends := h.inFlight()
	sends.Add(1)
	go func() {
		defer sends.Done()
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := h.Mail.Send(ctx, m); err != nil {
			h.Log.ErrorContext(ctx, "auth: mail a password reset link", "user_id", userID, "err", err)
		}
	}()
}

// resetLimited counts the reset requests for email and from ip within the window. They are in
// the database, so every replica sees the same.
func (h *MailLinks) resetLimited(ctx context.Context, email, ip string, now time.Time) (bool, error) {
	rl := h.resetLimit()
	since := now.Add(-rl.Window)
	recent := h.client().EmailToken.Query().Where(emailtoken.PurposeEQ(emailtoken.PurposeRESET_PASSWORD), emailtoken.CreatedAtGT(since))
	n, err := recent.Clone().Where(emailtoken.Email(email)).Count(ctx)
	if err != nil || n >= rl.PerEmail {
		return err == nil, err
	}
	n, err = recent.Where(emailtoken.IP(authdb.Fit(migrate.EmailTokensTable, emailtoken.FieldIP, ip))).Count(ctx)
	return err == nil && n >= rl.PerIP, err
}

// resetData is the data of the new password page.
type resetData struct {
	Title     string
	Error     string
	Token     string
	MinLength int
}

func (h *MailLinks) resetForm(w http.ResponseWriter, r *http.Request) {
	tok := linkToken(r)
	if _, err := FindEmailToken(r.Context(), h.client(), emailtoken.PurposeRESET_PASSWORD, tok, h.now()); err != nil {
		h.linkError(w, r, err, emailtoken.PurposeRESET_PASSWORD)
		return
	}
	render(w, h.Log, http.StatusOK, "reset", resetData{Title: "Choose a new password", Token: tok, MinLength: password.MinLength})
}

// reset sets the new password of a reset link, ends every session of the member and records
// PASSWORD_RESET.
func (h *MailLinks) reset(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		RenderMessage(w, h.Log, http.StatusBadRequest, Message{Heading: "Sorry", Message: "The form could not be read. Please try again.", Alert: true})
		return
	}
	tok, pass := r.PostForm.Get("token"), r.PostForm.Get("password")
	if _, err := FindEmailToken(ctx, h.client(), emailtoken.PurposeRESET_PASSWORD, tok, h.now()); err != nil {
		h.linkError(w, r, err, emailtoken.PurposeRESET_PASSWORD)
		return
	}
	d := resetData{Title: "Choose a new password", Token: tok, MinLength: password.MinLength}
	switch {
	case utf8.RuneCountInString(pass) < password.MinLength || len(pass) > password.MaxLength:
		d.Error = fmt.Sprintf("The password must be at least %d characters long (and at most %d bytes).", password.MinLength, password.MaxLength)
	case pass != r.PostForm.Get("password2"):
		d.Error = "The two passwords differ. Please type the same password twice."
	}
	if d.Error != "" {
		render(w, h.Log, http.StatusBadRequest, "reset", d)
		return
	}
	hash, err := h.Passwords.Hash(ctx, pass)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "1")
		d.Error = "Too many passwords are being set right now. Please try again in a moment."
		render(w, h.Log, http.StatusServiceUnavailable, "reset", d)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tx, t, u := h.openLink(w, r, emailtoken.PurposeRESET_PASSWORD, tok)
	if tx == nil {
		return
	}
	defer func() { _ = tx.Rollback() }()
	client := tx.Client()
	st, err := LoadSettings(ctx, client, settings.FieldEmailPasswordEnabled)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if u.Email != t.Email || u.Status != user.StatusACTIVE || (!st.EmailPasswordEnabled && u.Role != user.RoleADMIN) {
		RenderMessage(w, h.Log, http.StatusForbidden, Message{Heading: "This link can no longer be used",
			Message: "The account's email changed, the account was suspended, or password sign-in was turned off since the link was sent.",
			Code:    "LINK_REVOKED", Alert: true})
		return
	}
	if err := client.User.UpdateOneID(u.ID).SetPasswordHash(hash).Exec(ctx); err != nil {
		h.fail(w, r, err)
		return
	}
	ended, err := RevokeUser(ctx, client, u.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	e := Event{Type: EventPasswordReset, UserID: u.ID, Method: "EMAIL_LINK", Detail: map[string]any{"sessionsEnded": ended}}.FromRequest(r)
	if err := Record(ctx, client, e); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := tx.Commit(); err != nil {
		h.fail(w, r, err)
		return
	}
	RenderMessage(w, h.Log, http.StatusOK, Message{Heading: "Your password was changed",
		Message:   "Sign in with your new password. Every session of your account was signed out.",
		ActionURL: "/auth/login/direct", ActionText: "Sign in"})
}

// fail answers an unexpected error: a generic page, the detail in the log.
func (h *MailLinks) fail(w http.ResponseWriter, r *http.Request, err error) {
	(&Handler{DB: h.DB, Log: h.Log}).fail(w, r, err)
}
