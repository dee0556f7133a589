package graph

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/mail"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/user"
)

// Reasons (extensions.reason) of the email change errors.
const (
	ReasonEmailChangeNeedsMail   = "EMAIL_CHANGE_NEEDS_MAIL"
	ReasonEmailChangeRateLimited = "EMAIL_CHANGE_RATE_LIMITED"
	ReasonEmailNotSent           = "EMAIL_NOT_SENT"
)

// EmailChangesPerHour bounds the confirmation mails one member can ask for in an hour.
const EmailChangesPerHour = 5

// outbox holds the mail an operation queued. The mail goes out once the operation's
// transaction has committed (never from inside it, and never for one that rolled back).
type outbox struct {
	r     *Resolver
	mu    sync.Mutex
	queue []queuedMail
}

type queuedMail struct {
	msg     mail.Message
	tokenID int // the link the mail carries, withdrawn when the mail cannot be sent
	userID  int
}

type outboxKey struct{}

func outboxFrom(ctx context.Context) *outbox {
	o, _ := ctx.Value(outboxKey{}).(*outbox)
	return o
}

func (o *outbox) add(m queuedMail) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.queue = append(o.queue, m)
}

// mailAfterCommit is the extension that sends an operation's queued mail after its transaction
// (entgql.Transactioner, which it must be registered before: the first extension registered
// is the outermost). A mail
// that cannot be sent is logged, its link withdrawn, and the response becomes an error that
// says so.
type mailAfterCommit struct {
	r   *Resolver
	log *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = mailAfterCommit{}

func (mailAfterCommit) ExtensionName() string                   { return "MailAfterCommit" }
func (mailAfterCommit) Validate(graphql.ExecutableSchema) error { return nil }

func (m mailAfterCommit) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if !graphql.HasOperationContext(ctx) || graphql.GetOperationContext(ctx).Operation == nil ||
		graphql.GetOperationContext(ctx).Operation.Operation != ast.Mutation {
		return next(ctx) // only mutations mail
	}
	o := &outbox{r: m.r}
	rsp := next(context.WithValue(ctx, outboxKey{}, o))
	if rsp == nil || len(rsp.Errors) > 0 || len(o.queue) == 0 {
		return rsp
	}
	var failed bool
	for _, q := range o.queue {
		if err := m.r.Mail.Send(ctx, q.msg); err != nil {
			failed = true
			m.log.ErrorContext(ctx, "graphql: mail an email confirmation link", "user_id", q.userID, "err", err, "request_id", web.RequestID(ctx))
			// The link was never delivered: withdraw it, so no pending change is shown.
			if err := m.r.Client.EmailToken.UpdateOneID(q.tokenID).SetExpiresAt(m.r.now()).Exec(context.WithoutCancel(ctx)); err != nil {
				m.log.WarnContext(ctx, "graphql: withdraw an unsent link", "user_id", q.userID, "err", err)
			}
		}
	}
	if !failed {
		return rsp
	}
	return &graphql.Response{Errors: gqlerror.List{{
		Message:    "the confirmation mail to the new email address could not be sent, so the email was not changed; try again later",
		Extensions: map[string]any{"code": CodeServiceUnavailable, "reason": ReasonEmailNotSent},
	}}}
}

// requestEmailChange handles a member's change of its own email: the email does not change;
// a single-use link is mailed to the new address (after the transaction), and the address
// becomes the member's once it is opened. Asking for the current, already verified address
// changes nothing; asking for the current unverified one mails a link to verify it.
func requestEmailChange(ctx context.Context, client *ent.Client, u *ent.User, raw string) error {
	email, err := auth.NormalizeEmail(raw)
	if err != nil {
		return BadInput("email", "email must be a valid address of at most %d characters", auth.MaxEmailLength)
	}
	if email == u.Email && u.EmailVerified {
		return nil
	}
	o := outboxFrom(ctx)
	if o == nil || o.r.Mail == nil {
		return &Error{Code: CodeForbidden,
			Message:    "email changes need mail: this server has no SMTP server set up to send the confirmation link, so ask an admin to change your email",
			Extensions: map[string]any{"field": "email", "reason": ReasonEmailChangeNeedsMail}}
	}
	other, err := client.User.Query().Where(user.Email(email), user.IDNEQ(u.ID), user.EmailVerified(true)).First(ctx)
	switch {
	case err == nil:
		return Conflict("email", other.ID, "another user (id %d) already has this email", other.ID)
	case !ent.IsNotFound(err):
		return err
	}
	now := o.r.now()
	n, err := client.EmailToken.Query().
		Where(emailtoken.UserID(u.ID), emailtoken.PurposeEQ(emailtoken.PurposeVERIFY_EMAIL), emailtoken.CreatedAtGT(now.Add(-time.Hour))).
		Count(ctx)
	if err != nil {
		return err
	}
	if n >= EmailChangesPerHour {
		return &Error{Code: CodeForbidden, Message: "too many email changes in the last hour; try again later",
			Extensions: map[string]any{"field": "email", "reason": ReasonEmailChangeRateLimited}}
	}
	tok, t, err := auth.NewEmailToken(ctx, client, emailtoken.PurposeVERIFY_EMAIL, u.ID, email, auth.RequestInfoFrom(ctx).IP, now)
	if err != nil {
		return err
	}
	e := subjectEvent(ctx, auth.EventEmailChangeRequested, u.ID)
	e.Detail["email"] = email
	if err := auth.Record(ctx, client, e); err != nil {
		return err
	}
	o.add(queuedMail{msg: auth.VerifyEmailMessage(o.r.PublicURL, email, u.Name, tok), tokenID: t.ID, userID: u.ID})
	return nil
}

// pendingEmail is User.pendingEmail: the user itself and admins see it, others null.
func pendingEmail(ctx context.Context, r *Resolver, u *ent.User) (*string, error) {
	v := auth.FromContext(ctx)
	if v == nil || (v.User.ID != u.ID && !v.HasRole(user.RoleADMIN)) {
		return nil, nil
	}
	client := ent.FromContext(ctx) // the mutation's transaction, which may have just made the link
	if client == nil {
		client = r.Client
	}
	e, err := auth.PendingEmail(ctx, client, u.ID, r.now())
	if err != nil || e == "" {
		return nil, err
	}
	return &e, nil
}
