package authdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/community/sso/ent"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/profilefieldvalue"
	"github.com/community/sso/ent/space"
	"github.com/community/sso/ent/spacemembership"
	"github.com/community/sso/ent/user"
)

// memberColumns are the columns of a member a login compares and decides on.
var memberColumns = []string{
	user.FieldID, user.FieldExternalID, user.FieldEmail, user.FieldName, user.FieldUsername,
	user.FieldTagline, user.FieldPicture, user.FieldRole, user.FieldStatus, user.FieldEmailVerified,
}

func memberBy(column string) string {
	return "SELECT " + quoteAll(memberColumns) + " FROM " + quote(user.Table) + " WHERE " + quote(column) + " = ?"
}

var (
	memberByExternalID = memberBy(user.FieldExternalID)
	memberByEmail      = memberBy(user.FieldEmail)
)

// MemberByExternalID returns the member with this externalId (in its canonical form), with the
// columns of memberColumns and no edges, or nil.
func MemberByExternalID(ctx context.Context, client *ent.Client, externalID string) (*ent.User, error) {
	return findMember(ctx, client, memberByExternalID, externalID)
}

// Member returns the member id, every column, or nil.
func Member(ctx context.Context, client *ent.Client, id int) (*ent.User, error) {
	u, err := client.User.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authdb: read member: %w", err)
	}
	return u, nil
}

// MemberByEmail returns the member with this email (in its canonical form) as
// MemberByExternalID does, or nil.
func MemberByEmail(ctx context.Context, client *ent.Client, email string) (*ent.User, error) {
	return findMember(ctx, client, memberByEmail, email)
}

func findMember(ctx context.Context, client *ent.Client, query, value string) (*ent.User, error) {
	found, err := scanRows(ctx, client, query, []any{value}, func(r *sql.Rows) (*ent.User, error) {
		u := &ent.User{}
		var ext sql.NullString
		if err := r.Scan(&u.ID, &ext, &u.Email, &u.Name, &u.Username, &u.Tagline, &u.Picture, &u.Role, &u.Status, &u.EmailVerified); err != nil {
			return nil, err
		}
		if ext.Valid {
			u.ExternalID = &ext.String
		}
		return u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: find member: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	return found[0], nil
}

// SpaceRow is a space with the member's membership of it, if any.
type SpaceRow struct {
	ID   int
	Slug string
	// MembershipID is the member's membership of the space, 0 when it has none; Role is its role.
	MembershipID int
	Role         spacemembership.Role
}

// spacesQuery reads spaces with the member's membership of each (its first argument is the
// member's id); MemberSpaces adds which spaces.
var spacesQuery = "SELECT s." + quote(space.FieldID) + ", s." + quote(space.FieldSlug) + ", m." + quote(spacemembership.FieldID) + ", m." + quote(spacemembership.FieldRole) +
	" FROM " + quote(space.Table) + " AS s LEFT JOIN " + quote(spacemembership.Table) + " AS m ON m." + quote(spacemembership.FieldSpaceID) + " = s." + quote(space.FieldID) +
	" AND m." + quote(spacemembership.FieldUserID) + " = ? WHERE "

// MemberSpaces reads, with one query, the spaces refs name (slugs, or ids written as decimal
// numbers) and, when every is set, every space the member is in, each with the member's
// membership of it. Refs that name no space are left out.
func MemberSpaces(ctx context.Context, client *ent.Client, userID int, refs []string, every bool) ([]SpaceRow, error) {
	args := []any{userID}
	var slugs, ids []any
	for _, ref := range refs {
		slugs = append(slugs, ref)
		if id, err := strconv.Atoi(ref); err == nil {
			ids = append(ids, id)
		}
	}
	var which []string
	if len(slugs) > 0 {
		which = append(which, "s."+quote(space.FieldSlug)+" IN ("+placeholders(len(slugs))+")")
		args = append(args, slugs...)
	}
	if len(ids) > 0 {
		which = append(which, "s."+quote(space.FieldID)+" IN ("+placeholders(len(ids))+")")
		args = append(args, ids...)
	}
	if every {
		which = append(which, "s."+quote(space.FieldID)+" IN (SELECT "+quote(spacemembership.FieldSpaceID)+" FROM "+
			quote(spacemembership.Table)+" WHERE "+quote(spacemembership.FieldUserID)+" = ?)")
		args = append(args, userID)
	}
	if len(which) == 0 {
		return nil, nil
	}
	rows, err := scanRows(ctx, client, spacesQuery+strings.Join(which, " OR "), args, func(r *sql.Rows) (SpaceRow, error) {
		var (
			s    SpaceRow
			m    sql.NullInt64
			role sql.NullString
		)
		err := r.Scan(&s.ID, &s.Slug, &m, &role)
		s.MembershipID, s.Role = int(m.Int64), spacemembership.Role(role.String)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: read spaces: %w", err)
	}
	return rows, nil
}

// FieldRow is a profile field with the member's value of it, if any.
type FieldRow struct {
	ID           int
	Key          string
	Type         profilefield.Type
	Options      []string
	ExternalKeys []string
	// ValueID is the member's value of the field, 0 when it has none; Value is the value.
	ValueID int
	Value   string
}

// fieldsQuery reads every profile field with the member's value of it (its argument is the
// member's id).
var fieldsQuery = "SELECT f." + quote(profilefield.FieldID) + ", f." + quote(profilefield.FieldKey) + ", f." + quote(profilefield.FieldType) +
	", f." + quote(profilefield.FieldOptions) + ", f." + quote(profilefield.FieldExternalKeys) + ", v." + quote(profilefieldvalue.FieldID) + ", v." + quote(profilefieldvalue.FieldValue) +
	" FROM " + quote(profilefield.Table) + " AS f LEFT JOIN " + quote(profilefieldvalue.Table) + " AS v ON v." + quote(profilefieldvalue.FieldFieldID) + " = f." + quote(profilefield.FieldID) +
	" AND v." + quote(profilefieldvalue.FieldUserID) + " = ? ORDER BY f." + quote(profilefield.FieldID)

// MemberFields reads every profile field, in id order, with the member's value of each, with
// one query.
func MemberFields(ctx context.Context, client *ent.Client, userID int) ([]FieldRow, error) {
	rows, err := scanRows(ctx, client, fieldsQuery, []any{userID}, func(r *sql.Rows) (FieldRow, error) {
		var (
			f             FieldRow
			options, keys sql.NullString
			valueID       sql.NullInt64
			value         sql.NullString
		)
		if err := r.Scan(&f.ID, &f.Key, &f.Type, &options, &keys, &valueID, &value); err != nil {
			return f, err
		}
		var err error
		if f.Options, err = jsonStrings(options); err != nil {
			return f, fmt.Errorf("profile field %s: options: %w", f.Key, err)
		}
		if f.ExternalKeys, err = jsonStrings(keys); err != nil {
			return f, fmt.Errorf("profile field %s: external keys: %w", f.Key, err)
		}
		f.ValueID, f.Value = int(valueID.Int64), value.String
		return f, nil
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: read profile fields: %w", err)
	}
	return rows, nil
}
