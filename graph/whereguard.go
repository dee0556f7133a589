package graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/community/sso/auth"
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
var whereAccess = map[string]map[string]user.Role{
	"SpaceWhereInput": {
		"id": member, "createdAt": member, "name": member, "slug": member,
		"hasMembers": moderator,
	},
	"SpaceMembershipWhereInput": {
		"id": moderator, "createdAt": moderator, "role": moderator,
		"hasUser": moderator, "hasSpace": moderator,
	},
	"UserWhereInput": {
		"id": moderator, "createdAt": moderator, "updatedAt": moderator, "externalId": moderator,
		"email": moderator, "name": moderator, "username": moderator, "tagline": moderator,
		"picture": moderator, "role": moderator, "status": moderator, "lastLoginAt": moderator,
		"hasSpaces": moderator, "hasFields": moderator,
	},
	"UserFieldWhereInput": {
		"id": moderator, "createdAt": moderator, "updatedAt": moderator, "key": moderator, "value": moderator,
	},
	"SecurityEventWhereInput": {
		"id": admin, "createdAt": admin, "type": admin, "method": admin, "ip": admin, "userAgent": admin,
		"hasUser": admin,
	},
	"ApiTokenWhereInput": {
		"id": admin, "createdAt": admin, "name": admin, "lastUsedAt": admin, "expiresAt": admin,
		"hasUser": admin,
	},
	"ProfileFieldWhereInput": {
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

// whereField is one field of a WhereInput type as the guard reads it.
type whereField struct {
	// role is the least role that may use it; "" when whereAccess does not classify it.
	role user.Role
	// nested is the WhereInput type the field holds (not, and, or, has…With), "" for a predicate.
	nested string
}

// whereRules are whereAccess compiled against a schema: each WhereInput type's fields.
type whereRules map[string]map[string]whereField

func compileWhereAccess(schema *ast.Schema) whereRules {
	out := whereRules{}
	for name, roles := range whereAccess {
		def := schema.Types[name]
		if def == nil {
			continue
		}
		fields := map[string]whereField{}
		for _, f := range def.Fields {
			w := whereField{}
			if _, ok := whereAccess[f.Type.Name()]; ok {
				w.nested = f.Type.Name()
			}
			switch {
			case f.Name == "not" || f.Name == "and" || f.Name == "or":
				w.role = member
			case strings.HasPrefix(f.Name, "has") && strings.HasSuffix(f.Name, "With") && w.nested == "":
				// an edge into a type without rules: refused, never walked past
			default:
				w.role = classify(roles, f.Name)
			}
			fields[f.Name] = w
		}
		out[name] = fields
	}
	return out
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

// FilterGuard checks, once per operation and before any of it runs, every argument of a
// WhereInput type in the operation (whatever the field, its depth or the argument's name, in
// fragments too) against whereAccess. A refusal is FORBIDDEN with extensions.field naming the
// filter's path (where.or[1].hasMembersWith); an anonymous caller who filters is
// UNAUTHENTICATED. Either way nothing of the operation runs.
type FilterGuard struct {
	rules whereRules
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = &FilterGuard{}

// ExtensionName implements graphql.HandlerExtension.
func (*FilterGuard) ExtensionName() string { return "FilterGuard" }

// Validate implements graphql.HandlerExtension: it compiles the rules against the schema.
func (g *FilterGuard) Validate(s graphql.ExecutableSchema) error {
	g.rules = compileWhereAccess(s.Schema())
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (g *FilterGuard) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	c := &filterCheck{rules: g.rules, viewer: auth.FromContext(ctx), vars: rc.Variables, seen: map[string]bool{}}
	err := c.selections(rc.Operation.SelectionSet)
	if err == nil {
		return nil
	}
	ge := gqlerror.Errorf("%s", err.Message)
	ge.Extensions = map[string]any{"code": err.Code}
	for k, v := range err.Extensions {
		ge.Extensions[k] = v
	}
	return ge
}

// filterCheck walks one operation.
type filterCheck struct {
	rules  whereRules
	viewer *auth.Viewer
	vars   map[string]any
	seen   map[string]bool // fragments already checked
	// conditions counts the operation's filter conditions so far (MaxFilterConditions).
	conditions int
}

func (c *filterCheck) selections(set ast.SelectionSet) *Error {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				typ := ""
				if def := s.Definition; def != nil {
					if ad := def.Arguments.ForName(a.Name); ad != nil {
						typ = ad.Type.Name()
					}
				}
				if _, ok := c.rules[typ]; !ok || a.Value == nil {
					continue
				}
				v, err := a.Value.Value(c.vars)
				if err != nil {
					return BadInput(a.Name, "the %s argument is not valid", a.Name)
				}
				if err := c.value(a.Name, typ, v); err != nil {
					return err
				}
			}
			if err := c.selections(s.SelectionSet); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := c.selections(s.SelectionSet); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if c.seen[s.Name] || s.Definition == nil {
				continue
			}
			c.seen[s.Name] = true
			if err := c.selections(s.Definition.SelectionSet); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bounds of one operation's filters: how deep its where arguments nest (not, and, or and the
// has…With edges), and how many conditions they hold in all, each element of a list (idIn, or)
// counted. Past them a filter is BAD_USER_INPUT: it would otherwise reach the database as an
// expression too deep or with too many parameters for it, and fail there.
const (
	MaxFilterDepth      = 10
	MaxFilterConditions = 1000
)

// value checks v, a value of the WhereInput type typ (or a list of them), at path, depth levels
// deep.
func (c *filterCheck) value(path, typ string, v any) *Error {
	return c.valueAt(path, typ, v, 1)
}

func (c *filterCheck) valueAt(path, typ string, v any, depth int) *Error {
	if depth > MaxFilterDepth {
		return BadInput(path, "the filter nests more than %d levels", MaxFilterDepth)
	}
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			if err := c.valueAt(fmt.Sprintf("%s[%d]", path, i), typ, e, depth); err != nil {
				return err
			}
		}
	case map[string]any:
		if len(v) > 0 && c.viewer == nil {
			return Unauthenticated()
		}
		for _, name := range slices.Sorted(maps.Keys(v)) { // the same path for the same filter
			fv := v[name]
			if fv == nil {
				continue // an explicit null filters on nothing
			}
			at := path + "." + name
			f, ok := c.rules[typ][name]
			if !ok || f.role == "" || !c.viewer.HasRole(f.role) {
				return &Error{Code: CodeForbidden, Message: "you are not allowed to filter on " + at,
					Extensions: map[string]any{"field": at}}
			}
			n := 1
			if list, ok := fv.([]any); ok {
				n = max(len(list), 1)
			}
			if c.conditions += n; c.conditions > MaxFilterConditions {
				return BadInput(at, "the filters hold more than %d conditions", MaxFilterConditions)
			}
			if f.nested != "" {
				if err := c.valueAt(at, f.nested, fv, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
