package graph

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/space"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/graph/model"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,99}$`)

// spaceValues validates a space's name and slug (either may be nil on update).
func spaceValues(ctx context.Context, client *ent.Client, self int, name, slug *string) error {
	if name != nil {
		*name = strings.TrimSpace(*name)
		if *name == "" || len(*name) > 200 {
			return BadInput("name", "name must be 1 to 200 characters")
		}
	}
	if slug != nil {
		if !slugPattern.MatchString(*slug) {
			return BadInput("slug", "slug must be 1 to 100 of a-z, 0-9 and -, starting with a letter or digit")
		}
		other, err := client.Space.Query().Where(space.Slug(*slug), space.IDNEQ(self)).First(ctx)
		if err == nil {
			return &Error{Code: CodeConflict, Message: "another space already has this slug",
				Extensions: map[string]any{"field": "slug", "conflictingSpaceId": strconv.Itoa(other.ID)}}
		}
		if !ent.IsNotFound(err) {
			return err
		}
	}
	return nil
}

func findSpace(ctx context.Context, client *ent.Client, id *int, slug *string) (*ent.Space, error) {
	if (id == nil) == (slug == nil) {
		return nil, BadInput("id", "give exactly one of id or slug")
	}
	q := client.Space.Query()
	if id != nil {
		q.Where(space.ID(*id))
	} else {
		q.Where(space.Slug(*slug))
	}
	cq, err := q.CollectFields(ctx)
	if err != nil {
		return nil, err
	}
	s, err := cq.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return s, err
}

func createSpace(ctx context.Context, in model.CreateSpaceInput) (*ent.Space, error) {
	client := ent.FromContext(ctx)
	if err := spaceValues(ctx, client, 0, &in.Name, &in.Slug); err != nil {
		return nil, err
	}
	return client.Space.Create().SetName(in.Name).SetSlug(in.Slug).Save(ctx)
}

func updateSpace(ctx context.Context, id int, in model.UpdateSpaceInput) (*ent.Space, error) {
	client := ent.FromContext(ctx)
	if _, err := getSpace(ctx, client, id); err != nil {
		return nil, err
	}
	if err := spaceValues(ctx, client, id, in.Name, in.Slug); err != nil {
		return nil, err
	}
	return client.Space.UpdateOneID(id).SetNillableName(in.Name).SetNillableSlug(in.Slug).Save(ctx)
}

func deleteSpace(ctx context.Context, id int) (bool, error) {
	client := ent.FromContext(ctx)
	if _, err := getSpace(ctx, client, id); err != nil {
		return false, err
	}
	return true, client.Space.DeleteOneID(id).Exec(ctx)
}

func getSpace(ctx context.Context, client *ent.Client, id int) (*ent.Space, error) {
	s, err := client.Space.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, NotFound("space")
	}
	return s, err
}

func getUser(ctx context.Context, client *ent.Client, id int) (*ent.User, error) {
	u, err := client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, NotFound("user")
	}
	return u, err
}

// addSpaceMember adds a user to a space, or changes its role there.
func addSpaceMember(ctx context.Context, spaceID, userID int, role *spacemembership.Role) (*ent.SpaceMembership, error) {
	client := ent.FromContext(ctx)
	if _, err := getSpace(ctx, client, spaceID); err != nil {
		return nil, err
	}
	if _, err := getUser(ctx, client, userID); err != nil {
		return nil, err
	}
	r := spacemembership.RoleMEMBER
	if role != nil {
		r = *role
	}
	m, err := client.SpaceMembership.Query().Where(spacemembership.SpaceID(spaceID), spacemembership.UserID(userID)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
		m, err = client.SpaceMembership.Create().SetSpaceID(spaceID).SetUserID(userID).SetRole(r).Save(ctx)
	case err == nil && m.Role != r:
		m, err = m.Update().SetRole(r).Save(ctx)
	case err == nil:
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	e := subjectEvent(ctx, auth.EventSpaceMembershipChanged, userID)
	e.Detail["spaceId"], e.Detail["action"], e.Detail["role"] = spaceID, "JOIN", string(r)
	return m, auth.Record(ctx, client, e)
}

// removeSpaceMember takes a user out of a space; false when it was not a member.
func removeSpaceMember(ctx context.Context, spaceID, userID int) (bool, error) {
	client := ent.FromContext(ctx)
	if _, err := getSpace(ctx, client, spaceID); err != nil {
		return false, err
	}
	if _, err := getUser(ctx, client, userID); err != nil {
		return false, err
	}
	n, err := client.SpaceMembership.Delete().Where(spacemembership.SpaceID(spaceID), spacemembership.UserID(userID)).Exec(ctx)
	if err != nil || n == 0 {
		return false, err
	}
	e := subjectEvent(ctx, auth.EventSpaceMembershipChanged, userID)
	e.Detail["spaceId"], e.Detail["action"] = spaceID, "LEAVE"
	return true, auth.Record(ctx, client, e)
}
