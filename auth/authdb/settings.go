package authdb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/webhook"
)

// jwtLoginColumns are the settings columns a JWT SSO login uses, and the embed origins its
// answer follows (auth.Embedding), so that a login reads the settings row once.
var jwtLoginColumns = []string{
	settings.FieldID, settings.FieldJwtEnabled, settings.FieldJwtSecret, settings.FieldJwtMaxTokenAgeSeconds,
	settings.FieldJwtRequireJti, settings.FieldNewUsersHomepage, settings.FieldSyncUsername,
	settings.FieldJwtAdminClaim, settings.FieldJwtAdminClaimValue,
	settings.FieldJwtModeratorClaim, settings.FieldJwtModeratorClaimValue, settings.FieldEmbedOrigins,
	settings.FieldJwtPreviousSecret, settings.FieldJwtPreviousSecretExpiresAt,
	settings.FieldJwtIssuer, settings.FieldJwtAudience, settings.FieldJwtPublicKeys, settings.FieldJwtJwksURL,
}

// jwtLoginSettings reads those columns of the settings row, not the whole wide row, and whether
// any webhook is enabled.
var jwtLoginSettings = "SELECT " + quoteAll(jwtLoginColumns) + ", EXISTS (SELECT 1 FROM " + quote(webhook.Table) + " WHERE " + quote(webhook.FieldEnabled) + " = ?)" +
	" FROM " + quote(settings.Table) + " ORDER BY " + quote(settings.FieldID) + " LIMIT 1"

// JWTLoginSettings returns the settings a JWT SSO login uses (the other fields are zero), or
// nil when the database has no settings row yet, and whether any webhook is enabled: a login
// that reads none writes its events without looking for subscribers (auth.RecordAll), which
// saves a statement, a round trip on MySQL/MariaDB, on every login.
func JWTLoginSettings(ctx context.Context, client *ent.Client) (st *ent.Settings, webhooks bool, err error) {
	rows, err := client.QueryContext(ctx, jwtLoginSettings, true)
	if err != nil {
		return nil, false, fmt.Errorf("authdb: read settings: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, false, fmt.Errorf("authdb: read settings: %w", err)
		}
		return nil, false, nil
	}
	st = &ent.Settings{}
	var origins sql.NullString
	var previousExpiry sql.NullTime
	var publicKeys sql.NullString
	if err := rows.Scan((*intCol)(&st.ID), &st.JwtEnabled, &st.JwtSecret, (*intCol)(&st.JwtMaxTokenAgeSeconds), &st.JwtRequireJti,
		&st.NewUsersHomepage, &st.SyncUsername, &st.JwtAdminClaim, &st.JwtAdminClaimValue,
		&st.JwtModeratorClaim, &st.JwtModeratorClaimValue, &origins,
		&st.JwtPreviousSecret, &previousExpiry, &st.JwtIssuer, &st.JwtAudience,
		&publicKeys, &st.JwtJwksURL, &webhooks); err != nil {
		return nil, false, fmt.Errorf("authdb: read settings: %w", err)
	}
	if previousExpiry.Valid {
		st.JwtPreviousSecretExpiresAt = &previousExpiry.Time
	}
	if st.EmbedOrigins, err = jsonStrings(origins); err != nil {
		return nil, false, fmt.Errorf("authdb: read settings: embed origins: %w", err)
	}
	if st.JwtPublicKeys, err = jsonStrings(publicKeys); err != nil {
		return nil, false, fmt.Errorf("authdb: read settings: public keys: %w", err)
	}
	return st, webhooks, rows.Close()
}

// FirstSettings returns the settings row with the lowest id (extra rows that concurrent first
// uses made are never read), or nil when there is none. fields, when given, are the only
// columns read (the id always is); the other fields of the result are zero.
func FirstSettings(ctx context.Context, client *ent.Client, fields ...string) (*ent.Settings, error) {
	q := client.Settings.Query().Order(ent.Asc(settings.FieldID))
	if len(fields) > 0 {
		q.Select(fields...)
	}
	st, err := q.First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authdb: read settings: %w", err)
	}
	return st, nil
}

// CreateSettings inserts a settings row with the schema's defaults.
func CreateSettings(ctx context.Context, client *ent.Client) error {
	if err := client.Settings.Create().Exec(ctx); err != nil {
		return fmt.Errorf("authdb: create settings: %w", err)
	}
	return nil
}
