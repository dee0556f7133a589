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
// an operator regains access. The operator vouches for the email: it is verified. A member it
// creates, promotes or reinstates is recorded in the security log (USER_CREATED, or USER_UPDATED
// with ROLE_CHANGED and STATUS_CHANGED, detail.source "ADMIN_EMAIL") and so reaches webhooks.
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
		u, err := existing.Update().
			SetRole(user.RoleADMIN).
			SetStatus(user.StatusACTIVE).
			SetPasswordHash(hash).
			SetEmailVerified(true).
			Save(ctx)
		if err != nil {
			return nil, err
		}
		return u, RecordAll(ctx, client, bootstrapChanges(existing, u)...)
	case !ent.IsNotFound(err):
		return nil, err
	}
	name, err := UniqueUsername(ctx, client, UsernameBase(email), 0)
	if err != nil {
		return nil, err
	}
	u, err := client.User.Create().
		SetEmail(email).
		SetUsername(name).
		SetRole(user.RoleADMIN).
		SetPasswordHash(hash).
		Save(ctx)
	if err != nil {
		return nil, err
	}
	return u, RecordAll(ctx, client, Event{Type: EventUserCreated, UserID: u.ID,
		Detail: map[string]any{"source": bootstrapSource, "role": string(u.Role)}})
}

// bootstrapSource names BootstrapAdmin in the security log.
const bootstrapSource = "ADMIN_EMAIL"

// bootstrapChanges are the events of BootstrapAdmin making the member before an active admin
// (after): none when it was one.
func bootstrapChanges(before, after *ent.User) []Event {
	var fields []string
	var out []Event
	if before.Role != after.Role {
		fields = append(fields, "role")
		out = append(out, Event{Type: EventRoleChanged, UserID: after.ID,
			Detail: map[string]any{"source": bootstrapSource, "from": string(before.Role), "to": string(after.Role)}})
	}
	if before.Status != after.Status {
		fields = append(fields, "status")
		out = append(out, Event{Type: EventStatusChanged, UserID: after.ID,
			Detail: map[string]any{"source": bootstrapSource, "from": string(before.Status), "to": string(after.Status)}})
	}
	if len(fields) == 0 {
		return nil
	}
	updated := Event{Type: EventUserUpdated, UserID: after.ID, Detail: map[string]any{"source": bootstrapSource, "fields": fields}}
	return append([]Event{updated}, out...)
}
