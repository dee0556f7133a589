package authdb

import (
	"context"
	"fmt"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/spacemembership"
)

// Memberships are the changes to one member's space memberships that a login decided.
type Memberships struct {
	Leave []int        // memberships to end, by id
	Roles []RoleChange // memberships whose role changes
	Join  []Join       // spaces to join
}

// RoleChange gives a membership another role.
type RoleChange struct {
	MembershipID int
	Role         spacemembership.Role
}

// Join is a space to join, with the role to hold in it.
type Join struct {
	SpaceID int
	Role    spacemembership.Role
}

// WriteMemberships writes m for userID: the memberships that end in one DELETE, each role
// change, then the new memberships in one INSERT.
func WriteMemberships(ctx context.Context, client *ent.Client, userID int, m Memberships) error {
	if len(m.Leave) > 0 {
		if _, err := client.SpaceMembership.Delete().Where(spacemembership.IDIn(m.Leave...)).Exec(ctx); err != nil {
			return fmt.Errorf("authdb: leave spaces: %w", err)
		}
	}
	for _, rc := range m.Roles {
		if err := client.SpaceMembership.Update().Where(spacemembership.ID(rc.MembershipID)).SetRole(rc.Role).Exec(ctx); err != nil {
			return fmt.Errorf("authdb: change a space role: %w", err)
		}
	}
	if len(m.Join) == 0 {
		return nil
	}
	joins := make([]*ent.SpaceMembershipCreate, len(m.Join))
	for i, j := range m.Join {
		joins[i] = client.SpaceMembership.Create().SetUserID(userID).SetSpaceID(j.SpaceID).SetRole(j.Role)
	}
	if err := client.SpaceMembership.CreateBulk(joins...).Exec(ctx); err != nil {
		return fmt.Errorf("authdb: join spaces: %w", err)
	}
	return nil
}
