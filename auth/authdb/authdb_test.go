package authdb

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/predicate"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/ent/securityevent"
	"github.com/community/sso/ent/session"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/space"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
)

// insertColumns is the column list of an INSERT statement, unquoted.
func insertColumns(t *testing.T, stmt string) []string {
	t.Helper()
	open, end := strings.Index(stmt, "("), strings.Index(stmt, ") VALUES")
	if open < 0 || end < open {
		t.Fatalf("not an INSERT with a column list: %s", stmt)
	}
	var cols []string
	for _, c := range strings.Split(stmt[open+1:end], ",") {
		cols = append(cols, strings.Trim(strings.TrimSpace(c), "`"))
	}
	return cols
}

// TestInsertColumns: the INSERTs set every column of their table but the id, so a field added
// to the schema fails here until its statement writes it too.
func TestInsertColumns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stmt    string
		columns []string
	}{
		{"sessions", insertSession, session.Columns},
		{"security events", eventInsert + eventRow, securityevent.Columns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := insertColumns(t, tc.stmt)
			want := slices.DeleteFunc(slices.Clone(tc.columns), func(c string) bool { return c == "id" })
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s INSERT sets %q, the table has %q", tc.name, got, want)
			}
		})
	}
}

// TestSize: sizes come from ent's generated schema; a column without one is a programming error.
func TestSize(t *testing.T) {
	if n := Size(migrate.SessionsTable, session.FieldUserAgent); n != 512 {
		t.Fatalf("sessions.user_agent: %d", n)
	}
	if n := Size(migrate.SecurityEventsTable, securityevent.FieldMethod); n != 16 {
		t.Fatalf("security_events.method: %d", n)
	}
	if got := Fit(migrate.SecurityEventsTable, securityevent.FieldIP, strings.Repeat("é", 40)); got != strings.Repeat("é", 32) {
		t.Fatalf("cut to %d bytes", len(got))
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a column without a size did not panic")
		}
	}()
	Size(migrate.SessionsTable, session.FieldExpiresAt)
}

// equalUsers compares the member columns of two users.
func equalUsers(a, b *ent.User) bool {
	if a == nil || b == nil {
		return a == b
	}
	extA, extB := "", ""
	if a.ExternalID != nil {
		extA = "=" + *a.ExternalID
	}
	if b.ExternalID != nil {
		extB = "=" + *b.ExternalID
	}
	return a.ID == b.ID && extA == extB && a.Email == b.Email && a.Name == b.Name && a.Username == b.Username &&
		a.Tagline == b.Tagline && a.Picture == b.Picture && a.Role == b.Role && a.Status == b.Status &&
		a.EmailVerified == b.EmailVerified
}

// TestMembersAsEnt: the member lookups find what ent's queries find, column for column.
func TestMembersAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		c.User.Create().SetEmail("ann@example.com").SetUsername("ann").SetName("Ann").SetExternalID("ext-ann").
			SetTagline("hi").SetPicture("https://example.com/a.png").SetRole(user.RoleMODERATOR).SetEmailVerified(true).ExecX(ctx)
		c.User.Create().SetEmail("bob@example.com").SetUsername("bob").SetStatus(user.StatusSUSPENDED).ExecX(ctx)
		c.User.Create().SetEmail("ext-ann@example.com").SetUsername("cy").SetExternalID("ANN").ExecX(ctx)
		for _, by := range []struct {
			name   string
			find   func(context.Context, *ent.Client, string) (*ent.User, error)
			where  func(string) predicate.User
			values []string
		}{
			{"externalId", MemberByExternalID, user.ExternalID, []string{"ext-ann", "ANN", "ann", "none", ""}},
			{"email", MemberByEmail, user.Email, []string{"ann@example.com", "bob@example.com", "ext-ann@example.com", "ANN@example.com", "nobody@example.com"}},
		} {
			for _, v := range by.values {
				want, err := c.User.Query().Where(by.where(v)).Select(memberColumns...).Only(ctx)
				if ent.IsNotFound(err) {
					want, err = nil, nil
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := by.find(ctx, c, v)
				if err != nil || !equalUsers(got, want) {
					t.Fatalf("%s %q: %+v (%v), ent %+v", by.name, v, got, err, want)
				}
			}
		}
	})
}

