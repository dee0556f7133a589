package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent/store"
)

// SSO error codes, stable for clients and in the security log.
const (
	CodeSSODisabled      = "SSO_DISABLED"
	CodeInvalidToken     = "INVALID_TOKEN"
	CodeTokenExpired     = "TOKEN_EXPIRED"
	CodeTokenReplayed    = "TOKEN_REPLAYED"
	CodeMissingClaim     = "MISSING_CLAIM"
	CodeInvalidClaim     = "INVALID_CLAIM"
	CodeInvalidRequest   = "INVALID_REQUEST"
	CodeInvalidState     = "INVALID_STATE"
	CodeSSOConflict      = "SSO_CONFLICT"
	CodeEmailNotVerified = "EMAIL_NOT_VERIFIED"
	CodeUserSuspended    = "USER_SUSPENDED"
	CodeIDPError         = "IDP_ERROR"
	CodeIDPUnavailable   = "IDP_UNAVAILABLE"
	CodeTryAgain         = "TRY_AGAIN"
	CodeForbidden        = "FORBIDDEN"
)

var ssoStatus = map[string]int{
	CodeSSODisabled:      http.StatusNotFound,
	CodeInvalidToken:     http.StatusUnauthorized,
	CodeTokenExpired:     http.StatusUnauthorized,
	CodeTokenReplayed:    http.StatusUnauthorized,
	CodeMissingClaim:     http.StatusBadRequest,
	CodeInvalidClaim:     http.StatusBadRequest,
	CodeInvalidRequest:   http.StatusBadRequest,
	CodeInvalidState:     http.StatusBadRequest,
	CodeSSOConflict:      http.StatusConflict,
	CodeEmailNotVerified: http.StatusForbidden,
	CodeUserSuspended:    http.StatusForbidden,
	CodeIDPError:         http.StatusBadGateway,
	CodeIDPUnavailable:   http.StatusBadGateway,
	CodeTryAgain:         http.StatusServiceUnavailable,
	CodeForbidden:        http.StatusForbidden,
}

// ssoHints tell the member what to do next.
var ssoHints = map[string]string{
	CodeSSODisabled:      "This sign-in method is not enabled for the community.",
	CodeInvalidToken:     "The sign-in link is not valid. Go back to the site you came from and sign in again.",
	CodeTokenExpired:     "The sign-in link has expired. Go back to the site you came from and sign in again.",
	CodeTokenReplayed:    "This sign-in link was already used. Go back to the site you came from and sign in again.",
	CodeMissingClaim:     "Your account details are incomplete at the site you signed in with. Please contact the community's admins.",
	CodeInvalidClaim:     "Your account details at the site you signed in with could not be used. Please contact the community's admins.",
	CodeInvalidRequest:   "The sign-in request was incomplete. Please start again.",
	CodeInvalidState:     "The sign-in took too long or was started in another browser. Please start again.",
	CodeSSOConflict:      "Your email address already belongs to another community account. Please ask the community's admins to fix it; they can see what happened.",
	CodeEmailNotVerified: "Please verify your email address with your sign-in provider first, then sign in again.",
	CodeUserSuspended:    "This account is suspended. Please contact the community's admins.",
	CodeIDPError:         "The sign-in provider refused the sign-in. Please try again, or contact the community's admins.",
	CodeIDPUnavailable:   "The sign-in provider did not answer. Please try again in a moment.",
	CodeTryAgain:         "The community is busy. Please try again in a moment.",
}

// SSOError is a failed SSO login as the member sees it: a stable code, a message without secrets,
// and an internal detail that goes to the log and the security event only.
type SSOError struct {
	Code    string
	Message string
	// Detail is for the log and the security log; never shown.
	Detail map[string]any
	Err    error
}

