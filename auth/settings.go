package auth

import (
	"context"
	"fmt"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
)

// LoadSettings returns the community's settings row, creating it with the defaults on first use.
// Concurrent first uses (several replicas starting at once) end up with one row: the one with the
// lowest id wins, and extra rows are never read.
func LoadSettings(ctx context.Context, client *ent.Client) (*ent.Settings, error) {
	s, err := client.Settings.Query().Order(ent.Asc(settings.FieldID)).First(ctx)
	if err == nil {
		return s, nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("auth: load settings: %w", err)
	}
	if _, err := client.Settings.Create().Save(ctx); err != nil {
		return nil, fmt.Errorf("auth: create settings: %w", err)
	}
	s, err = client.Settings.Query().Order(ent.Asc(settings.FieldID)).First(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: load settings: %w", err)
	}
	return s, nil
}
