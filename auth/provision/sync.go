package provision

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// Decisions of a sync, as its caller sees them.
const (
	SyncCreated   = "CREATED"
	SyncUpdated   = "UPDATED"
	SyncUnchanged = "UNCHANGED"
)

// Sources of a sync, named in its security events.
const (
	SourceSyncEndpoint = "sync_endpoint"
	SourceSyncMembers  = "sync_members"
)

// SuspendedClaim is the claim of a sync payload that suspends (true) or reinstates (false) the
// member.
const SuspendedClaim = "suspended"

// SyncOptions say how Sync runs.
type SyncOptions struct {
	// Source names the caller in the security log (SourceSyncEndpoint, SourceSyncMembers).
	Source string
	// ActorID, when not 0, is the admin who asked for the sync, named in its security event.
	ActorID int
	// DryRun runs the sync in a transaction that is rolled back: the result is the real run's,
	// and nothing is written, no security event either.
	DryRun bool
}

// SyncDecision is the decision of a successful Sync: CREATED, UPDATED (something changed) or
// UNCHANGED.
func (r *Result) SyncDecision() string {
	switch {
	case r.Created:
		return SyncCreated
	case len(r.Changes) > 0:
		return SyncUpdated
	}
	return SyncUnchanged
}

// Suspension reads the suspended claim of p: nil when absent or null, else the boolean (a
// string "true" or "false" is read as one); any other value is INVALID_CLAIM.
func Suspension(p Payload) (*bool, error) {
	v, ok := Unwrap(p)[SuspendedClaim]
	if !ok || v == nil {
		return nil, nil
	}
	switch v := v.(type) {
	case bool:
		return &v, nil
	case string:
		if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
			return &b, nil
		}
	}
	return nil, claimError(auth.CodeInvalidClaim, SuspendedClaim, "the suspended claim must be true or false")
}

// Sync creates or updates the member of req exactly as a login would (the same decisions,
// spaces, fields and role), without a session, a login time or a LOGIN_SUCCEEDED event: a
// suspended member is updated too, and req.Suspended suspends it (its sessions end) or lifts
// its suspension. It runs in one transaction, with req.Before first, and records a
// MEMBER_SYNCED security event naming opts.Source; a race with a concurrent login is retried.
// What cannot be done is an *auth.SSOError and changes nothing: a conflict (also recorded as an
// SSO_CONFLICT event, not in a dry run), or INVALID_CLAIM when suspending the last active admin.
// The Result is returned with an SSOError when the decision got that far (a conflict).
func (p *Provisioner) Sync(ctx context.Context, req Request, opts SyncOptions) (*Result, error) {
	req.sync = true
	base := eventBase(ctx, req.Method)
	res, err := p.retry(ctx, func() (*Result, error) { return p.syncOnce(ctx, req, opts, base) })
	var lost *lostRaces
	if errors.As(err, &lost) {
		p.Log.WarnContext(ctx, "provision: sync gave up after concurrent changes", "err", lost.last)
		return nil, &auth.SSOError{Code: auth.CodeTryAgain, Message: "Too many changes of this member at once. Please try again.", Err: lost.last}
	}
	if err != nil && !opts.DryRun && res != nil && res.Decision == DecisionConflict {
		p.recordConflict(ctx, base, req, res)
	}
	return res, err
}

func (p *Provisioner) syncOnce(ctx context.Context, req Request, opts SyncOptions, base auth.Event) (*Result, error) {
	tx, client, ctx, err := p.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	res, err := provision(ctx, client, req, base)
	if err != nil {
		_ = tx.Rollback()
		return res, err
	}
	e := base
	e.Type, e.UserID = auth.EventMemberSynced, res.User.ID
	fields := make([]string, len(res.Changes))
	for i, c := range res.Changes {
		fields[i] = c.Field
	}
	e.Detail = map[string]any{"source": opts.Source, "decision": res.SyncDecision(), "fields": fields}
	if opts.ActorID != 0 {
		e.Detail["actorId"] = strconv.Itoa(opts.ActorID)
	}
	if err := auth.RecordAll(ctx, client, append(res.events, e)...); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if opts.DryRun {
		if err := tx.Rollback(); err != nil {
			return nil, fmt.Errorf("provision: sync: roll back: %w", err)
		}
		return res, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("provision: sync: commit: %w", err)
	}
	return res, nil
}

// setStatus suspends the member u or lifts its suspension, through the store's hook (the last
// active admin is never suspended: INVALID_CLAIM, and the caller rolls back), records the
// change in res with its STATUS_CHANGED event, and ends a suspended member's sessions.
func setStatus(ctx context.Context, client *ent.Client, u *ent.User, suspend bool, base auth.Event, res *Result) (*ent.User, error) {
	status := user.StatusACTIVE
	if suspend {
		status = user.StatusSUSPENDED
	}
	if u.Status == status {
		return u, nil
	}
	err := authdb.SetMemberStatus(ctx, client, u.ID, status)
	if errors.Is(err, store.ErrLastAdmin) {
		e := claimError(auth.CodeInvalidClaim, SuspendedClaim, "the community needs at least one active admin")
		e.Detail["reason"] = "LAST_ADMIN"
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	e := base
	e.Type, e.UserID = auth.EventStatusChanged, u.ID
	e.Detail = map[string]any{"from": string(u.Status), "to": string(status), "source": "sync"}
	res.events = append(res.events, e)
	if suspend {
		if _, err := auth.RevokeUser(ctx, client, u.ID); err != nil {
			return nil, err
		}
	}
	res.change("status", string(u.Status), string(status))
	c := *u
	c.Status = status
	return &c, nil
}
