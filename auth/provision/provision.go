package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
)

// Decisions of a provisioning.
const (
	DecisionCreate   = "CREATE"
	DecisionUpdate   = "UPDATE"
	DecisionLink     = "LINK"
	DecisionConflict = "CONFLICT"
	DecisionReject   = "REJECT"
)

// RoleMapping gives members a role from payload claims: ADMIN when the admin claim matches (its
// presence, or its value, also inside an array), else MODERATOR when the moderator claim matches,
// else MEMBER.
type RoleMapping struct {
	AdminClaim, AdminValue         string
	ModeratorClaim, ModeratorValue string
}

// Configured reports whether any claim is mapped.
func (m *RoleMapping) Configured() bool {
	return m != nil && (m.AdminClaim != "" || m.ModeratorClaim != "")
}

// Seen is what the payload holds of the mapped claims (absent ones left out), for the security
// log of a role decision.
func (m *RoleMapping) Seen(p Payload) map[string]any {
	seen := map[string]any{}
	for _, c := range []string{m.AdminClaim, m.ModeratorClaim} {
		if v, ok := lookupClaim(p, c); ok && c != "" {
			seen[c] = v
		}
	}
	return seen
}

// Role is the role the payload maps to.
func (m *RoleMapping) Role(p Payload) user.Role {
	switch {
	case claimMatches(p, m.AdminClaim, m.AdminValue):
		return user.RoleADMIN
	case claimMatches(p, m.ModeratorClaim, m.ModeratorValue):
		return user.RoleMODERATOR
	}
	return user.RoleMEMBER
}

// Request is one SSO login to provision.
type Request struct {
	Method  session.Method // JWT or OAUTH2
	Profile *Profile
	Roles   *RoleMapping
	// SyncUsername renames an existing member whose username claim changed (the setting
	// sync_username); off, a username is set once, when the member is created.
	SyncUsername bool
	// Session carries what the session keeps (sealed OAuth2 tokens).
	Session auth.SessionOptions
	// Before, when set, runs first in the login's transaction (JWT SSO consumes the token's jti).
	Before func(ctx context.Context, client *ent.Client) error
	// Suspended, when not nil, is the status a Sync gives the member: true suspends it (its
	// sessions end), false lifts a suspension. Logins ignore it.
	Suspended *bool

	// at is the login's time, set by Login: a member this login creates gets it as its
	// last_login_at in the INSERT. A dry run leaves it zero.
	at time.Time
	// sync is set by Sync: a suspended member is updated, not refused, and Suspended applies.
	sync bool
}

// Change is one change a provisioning made to a member: what changed and its value before and
// after ("" for none). Field is a profile attribute (externalId, email, emailVerified, name,
// username, tagline, picture), role, status, fields.<key> (a custom field) or spaces.<slug> (a
// membership's role, "" outside the space).
type Change struct {
	Field, Old, New string
}

// Result is what a provisioning decided and did.
type Result struct {
	// User is the member as the provisioning left it: the columns a login compares and
	// decides on (authdb.MemberByExternalID), without edges.
	User     *ent.User
	Decision string
	Created  bool
	// Changes are what the provisioning changed, in order; Changed names the profile, role and
	// custom field entries among them (the fields of the USER_UPDATED event). Both are filled
	// by change.
	Changes []Change
	Changed []string
	Skipped []string
	// ConflictUserID is the user holding the email when Decision is CONFLICT, and
	// ConflictExternalID its externalId.
	ConflictUserID     int
	ConflictExternalID string
	// Reason is the SSO error code of a REJECT or CONFLICT.
	Reason string
	// Session is the session a Login started (the zero value for Apply and DryRun): the
	// caller gives the browser its cookie (auth.FinishLogin).
	Session auth.Started

	// events are the security events of the provisioning, written by the login together with
	// its LOGIN_SUCCEEDED (one statement).
	events []auth.Event
	// loginRecorded says the found member's last_login_at was already set by this login.
	loginRecorded bool
}

// change records one change of the member: in Changes, and in Changed unless it is a space
// membership or the status (which have events of their own).
func (r *Result) change(field, old, new string) {
	r.Changes = append(r.Changes, Change{Field: field, Old: old, New: new})
	if !strings.HasPrefix(field, "spaces.") && field != "status" {
		r.Changed = append(r.Changed, field)
	}
}

