package authdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"

	"github.com/community/sso/auth/identity"
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

// MemberByExternalID returns the member with this externalId, with the columns of
// memberColumns and no edges, or nil; an id that is not one (identity.IsExternalID) names no
// member.
func MemberByExternalID(ctx context.Context, client *ent.Client, externalID string) (*ent.User, error) {
	if !identity.IsExternalID(externalID) {
		return nil, nil
	}
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
		if err := r.Scan((*intCol)(&u.ID), &ext, &u.Email, &u.Name, &u.Username, &u.Tagline, &u.Picture, (*textCol)(&u.Role), (*textCol)(&u.Status), &u.EmailVerified); err != nil {
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

// membershipsQuery reads every space the member (its argument) is in, with its membership, in
// the order of the spaces' ids (the order of the index on the member and the space).
var membershipsQuery = "SELECT s." + quote(space.FieldID) + ", s." + quote(space.FieldSlug) + ", m." + quote(spacemembership.FieldID) + ", m." + quote(spacemembership.FieldRole) +
	" FROM " + quote(spacemembership.Table) + " AS m JOIN " + quote(space.Table) + " AS s ON s." + quote(space.FieldID) + " = m." + quote(spacemembership.FieldSpaceID) +
	" WHERE m." + quote(spacemembership.FieldUserID) + " = ? ORDER BY m." + quote(spacemembership.FieldSpaceID)

// spacesQuery reads spaces by slug or id, without memberships; MemberSpaces adds which.
var spacesQuery = "SELECT " + quote(space.FieldID) + ", " + quote(space.FieldSlug) + " FROM " + quote(space.Table) + " WHERE "

// MemberSpaces reads every space the member is in, with its membership of each, and the spaces
// refs name (slugs, or ids written as decimal numbers) that it is not in. Refs that name no space
// are left out. A member that cannot be in any space yet (fresh: created in this transaction)
// is not looked up.
//
// A returning member's payload names the spaces it is in: one query, the member's own
// memberships (an index range on the member), answers it. Only refs it does not resolve are
// looked up, with a second query: a slug no membership has, and a number no membership has as
// its id (a number names the space with that id first, and the one with that slug only when no
// space has that id: SpaceByRef).
func MemberSpaces(ctx context.Context, client *ent.Client, userID int, refs []string, fresh bool) ([]SpaceRow, error) {
	var rows []SpaceRow
	if !fresh {
		var err error
		rows, err = scanRows(ctx, client, membershipsQuery, []any{userID}, func(r *sql.Rows) (SpaceRow, error) {
			var s SpaceRow
			err := r.Scan((*intCol)(&s.ID), &s.Slug, (*intCol)(&s.MembershipID), (*textCol)(&s.Role))
			return s, err
		})
		if err != nil {
			return nil, fmt.Errorf("authdb: read memberships: %w", err)
		}
	}
	var slugs, ids []any
	for _, ref := range refs {
		if id, ok := spaceID(ref); ok {
			if !slices.ContainsFunc(rows, func(s SpaceRow) bool { return s.ID == id }) {
				slugs, ids = append(slugs, ref), append(ids, id)
			}
		} else if !slices.ContainsFunc(rows, func(s SpaceRow) bool { return s.Slug == ref }) {
			slugs = append(slugs, ref)
		}
	}
	if len(slugs) == 0 {
		return rows, nil
	}
	which := quote(space.FieldSlug) + " IN (" + placeholders(len(slugs)) + ")"
	if len(ids) > 0 {
		which += " OR " + quote(space.FieldID) + " IN (" + placeholders(len(ids)) + ")"
	}
	more, err := scanRows(ctx, client, spacesQuery+which, append(slugs, ids...), func(r *sql.Rows) (SpaceRow, error) {
		var s SpaceRow
		err := r.Scan((*intCol)(&s.ID), &s.Slug)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("authdb: read spaces: %w", err)
	}
	for _, s := range more {
		if !slices.ContainsFunc(rows, func(m SpaceRow) bool { return m.ID == s.ID }) {
			rows = append(rows, s)
		}
	}
	return rows, nil
}

// SpaceByRef finds in rows (MemberSpaces) the space ref names: the space whose id ref is,
// written as a decimal number ("42"), or else the space whose slug ref is.
func SpaceByRef(rows []SpaceRow, ref string) *SpaceRow {
	if id, ok := spaceID(ref); ok {
		if i := slices.IndexFunc(rows, func(s SpaceRow) bool { return s.ID == id }); i >= 0 {
			return &rows[i]
		}
	}
	if i := slices.IndexFunc(rows, func(s SpaceRow) bool { return s.Slug == ref }); i >= 0 {
		return &rows[i]
	}
	return nil
}

// spaceID reads ref as a space id: a decimal number as the id is written ("42", not "042" or
// "+42", which can only be slugs), without building the error that a slug, most refs, would
// cost.
func spaceID(ref string) (int, bool) {
	if ref == "" || ref[0] < '1' || ref[0] > '9' {
		return 0, false
	}
	id, err := strconv.Atoi(ref)
	return id, err == nil && strconv.Itoa(id) == ref
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
		if err := r.Scan((*intCol)(&f.ID), &f.Key, (*textCol)(&f.Type), &options, &keys, &valueID, &value); err != nil {
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
