package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// TestLastAdmin: every kind of user change that would leave the community without an active
// admin fails with ErrLastAdmin and writes nothing; the same change passes while another active
// admin remains.
func TestLastAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		admin := c.User.Create().SetEmail("admin@example.com").SetUsername("admin").SetRole(user.RoleADMIN).SaveX(ctx)
		c.User.Create().SetEmail("sus@example.com").SetUsername("sus").SetRole(user.RoleADMIN).SetStatus(user.StatusSUSPENDED).SaveX(ctx)
		member := c.User.Create().SetEmail("m@example.com").SetUsername("m").SaveX(ctx)

		for _, tc := range []struct {
			name string
			do   func() error
		}{
			{"demote", func() error { return c.User.UpdateOneID(admin.ID).SetRole(user.RoleMEMBER).Exec(ctx) }},
			{"demote to moderator", func() error { return c.User.UpdateOneID(admin.ID).SetRole(user.RoleMODERATOR).Exec(ctx) }},
			{"suspend", func() error { return c.User.UpdateOneID(admin.ID).SetStatus(user.StatusSUSPENDED).Exec(ctx) }},
			{"bulk demote", func() error {
				return c.User.Update().Where(user.RoleEQ(user.RoleADMIN)).SetRole(user.RoleMEMBER).Exec(ctx)
			}},
			{"delete", func() error { return c.User.DeleteOneID(admin.ID).Exec(ctx) }},
			{"bulk delete", func() error { _, err := c.User.Delete().Exec(ctx); return err }},
			{"in a transaction", func() error {
				tx, err := c.Tx(ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				return tx.User.UpdateOneID(admin.ID).SetRole(user.RoleMEMBER).Exec(ctx)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.do(); !errors.Is(err, store.ErrLastAdmin) {
					t.Fatalf("err = %v, want ErrLastAdmin", err)
				}
				got := c.User.GetX(ctx, admin.ID)
				if got.Role != user.RoleADMIN || got.Status != user.StatusACTIVE || c.User.Query().CountX(ctx) != 3 {
					t.Fatalf("something changed: %s %s, %d users", got.Role, got.Status, c.User.Query().CountX(ctx))
				}
			})
		}
		t.Run("changes that keep an admin pass", func(t *testing.T) {
			c.User.UpdateOneID(admin.ID).SetName("Still admin").ExecX(ctx)
			c.User.UpdateOneID(member.ID).SetRole(user.RoleMODERATOR).ExecX(ctx)
			c.User.UpdateOneID(member.ID).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
			c.User.DeleteOneID(member.ID).ExecX(ctx)
			second := c.User.Create().SetEmail("second@example.com").SetUsername("second").SetRole(user.RoleADMIN).SaveX(ctx)
			c.User.UpdateOneID(admin.ID).SetRole(user.RoleMEMBER).ExecX(ctx)
			if err := c.User.UpdateOneID(second.ID).SetRole(user.RoleMEMBER).Exec(ctx); !errors.Is(err, store.ErrLastAdmin) {
				t.Fatalf("demoting the new last admin: %v", err)
			}
		})
	})
}

// TestLastAdminNoAdminYet: a community without an active admin is not held to the rule.
func TestLastAdminNoAdminYet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := db.Client.User.Create().SetEmail("m@example.com").SetUsername("m").SaveX(ctx)
		db.Client.User.UpdateOneID(u.ID).SetStatus(user.StatusSUSPENDED).ExecX(ctx)
		db.Client.User.DeleteOneID(u.ID).ExecX(ctx)
	})
}

// TestLastAdminConcurrent: two admins demoting each other at the same time, many times over,
// never leave the community without one.
func TestLastAdminConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		for round := 0; round < 10; round++ {
			if _, err := db.SQL.ExecContext(ctx, "DELETE FROM users"); err != nil { // below the hook: a clean slate
				t.Fatal(err)
			}
			a := c.User.Create().SetEmail("a@example.com").SetUsername("a").SetRole(user.RoleADMIN).SaveX(ctx)
			b := c.User.Create().SetEmail("b@example.com").SetUsername("b").SetRole(user.RoleADMIN).SaveX(ctx)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range []int{a.ID, b.ID} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = demoteInTx(ctx, c, id)
				}()
			}
			wg.Wait()
			active := c.User.Query().Where(user.RoleEQ(user.RoleADMIN), user.StatusEQ(user.StatusACTIVE)).CountX(ctx)
			if active != 1 {
				t.Fatalf("round %d: %d active admins (errors %v)", round, active, errs)
			}
			for _, err := range errs {
				if err != nil && !errors.Is(err, store.ErrLastAdmin) && !lockConflict(err) {
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
		}
	})
}

