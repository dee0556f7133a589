package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/mail"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/migrate"
)

// Security event types of email ownership and password resets.
const (
	// EventEmailChangeRequested: a member asked for a new email; a confirmation link was mailed.
	EventEmailChangeRequested = "EMAIL_CHANGE_REQUESTED"
	// EventEmailVerified: a member opened the mailed link; its email is now the confirmed one.
	EventEmailVerified = "EMAIL_VERIFIED"
	// EventEmailReleased: an unverified address was taken from its holder for a verified owner.
	EventEmailReleased = "EMAIL_RELEASED"
	// EventPasswordResetRequested: a reset link was mailed to a member.
	EventPasswordResetRequested = "PASSWORD_RESET_REQUESTED"
	// EventPasswordReset: a member set a new password with a mailed link; its sessions ended.
	EventPasswordReset = "PASSWORD_RESET"
)

// Lifetimes of the mailed links.
const (
	VerifyEmailLifetime   = 24 * time.Hour
	ResetPasswordLifetime = time.Hour
	// emailTokenKept is how long a link's row stays after it expired, so the rate limits that
	// count them see a full window whatever happened to the link.
	emailTokenKept = time.Hour
)

// Why a mailed link cannot be used.
var (
	ErrLinkUnknown = errors.New("auth: unknown link")
	ErrLinkUsed    = errors.New("auth: link already used")
	ErrLinkExpired = errors.New("auth: link expired")
)

// NewEmailToken stores a single-use token for purpose, userID (0: none, a request for an unknown
// address kept for the rate limit) and email, valid for the purpose's lifetime from now, and
// returns the token to mail; the database keeps its SHA-256 only. The user's earlier links of the
// same purpose stop working: only the newest one does.
func NewEmailToken(ctx context.Context, client *ent.Client, purpose emailtoken.Purpose, userID int, email, ip string, now time.Time) (string, *ent.EmailToken, error) {
	lifetime := VerifyEmailLifetime
	if purpose == emailtoken.PurposeRESET_PASSWORD {
		lifetime = ResetPasswordLifetime
	}
	if userID != 0 {
		if err := WithdrawEmailTokens(ctx, client, purpose, userID, now); err != nil {
			return "", nil, err
		}
	}
	tok, hash := NewToken()
	c := client.EmailToken.Create().
		SetPurpose(purpose).
		SetTokenHash(hash).
		SetEmail(authdb.Fit(migrate.EmailTokensTable, emailtoken.FieldEmail, email)).
		SetIP(authdb.Fit(migrate.EmailTokensTable, emailtoken.FieldIP, ip)).
		SetCreatedAt(now).
		SetExpiresAt(now.Add(lifetime))
	if userID != 0 {
		c.SetUserID(userID)
	}
	t, err := c.Save(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("auth: create link: %w", err)
	}
	return tok, t, nil
}

// WithdrawEmailTokens makes the user's open links of purpose stop working (they expire now): a
// newer link replaces them, or an admin set the address they were for.
func WithdrawEmailTokens(ctx context.Context, client *ent.Client, purpose emailtoken.Purpose, userID int, now time.Time) error {
	_, err := client.EmailToken.Update().
		Where(emailtoken.UserID(userID), emailtoken.PurposeEQ(purpose), emailtoken.UsedAtIsNil(), emailtoken.ExpiresAtGT(now)).
		SetExpiresAt(now).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("auth: withdraw earlier links: %w", err)
	}
	return nil
}

// FindEmailToken returns the link of purpose that tok opens, without using it up:
// ErrLinkUnknown, ErrLinkUsed or ErrLinkExpired when it cannot be used.
func FindEmailToken(ctx context.Context, client *ent.Client, purpose emailtoken.Purpose, tok string, now time.Time) (*ent.EmailToken, error) {
	if tok == "" || len(tok) > 128 {
		return nil, ErrLinkUnknown
	}
	t, err := client.EmailToken.Query().
		Where(emailtoken.TokenHash(HashToken(tok)), emailtoken.PurposeEQ(purpose), emailtoken.UserIDNotNil()).
		Only(ctx)
	switch {
	case ent.IsNotFound(err):
		return nil, ErrLinkUnknown
	case err != nil:
		return nil, fmt.Errorf("auth: look up link: %w", err)
	case t.UsedAt != nil:
		return nil, ErrLinkUsed
	case !now.Before(t.ExpiresAt):
		return nil, ErrLinkExpired
	}
	return t, nil
}

