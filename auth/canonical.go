package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/community/sso/auth/identity"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/settings"
	"github.com/community/sso/ent/user"
)

// IdentifiersVersion is the version of the identifier rules (package identity) that
// CanonicalizeIdentifiers brings stored rows to.
const IdentifiersVersion = 1

// IdentifierReport is what CanonicalizeIdentifiers did.
type IdentifierReport struct {
	Scanned, Changed int
	// Review lists the rows left as they were for an admin to fix: a value with no canonical
	// form, or one whose canonical form another member already holds (never merged).
	Review []IdentifierIssue
}

// IdentifierIssue is one stored identifier an admin must fix (with updateUser).
type IdentifierIssue struct {
	UserID int
	Field  string // email, externalId or username
	Value  string
	// Canonical is the form the value would take, and ConflictUserID the member holding it; both
	// are empty when the value has no canonical form.
	Canonical      string
	ConflictUserID int
}

// CanonicalizeIdentifiers brings the stored emails and external ids to their canonical form
// once per version of the rules (the settings remember the version): each changed row is
// updated on its own; a value whose canonical form another member holds, or that has none, is
// left as it is, logged and recorded as an IDENTIFIER_REVIEW security event. Usernames are only
// checked. It reads the users in batches of batch rows.
func CanonicalizeIdentifiers(ctx context.Context, client *ent.Client, log *slog.Logger, batch int) (*IdentifierReport, error) {
	st, err := LoadSettings(ctx, client, settings.FieldIdentifiersVersion)
	if err != nil {
		return nil, err
	}
	rep := &IdentifierReport{}
	if st.IdentifiersVersion >= IdentifiersVersion {
		return rep, nil
	}
	for last := 0; ; {
		users, err := client.User.Query().
			Where(user.IDGT(last)).
			Order(ent.Asc(user.FieldID)).
			Limit(batch).
			Select(user.FieldEmail, user.FieldExternalID, user.FieldUsername).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("auth: canonicalize identifiers: %w", err)
		}
		for _, u := range users {
			last = u.ID
			rep.Scanned++
			if err := canonicalizeUser(ctx, client, u, rep); err != nil {
				return nil, fmt.Errorf("auth: canonicalize identifiers: user %d: %w", u.ID, err)
			}
		}
		if len(users) < batch {
			break
		}
	}
	for _, is := range rep.Review {
		log.WarnContext(ctx, "auth: stored identifier needs an admin", "user_id", is.UserID, "field", is.Field,
			"canonical", is.Canonical, "conflicting_user_id", is.ConflictUserID)
		detail := map[string]any{"field": is.Field, "value": is.Value,
			"fix": "updateUser: give this member a valid, unique " + is.Field}
		if is.Canonical != "" {
			detail["canonical"] = is.Canonical
		}
		if is.ConflictUserID != 0 {
			detail["conflictingUserId"] = strconv.Itoa(is.ConflictUserID)
		}
		if err := Record(ctx, client, Event{Type: EventIdentifierReview, UserID: is.UserID, Detail: detail}); err != nil {
			return nil, err
		}
	}
	if err := client.Settings.UpdateOneID(st.ID).SetIdentifiersVersion(IdentifiersVersion).Exec(ctx); err != nil {
		return nil, fmt.Errorf("auth: canonicalize identifiers: %w", err)
	}
	if rep.Changed > 0 || len(rep.Review) > 0 {
		log.InfoContext(ctx, "identifiers brought to their canonical form", "scanned", rep.Scanned,
			"changed", rep.Changed, "to_review", len(rep.Review))
	}
	return rep, nil
}

func canonicalizeUser(ctx context.Context, client *ent.Client, u *ent.User, rep *IdentifierReport) error {
	review := func(field, value, canonical string, holder int) {
		rep.Review = append(rep.Review, IdentifierIssue{UserID: u.ID, Field: field, Value: value, Canonical: canonical, ConflictUserID: holder})
	}
	upd := client.User.UpdateOneID(u.ID)
	changed := false
	email, err := identity.Email(u.Email)
	switch {
	case err != nil:
		review("email", u.Email, "", 0)
	case email != u.Email:
		holder, err := client.User.Query().Where(user.Email(email), user.IDNEQ(u.ID)).FirstID(ctx)
		switch {
		case err == nil:
			review("email", u.Email, email, holder)
		case ent.IsNotFound(err):
			upd.SetEmail(email)
			changed = true
		default:
			return err
		}
	}
	if u.ExternalID != nil {
		// A stored id keeps its text but for spaces around it, which versions before the exact
		// rule trimmed at every login anyway; a login's id with spaces is refused.
		ext, err := identity.ExternalID(strings.TrimSpace(*u.ExternalID))
		switch {
		case err != nil || ext == "":
			review("externalId", *u.ExternalID, "", 0)
		case ext != *u.ExternalID:
			holder, err := client.User.Query().Where(user.ExternalID(ext), user.IDNEQ(u.ID)).FirstID(ctx)
			switch {
			case err == nil:
				review("externalId", *u.ExternalID, ext, holder)
			case ent.IsNotFound(err):
				upd.SetExternalID(ext)
				changed = true
			default:
				return err
			}
		}
	}
	if name, err := identity.Username(u.Username); err != nil || name != u.Username {
		review("username", u.Username, "", 0)
	}
	if !changed {
		return nil
	}
	err = upd.Exec(ctx)
	var ce *ent.ConstraintError
	if errors.As(err, &ce) {
		// Taken meanwhile by a concurrent change: leave the row for review.
		review("email", u.Email, email, 0)
		return nil
	}
	if err == nil {
		rep.Changed++
	}
	return err
}
