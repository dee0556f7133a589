package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeTooManyErrors marks the last entry of a response whose errors were cut at MaxErrors.
const CodeTooManyErrors = "TOO_MANY_ERRORS"

// MaxErrors is the most errors one response carries; ErrorLimit drops the rest.
const MaxErrors = 20

// ErrorLimit keeps at most Limit errors in a response, then one "too many errors" entry
// (CodeTooManyErrors) that says how many were dropped: a document of a thousand faults must
// not answer a thousand errors. It covers parse and validation errors as well as those of
// execution.
type ErrorLimit struct {
	Limit int
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = ErrorLimit{}

// ExtensionName implements graphql.HandlerExtension.
func (ErrorLimit) ExtensionName() string { return "ErrorLimit" }

// Validate implements graphql.HandlerExtension.
func (l ErrorLimit) Validate(graphql.ExecutableSchema) error {
	if l.Limit < 1 {
		return fmt.Errorf("graph: error limit must be positive, got %d", l.Limit)
	}
	return nil
}

// InterceptResponse implements graphql.ResponseInterceptor.
func (l ErrorLimit) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) <= l.Limit {
		return resp
	}
	dropped := len(resp.Errors) - l.Limit
	resp.Errors = append(resp.Errors[:l.Limit:l.Limit], &gqlerror.Error{
		Message:    fmt.Sprintf("too many errors: %d more were dropped", dropped),
		Extensions: map[string]any{"code": CodeTooManyErrors},
	})
	return resp
}
