package authdb

import (
	"context"
	"fmt"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/user"
)

// NewMember is a member a login creates.
type NewMember struct {
	ExternalID    string // "" for none
	Email         string
	EmailVerified bool
	Username      string
	Name          string
	Tagline       string
	Picture       string
	LastLoginAt   time.Time // zero: not set (a dry run)
}

// CreateMember inserts m and returns it.
func CreateMember(ctx context.Context, client *ent.Client, m NewMember) (*ent.User, error) {
	c := client.User.Create().
		SetEmail(m.Email).
		SetUsername(m.Username).
		SetName(m.Name).
		SetTagline(m.Tagline).
		SetPicture(m.Picture).
		SetEmailVerified(m.EmailVerified)
	if m.ExternalID != "" {
		c.SetExternalID(m.ExternalID)
	}
	if !m.LastLoginAt.IsZero() {
		c.SetLastLoginAt(m.LastLoginAt)
	}
	u, err := c.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("authdb: create member: %w", err)
	}
	return u, nil
}

// MemberChange is what a login changes of a member's profile; nil leaves a field as it is.
type MemberChange struct {
	ExternalID, Email, Username, Name, Tagline, Picture *string
	EmailVerified                                       *bool
}

// UpdateMember writes c to the member id and returns the member as it is now.
func UpdateMember(ctx context.Context, client *ent.Client, id int, c MemberChange) (*ent.User, error) {
	u, err := client.User.UpdateOneID(id).
		SetNillableExternalID(c.ExternalID).
		SetNillableEmail(c.Email).
		SetNillableEmailVerified(c.EmailVerified).
		SetNillableUsername(c.Username).
		SetNillableName(c.Name).
		SetNillableTagline(c.Tagline).
		SetNillablePicture(c.Picture).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("authdb: update member: %w", err)
	}
	return u, nil
}

// SetMemberRole gives the member id role. Taking the last active admin's role fails with
// store.ErrLastAdmin (the store's hook), and changes nothing.
func SetMemberRole(ctx context.Context, client *ent.Client, id int, role user.Role) error {
	if err := client.User.UpdateOneID(id).SetRole(role).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: set role: %w", err)
	}
	return nil
}

// SetMemberStatus gives the member id status. Suspending the last active admin fails with
// store.ErrLastAdmin (the store's hook), and changes nothing.
func SetMemberStatus(ctx context.Context, client *ent.Client, id int, status user.Status) error {
	if err := client.User.UpdateOneID(id).SetStatus(status).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: set status: %w", err)
	}
	return nil
}