// Provisioner runs provisionings and logins.
type Provisioner struct {
	DB       *store.DB
	Sessions *auth.Sessions
	Log      *slog.Logger
	// Attempts bounds the retries of a login that lost a race with a concurrent one (8 when 0 or
	// less).
	Attempts int
}

// Login provisions the member of req and starts its session (Result.Session), in one
// transaction; the session and the security events keep the address and agent of ctx
// (auth.RequestContext), and the session the browser had (req.Session.Replaces) ends. A race
// with a concurrent login of the same person is retried; what cannot be done is an
// *auth.SSOError (a conflict also records an SSO_CONFLICT security event).
func (p *Provisioner) Login(ctx context.Context, req Request) (*Result, error) {
	res, err := p.retry(ctx, func() (*Result, error) { return p.login(ctx, req) })
	if err == nil {
		return res, nil
	}
	var lost *lostRaces
	if !errors.As(err, &lost) {
		if res != nil && res.Decision == DecisionConflict {
			p.recordConflict(ctx, eventBase(ctx, req.Method), req, res)
		}
		return res, err
	}
	p.Log.WarnContext(ctx, "provision: gave up after concurrent logins", "err", lost.last)
	return nil, &auth.SSOError{Code: auth.CodeTryAgain, Message: "Too many sign-ins at once. Please try again.", Err: lost.last}
}

// begin starts the transaction of one attempt and runs req.Before in it; on an error nothing
// is left open. The transaction ends with ctx; its statements run with the context begin
// returns (store.TxStatements), which does not end, so that each statement is not watched
// on its own.
func (p *Provisioner) begin(ctx context.Context, req Request) (*ent.Tx, *ent.Client, context.Context, error) {
	tx, err := p.DB.Client.Tx(ctx)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("provision: begin: %w", err)
	}
	client := tx.Client()
	ctx = store.TxStatements(ctx)
	if req.Before != nil {
		if err := req.Before(ctx, client); err != nil {
			_ = tx.Rollback()
			return nil, nil, nil, err
		}
	}
	return tx, client, ctx, nil
}

func (p *Provisioner) login(ctx context.Context, req Request) (*Result, error) {
	req.at = p.Sessions.Time()
	tx, client, ctx, err := p.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	base := eventBase(ctx, req.Method)
	res, err := provision(ctx, client, req, base)
	if err != nil {
		_ = tx.Rollback()
		return res, err
	}
	opts := req.Session
	opts.At, opts.LoginRecorded = req.at, res.Created || res.loginRecorded
	res.Session, err = p.Sessions.Start(ctx, client, res.User.ID, req.Method, opts)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	e := base
	e.Type, e.UserID = auth.EventLoginSucceeded, res.User.ID
	e.Detail = map[string]any{"decision": res.Decision}
	if err := auth.RecordAll(ctx, client, append(res.events, e)...); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("provision: commit: %w", err)
	}
	return res, nil
}

// ErrOtherMember is Apply's answer to a payload whose externalId is not the member's.
var ErrOtherMember = errors.New("provision: the payload names another member")

// Apply applies a payload to the existing member userID as a login would — profile, role,
// spaces and fields, with the login's rules — in one transaction, without starting a session:
// OAuth2 refresh revalidation re-applies what the provider now says. The payload's externalId
// must be the member's (else ErrOtherMember, and nothing changes); what a login would refuse (a
// suspended member, an email another member holds) is the login's *auth.SSOError, a conflict
// recorded as at a login. req.Before runs first in the transaction. The security events carry
// the address and agent of ctx (auth.RequestInfoFrom). A lost race is retried as by Login.
func (p *Provisioner) Apply(ctx context.Context, req Request, userID int) (*Result, error) {
	base := eventBase(ctx, req.Method)
	res, err := p.retry(ctx, func() (*Result, error) { return p.apply(ctx, req, userID, base) })
	var lost *lostRaces
	if errors.As(err, &lost) {
		return nil, fmt.Errorf("provision: apply: gave up after concurrent updates: %w", lost.last)
	}
	if res != nil && res.Decision == DecisionConflict {
		p.recordConflict(ctx, base, req, res)
	}
	return res, err
}

