package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/identity"
	"github.com/community/sso/auth/password"
	"github.com/community/sso/auth/profile"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/emailtoken"
	"github.com/community/sso/ent/predicate"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/model"
)

// findUser looks a user up by exactly one key.
func findUser(ctx context.Context, client *ent.Client, id *int, externalID, email, username *string) (*ent.User, error) {
	given := 0
	for _, set := range []bool{id != nil, externalID != nil, email != nil, username != nil} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, BadInput("id", "give exactly one of id, externalId, email or username")
	}
	q := client.User.Query()
	switch {
	case id != nil:
		q.Where(user.ID(*id))
	case externalID != nil:
		if !identity.IsExternalID(*externalID) {
			return nil, nil
		}
		q.Where(user.ExternalID(*externalID))
	case email != nil:
		e, err := auth.NormalizeEmail(*email)
		if err != nil {
			return nil, nil
		}
		q.Where(user.Email(e))
	case username != nil:
		q.Where(user.Username(*username))
	}
	u, err := q.CollectFields(ctx)
	if err != nil {
		return nil, err
	}
	found, err := u.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return found, err
}

// userFields are the values a create or update sets, after validation.
type userFields struct {
	externalID    graphql.Omittable[*string]
	email         *string
	name          *string
	username      *string
	tagline       *string
	picture       *string
	role          *user.Role
	status        *user.Status
	fields        []*model.ProfileFieldValueInput
	passwordHash  string
	changedFields []string
}

// validateUserFields normalizes and checks f, and checks that email, username and externalId are
// not another user's (self is the user being updated, 0 on create).
func validateUserFields(ctx context.Context, client *ent.Client, self int, f *userFields) error {
	if v, ok := f.externalID.ValueOK(); ok && v != nil {
		ext, err := identity.ExternalID(*v)
		switch {
		case err != nil:
			return BadInput("externalId", "externalId must be at most %d bytes, with no spaces around it and no control or invisible characters", identity.MaxExternalIDLength)
		case ext == "":
			f.externalID = graphql.OmittableOf[*string](nil)
		default:
			f.externalID = graphql.OmittableOf(&ext)
			if err := unique(ctx, client, self, "externalId", user.ExternalID(ext)); err != nil {
				return err
			}
		}
	}
	if f.email != nil {
		e, err := auth.NormalizeEmail(*f.email)
		if err != nil {
			return BadInput("email", "email must be a valid address of at most %d bytes (%s)",
				auth.MaxEmailLength, strings.TrimPrefix(err.Error(), "identity: "))
		}
		f.email = &e
		if err := unique(ctx, client, self, "email", user.Email(e)); err != nil {
			return err
		}
	}
	if f.name != nil && len(*f.name) > 200 {
		return BadInput("name", "name must be at most 200 characters")
	}
	if f.username != nil {
		u, err := identity.Username(*f.username)
		if err != nil {
			return BadInput("username", "username must be 1 to %d bytes of one script, without spaces, / or @ (%s)",
				identity.MaxUsernameLength, strings.TrimPrefix(err.Error(), "identity: "))
		}
		f.username = &u
		if err := unique(ctx, client, self, "username", user.Username(u)); err != nil {
			return err
		}
	}
	if f.tagline != nil && len(*f.tagline) > 500 {
		return BadInput("tagline", "tagline must be at most 500 characters")
	}
	if f.picture != nil && *f.picture != "" {
		if _, err := profile.HTTPURL(*f.picture); err != nil {
			return BadInput("picture", "picture must be an http or https URL")
		}
	}
	return nil
}

// unique answers CONFLICT, naming the other user, when a user other than self matches p.
func unique(ctx context.Context, client *ent.Client, self int, field string, p predicate.User) error {
	other, err := client.User.Query().Where(p, user.IDNEQ(self)).First(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return Conflict(field, other.ID, "another user (id %d) already has this %s", other.ID, field)
}

// setFieldValues applies custom profile field values to a user, validating each by its field's
// type, and writes them with the one writer of field values (authdb.WriteFieldValues).
func setFieldValues(ctx context.Context, client *ent.Client, userID int, values []*model.ProfileFieldValueInput) ([]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(values))
	for _, v := range values {
		keys = append(keys, v.Key)
	}
	defs, err := client.ProfileField.Query().Where(profilefield.KeyIn(keys...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]*ent.ProfileField, len(defs))
	for _, d := range defs {
		byKey[d.Key] = d
	}
	vals := make([]authdb.FieldValue, 0, len(values))
	for i, v := range values {
		def, ok := byKey[v.Key]
		if !ok {
			return nil, BadInput(fmt.Sprintf("fields.%d.key", i), "there is no profile field %q", v.Key)
		}
		fv := authdb.FieldValue{FieldID: def.ID, Key: def.Key}
		if v.Value != nil && strings.TrimSpace(*v.Value) != "" {
			val, err := profile.Value(def.Type, def.Options, *v.Value)
			if err != nil {
				return nil, BadInput(fmt.Sprintf("fields.%d.value", i), "%s: %s", def.Key, strings.TrimPrefix(err.Error(), profile.ErrInvalid.Error()+": "))
			}
			fv.Value = val
		}
		vals = append(vals, fv)
	}
	return authdb.WriteFieldValues(ctx, client, userID, vals, nil)
}

