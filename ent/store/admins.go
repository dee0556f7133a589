package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/hook"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/user"
)

// ErrLastAdmin is returned, before anything is written, by a user change that would leave the
// community without an active admin: demoting, suspending or deleting the last one.
var ErrLastAdmin = errors.New("store: the community needs at least one active admin")

// ErrLastSignIn is returned (it wraps ErrLastAdmin) by a change that would leave no active admin
// able to sign in: while single sign-on is off, demoting, suspending or deleting the last active
// admin with a password, since direct login is then every admin's only way in; and turning the
// last single sign-on method off while no active admin has a password.
var ErrLastSignIn = fmt.Errorf("%w who can sign in (single sign-on is off: keep an admin with a password)", ErrLastAdmin)

// keepAnAdmin is the hook, on every user mutation of the client, that holds the invariant "the
// community always has at least one active admin": whatever path changes a role or a status or
// deletes users (the API, SSO role mapping, a script), a change that would remove the last
// active admin fails with ErrLastAdmin. A community that has no active admin yet (a fresh one)
// is not held to it.
//
// Concurrent changes cannot both pass when each runs in a transaction, as every caller does (the
// GraphQL mutations in entgql's Transactioner, provisioning, the bootstrap): on MySQL/MariaDB the
// active admins' rows are read with FOR UPDATE, in id order, inside the change's transaction, so
// a second change waits for the first and then sees it; SQLite runs one write transaction at a
// time. Outside a transaction the check and the change are two statements, and two concurrent
// changes could both pass.
func keepAnAdmin(next ent.Mutator) ent.Mutator {
	return hook.UserFunc(func(ctx context.Context, m *ent.UserMutation) (ent.Value, error) {
		if !mayRemoveAdmin(m) {
			return next.Mutate(ctx, m)
		}
		ids, err := m.IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: last admin check: %w", err)
		}
		admins, err := m.Client().User.Query().
			Where(user.RoleEQ(user.RoleADMIN), user.StatusEQ(user.StatusACTIVE)).
			Order(ent.Asc(user.FieldID)).
			Modify(forUpdate).
			IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: last admin check: %w", err)
		}
		if len(admins) > 0 && !slices.ContainsFunc(admins, func(id int) bool { return !slices.Contains(ids, id) }) {
			return nil, ErrLastAdmin
		}
		if err := keepASignIn(ctx, m.Client(), ids); err != nil {
			return nil, err
		}
		return next.Mutate(ctx, m)
	})
}

// keepASignIn holds the second half of the invariant, "an admin who can sign in", on user
// changes: while both single sign-on methods are off, a change that removes ids may not take
// away the last active admin with a password (ErrLastSignIn). A community whose admins have no
// password yet is not held to it (keepASignInMethod keeps its last method on instead).
func keepASignIn(ctx context.Context, client *ent.Client, ids []int) error {
	st, err := client.Settings.Query().Select(settings.FieldOauth2Enabled, settings.FieldJwtEnabled).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("store: last admin check: %w", err)
	case st.Oauth2Enabled || st.JwtEnabled:
		return nil
	}
	withPassword, err := passwordAdmins(ctx, client)
	if err != nil {
		return err
	}
	if len(withPassword) > 0 && !slices.ContainsFunc(withPassword, func(id int) bool { return !slices.Contains(ids, id) }) {
		return ErrLastSignIn
	}
	return nil
}

// keepASignInMethod is the hook, on every settings change, that holds the same half from the
// other side: turning the last single sign-on method off (OAuth2 and JWT SSO both off after the
// change, one of them on before it) while no active admin has a password fails with
// ErrLastSignIn, since direct login, which admins can always use, would be no admin's way in.
// The password admins' rows are locked as keepASignIn locks them, so a concurrent demotion of
// the last of them waits for this change and then sees it.
func keepASignInMethod(next ent.Mutator) ent.Mutator {
	return hook.SettingsFunc(func(ctx context.Context, m *ent.SettingsMutation) (ent.Value, error) {
		oauth2, oauth2Set := m.Oauth2Enabled()
		jwt, jwtSet := m.JwtEnabled()
		if (!oauth2Set || oauth2) && (!jwtSet || jwt) {
			return next.Mutate(ctx, m) // nothing turned off
		}
		st, err := m.Client().Settings.Query().Select(settings.FieldOauth2Enabled, settings.FieldJwtEnabled).First(ctx)
		if ent.IsNotFound(err) {
			return next.Mutate(ctx, m)
		}
		if err != nil {
			return nil, fmt.Errorf("store: last admin check: %w", err)
		}
		if !oauth2Set {
			oauth2 = st.Oauth2Enabled
		}
		if !jwtSet {
			jwt = st.JwtEnabled
		}
		if oauth2 || jwt || (!st.Oauth2Enabled && !st.JwtEnabled) {
			return next.Mutate(ctx, m)
		}
		withPassword, err := passwordAdmins(ctx, m.Client())
		if err != nil {
			return nil, err
		}
		if len(withPassword) == 0 {
			return nil, ErrLastSignIn
		}
		return next.Mutate(ctx, m)
	})
}

// passwordAdmins returns the ids of the active admins with a password, their rows locked
// (forUpdate), in id order.
func passwordAdmins(ctx context.Context, client *ent.Client) ([]int, error) {
	ids, err := client.User.Query().
		Where(user.RoleEQ(user.RoleADMIN), user.StatusEQ(user.StatusACTIVE), user.PasswordHashNEQ("")).
		Order(ent.Asc(user.FieldID)).
		Modify(forUpdate).
		IDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: last admin check: %w", err)
	}
	return ids, nil
}

// mayRemoveAdmin reports whether m deletes users, or sets a role other than ADMIN or a status
// other than ACTIVE.
func mayRemoveAdmin(m *ent.UserMutation) bool {
	if m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
		return true
	}
	if !m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
		return false
	}
	role, roleSet := m.Role()
	status, statusSet := m.Status()
	return (roleSet && role != user.RoleADMIN) || (statusSet && status != user.StatusACTIVE)
}

// forUpdate locks the selected rows on MySQL/MariaDB; SQLite has no row locks (and needs none).
func forUpdate(s *sql.Selector) {
	if s.Dialect() == dialect.MySQL {
		s.ForUpdate()
	}
}