// lostRaces is retry's error when every attempt lost a race (last is the last attempt's error),
// or the context ended between attempts.
type lostRaces struct{ last error }

func (e *lostRaces) Error() string { return "provision: lost every race: " + e.last.Error() }
func (e *lostRaces) Unwrap() error { return e.last }

// retry runs one transaction's work up to p.Attempts times (default 8) while it loses races
// with concurrent ones (retryable), waiting store.Backoff between attempts: the result of the
// first attempt that did not lose, or a *lostRaces.
func (p *Provisioner) retry(ctx context.Context, work func() (*Result, error)) (*Result, error) {
	attempts := p.Attempts
	if attempts <= 0 {
		attempts = 8
	}
	var res *Result
	tries := 0
	err := store.Retry(ctx, attempts, retryBase, retryable, func() (err error) {
		if tries++; tries > 1 {
			p.Log.DebugContext(ctx, "provision: lost a race with a concurrent change, retrying", "attempt", tries)
		}
		res, err = work()
		return store.TxEnded(ctx, err)
	})
	if err != nil && retryable(err) && ctx.Err() == nil {
		return nil, &lostRaces{last: err} // every attempt lost (not a request that ended)
	}
	return res, err
}

func (p *Provisioner) apply(ctx context.Context, req Request, userID int, base auth.Event) (*Result, error) {
	tx, client, ctx, err := p.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	if req.Profile.ExternalID == "" {
		_ = tx.Rollback()
		return nil, ErrOtherMember
	}
	m, err := authdb.MemberByExternalID(ctx, client, req.Profile.ExternalID)
	if err == nil && (m == nil || m.ID != userID) {
		err = ErrOtherMember
	}
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	res, err := provision(ctx, client, req, base)
	if err != nil {
		_ = tx.Rollback()
		return res, err
	}
	if err := auth.RecordAll(ctx, client, res.events...); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("provision: commit: %w", err)
	}
	return res, nil
}

