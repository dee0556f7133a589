package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/user"
)

// HasRole implements @hasRole: anonymous callers get UNAUTHENTICATED, viewers below the role FORBIDDEN.
func HasRole(ctx context.Context, _ any, next graphql.Resolver, role user.Role) (any, error) {
	v := auth.FromContext(ctx)
	if v == nil {
		return nil, Unauthenticated()
	}
	if !v.HasRole(role) {
		return nil, Forbidden("")
	}
	return next(ctx)
}
