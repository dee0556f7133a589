package graph

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/graph/model"
)

// MaxSyncPayloads bounds the payloads of one syncMembers call.
const MaxSyncPayloads = 1000

// MaxSyncPayloadBytes bounds one syncMembers payload, as JSON: a JWT SSO token's limit
// (jwtsso.MaxTokenLength).
const MaxSyncPayloadBytes = jwtsso.MaxTokenLength

// onlySyncMembers tells the Transactioner to leave an operation whose root fields are all
// syncMembers without a transaction: syncMembers runs one transaction per member itself, which
// the mutation's transaction would hold up (SQLite has one writer).
func onlySyncMembers(op *ast.OperationDefinition) bool {
	if op.Operation != ast.Mutation || len(op.SelectionSet) == 0 {
		return false
	}
	for _, s := range op.SelectionSet {
		f, ok := s.(*ast.Field)
		if !ok || (f.Name != "syncMembers" && f.Name != "__typename") {
			return false
		}
	}
	return true
}

// syncMembers syncs each payload as POST /api/auth/sso/sync would sync a token with its claims
// (provision.Provisioner.Sync, one transaction each, in input order), or, dryRun, decides and
// rolls back. A payload that fails has its error code in its result; the others go on.
func (r *Resolver) syncMembers(ctx context.Context, input model.SyncMembersInput) (*model.SyncMembersResult, error) {
	if ent.TxFromContext(ctx) != nil {
		return nil, BadInput("syncMembers", "syncMembers runs its own transactions: send it in an operation of its own")
	}
	if len(input.Payloads) > MaxSyncPayloads {
		return nil, BadInput("payloads", "at most %d payloads per call", MaxSyncPayloads)
	}
	st, _, err := jwtsso.LoadLoginSettings(ctx, r.Client)
	if err != nil {
		return nil, err
	}
	dry := input.DryRun != nil && *input.DryRun
	opts := provision.SyncOptions{Source: provision.SourceSyncMembers, DryRun: dry}
	if v := auth.FromContext(ctx); v != nil {
		opts.ActorID = v.User.ID
	}
	out := &model.SyncMembersResult{DryRun: dry, Results: make([]*model.SyncMemberResult, len(input.Payloads))}
	for i, p := range input.Payloads {
		res := r.syncPayload(ctx, st, provision.Payload(p), opts)
		res.Index = i
		out.Results[i] = res
		switch {
		case res.Error != nil:
			out.Failed++
		case *res.Decision == model.SyncDecisionCreated:
			out.Created++
		case *res.Decision == model.SyncDecisionUpdated:
			out.Updated++
		default:
			out.Unchanged++
		}
	}
	return out, nil
}

// syncPayload syncs one payload: its result, or its error (recorded as a MEMBER_SYNC_FAILED
// event unless dry).
func (r *Resolver) syncPayload(ctx context.Context, st *ent.Settings, p provision.Payload, opts provision.SyncOptions) *model.SyncMemberResult {
	out := &model.SyncMemberResult{Changes: []*model.SyncChange{}}
	res, err := r.syncClaims(ctx, st, p, opts)
	if err != nil {
		e := auth.AsSSOError(err)
		if e == nil {
			r.DB.MarkFailure(err)
			r.Provisioner.Log.ErrorContext(ctx, "graph: sync member", "err", err)
			e = &auth.SSOError{Code: auth.CodeTryAgain, Message: "Something went wrong on our side; sync this payload again."}
		}
		out.Error = &model.SyncError{Code: e.Code, Message: e.Message}
		if c, ok := e.Detail["claim"].(string); ok {
			out.Error.Claim = &c
		}
		if !opts.DryRun {
			ev := auth.SyncFailure(string(session.MethodJWT), opts.Source, e)
			info := auth.RequestInfoFrom(ctx)
			ev.IP, ev.Agent = info.IP, info.UserAgent
			if opts.ActorID != 0 {
				ev.Detail["actorId"] = strconv.Itoa(opts.ActorID)
			}
			auth.RecordOrLog(ctx, r.Client, r.Provisioner.Log, ev)
		}
		return out
	}
	a := jwtsso.Answer(res)
	d := model.SyncDecision(a.Decision)
	out.Decision = &d
	out.User = &model.SyncedMember{ExternalID: a.User.ExternalID, Email: a.User.Email}
	if !(opts.DryRun && res.Created) {
		id := res.User.ID
		out.User.ID = &id
	}
	for _, c := range a.Changes {
		out.Changes = append(out.Changes, &model.SyncChange{Field: c.Field, Old: c.Old, New: c.New})
	}
	return out
}

// syncClaims maps and syncs one payload of claims.
func (r *Resolver) syncClaims(ctx context.Context, st *ent.Settings, p provision.Payload, opts provision.SyncOptions) (*provision.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, &auth.SSOError{Code: auth.CodeTryAgain, Message: "The request ran out of time before this payload; sync it again.", Err: err}
	}
	if b, err := json.Marshal(p); err != nil || len(b) > MaxSyncPayloadBytes {
		return nil, auth.NewSSOError(auth.CodeInvalidRequest, "The payload is larger than %d bytes as JSON.", MaxSyncPayloadBytes)
	}
	req, err := jwtsso.Request(p, st, true)
	if err != nil {
		return nil, err
	}
	return r.Provisioner.Sync(ctx, req, opts)
}