// DryRun decides what a login with req would do, and does nothing: the work runs in a
// transaction that is rolled back.
func (p *Provisioner) DryRun(ctx context.Context, req Request) (*Result, error) {
	tx, err := p.DB.Client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("provision: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := provision(ctx, tx.Client(), req, auth.Event{Method: string(req.Method)})
	if err != nil {
		if res == nil {
			res = &Result{Decision: DecisionReject}
		}
		if e := auth.AsSSOError(err); e != nil {
			res.Reason = e.Code
			return res, nil
		}
		return nil, err
	}
	return res, nil
}

// eventBase is the start of the security events of a provisioning: its method, and the
// address and agent of ctx.
func eventBase(ctx context.Context, method session.Method) auth.Event {
	info := auth.RequestInfoFrom(ctx)
	return auth.Event{Method: string(method), IP: info.IP, Agent: info.UserAgent}
}

func (p *Provisioner) recordConflict(ctx context.Context, base auth.Event, req Request, res *Result) {
	e := base
	e.Type, e.UserID = auth.EventSSOConflict, res.ConflictUserID
	e.Subject = req.Profile.Email
	e.Detail = map[string]any{
		"existingUserId":     strconv.Itoa(res.ConflictUserID),
		"existingExternalId": res.ConflictExternalID,
		"incomingExternalId": req.Profile.ExternalID,
		"email":              req.Profile.Email,
		"fix":                "updateUser: clear or change the existing user's externalId, or change one of the emails",
	}
	auth.RecordOrLog(ctx, p.DB.Client, p.Log, e)
}

// retryable tells a lost race (a unique key another transaction just took, a deadlock, a busy
// database: store.IsRetryable) from a refusal or a real failure.
func retryable(err error) bool {
	return auth.AsSSOError(err) == nil && store.IsRetryable(err)
}

// retryBase is the base of a login retry's backoff (store.Backoff): 10ms·2^attempt, at most
// 320ms.
const retryBase = 10 * time.Millisecond

// provision finds, links, creates or updates the member, with spaces, fields and role.
func provision(ctx context.Context, client *ent.Client, req Request, base auth.Event) (*Result, error) {
	pr := req.Profile
	res := &Result{Skipped: append([]string(nil), pr.Skipped...)}
	var u *ent.User
	var err error
	if pr.ExternalID != "" {
		if u, err = authdb.MemberByExternalID(ctx, client, pr.ExternalID); err != nil {
			return nil, err
		}
		if u != nil {
			res.Decision = DecisionUpdate
		}
	}
	var released *auth.Event
	if u == nil && pr.Email != "" {
		byEmail, err := authdb.MemberByEmail(ctx, client, pr.Email)
		if err != nil {
			return nil, err
		}
		// An unverified address never links and never blocks its verified owner: it is
		// released, and this login goes on as if no one had it.
		switch {
		case byEmail == nil:
		case !byEmail.EmailVerified && !pr.EmailVerified:
			res.Decision, res.Reason = DecisionReject, auth.CodeEmailNotVerified
			return res, auth.NewSSOError(auth.CodeEmailNotVerified, "Your email address is not verified, and another account already uses it.")
		case !byEmail.EmailVerified:
			if released, err = release(ctx, client, byEmail, base, req); err != nil {
				return nil, err
			}
		case byEmail.ExternalID != nil && *byEmail.ExternalID != pr.ExternalID:
			res.Decision, res.ConflictUserID, res.ConflictExternalID = DecisionConflict, byEmail.ID, *byEmail.ExternalID
			res.Reason = auth.CodeSSOConflict
			return res, conflictError(byEmail.ID, *byEmail.ExternalID)
		case !pr.EmailVerified:
			res.Decision, res.Reason = DecisionReject, auth.CodeEmailNotVerified
			return res, auth.NewSSOError(auth.CodeEmailNotVerified, "Your email address is not verified, so it cannot be linked to the existing account.")
		default:
			u, res.Decision = byEmail, DecisionLink
		}
	}
	if u != nil && u.Status != user.StatusACTIVE && !req.sync {
		res.Decision, res.Reason = DecisionReject, auth.CodeUserSuspended
		return res, auth.NewSSOError(auth.CodeUserSuspended, "This account is suspended.")
	}
	if u != nil && !req.at.IsZero() {
		// Lock order: the member's row is locked exclusively first, by the login-time UPDATE,
		// before any statement that references it (memberships, field values, the session and
		// events take a shared lock on it). Concurrent logins of one member then wait for each
		// other here instead of each sharing the row and then asking for it exclusively, which
		// deadlocks on MySQL/MariaDB. A new member's INSERT holds its row the same way.
		if err := authdb.RecordLogin(ctx, client, u.ID, req.at); err != nil {
			return nil, err
		}
		res.loginRecorded = true
	}
	if u == nil {
		if pr.Email == "" {
			res.Decision, res.Reason = DecisionReject, auth.CodeMissingClaim
			return res, claimError(auth.CodeMissingClaim, "email", "the sign-in data has no email address")
		}
		u, err = create(ctx, client, req)
		if err != nil {
			return nil, err
		}
		res.Decision, res.Created = DecisionCreate, true
		e := base
		e.Type, e.UserID = auth.EventUserCreated, u.ID
		e.Detail = map[string]any{"externalId": pr.ExternalID, "email": pr.Email}
		res.events = append(res.events, e)
	} else {
		up, err := update(ctx, client, u, req, res.Decision == DecisionLink, base)
		if up != nil {
			u = up.member
			for _, c := range up.changes {
				res.change(c.Field, c.Old, c.New)
			}
			res.Skipped = append(res.Skipped, up.skipped...)
			if up.released != nil {
				released = up.released
			}
		}
		if err != nil {
			if ce := auth.AsSSOError(err); ce != nil && ce.Code == auth.CodeSSOConflict {
				res.Decision, res.Reason = DecisionConflict, auth.CodeSSOConflict
				res.ConflictUserID, _ = ce.Detail["existingUserId"].(int)
				res.ConflictExternalID, _ = ce.Detail["existingExternalId"].(string)
			}
			return res, err
		}
	}
	if released != nil {
		released.Detail["claimedByUserId"] = strconv.Itoa(u.ID)
		res.events = append(res.events, *released)
	}
	if req.Roles.Configured() {
		role := req.Roles.Role(pr.Payload)
		if role != u.Role {
			e := base
			e.Type, e.UserID = auth.EventRoleChanged, u.ID
			e.Detail = map[string]any{"from": string(u.Role), "to": string(role), "source": "claims"}
			err = authdb.SetMemberRole(ctx, client, u.ID, role)
			switch {
			case errors.Is(err, store.ErrLastAdmin):
				// The last active admin keeps its role: the login goes on, and the admins see why.
				e.Type = auth.EventRoleChangeRefused
				e.Detail["reason"] = "LAST_ADMIN"
				e.Detail["claims"] = req.Roles.Seen(pr.Payload)
			case err != nil:
				return nil, err
			default:
				res.change("role", string(u.Role), string(role))
				u.Role = role
			}
			res.events = append(res.events, e)
		}
	}
	spaceChanges, skipped, err := syncSpaces(ctx, client, u.ID, pr, res)
	if err != nil {
		return nil, err
	}
	res.Skipped = append(res.Skipped, skipped...)
	if len(spaceChanges) > 0 {
		e := base
		e.Type, e.UserID = auth.EventSpaceMembershipChanged, u.ID
		e.Detail = map[string]any{"changes": spaceChanges}
		res.events = append(res.events, e)
	}
	skipped, err = syncFields(ctx, client, u.ID, pr.Payload, res)
	if err != nil {
		return nil, err
	}
	res.Skipped = append(res.Skipped, skipped...)
	// The update's event comes once everything is applied: it names every changed field,
	// the role and profile fields included (a member.updated webhook tells them all).
	if !res.Created && (res.Decision == DecisionLink || len(res.Changed) > 0) {
		e := base
		e.Type, e.UserID = auth.EventUserUpdated, u.ID
		if res.Decision == DecisionLink {
			e.Type = auth.EventUserLinked
		}
		e.Detail = map[string]any{"fields": res.Changed, "externalId": pr.ExternalID}
		res.events = append(res.events, e)
	}
	if len(res.Skipped) > 0 {
		e := base
		e.Type, e.UserID = auth.EventUserUpdated, u.ID
		e.Detail = map[string]any{"skipped": res.Skipped}
		res.events = append(res.events, e)
	}
	if req.sync && req.Suspended != nil {
		if u, err = setStatus(ctx, client, u, *req.Suspended, base, res); err != nil {
			return res, err
		}
	}
	res.User = u
	return res, nil
}

// conflictError reports that the email belongs to another member, naming that member for the
// SSO_CONFLICT event (never for the response).
func conflictError(existing int, existingExternalID string) *auth.SSOError {
	e := auth.NewSSOError(auth.CodeSSOConflict, "Your email address already belongs to another community account.")
	e.Detail = map[string]any{"existingUserId": existing, "existingExternalId": existingExternalID}
	return e
}

// create makes a new member from the profile.
func create(ctx context.Context, client *ent.Client, req Request) (*ent.User, error) {
	pr := req.Profile
	name, err := auth.NewUsername(ctx, client, pr.Username, pr.Name, pr.Email)
	if err != nil {
		return nil, err
	}
	return authdb.CreateMember(ctx, client, authdb.NewMember{
		ExternalID: pr.ExternalID, Email: pr.Email, EmailVerified: pr.EmailVerified, Username: name,
		Name: pr.Name, Tagline: pr.Tagline, Picture: pr.Picture, LastLoginAt: req.at,
	})
}

// update applies the profile to an existing member and returns the names of changed fields.
//
// A new email from the payload is taken with the payload's verification. An address another
// member holds unverified is released to a verified one (the EMAIL_RELEASED event is returned),
// and an unverified one never takes it (the change is skipped, the login goes on); an address
// another member holds verified is a conflict.
func update(ctx context.Context, client *ent.Client, u *ent.User, req Request, link bool, base auth.Event) (*updated, error) {
	pr := req.Profile
	var upd authdb.MemberChange
	out := &updated{member: u}
	if link && pr.ExternalID != "" {
		upd.ExternalID = &pr.ExternalID
		old := ""
		if u.ExternalID != nil {
			old = *u.ExternalID
		}
		out.change("externalId", old, pr.ExternalID)
	}
	switch {
	case pr.Email != "" && pr.Email != u.Email:
		take := true
		other, err := authdb.MemberByEmail(ctx, client, pr.Email)
		switch {
		case err != nil:
			return nil, err
		case other == nil:
		case !other.EmailVerified && pr.EmailVerified:
			if out.released, err = release(ctx, client, other, base, req); err != nil {
				return nil, err
			}
		case !other.EmailVerified:
			take = false
			out.skipped = append(out.skipped, "email (unverified, held by another account)")
		default:
			ext := ""
			if other.ExternalID != nil {
				ext = *other.ExternalID
			}
			return nil, conflictError(other.ID, ext)
		}
		if take {
			upd.Email, upd.EmailVerified = &pr.Email, &pr.EmailVerified
			out.change("email", u.Email, pr.Email)
		}
	case pr.Email != "" && pr.EmailVerified && !u.EmailVerified:
		upd.EmailVerified = &pr.EmailVerified
		out.change("emailVerified", "false", "true")
	}
	for _, f := range []struct {
		name     string
		from, to string
		clear    bool // an explicit empty value clears it
		set      **string
	}{
		{"name", u.Name, pr.Name, false, &upd.Name},
		{"tagline", u.Tagline, pr.Tagline, pr.ClearTagline, &upd.Tagline},
		{"picture", u.Picture, pr.Picture, pr.ClearPicture, &upd.Picture},
	} {
		if (f.to != "" || f.clear) && f.to != f.from {
			*f.set = &f.to
			out.change(f.name, f.from, f.to)
		}
	}
	if req.SyncUsername && pr.Username != "" {
		name, err := syncedUsername(ctx, client, u, pr.Username)
		if err != nil {
			return nil, err
		}
		if name != u.Username {
			upd.Username = &name
			out.change("username", u.Username, name)
		}
	}
	if len(out.changes) == 0 {
		return out, nil
	}
	saved, err := authdb.UpdateMember(ctx, client, u.ID, upd)
	if err != nil {
		return nil, err
	}
	out.member = saved
	return out, nil
}

// updated is what update did: the member as it left it, the changed fields, what it skipped,
// and the EMAIL_RELEASED event of an address it took from an unverified holder.
type updated struct {
	member   *ent.User
	changes  []Change
	skipped  []string
	released *auth.Event
}

func (u *updated) change(field, old, new string) {
	u.changes = append(u.changes, Change{Field: field, Old: old, New: new})
}

// release takes an address from the member holding it unverified, for the member of req, and
// returns the EMAIL_RELEASED event (its claimant is filled in by the caller).
func release(ctx context.Context, client *ent.Client, holder *ent.User, base auth.Event, req Request) (*auth.Event, error) {
	if err := auth.ReleaseEmail(ctx, client, holder); err != nil {
		return nil, err
	}
	e := auth.EmailReleased(base, holder.ID, 0, holder.Email, string(req.Method))
	return &e, nil
}

// syncedUsername is the username a member gets from its username claim: the claim's username
// form, with the smallest free numeric suffix when another member holds it (bob → bob2). A
// member holding that form keeps it without a lookup; one holding a suffixed form of it keeps
// that while another member holds the form itself.
func syncedUsername(ctx context.Context, client *ent.Client, u *ent.User, claim string) (string, error) {
	base := auth.UsernameBase(claim)
	if u.Username == base {
		return base, nil
	}
	name, err := auth.UniqueUsername(ctx, client, base, u.ID)
	if err != nil {
		return "", err
	}
	if suffix, ok := strings.CutPrefix(u.Username, base); ok && name != base && suffix != "" && strings.Trim(suffix, "0123456789") == "" {
		return u.Username, nil
	}
	return name, nil
}

// syncSpaces applies the payload's spaces, and records each membership it changes in res.
// Unknown spaces are skipped, never a failed login.
//
// The member's memberships and the spaces the payload names are read by authdb.MemberSpaces
// (one query when the payload names only spaces the member is in; a member created in this
// transaction, res.Created, has none to read); a login that changes nothing writes nothing, and new
// memberships are inserted together.
func syncSpaces(ctx context.Context, client *ent.Client, userID int, pr *Profile, res *Result) ([]string, []string, error) {
	if len(pr.Spaces) == 0 && pr.SpacesOperation != OpReplace {
		return nil, nil, nil
	}
	refs := make([]string, len(pr.Spaces))
	for i, c := range pr.Spaces {
		refs[i] = c.Space
	}
	rows, err := authdb.MemberSpaces(ctx, client, userID, refs, res.Created)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[int]*authdb.SpaceRow, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	want := map[int]spacemembership.Role{}
	leave := map[int]bool{}
	var order []int // the wanted spaces, in the payload's order
	var skipped, changes []string
	for _, c := range pr.Spaces {
		s := authdb.SpaceByRef(rows, c.Space)
		if s == nil {
			skipped = append(skipped, "space:"+c.Space)
			continue
		}
		if c.Action == ActionLeave {
			leave[s.ID] = true
			delete(want, s.ID)
			continue
		}
		if _, seen := want[s.ID]; !seen {
			order = append(order, s.ID)
		}
		want[s.ID] = spacemembership.Role(c.Role)
		delete(leave, s.ID)
	}
	var m authdb.Memberships
	for i := range rows {
		s := &rows[i]
		if s.MembershipID == 0 {
			continue
		}
		if _, wanted := want[s.ID]; leave[s.ID] || (pr.SpacesOperation == OpReplace && !wanted) {
			m.Leave = append(m.Leave, s.MembershipID)
			changes = append(changes, fmt.Sprintf("LEAVE %d", s.ID))
			res.change("spaces."+s.Slug, string(s.Role), "")
		}
	}
	for _, sid := range order {
		role, ok := want[sid]
		if !ok {
			continue // left again later in the payload
		}
		switch s := byID[sid]; {
		case s.MembershipID == 0:
			m.Join = append(m.Join, authdb.Join{SpaceID: sid, Role: role})
			changes = append(changes, fmt.Sprintf("JOIN %s as %s", s.Slug, role))
			res.change("spaces."+s.Slug, "", string(role))
		case s.Role != role:
			m.Roles = append(m.Roles, authdb.RoleChange{MembershipID: s.MembershipID, Role: role})
			changes = append(changes, fmt.Sprintf("ROLE %s %s", s.Slug, role))
			res.change("spaces."+s.Slug, string(s.Role), string(role))
		}
	}
	if err := authdb.WriteMemberships(ctx, client, userID, m); err != nil {
		return nil, nil, err
	}
	return changes, skipped, nil
}

// syncFields sets each profile field from the first of its external keys with a value
// (fieldValue), and clears it when the payload carries an explicit empty value for it; each
// value it changes is recorded in res (fields.<key>), and what it skips is returned.
//
// One query reads the field definitions, each with the member's value; a login that changes
// nothing writes nothing, and new values are inserted together.
func syncFields(ctx context.Context, client *ent.Client, userID int, p Payload, res *Result) ([]string, error) {
	rows, err := authdb.MemberFields(ctx, client, userID)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	var skipped []string
	var vals []authdb.FieldValue
	stored := make(map[int]authdb.Stored, len(rows))
	for _, def := range rows {
		if def.ValueID != 0 {
			stored[def.ID] = authdb.Stored{ID: def.ValueID, Value: def.Value}
		}
		val, key, state := fieldValue(p, def.ExternalKeys, def.Type, def.Options)
		switch state {
		case fieldAbsent:
		case fieldInvalid:
			skipped = append(skipped, "field:"+def.Key+" ("+key+")")
		case fieldClear:
			vals = append(vals, authdb.FieldValue{FieldID: def.ID, Key: def.Key})
		case fieldSet:
			vals = append(vals, authdb.FieldValue{FieldID: def.ID, Key: def.Key, Value: val})
		}
	}
	changed, err := authdb.WriteFieldValues(ctx, client, userID, vals, stored)
	if err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return skipped, nil
	}
	old := make(map[string]string, len(rows)) // fields.<key> → the member's value
	for _, def := range rows {
		old["fields."+def.Key] = def.Value
	}
	now := make(map[string]string, len(vals)) // the last value of each field wins
	for _, v := range vals {
		now["fields."+v.Key] = v.Value
	}
	for _, c := range changed {
		res.change(c, old[c], now[c])
	}
	return skipped, nil
}