// TestInsertSessionAsEnt: a session inserted here reads back through ent as the same session
// inserted through ent.
func TestInsertSessionAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("s@example.com").SetUsername("s").SaveX(ctx)
		at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
		revalidate := at.Add(10 * time.Minute)
		for _, s := range []Session{
			{UserID: u.ID, Method: session.MethodPASSWORD, At: at, ExpiresAt: at.Add(time.Hour), IP: "192.0.2.1", Agent: "A/1"},
			{UserID: u.ID, Method: session.MethodOAUTH2, At: at, ExpiresAt: at.Add(time.Hour), IP: "2001:db8::1",
				Agent: strings.Repeat("é", 300), IDToken: []byte("sealed-id"), RefreshToken: []byte("sealed-r"), RevalidateAt: &revalidate,
				SID: "op-session-1"},
		} {
			s.TokenHash = make([]byte, 32)
			s.TokenHash[0] = byte(len(s.Agent))
			id, err := InsertSession(ctx, c, s)
			if err != nil {
				t.Fatal(err)
			}
			other := make([]byte, 32)
			other[0], other[1] = s.TokenHash[0], 1
			viaEnt := c.Session.Create().SetTokenHash(other).SetUserID(s.UserID).SetMethod(s.Method).SetCreatedAt(s.At).
				SetExpiresAt(s.ExpiresAt).SetLastSeenAt(s.At).SetIP(s.IP).SetUserAgent(Truncate(s.Agent, 512)).
				SetIDToken(s.IDToken).SetRefreshToken(s.RefreshToken).SetNillableRevalidateAt(s.RevalidateAt)
			if s.SID != "" {
				viaEnt.SetOidcSid(s.SID)
			}
			saved := viaEnt.SaveX(ctx)
			got, want := c.Session.GetX(ctx, id), c.Session.GetX(ctx, saved.ID)
			if got.UserID != want.UserID || got.Method != want.Method || !got.CreatedAt.Equal(want.CreatedAt) ||
				!got.ExpiresAt.Equal(want.ExpiresAt) || !got.LastSeenAt.Equal(want.LastSeenAt) || got.IP != want.IP ||
				got.UserAgent != want.UserAgent || string(got.IDToken) != string(want.IDToken) ||
				string(got.RefreshToken) != string(want.RefreshToken) || (got.RevalidateAt == nil) != (want.RevalidateAt == nil) ||
				(got.RevalidateAt != nil && !got.RevalidateAt.Equal(*want.RevalidateAt)) || string(got.TokenHash) != string(s.TokenHash) ||
				(got.OidcSid == nil) != (want.OidcSid == nil) || (got.OidcSid != nil && *got.OidcSid != *want.OidcSid) {
				t.Fatalf("inserted %+v\n    ent %+v", got, want)
			}
		}
		if _, err := InsertSession(ctx, c, Session{UserID: u.ID, Method: "SAML", TokenHash: make([]byte, 32)}); err == nil {
			t.Fatal("a session with a method the schema does not know")
		}
		if _, err := InsertSession(ctx, c, Session{UserID: u.ID, Method: session.MethodOAUTH2, TokenHash: hash(7), SID: strings.Repeat("s", SIDSize+1)}); err == nil {
			t.Fatal("a session id longer than its column")
		}
	})
}

// TestRecordLoginAsEnt: RecordLogin sets last_login_at as ent's update would, and leaves
// updated_at as it was (a login is not a change of the profile).
func TestRecordLoginAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		a := c.User.Create().SetEmail("a@example.com").SetUsername("a").SaveX(ctx)
		b := c.User.Create().SetEmail("b@example.com").SetUsername("b").SaveX(ctx)
		at := time.Date(2026, 11, 30, 9, 30, 0, 0, time.UTC)
		updated := c.User.GetX(ctx, a.ID).UpdatedAt // as stored
		if err := RecordLogin(ctx, c, a.ID, at); err != nil {
			t.Fatal(err)
		}
		c.User.UpdateOneID(b.ID).SetLastLoginAt(at).ExecX(ctx)
		got, want := c.User.GetX(ctx, a.ID), c.User.GetX(ctx, b.ID)
		if got.LastLoginAt == nil || want.LastLoginAt == nil || !got.LastLoginAt.Equal(*want.LastLoginAt) {
			t.Fatalf("last login %v, ent %v", got.LastLoginAt, want.LastLoginAt)
		}
		if !got.UpdatedAt.Equal(updated) {
			t.Fatalf("updated_at moved from %v to %v", updated, got.UpdatedAt)
		}
	})
}

