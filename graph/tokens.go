package graph

import (
	"context"
	"strings"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/graph/model"
)

// createAPIToken makes an API token for the viewer and records it in the security log.
func createAPIToken(ctx context.Context, now time.Time, name string, expiresAt *time.Time) (*model.CreatedAPIToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, BadInput("name", "name must not be empty")
	case len(name) > 200:
		return nil, BadInput("name", "name must be at most 200 bytes")
	case expiresAt != nil && !expiresAt.After(now):
		return nil, BadInput("expiresAt", "expiresAt must be in the future")
	}
	client := ent.FromContext(ctx)
	tok, t, err := auth.NewAPIToken(ctx, client, auth.FromContext(ctx).User, name, expiresAt)
	if err != nil {
		return nil, err
	}
	e := auth.EventFor(ctx, auth.EventAPITokenCreated)
	e.Detail = map[string]any{"apiTokenId": t.ID, "name": t.Name}
	if err := auth.Record(ctx, client, e); err != nil {
		return nil, err
	}
	return &model.CreatedAPIToken{Token: tok, APIToken: t}, nil
}

// revokeAPIToken deletes an API token; false when there was none with this id.
func revokeAPIToken(ctx context.Context, id int) (bool, error) {
	client := ent.FromContext(ctx)
	t, err := client.APIToken.Get(ctx, id)
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := client.APIToken.DeleteOne(t).Exec(ctx); err != nil {
		return false, err
	}
	e := auth.EventFor(ctx, auth.EventAPITokenRevoked)
	e.Detail = map[string]any{"apiTokenId": t.ID, "name": t.Name, "ownerId": t.UserID}
	return true, auth.Record(ctx, client, e)
}

// revokeUserSessions ends every session of a user.
func revokeUserSessions(ctx context.Context, userID int) (int, error) {
	client := ent.FromContext(ctx)
	if _, err := client.User.Get(ctx, userID); ent.IsNotFound(err) {
		return 0, NotFound("user")
	} else if err != nil {
		return 0, err
	}
	n, err := auth.RevokeUser(ctx, client, userID)
	if err != nil {
		return 0, err
	}
	e := auth.EventFor(ctx, auth.EventSessionRevoked)
	e.Detail = map[string]any{"targetUserId": userID, "sessions": n}
	return n, auth.Record(ctx, client, e)
}
