package authdb

import (
	"context"
	"fmt"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/replaymarker"
)

// ReplayMarked reports whether the token whose replay key is key was used: a marker for key that
// has not expired at now.
func ReplayMarked(ctx context.Context, client *ent.Client, key string, now time.Time) (bool, error) {
	used, err := client.ReplayMarker.Query().Where(replaymarker.Key(key), replaymarker.ExpiresAtGT(now)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("authdb: read replay marker: %w", err)
	}
	return used, nil
}

// UseReplayMarker records that the token whose replay key is key was used, until until, and
// reports false when it had been used already (a marker for key that has not expired). Inside a
// login's transaction, a token used twice, even at the same moment, is used once: the unique key
// makes the second INSERT fail, and that too reports false. An expired marker for key is
// replaced; the others are deleted by the cleanup (auth.Pruner), outside any login.
func UseReplayMarker(ctx context.Context, client *ent.Client, key string, now, until time.Time) (bool, error) {
	m, err := client.ReplayMarker.Query().Where(replaymarker.Key(key)).Only(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("authdb: read replay marker: %w", err)
	case m.ExpiresAt.After(now):
		return false, nil
	default:
		if err := client.ReplayMarker.DeleteOne(m).Exec(ctx); err != nil {
			return false, fmt.Errorf("authdb: replace replay marker: %w", err)
		}
	}
	err = client.ReplayMarker.Create().SetKey(key).SetExpiresAt(until).Exec(ctx)
	if ent.IsConstraintError(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("authdb: write replay marker: %w", err)
	}
	return true, nil
}
