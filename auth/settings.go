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
//
// fields, when given, are the only columns read (the id always is): a hot path that needs a few
// settings does not read (and parse) the whole wide row. The other fields of the result are zero.
func LoadSettings(ctx context.Context, client *ent.Client, fields ...string) (*ent.Settings, error) {
	s, err := firstSettings(ctx, client, fields)
	if err == nil {
		return s, nil
	}
	if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("auth: load settings: %w", err)
	}
	if _, err := client.Settings.Create().Save(ctx); err != nil {
		return nil, fmt.Errorf("auth: create settings: %w", err)
	}
	s, err = firstSettings(ctx, client, fields)
	if err != nil {
		return nil, fmt.Errorf("auth: load settings: %w", err)
	}
	return s, nil
}

func firstSettings(ctx context.Context, client *ent.Client, fields []string) (*ent.Settings, error) {
	q := client.Settings.Query().Order(ent.Asc(settings.FieldID))
	if len(fields) > 0 {
		q.Select(fields...)
	}
	return q.First(ctx)
}