func demoteInTx(ctx context.Context, c *ent.Client, id int) error {
	tx, err := c.Tx(ctx)
	if err != nil {
		return err
	}
	if err := tx.User.UpdateOneID(id).SetRole(user.RoleMEMBER).Exec(ctx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// lockConflict reports a transaction MySQL/MariaDB aborted for a lock conflict (a deadlock or a
// lock wait timeout): the change was not made, and the caller may try again.
func lockConflict(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// TestLastAdminWhoCanSignIn: while both single sign-on methods are off, the last active admin
// with a password cannot be demoted, suspended or deleted (ErrLastSignIn, which is an
// ErrLastAdmin), though another admin without one remains: direct login is every admin's only
// way in. With a method on, or another admin with a password, the change passes; and while no
// active admin has a password, the last method cannot be turned off.
func TestLastAdminWhoCanSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		st := c.Settings.Create().SaveX(ctx)
		owner := c.User.Create().SetEmail("owner@example.com").SetUsername("owner").SetRole(user.RoleADMIN).SetPasswordHash("$argon2id$x").SaveX(ctx)
		c.User.Create().SetEmail("sso@example.com").SetUsername("sso").SetRole(user.RoleADMIN).SaveX(ctx)
		for name, change := range map[string]func() error{
			"demote":  func() error { return c.User.UpdateOneID(owner.ID).SetRole(user.RoleMEMBER).Exec(ctx) },
			"suspend": func() error { return c.User.UpdateOneID(owner.ID).SetStatus(user.StatusSUSPENDED).Exec(ctx) },
			"delete":  func() error { return c.User.DeleteOneID(owner.ID).Exec(ctx) },
		} {
			if err := change(); !errors.Is(err, store.ErrLastSignIn) || !errors.Is(err, store.ErrLastAdmin) {
				t.Fatalf("%s the last admin with a password, SSO off: %v", name, err)
			}
		}
		if got := c.User.GetX(ctx, owner.ID); got.Role != user.RoleADMIN || got.Status != user.StatusACTIVE {
			t.Fatalf("changed: %s %s", got.Role, got.Status)
		}
		// With JWT SSO on, the other admin can sign in with it.
		c.Settings.UpdateOneID(st.ID).SetJwtEnabled(true).ExecX(ctx)
		if err := c.User.UpdateOneID(owner.ID).SetRole(user.RoleMODERATOR).Exec(ctx); err != nil {
			t.Fatalf("with SSO on: %v", err)
		}
		// While no active admin has a password, the last method stays on.
		if err := c.Settings.UpdateOneID(st.ID).SetJwtEnabled(false).Exec(ctx); !errors.Is(err, store.ErrLastSignIn) {
			t.Fatalf("turning the last method off with no password admin: %v", err)
		}
		if !c.Settings.GetX(ctx, st.ID).JwtEnabled {
			t.Fatal("JWT SSO was turned off")
		}
		// Off again, with two admins who have a password, one of them may go.
		c.User.UpdateOneID(owner.ID).SetRole(user.RoleADMIN).ExecX(ctx)
		c.Settings.UpdateOneID(st.ID).SetJwtEnabled(false).ExecX(ctx)
		second := c.User.Create().SetEmail("second@example.com").SetUsername("second").SetRole(user.RoleADMIN).SetPasswordHash("$argon2id$y").SaveX(ctx)
		if err := c.User.UpdateOneID(second.ID).SetRole(user.RoleMEMBER).Exec(ctx); err != nil {
			t.Fatalf("one of two password admins: %v", err)
		}
	})
}
