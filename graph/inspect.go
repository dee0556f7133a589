package graph

import (
	"context"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/ent"
	"github.com/community/sso/graph/model"
)

// inspectJwtSsoToken verifies a token as a login would (even before JWT SSO is enabled) and
// dry-runs its provisioning.
func (r *Resolver) inspectJwtSsoToken(ctx context.Context, token string) (*model.SsoInspection, error) {
	st, err := auth.LoadSettings(ctx, r.Client)
	if err != nil {
		return nil, err
	}
	st.JwtEnabled = true // inspect the configuration, enabled or not
	tok, serr := r.JWT.VerifyContext(ctx, token, st)
	if serr != nil {
		return reject(serr), nil
	}
	if tok.JTI != "" {
		used, err := jwtsso.Used(ctx, r.Client, tok.JTI, r.now())
		if err != nil {
			return nil, err
		}
		if used {
			return reject(auth.NewSSOError(auth.CodeTokenReplayed, "This token was already used.")), nil
		}
	}
	out := &model.SsoInspection{Claims: map[string]any(tok.Claims), Key: &tok.Key, Changes: []string{}, Skipped: []string{}}
	req, err := jwtsso.Request(tok.Claims, st, false)
	if err != nil {
		e := auth.AsSSOError(err)
		if e == nil {
			return nil, err
		}
		rej := reject(e)
		rej.Claims = out.Claims
		return rej, nil
	}
	return r.dryRun(ctx, out, req)
}

// dryRun fills an inspection with what provisioning would decide.
func (r *Resolver) dryRun(ctx context.Context, out *model.SsoInspection, req provision.Request) (*model.SsoInspection, error) {
	out.Profile = ssoProfile(req.Profile)
	res, err := r.Provisioner.DryRun(ctx, req)
	if err != nil {
		return nil, err
	}
	out.Decision = model.SsoDecision(res.Decision)
	if res.Reason != "" {
		out.Reason = &res.Reason
	}
	out.Changes = append(out.Changes, res.Changed...)
	out.Skipped = append(out.Skipped, res.Skipped...)
	var uid int
	switch {
	case res.Decision == provision.DecisionConflict:
		uid = res.ConflictUserID
	case res.User != nil && !res.Created:
		uid = res.User.ID
	}
	if uid != 0 {
		u, err := r.Client.User.Get(ctx, uid)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		out.User = u
	}
	return out, nil
}

func reject(e *auth.SSOError) *model.SsoInspection {
	return &model.SsoInspection{Decision: model.SsoDecisionReject, Reason: &e.Code, Message: &e.Message, Changes: []string{}, Skipped: []string{}}
}

func ssoProfile(pr *provision.Profile) *model.SsoProfile {
	out := &model.SsoProfile{
		ExternalID: pr.ExternalID, Email: pr.Email, Name: pr.Name, Username: pr.Username,
		Picture: pr.Picture, Tagline: pr.Tagline, EmailVerified: pr.EmailVerified,
		SpacesOperation: pr.SpacesOperation, Spaces: []*model.SsoSpaceChange{},
	}
	for _, s := range pr.Spaces {
		out.Spaces = append(out.Spaces, &model.SsoSpaceChange{Space: s.Space, Role: s.Role, Action: s.Action})
	}
	return out
}