// createUser pre-provisions a member; a password is hashed in a slot of passwords.
func createUser(ctx context.Context, passwords *password.Limiter, in model.CreateUserInput) (*ent.User, error) {
	client := ent.FromContext(ctx)
	f := userFields{
		externalID: graphql.OmittableOf(in.ExternalID), email: &in.Email, name: in.Name, username: in.Username,
		tagline: in.Tagline, picture: in.Picture, role: in.Role, status: in.Status,
	}
	if err := validateUserFields(ctx, client, 0, &f); err != nil {
		return nil, err
	}
	if f.username == nil {
		var wished string
		if f.name != nil {
			wished = *f.name
		}
		name, err := auth.NewUsername(ctx, client, wished, *f.email)
		if err != nil {
			return nil, err
		}
		f.username = &name
	}
	c := client.User.Create().
		SetEmail(*f.email).
		SetUsername(*f.username).
		SetNillableName(f.name).
		SetNillableTagline(f.tagline).
		SetNillablePicture(f.picture).
		SetNillableRole(f.role).
		SetNillableStatus(f.status)
	if ext, _ := f.externalID.ValueOK(); ext != nil {
		c.SetExternalID(*ext)
	}
	if in.Password != nil {
		if len(*in.Password) < password.MinLength || len(*in.Password) > password.MaxLength {
			return nil, BadInput("password", "password must be 12 to %d characters", password.MaxLength)
		}
		h, err := passwords.Hash(ctx, *in.Password)
		if errors.Is(err, password.ErrBusy) {
			return nil, &Error{Code: CodeServiceUnavailable, Message: "too many passwords are being hashed at once; try again in a moment"}
		}
		if err != nil {
			return nil, err
		}
		c.SetPasswordHash(h)
	}
	u, err := c.Save(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := setFieldValues(ctx, client, u.ID, in.Fields); err != nil {
		return nil, err
	}
	e := subjectEvent(ctx, auth.EventUserCreated, u.ID)
	e.Detail["email"] = u.Email
	return u, auth.Record(ctx, client, e)
}

// subjectEvent is an event about user subject, done by the viewer.
func subjectEvent(ctx context.Context, typ string, subject int) auth.Event {
	e := auth.EventFor(ctx, typ)
	e.Detail = map[string]any{"actorId": fmt.Sprint(e.UserID)}
	e.UserID = subject
	return e
}

// omitted turns an omittable input into a pointer: nil when absent; an explicit null becomes
// def when def is not nil, else an error for field.
func omitted[T any](o graphql.Omittable[*T], field string, null *T) (*T, error) {
	v, ok := o.ValueOK()
	if !ok {
		return nil, nil
	}
	if v == nil {
		if null == nil {
			return nil, BadInput(field, "%s cannot be null", field)
		}
		return null, nil
	}
	return v, nil
}

// updateUser is "Update a Specific User": admins change anything, members their own profile.
func updateUser(ctx context.Context, id int, in model.UpdateUserInput) (*ent.User, error) {
	client := ent.FromContext(ctx)
	v := auth.FromContext(ctx)
	u, err := client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, NotFound("user")
	}
	if err != nil {
		return nil, err
	}
	admin := v.HasRole(user.RoleADMIN)
	if !admin {
		if v.User.ID != id {
			return nil, Forbidden("you may only update your own profile")
		}
		if in.Role.IsSet() || in.Status.IsSet() || in.ExternalID.IsSet() {
			return nil, Forbidden("only admins may change a role, a status or an external id")
		}
		if in.Email.IsSet() {
			st, err := auth.LoadSettings(ctx, client)
			if err != nil {
				return nil, err
			}
			if url := accountSettingsURL(st); url != "" {
				return nil, &Error{Code: CodeForbidden, Message: "your email is managed by the community's sign-in provider; change it there",
					Extensions: map[string]any{"accountSettingsUrl": url}}
			}
		}
	}
	if !admin {
		if e, ok := in.Email.ValueOK(); ok && e != nil {
			// A member's own email changes once the member confirms it by mail.
			if err := requestEmailChange(ctx, client, u, *e); err != nil {
				return nil, err
			}
			in.Email = graphql.Omittable[*string]{}
		}
	}
	empty := ""
	f := userFields{externalID: in.ExternalID, fields: in.Fields}
	var errs []error
	set := func(err error) { errs = append(errs, err) }
	var err1 error
	f.email, err1 = omitted(in.Email, "email", nil)
	set(err1)
	f.name, err1 = omitted(in.Name, "name", &empty)
	set(err1)
	f.username, err1 = omitted(in.Username, "username", nil)
	set(err1)
	f.tagline, err1 = omitted(in.Tagline, "tagline", &empty)
	set(err1)
	f.picture, err1 = omitted(in.Picture, "picture", &empty)
	set(err1)
	f.role, err1 = omitted(in.Role, "role", nil)
	set(err1)
	f.status, err1 = omitted(in.Status, "status", nil)
	set(err1)
	if err := errors.Join(errs...); err != nil {
		var appErr *Error
		errors.As(err, &appErr)
		return nil, appErr
	}
	if err := validateUserFields(ctx, client, id, &f); err != nil {
		return nil, err
	}

	upd := client.User.UpdateOneID(id)
	var changed []string
	change := func(name string, differs bool, apply func()) {
		if differs {
			changed = append(changed, name)
			apply()
		}
	}
	if ext, ok := f.externalID.ValueOK(); ok {
		change("externalId", !sameString(ext, u.ExternalID), func() {
			if ext == nil {
				upd.ClearExternalID()
			} else {
				upd.SetExternalID(*ext)
			}
		})
	}
	if f.email != nil {
		// Only admins get here: an email an admin sets is verified.
		change("email", *f.email != u.Email, func() { upd.SetEmail(*f.email).SetEmailVerified(true) })
	}
	if f.name != nil {
		change("name", *f.name != u.Name, func() { upd.SetName(*f.name) })
	}
	if f.username != nil {
		change("username", *f.username != u.Username, func() { upd.SetUsername(*f.username) })
	}
	if f.tagline != nil {
		change("tagline", *f.tagline != u.Tagline, func() { upd.SetTagline(*f.tagline) })
	}
	if f.picture != nil {
		change("picture", *f.picture != u.Picture, func() { upd.SetPicture(*f.picture) })
	}
	if f.role != nil {
		change("role", *f.role != u.Role, func() { upd.SetRole(*f.role) })
	}
	if f.status != nil {
		change("status", *f.status != u.Status, func() { upd.SetStatus(*f.status) })
	}
	updated, err := upd.Save(ctx)
	if errors.Is(err, store.ErrLastAdmin) {
		field := "role"
		if f.status != nil && *f.status != user.StatusACTIVE {
			field = "status"
		}
		return nil, BadInput(field, "%s", lastAdminMessage(err))
	}
	if err != nil {
		return nil, err
	}
	if f.email != nil && *f.email != u.Email {
		// The address an admin set replaces any the member was confirming.
		now := time.Now()
		if o := outboxFrom(ctx); o != nil {
			now = o.r.now()
		}
		if err := auth.WithdrawEmailTokens(ctx, client, emailtoken.PurposeVERIFY_EMAIL, id, now); err != nil {
			return nil, err
		}
	}
	fieldChanges, err := setFieldValues(ctx, client, id, f.fields)
	if err != nil {
		return nil, err
	}
	changed = append(changed, fieldChanges...)
	if len(changed) == 0 {
		return updated, nil
	}
	e := subjectEvent(ctx, auth.EventUserUpdated, id)
	e.Detail["fields"] = changed
	events := []auth.Event{e}
	if f.role != nil && *f.role != u.Role {
		e := subjectEvent(ctx, auth.EventRoleChanged, id)
		e.Detail["from"], e.Detail["to"] = string(u.Role), string(*f.role)
		events = append(events, e)
	}
	statusChanged := f.status != nil && *f.status != u.Status
	if statusChanged {
		e := subjectEvent(ctx, auth.EventStatusChanged, id)
		e.Detail["from"], e.Detail["to"] = string(u.Status), string(*f.status)
		events = append(events, e)
	}
	// One write of the events (and of the webhook outbox rows they make).
	if err := auth.RecordAll(ctx, client, events...); err != nil {
		return nil, err
	}
	if statusChanged && *f.status == user.StatusSUSPENDED {
		if _, err := auth.RevokeUser(ctx, client, id); err != nil {
			return nil, err
		}
	}
	return updated, nil
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// accountSettingsURL is the account settings URL of the enabled SSO method, if it has one.
func accountSettingsURL(st *ent.Settings) string {
	switch {
	case st.Oauth2Enabled && st.Oauth2AccountSettingsURL != "":
		return st.Oauth2AccountSettingsURL
	case st.JwtEnabled && st.JwtAccountSettingsURL != "":
		return st.JwtAccountSettingsURL
	}
	return ""
}