// TestInsertEventsAsEnt: events inserted here read back through ent as the same events
// inserted through ent, in order; an invalid event writes nothing.
func TestInsertEventsAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("e@example.com").SetUsername("e").SaveX(ctx)
		at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
		events := []Event{
			{Type: "LOGIN_SUCCEEDED", UserID: u.ID, Method: "JWT", IP: "192.0.2.7", Agent: "Agent/1.0", Detail: map[string]any{"decision": "UPDATE", "n": 2.0}},
			{Type: "LOGIN_FAILED", Method: "PASSWORD-AND-MORE-THAN-16", IP: "2001:db8::1", Agent: strings.Repeat("é", 300), Subject: "who@example.com"},
		}
		if err := InsertEvents(ctx, c, at, events...); err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			cr := c.SecurityEvent.Create().SetCreatedAt(at).SetType(e.Type).SetMethod(Truncate(e.Method, 16)).SetIP(e.IP).
				SetUserAgent(Truncate(e.Agent, 512)).SetSubject(e.Subject)
			if e.UserID != 0 {
				cr.SetUserID(e.UserID)
			}
			if e.Detail != nil {
				cr.SetDetail(e.Detail)
			}
			cr.ExecX(ctx)
		}
		all := c.SecurityEvent.Query().Order(ent.Asc(securityevent.FieldID)).AllX(ctx)
		if len(all) != 4 {
			t.Fatalf("%d events", len(all))
		}
		for i := range events {
			got, want := all[i], all[i+2]
			if got.Type != want.Type || (got.UserID == nil) != (want.UserID == nil) || (got.UserID != nil && *got.UserID != *want.UserID) ||
				got.Method != want.Method || got.IP != want.IP || got.UserAgent != want.UserAgent || got.Subject != want.Subject ||
				!got.CreatedAt.Equal(want.CreatedAt) || len(got.Detail) != len(want.Detail) || got.Detail["decision"] != want.Detail["decision"] {
				t.Fatalf("inserted %+v\n    ent %+v", got, want)
			}
		}
		for _, bad := range [][]Event{
			{{Type: "LOGIN_SUCCEEDED"}, {Type: ""}},
			{{Type: strings.Repeat("X", 65)}},
			{{Type: "LOGIN_SUCCEEDED", Detail: map[string]any{"f": func() {}}}},
			{{Type: "LOGIN_SUCCEEDED", UserID: u.ID + 1000}}, // no such user
		} {
			if err := InsertEvents(ctx, c, at, bad...); err == nil {
				t.Fatalf("InsertEvents(%+v) wrote", bad)
			}
		}
		if n := c.SecurityEvent.Query().CountX(ctx); n != 4 {
			t.Fatalf("%d events after refused writes, want 4", n)
		}
	})
}

// TestJWTLoginSettingsAsEnt: the settings read for a JWT SSO login are ent's settings row, in
// the columns it reads, with whether any webhook is enabled; a database without the row reads
// nil.
func TestJWTLoginSettingsAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		if st, _, err := JWTLoginSettings(ctx, c); err != nil || st != nil {
			t.Fatalf("no settings row: %+v, %v", st, err)
		}
		c.Settings.Create().SetJwtEnabled(true).SetJwtSecret([]byte("sealed")).SetJwtMaxTokenAgeSeconds(120).
			SetJwtRequireJti(true).SetNewUsersHomepage("/welcome").SetSyncUsername(true).
			SetJwtAdminClaim("groups").SetJwtAdminClaimValue("admins").
			SetJwtModeratorClaim("is_mod").SetJwtModeratorClaimValue("yes").
			SetEmbedOrigins([]string{"https://app.example.com", "http://localhost:3000"}).
			SetJwtPreviousSecret([]byte("sealed-before")).SetJwtPreviousSecretExpiresAt(time.Date(2026, 12, 1, 10, 30, 15, 250000000, time.UTC)).
			SetJwtIssuer("https://customer.example").SetJwtAudience("community").
			SetJwtPublicKeys([]string{"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", `{"kty":"OKP"}`}).
			SetJwtJwksURL("https://customer.example/jwks.json").ExecX(ctx)
		got, webhooks, err := JWTLoginSettings(ctx, c)
		if err != nil || webhooks {
			t.Fatalf("no webhook: webhooks %v, %v", webhooks, err)
		}
		for _, tc := range []struct {
			enabled []bool
			want    bool
		}{{[]bool{false}, false}, {[]bool{false, true}, true}} {
			c.Webhook.Delete().ExecX(ctx)
			for _, on := range tc.enabled {
				c.Webhook.Create().SetURL("https://hooks.example.com/in").SetSecret([]byte("sealed")).SetEvents([]string{"member.created"}).SetEnabled(on).ExecX(ctx)
			}
			if _, webhooks, err := JWTLoginSettings(ctx, c); err != nil || webhooks != tc.want {
				t.Fatalf("webhooks enabled %v: read %v, want %v (%v)", tc.enabled, webhooks, tc.want, err)
			}
		}
		want := c.Settings.Query().Order(ent.Asc(settings.FieldID)).Select(jwtLoginColumns...).FirstX(ctx)
		if got.ID != want.ID || got.JwtEnabled != want.JwtEnabled || string(got.JwtSecret) != string(want.JwtSecret) ||
			got.JwtMaxTokenAgeSeconds != want.JwtMaxTokenAgeSeconds || got.JwtRequireJti != want.JwtRequireJti ||
			got.NewUsersHomepage != want.NewUsersHomepage || got.SyncUsername != want.SyncUsername ||
			got.JwtAdminClaim != want.JwtAdminClaim || got.JwtAdminClaimValue != want.JwtAdminClaimValue ||
			got.JwtModeratorClaim != want.JwtModeratorClaim || got.JwtModeratorClaimValue != want.JwtModeratorClaimValue ||
			!slices.Equal(got.EmbedOrigins, want.EmbedOrigins) ||
			string(got.JwtPreviousSecret) != string(want.JwtPreviousSecret) ||
			got.JwtPreviousSecretExpiresAt == nil || want.JwtPreviousSecretExpiresAt == nil ||
			!got.JwtPreviousSecretExpiresAt.Equal(*want.JwtPreviousSecretExpiresAt) ||
			got.JwtIssuer != want.JwtIssuer || got.JwtAudience != want.JwtAudience ||
			!slices.Equal(got.JwtPublicKeys, want.JwtPublicKeys) || got.JwtJwksURL != want.JwtJwksURL {
			t.Fatalf("read %+v\n ent %+v", got, want)
		}
		if !got.JwtEnabled || got.NewUsersHomepage != "/welcome" || len(got.EmbedOrigins) != 2 ||
			string(got.JwtPreviousSecret) != "sealed-before" || got.JwtIssuer != "https://customer.example" || got.JwtAudience != "community" ||
			len(got.JwtPublicKeys) != 2 || got.JwtJwksURL != "https://customer.example/jwks.json" || !got.JwtPreviousSecretExpiresAt.Equal(time.Date(2026, 12, 1, 10, 30, 15, 250000000, time.UTC)) {
			t.Fatalf("values not read: %+v", got)
		}
	})
}

