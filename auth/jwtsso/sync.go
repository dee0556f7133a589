package jwtsso

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
)

// SyncAnswer is the answer of POST /api/auth/sso/sync.
type SyncAnswer struct {
	User struct {
		ID         string `json:"id"`
		ExternalID string `json:"externalId"`
		Email      string `json:"email"`
	} `json:"user"`
	// Decision is CREATED, UPDATED or UNCHANGED.
	Decision string         `json:"decision"`
	Changes  []SyncedChange `json:"changes"`
}

// SyncedChange is one change of a sync: the field and its value before and after ("" for none).
type SyncedChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Sync serves POST /api/auth/sso/sync: the customer's server creates or updates a member
// without a login. The token is a JWT SSO token, verified as a login's is (Verify, its jti
// single-use), sent as Authorization: Bearer TOKEN or in the body as Token reads it; the member
// is provisioned as a login would provision it (provision.Provisioner.Sync), with the claim
// suspended: true or false suspending it or lifting its suspension, and no session or cookie.
// The answer is SyncAnswer as JSON; an error is the SSO error JSON, whatever the Accept header
// says, and a MEMBER_SYNC_FAILED security event.
func (h *Handler) Sync(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	token, err := syncToken(w, r)
	if err != nil {
		h.failSync(w, r, err)
		return
	}
	st, err := h.settings(r)
	if err != nil {
		h.failSync(w, r, &auth.SSOError{Code: auth.CodeTryAgain, Message: "The community could not be reached.", Err: err})
		return
	}
	tok, serr := h.Verifier.VerifyContext(r.Context(), strings.TrimSpace(token), st)
	if serr != nil {
		h.failSync(w, r, serr)
		return
	}
	req, err := Request(tok.Claims, st, true)
	if err != nil {
		h.failSync(w, r, err)
		return
	}
	now := h.Verifier.now()
	req.Before = func(ctx context.Context, client *ent.Client) error { return consume(ctx, client, tok, now) }
	res, err := h.Provisioner.Sync(auth.RequestContext(r), req, provision.SyncOptions{Source: provision.SourceSyncEndpoint})
	if err != nil {
		h.failSync(w, r, err)
		return
	}
	h.recordKey(r, tok, res.User.ID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(Answer(res))
}

// Answer is the SyncAnswer of a successful sync.
func Answer(res *provision.Result) SyncAnswer {
	var a SyncAnswer
	a.User.ID = strconv.Itoa(res.User.ID)
	if res.User.ExternalID != nil {
		a.User.ExternalID = *res.User.ExternalID
	}
	a.User.Email = res.User.Email
	a.Decision = res.SyncDecision()
	a.Changes = make([]SyncedChange, len(res.Changes))
	for i, c := range res.Changes {
		a.Changes[i] = SyncedChange(c)
	}
	return a
}

// syncToken is the token of a POST /api/auth/sso/sync: the Authorization header's bearer
// token, or else the body's jwt field (readTokenBody).
func syncToken(w http.ResponseWriter, r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return readTokenBody(w, r)
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", auth.NewSSOError(auth.CodeInvalidRequest, "Send the token as Authorization: Bearer TOKEN, or as the body's jwt field.")
	}
	return token, nil
}

func (h *Handler) failSync(w http.ResponseWriter, r *http.Request, err error) {
	auth.FailSync(w, r, h.DB, h.Log, string(session.MethodJWT), provision.SourceSyncEndpoint, err)
}