func (e *SSOError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("auth: sso %s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("auth: sso %s: %s", e.Code, e.Message)
}

func (e *SSOError) Unwrap() error { return e.Err }

// Status is the HTTP status of the error.
func (e *SSOError) Status() int {
	if s, ok := ssoStatus[e.Code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// NewSSOError returns an SSOError with a message.
func NewSSOError(code, format string, args ...any) *SSOError {
	return &SSOError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsSSOError returns err as an *SSOError, or nil.
func AsSSOError(err error) *SSOError {
	var e *SSOError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// WriteSSOError answers a failed SSO login: JSON {"error":{"code","message"}} when the request
// asks for JSON, else a small page that tells the member what to do. Nothing is cached.
func WriteSSOError(w http.ResponseWriter, r *http.Request, log *slog.Logger, e *SSOError) {
	h := w.Header()
	h.Del("Set-Cookie")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	status := e.Status()
	if web.WantsJSON(r) {
		writeSSOJSON(w, e)
		return
	}
	m := Message{
		Title:   "Sign-in failed",
		Heading: "We could not sign you in",
		Message: e.Message,
		Hint:    ssoHints[e.Code],
		Code:    e.Code,
		Alert:   true,
	}
	if e.Code == CodeInvalidState || e.Code == CodeIDPUnavailable || e.Code == CodeTryAgain {
		m.ActionURL, m.ActionText = "/auth/login", "Sign in again"
	}
	RenderMessage(w, log, status, m)
}

// writeSSOJSON answers e as JSON: {"error":{"code","message"}} with e's status, not cached.
func writeSSOJSON(w http.ResponseWriter, e *SSOError) {
	h := w.Header()
	h.Del("Set-Cookie")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status())
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
}

// FailLogin answers a failed SSO login of method and records it: an error that is not an
// *SSOError is the server's own (logged, the database marked as failing, TRY_AGAIN for the
// member); the outcome is counted in metrics (when not nil) and written as a LOGIN_FAILED
// security event with the reason and the error's detail.
func FailLogin(w http.ResponseWriter, r *http.Request, db *store.DB, log *slog.Logger, metrics LoginMetrics, method string, err error) {
	WriteSSOError(w, r, log, recordFailure(r, db, log, metrics, method, err))
}

// FailTokenLogin is FailLogin for an app (FinishTokenLogin): recorded alike, and answered as
// JSON whatever the request's Accept header says.
func FailTokenLogin(w http.ResponseWriter, r *http.Request, db *store.DB, log *slog.Logger, metrics LoginMetrics, method string, err error) {
	writeSSOJSON(w, recordFailure(r, db, log, metrics, method, err))
}

// recordFailure logs, counts and records a failed login (FailLogin) and returns it as an SSOError.
func recordFailure(r *http.Request, db *store.DB, log *slog.Logger, metrics LoginMetrics, method string, err error) *SSOError {
	e := failure(r, db, log, method, err)
	if metrics != nil {
		metrics.Login(method, strings.ToLower(e.Code))
	}
	detail := map[string]any{"reason": e.Code}
	for k, v := range e.Detail {
		detail[k] = v
	}
	RecordOrLog(r.Context(), db.Client, log, Event{Type: EventLoginFailed, Method: method, Detail: detail}.FromRequest(r))
	return e
}

// failure logs err and returns it as an SSOError.
func failure(r *http.Request, db *store.DB, log *slog.Logger, method string, err error) *SSOError {
	e := AsSSOError(err)
	if e == nil {
		db.MarkFailure(err)
		log.ErrorContext(r.Context(), "auth: sso login failed", "method", method, "err", err)
		return &SSOError{Code: CodeTryAgain, Message: "Something went wrong on our side.", Err: err}
	}
	if e.Err != nil {
		log.InfoContext(r.Context(), "auth: sso login refused", "method", method, "code", e.Code, "err", e.Err)
	}
	return e
}

// FailTest answers a failed admin test of a login method: logged and shown, not counted.
func FailTest(w http.ResponseWriter, r *http.Request, db *store.DB, log *slog.Logger, method string, err error) {
	WriteSSOError(w, r, log, failure(r, db, log, method, err))
}

// FailSync answers a refused sync of a member (POST /api/auth/sso/sync) as JSON, whatever the
// Accept header says, and records it: logged as FailLogin logs it, and written as a
// MEMBER_SYNC_FAILED security event naming source and the reason, not counted as a login.
func FailSync(w http.ResponseWriter, r *http.Request, db *store.DB, log *slog.Logger, method, source string, err error) {
	e := failure(r, db, log, method, err)
	RecordOrLog(r.Context(), db.Client, log, SyncFailure(method, source, e).FromRequest(r))
	writeSSOJSON(w, e)
}

// SyncFailure is the MEMBER_SYNC_FAILED security event of a sync of method from source that e
// refused: the reason and e's detail.
func SyncFailure(method, source string, e *SSOError) Event {
	detail := map[string]any{"reason": e.Code, "source": source}
	for k, v := range e.Detail {
		detail[k] = v
	}
	return Event{Type: EventMemberSyncFailed, Method: method, Detail: detail}
}