// TestSettingsRow: a database without settings reads nil; the row created carries the schema's
// defaults; with two rows (concurrent first uses) the one with the lowest id is read, whole or
// in the columns asked for.
func TestSettingsRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		if st, err := FirstSettings(ctx, c); err != nil || st != nil {
			t.Fatalf("no settings row: %+v, %v", st, err)
		}
		if err := CreateSettings(ctx, c); err != nil {
			t.Fatal(err)
		}
		first, err := FirstSettings(ctx, c)
		if err != nil || first == nil {
			t.Fatalf("created row: %+v, %v", first, err)
		}
		if !first.EmailPasswordEnabled || first.JwtEnabled || first.Oauth2Provider != settings.DefaultOauth2Provider {
			t.Fatalf("created without the schema's defaults: %+v", first)
		}
		c.Settings.UpdateOneID(first.ID).SetNewUsersHomepage("/first").ExecX(ctx)
		c.Settings.Create().SetNewUsersHomepage("/second").SetEmailPasswordEnabled(false).ExecX(ctx)
		got, err := FirstSettings(ctx, c)
		if err != nil || got.ID != first.ID || got.NewUsersHomepage != "/first" || !got.EmailPasswordEnabled {
			t.Fatalf("whole row: %+v, %v", got, err)
		}
		got, err = FirstSettings(ctx, c, settings.FieldNewUsersHomepage)
		if err != nil || got.ID != first.ID || got.NewUsersHomepage != "/first" || got.EmailPasswordEnabled {
			t.Fatalf("one column (the others zero): %+v, %v", got, err)
		}
	})
}

