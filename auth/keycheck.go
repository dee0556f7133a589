package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/community/sso/auth/seal"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
)

// purposeKeyCheck is the seal purpose of the key check value.
const purposeKeyCheck = "setting:key-check"

// keyCheckValue is what the key check seals; only its successful opening matters.
var keyCheckValue = []byte("community sso secret key check")

// ErrWrongSecretKey is returned by CheckSecretKey when the database's secrets were sealed under
// another SECRET_KEY.
var ErrWrongSecretKey = errors.New("auth: SECRET_KEY is not the key this database's secrets are sealed with; start with the same SECRET_KEY as the other replicas (or the one it was set up with)")

// CheckSecretKey makes sure sealer holds the key the database's secrets are sealed under. The
// first start with a database records a value sealed under its key; every later start (every
// replica) must open it, or it gets ErrWrongSecretKey instead of failing logins later.
func CheckSecretKey(ctx context.Context, client *ent.Client, sealer *seal.Sealer) error {
	st, err := LoadSettings(ctx, client, settings.FieldID, settings.FieldKeyCheck)
	if err != nil {
		return err
	}
	if len(st.KeyCheck) == 0 {
		// Replicas starting together: the first write wins, the others read it back.
		if _, err := client.Settings.Update().
			Where(settings.ID(st.ID), settings.Or(settings.KeyCheckIsNil(), settings.KeyCheckEQ([]byte{}))).
			SetKeyCheck(sealer.Seal(purposeKeyCheck, keyCheckValue)).
			Save(ctx); err != nil {
			return fmt.Errorf("auth: record key check: %w", err)
		}
		if st, err = LoadSettings(ctx, client, settings.FieldID, settings.FieldKeyCheck); err != nil {
			return err
		}
	}
	if _, err := sealer.Open(purposeKeyCheck, st.KeyCheck); err != nil {
		return ErrWrongSecretKey
	}
	return nil
}
