// Package graph is the GraphQL API: the schema (ent.graphqls, generated from the ent schema, and
// the hand-written *.graphqls extending it), thin resolvers over the ent client, the @hasRole
// directive, the error presenter and the HTTP handler.
package graph

import (
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/community/sso/auth/jwtsso"
	"github.com/community/sso/auth/mail"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
)

// Resolver is the root resolver: the one place the API's dependencies are wired.
type Resolver struct {
	DB     *store.DB
	Client *ent.Client
	Now    func() time.Time
	// Sealer seals the secrets kept in the settings.
	Sealer *seal.Sealer
	// PublicURL is the server's public base URL, without a trailing slash.
	PublicURL string
	// JWT verifies JWT SSO tokens and Provisioner dry-runs logins, for inspections.
	JWT         *jwtsso.Verifier
	Provisioner *provision.Provisioner
	// Passwords bounds the password hashes running at once (nil: no bound).
	Passwords *password.Limiter
	// Mail sends the links that confirm a member's new email; nil when the server has no SMTP
	// server, and members then cannot change their own email.
	Mail mail.Sender
	// WebhookAllowPrivate lets webhook URLs be http and name private addresses
	// (WEBHOOK_ALLOW_PRIVATE, for development and tests).
	WebhookAllowPrivate bool
}

func (r *Resolver) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// NewSchema creates the executable schema.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers:  r,
		Directives: DirectiveRoot{HasRole: HasRole},
	})
}