// TestMemberSpacesAsEnt: the spaces read for a login are those ent's query finds (every space
// the member is in, and the spaces the refs name), each with the member's membership; a fresh
// member's are the named spaces alone; and a ref that is an id as it is written ("42", not
// "042") names the space with that id before the space with that slug.
func TestMemberSpacesAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("m@example.com").SetUsername("m").SaveX(ctx)
		other := c.User.Create().SetEmail("o@example.com").SetUsername("o").SaveX(ctx)
		ids := map[string]int{}
		for _, slug := range []string{"general", "news", "vip", "42", "x", "007"} {
			ids[slug] = c.Space.Create().SetName(slug).SetSlug(slug).SaveX(ctx).ID
		}
		// A space whose slug is another space's id.
		byID := strconv.Itoa(ids["general"])
		ids[byID] = c.Space.Create().SetName("numeric").SetSlug(byID).SaveX(ctx).ID
		c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(ids["news"]).SetRole(spacemembership.RoleADMIN).ExecX(ctx)
		c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(ids["vip"]).ExecX(ctx)
		c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(ids[byID]).ExecX(ctx)
		c.SpaceMembership.Create().SetUserID(other.ID).SetSpaceID(ids["general"]).ExecX(ctx)
		for _, tc := range []struct {
			name  string
			refs  []string
			fresh bool
			// named: what SpaceByRef finds for each ref ("" for nothing).
			named []string
		}{
			{"slugs", []string{"general", "news", "nope"}, false, []string{"general", "news", ""}},
			{"ids", []string{strconv.Itoa(ids["vip"]), strconv.Itoa(ids["x"])}, false, []string{"vip", "x"}},
			{"a slug that reads as a number", []string{"42"}, false, []string{"42"}},
			{"an id that is another space's slug", []string{byID}, false, []string{"general"}},
			{"numbers that are not how an id is written", []string{"007", "+" + strconv.Itoa(ids["x"]), "0"}, false, []string{"007", "", ""}},
			{"the member's spaces only", []string{"vip", strconv.Itoa(ids["news"])}, false, []string{"vip", "news"}},
			{"nothing named", nil, false, nil},
			{"fresh", []string{"general", strconv.Itoa(ids["vip"]), "nope"}, true, []string{"general", "vip", ""}},
			{"fresh, nothing named", nil, true, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := MemberSpaces(ctx, c, u.ID, tc.refs, tc.fresh)
				if err != nil {
					t.Fatal(err)
				}
				var preds []predicate.Space
				for _, r := range tc.refs {
					preds = append(preds, space.Slug(r))
					if id, err := strconv.Atoi(r); err == nil && strconv.Itoa(id) == r {
						preds = append(preds, space.ID(id))
					}
				}
				if !tc.fresh {
					preds = append(preds, space.HasMembersWith(spacemembership.UserID(u.ID)))
				}
				var want []SpaceRow
				if len(preds) > 0 {
					for _, s := range c.Space.Query().Where(space.Or(preds...)).
						WithMembers(func(q *ent.SpaceMembershipQuery) { q.Where(spacemembership.UserID(u.ID)) }).
						Order(ent.Asc(space.FieldID)).AllX(ctx) {
						row := SpaceRow{ID: s.ID, Slug: s.Slug}
						if len(s.Edges.Members) == 1 && !tc.fresh {
							row.MembershipID, row.Role = s.Edges.Members[0].ID, s.Edges.Members[0].Role
						}
						want = append(want, row)
					}
				}
				slices.SortFunc(got, func(a, b SpaceRow) int { return a.ID - b.ID })
				if !slices.Equal(got, want) {
					t.Fatalf("read %+v\n ent %+v", got, want)
				}
				for i, r := range tc.refs {
					s := SpaceByRef(got, r)
					switch {
					case tc.named[i] == "" && s != nil:
						t.Errorf("%q names %+v, want nothing", r, *s)
					case tc.named[i] != "" && (s == nil || s.ID != ids[tc.named[i]]):
						t.Errorf("%q names %+v, want %s (%d)", r, s, tc.named[i], ids[tc.named[i]])
					}
				}
			})
		}
	})
}

// TestMemberFieldsAsEnt: the profile fields read for a login are ent's, in id order, each with
// the member's value.
func TestMemberFieldsAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("f@example.com").SetUsername("f").SaveX(ctx)
		other := c.User.Create().SetEmail("g@example.com").SetUsername("g").SaveX(ctx)
		company := c.ProfileField.Create().SetKey("company").SetName("Company").SetExternalKeys([]string{"company", "org"}).SaveX(ctx)
		plan := c.ProfileField.Create().SetKey("plan").SetName("Plan").SetType(profilefield.TypeSELECT).SetOptions([]string{"free", "pro"}).SaveX(ctx)
		c.ProfileField.Create().SetKey("city").SetName("City").ExecX(ctx)
		c.ProfileFieldValue.Create().SetUserID(u.ID).SetFieldID(company.ID).SetKey("company").SetValue("Acme").ExecX(ctx)
		c.ProfileFieldValue.Create().SetUserID(other.ID).SetFieldID(plan.ID).SetKey("plan").SetValue("pro").ExecX(ctx)
		got, err := MemberFields(ctx, c, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want []FieldRow
		for _, f := range c.ProfileField.Query().Order(ent.Asc(profilefield.FieldID)).
			WithValues(func(q *ent.ProfileFieldValueQuery) { q.Where(profilefieldvalue.UserID(u.ID)) }).AllX(ctx) {
			row := FieldRow{ID: f.ID, Key: f.Key, Type: f.Type, Options: f.Options, ExternalKeys: f.ExternalKeys}
			if len(f.Edges.Values) == 1 {
				row.ValueID, row.Value = f.Edges.Values[0].ID, f.Edges.Values[0].Value
			}
			want = append(want, row)
		}
		if !slices.EqualFunc(got, want, func(a, b FieldRow) bool {
			return a.ID == b.ID && a.Key == b.Key && a.Type == b.Type && slices.Equal(a.Options, b.Options) &&
				slices.Equal(a.ExternalKeys, b.ExternalKeys) && a.ValueID == b.ValueID && a.Value == b.Value
		}) {
			t.Fatalf("read %+v\n ent %+v", got, want)
		}
		if len(got) != 3 || got[0].Value != "Acme" || got[1].ValueID != 0 {
			t.Fatalf("values not read: %+v", got)
		}
	})
}

