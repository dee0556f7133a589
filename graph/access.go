package graph

import (
	"context"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/user"
)

// MaxNodeIDs bounds the ids one nodes query fetches.
const MaxNodeIDs = 100

// nodeViewer is the viewer of a node or nodes query: Unauthenticated without one.
func nodeViewer(ctx context.Context) (*auth.Viewer, error) {
	v := auth.FromContext(ctx)
	if v == nil {
		return nil, Unauthenticated()
	}
	return v, nil
}

// canReadNode says whether v may read n by id (node, nodes), by the rules of the fields that
// list each type: spaces and profile fields every member (spaces, profileFields); users, their
// memberships and field values moderators, and a member its own (me); security events, API
// tokens, webhooks and their deliveries admins only. A type not named here is admins' only.
// n holds only the fields the query selected, so a membership's or a value's member is read
// again by its id.
func canReadNode(ctx context.Context, client *ent.Client, v *auth.Viewer, n ent.Noder) error {
	need := user.RoleADMIN
	var owner func() (int, error)
	switch n := n.(type) {
	case *ent.Space, *ent.ProfileField:
		need = user.RoleMEMBER
	case *ent.User:
		need, owner = user.RoleMODERATOR, func() (int, error) { return n.ID, nil }
	case *ent.SpaceMembership:
		need, owner = user.RoleMODERATOR, func() (int, error) {
			return client.SpaceMembership.Query().Where(spacemembership.ID(n.ID)).Select(spacemembership.FieldUserID).Int(ctx)
		}
	case *ent.ProfileFieldValue:
		need, owner = user.RoleMODERATOR, func() (int, error) {
			return client.ProfileFieldValue.Query().Where(profilefieldvalue.ID(n.ID)).Select(profilefieldvalue.FieldUserID).Int(ctx)
		}
	}
	if v.HasRole(need) {
		return nil
	}
	if owner != nil && v.User != nil && v.User.Status == user.StatusACTIVE {
		id, err := owner()
		if err != nil {
			return err
		}
		if id == v.User.ID {
			return nil
		}
	}
	return Forbidden("")
}

// newestFirst orders security events newest first unless the caller asked otherwise.
func newestFirst(o *ent.SecurityEventOrder) *ent.SecurityEventOrder {
	if o != nil {
		return o
	}
	return &ent.SecurityEventOrder{Direction: "DESC", Field: ent.SecurityEventOrderFieldCreatedAt}
}
