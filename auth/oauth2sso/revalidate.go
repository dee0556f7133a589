package oauth2sso

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/oauth2"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/store"
)

// RetryAfter is how long a session waits before another revalidation when the provider could
// not be asked.
const RetryAfter = time.Minute

// Revalidator revalidates OAuth2 sessions with a refresh-token grant; it implements
// auth.Revalidator.
type Revalidator struct {
	DB        *store.DB
	Sealer    *seal.Sealer
	Discovery *Discovery
	// Provisioner re-applies what the provider says about the member after a refresh.
	Provisioner *provision.Provisioner
	Log         *slog.Logger
	Now         func() time.Time
}

func (v *Revalidator) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// Revalidate refreshes the session's tokens at the provider and re-applies what the provider
// now says about the member (the new id_token's claims and user info) through the provisioning
// core, as a login would: profile, role, spaces and fields, in one transaction, without a new
// session. A refusal ends the session: invalid_grant, a payload for another member
// (subject_changed), or what a login would refuse (the SSO error code: a suspended member, an
// email another member holds, a malformed payload). A provider that cannot be reached, or a
// database that fails, keeps it and it is tried again after RetryAfter. Only one request per
// due revalidation asks the provider: the others see the moved RevalidateAt and go on.
func (v *Revalidator) Revalidate(ctx context.Context, sess *ent.Session) bool {
	if sess.Method != session.MethodOAUTH2 || sess.RevalidateAt == nil {
		return true
	}
	client := v.DB.Client
	now := v.now()
	n, err := client.Session.Update().
		Where(session.ID(sess.ID), session.RevalidateAtLTE(now)).
		SetRevalidateAt(now.Add(RetryAfter)).
		Save(ctx)
	if err != nil || n == 0 {
		// Another request (or replica) took this revalidation, or the database is failing: the
		// session lookup around this reports a failing database on its own.
		return true
	}
	st, err := auth.LoadSettings(ctx, client)
	if err != nil {
		return true
	}
	if !st.Oauth2Enabled || st.Oauth2RefreshMinutes == 0 || len(sess.RefreshToken) == 0 {
		// Revalidation was turned off since the login.
		_ = client.Session.UpdateOneID(sess.ID).ClearRevalidateAt().Exec(ctx)
		return true
	}
	rt, err := v.Sealer.Open(PurposeRefreshToken, sess.RefreshToken)
	if err != nil {
		return v.revoke(ctx, sess, "refresh_token_unreadable")
	}
	p, err := v.Discovery.Resolve(ctx, st, v.Sealer)
	if err != nil {
		return v.defer_(ctx, sess, err)
	}
	cctx := v.Discovery.Client.Context(ctx)
	tok, err := p.Config("").TokenSource(cctx, &oauth2.Token{RefreshToken: string(rt)}).Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			return v.revoke(ctx, sess, "invalid_grant")
		}
		return v.defer_(ctx, sess, providerError("refresh", err))
	}
	if tok.RefreshToken != "" && tok.RefreshToken != string(rt) {
		// Kept at once: a provider that rotates refresh tokens refuses the old one from now on,
		// whatever happens to the rest of this revalidation.
		if err := client.Session.UpdateOneID(sess.ID).
			SetRefreshToken(v.Sealer.Seal(PurposeRefreshToken, []byte(tok.RefreshToken))).Exec(ctx); err != nil {
			return true
		}
	}
	var raw string
	var claims map[string]any
	if raw, _ = tok.Extra("id_token").(string); raw != "" && p.OIDC() {
		if claims, err = verifyIDToken(cctx, p, raw, nil, v.now); err != nil {
			return v.defer_(ctx, sess, err)
		}
	} else {
		raw = ""
	}
	var sealedID []byte
	if raw != "" {
		sealedID = v.Sealer.Seal(PurposeIDToken, []byte(raw))
	}
	// revalidated moves the session's next revalidation on and keeps the new id_token.
	revalidated := func(ctx context.Context, c *ent.Client) error {
		upd := c.Session.UpdateOneID(sess.ID).
			SetRevalidateAt(now.Add(time.Duration(st.Oauth2RefreshMinutes) * time.Minute))
		if sealedID != nil {
			upd.SetIDToken(sealedID)
		}
		return upd.Exec(ctx)
	}
	if claims == nil && p.UserInfoURL == "" {
		// Nothing new about the member: the refresh alone revalidates the session.
		if err := revalidated(ctx, client); err != nil {
			return true
		}
		v.record(ctx, sess, auth.EventSessionRevalidated, nil)
		return true
	}
	id, err := identify(ctx, v.Discovery.Client, p, tok, raw, claims)
	if err != nil {
		if e := auth.AsSSOError(err); e != nil && e.Code == auth.CodeInvalidToken {
			return v.revoke(ctx, sess, "subject_changed")
		}
		return v.defer_(ctx, sess, err)
	}
	pr, err := provision.Map(id.Payload, "externalId")
	if err == nil {
		_, err = v.Provisioner.Apply(ctx, provision.Request{
			Method:       session.MethodOAUTH2,
			Profile:      pr,
			Roles:        roles(st),
			SyncUsername: st.SyncUsername,
			Before:       revalidated,
		}, sess.UserID)
	}
	switch e := auth.AsSSOError(err); {
	case err == nil:
	case errors.Is(err, provision.ErrOtherMember):
		return v.revoke(ctx, sess, "subject_changed")
	case e != nil:
		return v.revoke(ctx, sess, e.Code)
	default:
		// The database failed, or concurrent changes outlasted the retries: try again later.
		v.Log.WarnContext(ctx, "oauth2sso: revalidation could not apply the provider's profile", "session", sess.ID, "err", err)
		v.record(ctx, sess, auth.EventRevalidationDeferred, map[string]any{"reason": auth.CodeTryAgain})
		return true
	}
	v.record(ctx, sess, auth.EventSessionRevalidated, nil)
	return true
}

func (v *Revalidator) revoke(ctx context.Context, sess *ent.Session, reason string) bool {
	if err := v.DB.Client.Session.DeleteOneID(sess.ID).Exec(ctx); err != nil && !ent.IsNotFound(err) {
		v.Log.ErrorContext(ctx, "oauth2sso: revoke session", "err", err)
	}
	v.record(ctx, sess, auth.EventSessionRevoked, map[string]any{"reason": reason})
	return false
}

// defer_ keeps the session after a failure that is not the provider's refusal; RevalidateAt was
// already moved RetryAfter ahead.
func (v *Revalidator) defer_(ctx context.Context, sess *ent.Session, err error) bool {
	reason := auth.CodeIDPUnavailable
	if e := auth.AsSSOError(err); e != nil {
		reason = e.Code
	}
	v.Log.WarnContext(ctx, "oauth2sso: revalidation deferred", "session", sess.ID, "err", err)
	v.record(ctx, sess, auth.EventRevalidationDeferred, map[string]any{"reason": reason})
	return true
}

func (v *Revalidator) record(ctx context.Context, sess *ent.Session, typ string, detail map[string]any) {
	info := auth.RequestInfoFrom(ctx)
	auth.RecordOrLog(ctx, v.DB.Client, v.Log, auth.Event{
		Type: typ, UserID: sess.UserID, Method: string(session.MethodOAUTH2),
		IP: info.IP, Agent: info.UserAgent, Detail: detail,
	})
}
