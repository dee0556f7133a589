package jwtsso

import (
	"context"
	"testing"
	"time"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/provision"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
)

// TestLoginSettings: the few columns a login reads carry every setting Verify and the handler
// use. A setting missing from LoadLoginSettings would read as its zero value here.
func TestLoginSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sealer := testSealer(t)
		st, err := auth.LoadSettings(ctx, db.Client)
		if err != nil {
			t.Fatal(err)
		}
		st.Update().
			SetJwtEnabled(true).
			SetJwtSecret(sealer.Seal(PurposeSecret, []byte(testSecret))).
			SetJwtMaxTokenAgeSeconds(120).
			SetJwtRequireJti(true).
			SetNewUsersHomepage("/welcome").
			SetSyncUsername(true).
			SetJwtAdminClaim("groups").
			SetJwtAdminClaimValue("admins").
			SetJwtModeratorClaim("is_mod").
			SetJwtModeratorClaimValue("yes").
			ExecX(ctx)

		got, webhooks, err := LoadLoginSettings(ctx, db.Client)
		if err != nil || webhooks {
			t.Fatalf("read: webhooks %v, %v", webhooks, err)
		}
		if !got.JwtEnabled || got.JwtMaxTokenAgeSeconds != 120 || !got.JwtRequireJti || got.NewUsersHomepage != "/welcome" || !got.SyncUsername {
			t.Fatalf("settings read for a login: %+v", got)
		}
		if rm := Roles(got); *rm != (provision.RoleMapping{AdminClaim: "groups", AdminValue: "admins", ModeratorClaim: "is_mod", ModeratorValue: "yes"}) {
			t.Fatalf("role mapping read for a login: %+v", rm)
		}
		v := &Verifier{Sealer: sealer, Now: func() time.Time { return testNow }}
		if _, serr := v.Verify(hs256(t, claimsAt(map[string]any{"jti": "j-1"})), got); serr != nil {
			t.Fatalf("a valid token: %v", serr)
		}
		if _, serr := v.Verify(hs256(t, claimsAt(nil)), got); serr == nil || serr.Code != auth.CodeMissingClaim {
			t.Fatalf("a token without jti when one is required: %v", serr)
		}
		old := claimsAt(map[string]any{"jti": "j-2", "exp": nil, "iat": secs(-10 * time.Minute)})
		if _, serr := v.Verify(hs256(t, old), got); serr == nil || serr.Code != auth.CodeTokenExpired {
			t.Fatalf("a token older than the maximum age: %v", serr)
		}
	})
}
