// Package graphtest helps tests drive the GraphQL API with gqlgen's client.
package graphtest

import (
	"github.com/99designs/gqlgen/client"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
)

// As sends the operation as u (nil: anonymous), as the session middleware would have found it.
func As(u *ent.User) client.Option {
	return func(r *client.Request) {
		if u != nil {
			r.HTTP = r.HTTP.WithContext(auth.NewContext(r.HTTP.Context(), &auth.Viewer{User: u}))
		}
	}
}