// TestUseReplayMarker: a key is used once until its marker expires; an expired marker is
// replaced.
func TestUseReplayMarker(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		now := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
		for _, step := range []struct {
			name      string
			key       string
			now       time.Time
			wantFresh bool
		}{
			{"first use", "k1", now, true},
			{"second use", "k1", now.Add(time.Minute), false},
			{"another key", "k2", now, true},
			{"after the marker expired", "k1", now.Add(2 * time.Hour), true},
			{"used again after that", "k1", now.Add(2*time.Hour + time.Minute), false},
		} {
			fresh, err := UseReplayMarker(ctx, c, step.key, step.now, step.now.Add(time.Hour))
			if err != nil || fresh != step.wantFresh {
				t.Fatalf("%s: fresh %v, %v", step.name, fresh, err)
			}
		}
		if n := c.ReplayMarker.Query().CountX(ctx); n != 2 {
			t.Fatalf("%d markers, want 2", n)
		}
	})
}

// TestWriteMemberships: the memberships a login decided are written as decided, and nobody
// else's change.
func TestWriteMemberships(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		u := c.User.Create().SetEmail("w@example.com").SetUsername("w").SaveX(ctx)
		other := c.User.Create().SetEmail("x@example.com").SetUsername("x").SaveX(ctx)
		var sp []int
		for _, slug := range []string{"a", "b", "c", "d"} {
			sp = append(sp, c.Space.Create().SetName(slug).SetSlug(slug).SaveX(ctx).ID)
		}
		inA := c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(sp[0]).SaveX(ctx)
		inB := c.SpaceMembership.Create().SetUserID(u.ID).SetSpaceID(sp[1]).SaveX(ctx)
		c.SpaceMembership.Create().SetUserID(other.ID).SetSpaceID(sp[0]).ExecX(ctx)
		err := WriteMemberships(ctx, c, u.ID, Memberships{
			Leave: []int{inA.ID},
			Roles: []RoleChange{{MembershipID: inB.ID, Role: spacemembership.RoleADMIN}},
			Join:  []Join{{SpaceID: sp[2], Role: spacemembership.RoleMEMBER}, {SpaceID: sp[3], Role: spacemembership.RoleADMIN}},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[int]spacemembership.Role{}
		for _, m := range c.SpaceMembership.Query().Where(spacemembership.UserID(u.ID)).AllX(ctx) {
			got[m.SpaceID] = m.Role
		}
		want := map[int]spacemembership.Role{sp[1]: spacemembership.RoleADMIN, sp[2]: spacemembership.RoleMEMBER, sp[3]: spacemembership.RoleADMIN}
		if len(got) != len(want) || got[sp[1]] != want[sp[1]] || got[sp[2]] != want[sp[2]] || got[sp[3]] != want[sp[3]] {
			t.Fatalf("memberships %v, want %v", got, want)
		}
		if n := c.SpaceMembership.Query().Where(spacemembership.UserID(other.ID)).CountX(ctx); n != 1 {
			t.Fatalf("the other member has %d memberships", n)
		}
		if err := WriteMemberships(ctx, c, u.ID, Memberships{}); err != nil {
			t.Fatalf("no change: %v", err)
		}
		// Joining a space twice breaks the unique key: nothing of the batch is written.
		if err := WriteMemberships(ctx, c, u.ID, Memberships{Join: []Join{{SpaceID: sp[0], Role: spacemembership.RoleMEMBER}, {SpaceID: sp[1], Role: spacemembership.RoleMEMBER}}}); !store.IsConstraint(err) {
			t.Fatalf("a second membership of one space: %v", err)
		}
		if n := c.SpaceMembership.Query().Where(spacemembership.UserID(u.ID)).CountX(ctx); n != 3 {
			t.Fatalf("%d memberships after a refused batch, want 3", n)
		}
	})
}

