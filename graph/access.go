package graph

import (
	"context"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/user"
)

// canReadNode lets admins and moderators fetch any node by id, and a member its own User.
func canReadNode(ctx context.Context, id int) error {
	v := auth.FromContext(ctx)
	switch {
	case v == nil:
		return Unauthenticated()
	case v.HasRole(user.RoleMODERATOR), v.User.ID == id:
		return nil
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
