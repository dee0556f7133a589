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
	return insertMemberships(ctx, client, userID, m.Join)
}

// membershipColumns are the columns a membership's INSERT sets: all but the id.
var membershipColumns = []string{
	spacemembership.FieldCreatedAt, spacemembership.FieldRole, spacemembership.FieldSpaceID, spacemembership.FieldUserID,
}

// membershipInsert is the INSERT of memberships without its rows, and membershipRow one row's
// placeholders.
var membershipInsert, membershipRow = insertInto(spacemembership.Table, membershipColumns...)

// insertMemberships inserts the joins with one statement, as ent's CreateBulk writes them (its
// creation time, a role the schema accepts) but without reading the new ids back.
func insertMemberships(ctx context.Context, client *ent.Client, userID int, joins []Join) error {
	now := spacemembership.DefaultCreatedAt()
	args := make([]any, 0, len(joins)*len(membershipColumns))
	for _, j := range joins {
		role := j.Role
		if role == "" {
			role = spacemembership.DefaultRole
		}
		if err := spacemembership.RoleValidator(role); err != nil {
			return fmt.Errorf("authdb: join space %d: %w", j.SpaceID, err)
		}
		args = append(args, now, role, j.SpaceID, userID)
	}
	if _, err := client.ExecContext(ctx, rows(membershipInsert, membershipRow, len(joins)), args...); err != nil {
		return fmt.Errorf("authdb: join spaces: %w", err)
	}
	return nil
}
