package graph

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/user"
)

// Filters follow the rules of the fields they read: a caller may filter only on what it may
// read, at any depth of a `where` argument (not, and, or, and every has…With edge), or a filter
// would answer yes or no about what the field itself hides (`spaces(where: {hasMembersWith:
// [{hasUserWith: [{emailHasPrefix: "a"}]}]}) { totalCount }` would tell a member other members'
// emails one letter at a time).
//
// whereAccess is that rule, in one place: for each of ent's WhereInput types, the least role
// that may filter on each field (all its predicates: email, emailNEQ, emailHasPrefix, …) and
// each edge (hasMembers and hasMembersWith). The roles are those of the fields:
//   - Space: id, createdAt, name and slug are read by members (spaces, space); its members by
//     moderators (@hasRole on Space.members);
//   - SpaceMembership, User and UserField: read by moderators (Space.members, user(...)); a
//     member reads only its own (me), and a filter is not limited to the caller's own rows;
//   - SecurityEvent and ApiToken: admins;
//   - ProfileField: members (profileFields).
//
// A field or edge that is not listed here is refused to every caller, and TestWhereAccess fails
// until it is listed: a new field of the schema is never filterable by accident.
var whereAccess = map[reflect.Type]map[string]user.Role{
	reflect.TypeFor[ent.SpaceWhereInput](): {
		"id": member, "createdAt": member, "name": member, "slug": member,
		"hasMembers": moderator,
	},
	reflect.TypeFor[ent.SpaceMembershipWhereInput](): {
		"id": moderator, "createdAt": moderator, "role": moderator,
		"hasUser": moderator, "hasSpace": moderator,
	},
	reflect.TypeFor[ent.UserWhereInput](): {
		"id": moderator, "createdAt": moderator, "updatedAt": moderator, "externalId": moderator,
		"email": moderator, "name": moderator, "username": moderator, "tagline": moderator,
		"picture": moderator, "role": moderator, "status": moderator, "lastLoginAt": moderator,
		"hasSpaces": moderator, "hasFields": moderator,
	},
	reflect.TypeFor[ent.UserFieldWhereInput](): {
		"id": moderator, "createdAt": moderator, "updatedAt": moderator, "key": moderator, "value": moderator,
	},
	reflect.TypeFor[ent.SecurityEventWhereInput](): {
		"id": admin, "createdAt": admin, "type": admin, "method": admin, "ip": admin, "userAgent": admin,
		"hasUser": admin,
	},
	reflect.TypeFor[ent.ApiTokenWhereInput](): {
		"id": admin, "createdAt": admin, "name": admin, "lastUsedAt": admin, "expiresAt": admin,
		"hasUser": admin,
	},
	reflect.TypeFor[ent.ProfileFieldWhereInput](): {
		"id": member, "createdAt": member, "updatedAt": member, "key": member, "name": member, "type": member,
	},
}

const (
	member    = user.RoleMEMBER
	moderator = user.RoleMODERATOR
	admin     = user.RoleADMIN
)

// predicateSuffixes are the endings entgql gives a field's predicates (email, emailNEQ, …).
var predicateSuffixes = []string{"", "NEQ", "In", "NotIn", "GT", "GTE", "LT", "LTE", "Contains",
	"HasPrefix", "HasSuffix", "EqualFold", "ContainsFold", "IsNil", "NotNil"}

// whereField is one field of a WhereInput struct as the guard reads it.
type whereField struct {
	index int
	name  string // its GraphQL name
	// role is the least role that may use it; "" when whereAccess does not classify it.
	role user.Role
	// nested is the WhereInput type the field holds (not, and, or, has…With), nil for a predicate.
	nested reflect.Type
}

// whereFields compiles whereAccess against the GraphQL schema: for each WhereInput type, its
// struct fields with their GraphQL names and roles.
var whereFields = sync.OnceValue(func() map[reflect.Type][]whereField {
	return compileWhereAccess(parsedSchema)
})

