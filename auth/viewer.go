package auth

import (
	"context"
	"net/http"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/user"
)

// Viewer is who is making a request: a member signed in with a session, or a script with an API token.
type Viewer struct {
	User *ent.User
	// Session is the browser session behind the request, nil for API tokens.
	Session *ent.Session
	// APIToken is the token behind the request, nil for sessions.
	APIToken *ent.APIToken
}

type viewerKey struct{}

// NewContext returns a copy of ctx carrying v.
func NewContext(ctx context.Context, v *Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// FromContext returns the viewer of the request, or nil for an anonymous one.
func FromContext(ctx context.Context) *Viewer {
	v, _ := ctx.Value(viewerKey{}).(*Viewer)
	if v == nil || v.User == nil {
		return nil
	}
	return v
}

// rank orders roles: a higher rank includes the lower ones.
func rank(r user.Role) int {
	switch r {
	case user.RoleADMIN:
		return 3
	case user.RoleMODERATOR:
		return 2
	case user.RoleMEMBER:
		return 1
	}
	return 0
}

// HasRole reports whether the viewer holds role or a higher one (ADMIN > MODERATOR > MEMBER).
func (v *Viewer) HasRole(role user.Role) bool {
	return v != nil && v.User != nil && v.User.Status == user.StatusACTIVE && rank(v.User.Role) >= rank(role)
}

// RequestInfo is what the security log records of the request behind an operation.
type RequestInfo struct {
	IP        string
	UserAgent string
}

type requestInfoKey struct{}

// WithRequestInfo returns a copy of ctx carrying info.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestContext is r's context with r's request info (address and agent), which the session
// middleware has put there already on every route behind it.
func RequestContext(r *http.Request) context.Context {
	ctx := r.Context()
	if _, ok := ctx.Value(requestInfoKey{}).(RequestInfo); ok {
		return ctx
	}
	return WithRequestInfo(ctx, RequestInfo{IP: ClientIP(r), UserAgent: r.UserAgent()})
}

// RequestInfoFrom returns the request info in ctx (empty when there is none).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// EventFor returns an event of type typ with the request info of ctx and the viewer as its user.
func EventFor(ctx context.Context, typ string) Event {
	info := RequestInfoFrom(ctx)
	e := Event{Type: typ, IP: info.IP, Agent: info.UserAgent}
	if v := FromContext(ctx); v != nil {
		e.UserID = v.User.ID
		switch {
		case v.Session != nil:
			e.Method = string(v.Session.Method)
		case v.APIToken != nil:
			e.Method = "API_TOKEN"
		}
	}
	return e
}
