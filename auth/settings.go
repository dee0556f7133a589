package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/ent"
)

// LoadSettings returns the community's settings row, creating it with the defaults on first use.
// Concurrent first uses (several replicas starting at once) end up with one row: the one with the
// lowest id wins, and extra rows are never read (authdb.FirstSettings).
//
// fields, when given, are the only columns read (the id always is): a hot path that needs a few
// settings does not read (and parse) the whole wide row. The other fields of the result are zero.
func LoadSettings(ctx context.Context, client *ent.Client, fields ...string) (*ent.Settings, error) {
	s, err := authdb.FirstSettings(ctx, client, fields...)
	if err == nil && s == nil {
		if err := authdb.CreateSettings(ctx, client); err != nil {
			return nil, fmt.Errorf("auth: create settings: %w", err)
		}
		s, err = authdb.FirstSettings(ctx, client, fields...)
		if err == nil && s == nil {
			err = errors.New("no settings row after creating one")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("auth: load settings: %w", err)
	}
	return s, nil
}