// UseEmailToken uses up the link tok opens: of concurrent callers, one gets the link and the
// others ErrLinkUsed. Call it in the transaction that applies what the link is for.
func UseEmailToken(ctx context.Context, client *ent.Client, purpose emailtoken.Purpose, tok string, now time.Time) (*ent.EmailToken, error) {
	t, err := FindEmailToken(ctx, client, purpose, tok, now)
	if err != nil {
		return nil, err
	}
	n, err := client.EmailToken.Update().
		Where(emailtoken.ID(t.ID), emailtoken.UsedAtIsNil(), emailtoken.ExpiresAtGT(now)).
		SetUsedAt(now).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: use link: %w", err)
	}
	if n == 0 {
		return nil, ErrLinkUsed
	}
	return t, nil
}

// PendingEmail is the address a member asked to change to and has not confirmed yet, or "".
func PendingEmail(ctx context.Context, client *ent.Client, userID int, now time.Time) (string, error) {
	t, err := client.EmailToken.Query().
		Where(emailtoken.UserID(userID), emailtoken.PurposeEQ(emailtoken.PurposeVERIFY_EMAIL),
			emailtoken.UsedAtIsNil(), emailtoken.ExpiresAtGT(now)).
		Order(ent.Desc(emailtoken.FieldCreatedAt), ent.Desc(emailtoken.FieldID)).
		First(ctx)
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("auth: pending email: %w", err)
	}
	return t.Email, nil
}

// ReleasedEmail is the address an unverified holder is left with when its address is released:
// unique per user, and under the reserved .invalid top-level domain, so no mail can reach it.
func ReleasedEmail(userID int) string {
	return "released-" + strconv.Itoa(userID) + "@released.invalid"
}

// ReleaseEmail takes an unverified address from its holder (which keeps ReleasedEmail, still
// unverified), so that the address's verified owner can have it.
func ReleaseEmail(ctx context.Context, client *ent.Client, holder *ent.User) error {
	if holder.EmailVerified {
		return fmt.Errorf("auth: release email of user %d: the address is verified", holder.ID)
	}
	released := ReleasedEmail(holder.ID)
	if _, err := authdb.UpdateMember(ctx, client, holder.ID, authdb.MemberChange{Email: &released}); err != nil {
		return fmt.Errorf("auth: release email of user %d: %w", holder.ID, err)
	}
	return nil
}

// EmailReleased is the EMAIL_RELEASED event of holder's address going to the user claimedBy.
func EmailReleased(base Event, holderID, claimedBy int, email, via string) Event {
	e := base
	e.Type, e.UserID, e.Subject = EventEmailReleased, holderID, email
	e.Detail = map[string]any{
		"releasedUserId":  strconv.Itoa(holderID),
		"claimedByUserId": strconv.Itoa(claimedBy),
		"email":           email,
		"via":             via,
	}
	return e
}

// VerifyEmailMessage is the mail that asks to confirm a new address.
func VerifyEmailMessage(publicURL, to, name, tok string) mail.Message {
	return mail.Message{
		To:      to,
		Subject: "Confirm your new email address",
		Text: greeting(name) + "someone, hopefully you, asked to use this address for an account in the community at " + publicURL + ".\n\n" +
			"To confirm, open this link within 24 hours:\n\n" +
			publicURL + "/auth/email/verify?token=" + tok + "\n\n" +
			"If you did not ask for this, ignore this mail: nothing changes.\n",
	}
}

// ResetPasswordMessage is the mail with a password reset link.
func ResetPasswordMessage(publicURL, to, name, tok string) mail.Message {
	return mail.Message{
		To:      to,
		Subject: "Reset your password",
		Text: greeting(name) + "someone, hopefully you, asked to reset the password of your account in the community at " + publicURL + ".\n\n" +
			"To choose a new password, open this link within 1 hour:\n\n" +
			publicURL + "/auth/password/reset?token=" + tok + "\n\n" +
			"If you did not ask for this, ignore this mail: your password stays as it is.\n",
	}
}

func greeting(name string) string {
	if name == "" {
		return "Hello,\n\n"
	}
	return "Hello " + name + ",\n\n"
}