// TestMemberWrites: a created member reads back as given; an update changes the fields it
// names and no other; the last active admin keeps its role.
func TestMemberWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		u, err := CreateMember(ctx, c, NewMember{ExternalID: "ext-1", Email: "n@example.com", EmailVerified: true,
			Username: "n", Name: "N", Tagline: "t", Picture: "https://example.com/p.png", LastLoginAt: at})
		if err != nil {
			t.Fatal(err)
		}
		got := c.User.GetX(ctx, u.ID)
		if got.ExternalID == nil || *got.ExternalID != "ext-1" || got.Email != "n@example.com" || !got.EmailVerified ||
			got.Username != "n" || got.Name != "N" || got.Tagline != "t" || got.Picture != "https://example.com/p.png" ||
			got.LastLoginAt == nil || !got.LastLoginAt.Equal(at) || got.Role != user.RoleMEMBER {
			t.Fatalf("created %+v", got)
		}
		name, empty := "Nina", ""
		if _, err := UpdateMember(ctx, c, u.ID, MemberChange{Name: &name, Tagline: &empty}); err != nil {
			t.Fatal(err)
		}
		got = c.User.GetX(ctx, u.ID)
		if got.Name != "Nina" || got.Tagline != "" || got.Email != "n@example.com" || got.Picture != "https://example.com/p.png" || *got.ExternalID != "ext-1" {
			t.Fatalf("updated %+v", got)
		}
		if err := SetMemberRole(ctx, c, u.ID, user.RoleADMIN); err != nil {
			t.Fatal(err)
		}
		if err := SetMemberRole(ctx, c, u.ID, user.RoleMEMBER); !errors.Is(err, store.ErrLastAdmin) {
			t.Fatalf("demoting the last admin: %v", err)
		}
		if r := c.User.GetX(ctx, u.ID).Role; r != user.RoleADMIN {
			t.Fatalf("role %s after a refused demotion", r)
		}
	})
}

// TestLoginCounters: the direct-login throttle's rows: read, insert (a second insert of a key
// is a retryable conflict), compare-and-set, give back, delete.
func TestLoginCounters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		now := time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)
		if got, err := ReadCounter(ctx, c, "k"); err != nil || got != nil {
			t.Fatalf("no counter: %+v, %v", got, err)
		}
		first := Counter{Failures: 1, Last: now, Expires: now.Add(time.Hour)}
		if err := InsertCounter(ctx, c, "k", "192.0.2.1", strings.Repeat("s", 300), first, now); err != nil {
			t.Fatal(err)
		}
		if err := InsertCounter(ctx, c, "k", "192.0.2.1", "", first, now); !store.IsRetryable(err) {
			t.Fatalf("a second insert of one key: %v", err)
		}
		got, err := ReadCounter(ctx, c, "k")
		if err != nil || got == nil || got.Failures != 1 || !got.Expires.Equal(first.Expires) {
			t.Fatalf("read %+v, %v", got, err)
		}
		second := Counter{Failures: 2, Last: now.Add(time.Minute), Expires: now.Add(2 * time.Hour)}
		if ok, err := SwapCounter(ctx, c, "k", *got, now.Add(time.Minute), second); err != nil || !ok {
			t.Fatalf("swap from what was read: %v, %v", ok, err)
		}
		if ok, err := SwapCounter(ctx, c, "k", *got, now.Add(time.Minute), second); err != nil || ok {
			t.Fatalf("swap from a stale read: %v, %v", ok, err)
		}
		// Judged expired at the read, while the row is live at that time: not what was read.
		live, _ := ReadCounter(ctx, c, "k")
		expired := *live
		expired.Expires = now
		if ok, err := SwapCounter(ctx, c, "k", expired, now.Add(time.Minute), first); err != nil || ok {
			t.Fatalf("swap of a counter read as expired while it is live: %v, %v", ok, err)
		}
		for range 3 {
			if err := GiveBackFailure(ctx, c, "k"); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := ReadCounter(ctx, c, "k"); got.Failures != 0 {
			t.Fatalf("%d failures after giving back more than there were", got.Failures)
		}
		if err := DeleteCounter(ctx, c, "k"); err != nil {
			t.Fatal(err)
		}
		if got, _ := ReadCounter(ctx, c, "k"); got != nil {
			t.Fatalf("deleted counter reads %+v", got)
		}
	})
}