func compileWhereAccess(schema *ast.Schema) map[reflect.Type][]whereField {
	out := map[reflect.Type][]whereField{}
	for typ, roles := range whereAccess {
		def := schema.Types[typ.Name()]
		var fields []whereField
		for i := range typ.NumField() {
			sf := typ.Field(i)
			if !sf.IsExported() || sf.Tag.Get("json") == "-" {
				continue // ent's Predicates: set by code, never by a client
			}
			f := whereField{index: i, name: graphqlName(def, sf.Name)}
			switch elem := elemType(sf.Type); {
			case f.name == "not" || f.name == "and" || f.name == "or":
				f.nested, f.role = elem, member
			default:
				f.role = classify(roles, f.name)
				if _, ok := whereAccess[elem]; ok {
					f.nested = elem // has…With
				} else if strings.HasSuffix(f.name, "With") && strings.HasPrefix(f.name, "has") {
					f.role = "" // an edge into a type without rules: refused, never walked past
				}
			}
			fields = append(fields, f)
		}
		out[typ] = fields
	}
	return out
}

// graphqlName is the name the schema gives the Go field goName of def (they differ in case
// only: externalIdNEQ is ExternalIDNEQ); the Go name when def has no such field.
func graphqlName(def *ast.Definition, goName string) string {
	if def != nil {
		for _, f := range def.Fields {
			if strings.EqualFold(f.Name, goName) {
				return f.Name
			}
		}
	}
	return goName
}

// classify is the role of a field's predicate or an edge's from the rules of its type.
func classify(roles map[string]user.Role, name string) user.Role {
	if r, ok := roles[strings.TrimSuffix(name, "With")]; ok && strings.HasPrefix(name, "has") {
		return r
	}
	for _, s := range predicateSuffixes {
		if base, ok := strings.CutSuffix(name, s); ok {
			if r, ok := roles[base]; ok && !strings.HasPrefix(base, "has") {
				return r
			}
		}
	}
	return ""
}

// elemType is the struct type behind a pointer or a list of pointers.
func elemType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

// GuardFilters is a field middleware (handler.AroundFields) that checks every argument of a
// WhereInput type, whatever the field and the argument's name, against whereAccess before the
// field's directives and resolver run. A refusal is FORBIDDEN with extensions.field naming the
// filter's path (where.or[1].hasMembersWith); nothing runs.
func GuardFilters(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || len(fc.Args) == 0 {
		return next(ctx)
	}
	for name, arg := range fc.Args {
		if err := checkFilter(ctx, name, arg); err != nil {
			return nil, err
		}
	}
	return next(ctx)
}

// checkFilter checks one argument; an argument of another type passes.
func checkFilter(ctx context.Context, name string, arg any) error {
	v := reflect.ValueOf(arg)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	if _, ok := whereFields()[v.Type().Elem()]; !ok {
		return nil
	}
	viewer := auth.FromContext(ctx)
	if viewer == nil {
		return Unauthenticated()
	}
	return walkFilter(whereFields(), viewer, name, v.Elem())
}

// walkFilter checks the filter in (a WhereInput struct) at path against the compiled rules.
func walkFilter(rules map[reflect.Type][]whereField, viewer *auth.Viewer, path string, in reflect.Value) error {
	for _, f := range rules[in.Type()] {
		fv := in.Field(f.index)
		if fv.IsZero() {
			continue
		}
		at := path + "." + f.name
		if f.role == "" || !viewer.HasRole(f.role) {
			return &Error{Code: CodeForbidden, Message: fmt.Sprintf("you are not allowed to filter on %s", at),
				Extensions: map[string]any{"field": at}}
		}
		if f.nested == nil {
			continue
		}
		switch fv.Kind() {
		case reflect.Pointer:
			if err := walkFilter(rules, viewer, at, fv.Elem()); err != nil {
				return err
			}
		case reflect.Slice:
			for i := range fv.Len() {
				if e := fv.Index(i); !e.IsNil() {
					if err := walkFilter(rules, viewer, fmt.Sprintf("%s[%d]", at, i), e.Elem()); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
