package auth

import (
	"context"
	"fmt"

	"github.com/community/sso/auth/password"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/user"
)

// BootstrapAdmin creates the admin with this email and password, or, when a user with the email
// exists, makes it an active admin with this password. It is how the first admin gets in, and how
// an operator regains access. The operator vouches for the email: it is verified.
func BootstrapAdmin(ctx context.Context, client *ent.Client, email, pass string) (*ent.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	hash, err := password.Hash(pass)
	if err != nil {
		return nil, fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	u, err := bootstrapAdmin(ctx, tx.Client(), email, hash)
	if err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("auth: bootstrap admin: %w", err)
	}
	return u, nil
}

func bootstrapAdmin(ctx context.Context, client *ent.Client, email, hash string) (*ent.User, error) {
	existing, err := client.User.Query().Where(user.Email(email)).Only(ctx)
	switch {
	case err == nil:
		return existing.Update().
			SetRole(user.RoleADMIN).
			SetStatus(user.StatusACTIVE).
			SetPasswordHash(hash).
			SetEmailVerified(true).
			Save(ctx)
	case !ent.IsNotFound(err):
		return nil, err
	}
	name, err := UniqueUsername(ctx, client, UsernameBase(email), 0)
	if err != nil {
		return nil, err
	}
	return client.User.Create().
		SetEmail(email).
		SetUsername(name).
		SetRole(user.RoleADMIN).
		SetPasswordHash(hash).
		Save(ctx)
}