// TestInsertMembershipsAsEnt: the joins' fixed INSERT writes the rows ent's CreateBulk writes
// (role given or the schema's default, creation time now), and refuses a role the schema refuses.
func TestInsertMembershipsAsEnt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := db.Client
		fixed := c.User.Create().SetEmail("f@example.com").SetUsername("f").SaveX(ctx)
		byEnt := c.User.Create().SetEmail("e@example.com").SetUsername("e").SaveX(ctx)
		a := c.Space.Create().SetName("a").SetSlug("a").SaveX(ctx)
		b := c.Space.Create().SetName("b").SetSlug("b").SaveX(ctx)
		joins := []Join{{SpaceID: a.ID, Role: spacemembership.RoleADMIN}, {SpaceID: b.ID}}
		before := time.Now().Add(-time.Second)
		if err := insertMemberships(ctx, c, fixed.ID, joins); err != nil {
			t.Fatal(err)
		}
		bulk := make([]*ent.SpaceMembershipCreate, len(joins))
		for i, j := range joins {
			bulk[i] = c.SpaceMembership.Create().SetUserID(byEnt.ID).SetSpaceID(j.SpaceID)
			if j.Role != "" {
				bulk[i].SetRole(j.Role)
			}
		}
		c.SpaceMembership.CreateBulk(bulk...).ExecX(ctx)
		read := func(userID int) []*ent.SpaceMembership {
			return c.SpaceMembership.Query().Where(spacemembership.UserID(userID)).Order(ent.Asc(spacemembership.FieldSpaceID)).AllX(ctx)
		}
		got, want := read(fixed.ID), read(byEnt.ID)
		if len(got) != 2 || len(want) != 2 {
			t.Fatalf("%d and %d rows", len(got), len(want))
		}
		for i := range got {
			if got[i].SpaceID != want[i].SpaceID || got[i].Role != want[i].Role ||
				got[i].CreatedAt.Before(before) || got[i].CreatedAt.Sub(want[i].CreatedAt).Abs() > 5*time.Second {
				t.Fatalf("inserted %+v\n     ent %+v", got[i], want[i])
			}
		}
		if err := insertMemberships(ctx, c, fixed.ID, []Join{{SpaceID: a.ID, Role: "OWNER"}}); err == nil {
			t.Fatal("a role the schema refuses was written")
		}
	})
}

// TestScanColumns: intCol and textCol read what each driver returns for an integer and a text
// column (SQLite's int64 and string; MySQL's int64 and []byte from a prepared statement, []byte
// from a query sent as text), and refuse NULL as database/sql does for *int and *string.
func TestScanColumns(t *testing.T) {
	for _, backend := range storetest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			db := storetest.OpenEmpty(t, backend, storetest.Options{})
			ctx := context.Background()
			for _, tt := range []struct {
				name  string
				query string
				args  []any
			}{
				{"literals", "SELECT 42, 'MODERATOR', -7", nil},
				{"arguments", "SELECT ?, ?, ?", []any{int64(42), "MODERATOR", int64(-7)}},
			} {
				t.Run(tt.name, func(t *testing.T) {
					var n, m int
					var role user.Role
					if err := db.SQL.QueryRowContext(ctx, tt.query, tt.args...).Scan((*intCol)(&n), (*textCol)(&role), (*intCol)(&m)); err != nil {
						t.Fatal(err)
					}
					if n != 42 || role != user.RoleMODERATOR || m != -7 {
						t.Fatalf("scanned %d %q %d, want 42 MODERATOR -7", n, role, m)
					}
				})
			}
			var n int
			var role user.Role
			if err := db.SQL.QueryRowContext(ctx, "SELECT NULL").Scan((*intCol)(&n)); err == nil {
				t.Fatal("NULL scanned into an int")
			}
			if err := db.SQL.QueryRowContext(ctx, "SELECT NULL").Scan((*textCol)(&role)); err == nil {
				t.Fatal("NULL scanned into a string")
			}
			if err := db.SQL.QueryRowContext(ctx, "SELECT 'x'").Scan((*intCol)(&n)); err == nil {
				t.Fatal("text scanned into an int")
			}
		})
	}
}

// TestMemberByExternalIDExact: only the exact, canonical id finds a member. MySQL/MariaDB's
// utf8mb4_bin compares with trailing spaces ignored, so "acct-7 " found acct-7 there (a
// back-channel logout token's sub ended acct-7's sessions); SQLite did not.
func TestMemberByExternalIDExact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		u := db.Client.User.Create().SetEmail("a7@example.com").SetUsername("a7").SetExternalID("acct-7").SaveX(ctx)
		for _, tc := range []struct {
			id    string
			found bool
		}{
			{"acct-7", true},
			{"acct-7 ", false},
			{"acct-7  ", false},
			{" acct-7", false},
			{"ACCT-7", false},
			{"", false},
		} {
			m, err := MemberByExternalID(ctx, db.Client, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if found := m != nil && m.ID == u.ID; found != tc.found {
				t.Errorf("%q: found %v, want %v", tc.id, found, tc.found)
			}
		}
	})
}
