package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/community/sso/auth/web"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
)

// Error codes in extensions.code.
const (
	CodeUnauthenticated    = "UNAUTHENTICATED"
	CodeForbidden          = "FORBIDDEN"
	CodeNotFound           = "NOT_FOUND"
	CodeBadUserInput       = "BAD_USER_INPUT"
	CodeBadRequest         = "BAD_REQUEST" // a request that is not a GraphQL request: not a JSON object, wrong content type
	CodeConflict           = "CONFLICT"
	CodeInternal           = "INTERNAL_SERVER_ERROR"
	CodeComplexity         = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeDepth              = "DEPTH_LIMIT_EXCEEDED"
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE"
)

// Error is an error a client may see: a stable code, a message written for people, and
// optional extensions (the field at fault, the conflicting user's id, ...).
type Error struct {
	Code       string
	Message    string
	Extensions map[string]any
}

func (e *Error) Error() string { return e.Message }

// Unauthenticated is the error for an anonymous caller of an operation that needs a viewer.
func Unauthenticated() *Error {
	return &Error{Code: CodeUnauthenticated, Message: "sign in to do this"}
}

// Forbidden is the error for a viewer who may not do what it asked.
func Forbidden(msg string) *Error {
	if msg == "" {
		msg = "you are not allowed to do this"
	}
	return &Error{Code: CodeForbidden, Message: msg}
}

// NotFound is the error for an unknown id or key.
func NotFound(what string) *Error {
	return &Error{Code: CodeNotFound, Message: what + " not found"}
}

// BadInput is the error for an invalid input value; field names the input field at fault.
func BadInput(field, format string, args ...any) *Error {
	return &Error{Code: CodeBadUserInput, Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"field": field}}
}

// Conflict is the error for a value another record already holds; userID names that user (0 when unknown).
func Conflict(field string, userID int, format string, args ...any) *Error {
	ext := map[string]any{"field": field}
	if userID != 0 {
		ext["conflictingUserId"] = fmt.Sprint(userID)
	}
	return &Error{Code: CodeConflict, Message: fmt.Sprintf(format, args...), Extensions: ext}
}

// ErrorPresenter gives every error a stable extensions.code and keeps internals out of responses:
// an error the server did not mean for the client is logged with the request id and answered
// with a generic message.
func ErrorPresenter(log *slog.Logger, db *store.DB) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		var (
			appErr *Error
			vErr   *ent.ValidationError
		)
		switch {
		case errors.As(err, &appErr):
			gqlErr.Message = appErr.Message
			for k, v := range appErr.Extensions {
				gqlErr.Extensions[k] = v
			}
			gqlErr.Extensions["code"] = appErr.Code
		case errors.Is(err, store.ErrLastAdmin):
			gqlErr.Message = lastAdminMessage(err)
			gqlErr.Extensions["code"] = CodeBadUserInput
		case ent.IsNotFound(err):
			gqlErr.Message = "not found"
			gqlErr.Extensions["code"] = CodeNotFound
		case store.IsConstraint(err):
			gqlErr.Message = "the change conflicts with an existing record"
			gqlErr.Extensions["code"] = CodeConflict
		case errors.As(err, &vErr):
			gqlErr.Message = "invalid value for " + camel(vErr.Name)
			gqlErr.Extensions["code"] = CodeBadUserInput
			gqlErr.Extensions["field"] = camel(vErr.Name)
		case errors.Is(err, errTimeout) || (ctx.Err() != nil && errors.Is(context.Cause(ctx), errTimeout)):
			// The request's deadline passed: whatever failed then failed because of it.
			gqlErr.Message = "the request took too long and was stopped"
			gqlErr.Extensions["code"] = CodeTimeout
		case ctx.Err() != nil || isContextErr(err):
			// The client went away (nobody reads this), or a deadline of the caller's passed.
			gqlErr.Message = "the request was cancelled or timed out"
			gqlErr.Extensions["code"] = CodeServiceUnavailable
		case store.IsDeadlock(err):
			// A lost lock conflict: retryBusy runs the operation again, and answers this only
			// when every run lost.
			markBusy(ctx)
			gqlErr.Message = "the change met a concurrent one; try again"
			gqlErr.Extensions["code"] = CodeServiceUnavailable
		case store.IsUnavailable(err):
			db.MarkFailure(err)
			log.ErrorContext(ctx, "graphql: database unavailable", "err", err, "request_id", web.RequestID(ctx))
			gqlErr.Message = "the service is temporarily unavailable, try again shortly"
			gqlErr.Extensions["code"] = CodeServiceUnavailable
		case isArgumentError(ctx):
			// An argument's value that a scalar's parser refused (a malformed cursor, time or
			// JSON object): the client's input, named by its path below the field.
			field := argumentName(gqlErr.Path)
			log.DebugContext(ctx, "graphql: invalid argument", "err", err, "path", gqlErr.Path.String(), "request_id", web.RequestID(ctx))
			gqlErr.Message = "invalid value for " + field
			gqlErr.Extensions["code"] = CodeBadUserInput
			gqlErr.Extensions["field"] = field
		case gqlErr.Err == nil || isInputError(gqlErr):
			// Errors of gqlgen's own making: parsing, validation, input coercion, limits.
			if _, ok := gqlErr.Extensions["code"]; !ok {
				gqlErr.Extensions["code"] = CodeBadUserInput
			}
			if strings.HasPrefix(gqlErr.Message, "json request body could not be decoded") {
				gqlErr.Message = "the request body is not a GraphQL request"
				gqlErr.Extensions["code"] = CodeBadRequest
			}
		default:
			log.ErrorContext(ctx, "graphql: internal error", "err", err, "path", gqlErr.Path.String(), "request_id", web.RequestID(ctx))
			gqlErr.Message = "internal server error"
			gqlErr.Extensions["code"] = CodeInternal
		}
		gqlErr.Err = nil
		return gqlErr
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// isArgumentError reports whether the error arose while the field of ctx read its arguments:
// gqlgen sets the field's Args only once they all parsed, so a field with arguments but no Args
// failed on one of them (a resolver's own errors come with its Args set).
func isArgumentError(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	return fc != nil && fc.Field.Field != nil && len(fc.Field.Arguments) > 0 && fc.Args == nil
}

// argumentName is the last named element of an argument's path (payloads in
// syncMembers.input.payloads[3]).
func argumentName(path ast.Path) string {
	for i := len(path) - 1; i >= 0; i-- {
		if n, ok := path[i].(ast.PathName); ok {
			return string(n)
		}
	}
	return "input"
}

// isInputError tells gqlgen's input coercion errors (an argument of the wrong type) apart.
func isInputError(e *gqlerror.Error) bool {
	var inner *gqlerror.Error
	return errors.As(e.Err, &inner)
}

// Recover turns a resolver panic into INTERNAL_SERVER_ERROR, logging the panic and its stack.
func Recover(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "graphql: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()), "request_id", web.RequestID(ctx))
		return &Error{Code: CodeInternal, Message: "internal server error"}
	}
}

// camel turns an ent field name (external_id) into its GraphQL name (externalId).
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// lastAdminMessage says which half of the admin invariant err (a store.ErrLastAdmin) protects.
func lastAdminMessage(err error) string {
	if errors.Is(err, store.ErrLastSignIn) {
		return "the community needs an active admin who can sign in: with single sign-on off, that is an admin with a password"
	}
	return "the community needs at least one active admin"
}
