package graph

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/client"
	gqlast "github.com/vektah/gqlparser/v2/ast"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent"
	"github.com/community/sso/ent/store"
	"github.com/community/sso/ent/store/storetest"
	"github.com/community/sso/ent/user"
	"github.com/community/sso/graph/graphtest"
)

// whereInputs are ent's WhereInput types, the Go values a filter becomes.
var whereInputs = []reflect.Type{
	reflect.TypeFor[ent.SpaceWhereInput](),
	reflect.TypeFor[ent.SpaceMembershipWhereInput](),
	reflect.TypeFor[ent.UserWhereInput](),
	reflect.TypeFor[ent.UserFieldWhereInput](),
	reflect.TypeFor[ent.SecurityEventWhereInput](),
	reflect.TypeFor[ent.ApiTokenWhereInput](),
	reflect.TypeFor[ent.ProfileFieldWhereInput](),
}

// TestWhereAccess: every WhereInput type, every field of it and every has…With edge is
// classified by whereAccess, so a field or an edge the schema gains fails here until someone
// decides who may filter on it.
func TestWhereAccess(t *testing.T) {
	known := map[string]bool{}
	for _, typ := range whereInputs {
		known[typ.Name()] = true
	}
	// The Go types ent generates, read from its source: none is left out.
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "../ent/gql_where_input.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var generated []string
	ast.Inspect(file, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && strings.HasSuffix(ts.Name.Name, "WhereInput") {
			generated = append(generated, ts.Name.Name)
		}
		return true
	})
	if len(generated) == 0 {
		t.Fatal("no WhereInput type found in ent/gql_where_input.go")
	}
	for _, name := range generated {
		if !known[name] {
			t.Errorf("ent.%s is not in whereInputs", name)
		}
		if whereAccess[name] == nil {
			t.Errorf("%s is not classified in whereAccess", name)
		}
	}
	// The GraphQL schema's input types, and every argument that takes one.
	for _, def := range parsedSchema.Types {
		if def.Kind == gqlast.InputObject && strings.HasSuffix(def.Name, "WhereInput") && whereAccess[def.Name] == nil {
			t.Errorf("input %s is not classified in whereAccess", def.Name)
		}
		for _, f := range def.Fields {
			for _, a := range f.Arguments {
				if n := a.Type.Name(); strings.HasSuffix(n, "WhereInput") && whereAccess[n] == nil {
					t.Errorf("%s.%s(%s: %s) is not guarded", def.Name, f.Name, a.Name, n)
				}
			}
		}
	}
	// Each type: every field of the Go struct is a field of the GraphQL input (what the guard
	// reads), and every field of the input is classified.
	rules := compileWhereAccess(parsedSchema)
	for _, typ := range whereInputs {
		t.Run(typ.Name(), func(t *testing.T) {
			def := parsedSchema.Types[typ.Name()]
			if def == nil {
				t.Fatalf("the schema has no input %s", typ.Name())
			}
			for i := range typ.NumField() {
				sf := typ.Field(i)
				if !sf.IsExported() || sf.Tag.Get("json") == "-" {
					continue
				}
				if !slices.ContainsFunc(def.Fields, func(f *gqlast.FieldDefinition) bool { return strings.EqualFold(f.Name, sf.Name) }) {
					t.Errorf("Go field %s.%s has no GraphQL field: the guard would not see it", typ.Name(), sf.Name)
				}
			}
			used := map[string]bool{}
			for _, f := range def.Fields {
				w := rules[def.Name][f.Name]
				if w.role == "" {
					t.Errorf("%s.%s is not classified: add its field or edge to whereAccess", def.Name, f.Name)
				}
				if strings.HasPrefix(f.Name, "has") && strings.HasSuffix(f.Name, "With") && w.nested == "" {
					t.Errorf("%s.%s: the guard does not walk into it", def.Name, f.Name)
				}
				for base := range whereAccess[def.Name] {
					if classify(map[string]user.Role{base: "x"}, f.Name) != "" {
						used[base] = true
					}
				}
			}
			for base := range whereAccess[def.Name] {
				if !used[base] {
					t.Errorf("whereAccess names %s.%s, which the type does not have", def.Name, base)
				}
			}
		})
	}
}

// TestWhereAccessRoles: the roles of whereAccess are those of the fields they filter on, as the
// schema's @hasRole directives and resolvers give them.
func TestWhereAccessRoles(t *testing.T) {
	rules := compileWhereAccess(parsedSchema)
	for _, tc := range []struct {
		typ, name string
		want      user.Role
	}{
		{"SpaceWhereInput", "slugHasPrefix", member},
		{"SpaceWhereInput", "hasMembers", moderator},     // Space.members @hasRole(MODERATOR)
		{"SpaceWhereInput", "hasMembersWith", moderator}, //
		{"UserWhereInput", "emailHasPrefix", moderator},  // user(...) @hasRole(MODERATOR)
		{"UserWhereInput", "externalIdContains", moderator},
		{"UserWhereInput", "statusIn", moderator},
		{"UserFieldWhereInput", "valueEqualFold", moderator},
		{"SecurityEventWhereInput", "hasUserWith", admin}, // securityEvents @hasRole(ADMIN)
	} {
		t.Run(tc.typ+"."+tc.name, func(t *testing.T) {
			f, ok := rules[tc.typ][tc.name]
			if !ok {
				t.Fatalf("%s has no field %s", tc.typ, tc.name)
			}
			if f.role != tc.want {
				t.Fatalf("%s.%s needs %s, want %s", tc.typ, tc.name, f.role, tc.want)
			}
		})
	}
}

// filterWorld is a community in which a member could learn another member's private data
// through a filter: secret@example.com, with an externalId and a field value, in "general".
type filterWorld struct {
	client                   *client.Client
	admin, moderator, member *ent.User
	suspended                *ent.User
}

func newFilterWorld(t *testing.T, db *store.DB) *filterWorld {
	t.Helper()
	ctx := context.Background()
	c := db.Client
	mk := func(email string, role user.Role) *ent.User {
		return c.User.Create().SetEmail(email).SetUsername(strings.Split(email, "@")[0]).SetRole(role).SaveX(ctx)
	}
	w := &filterWorld{
		admin:     mk("admin@example.com", user.RoleADMIN),
		moderator: mk("mod@example.com", user.RoleMODERATOR),
		member:    mk("member@example.com", user.RoleMEMBER),
	}
	w.suspended = c.User.Create().SetEmail("gone@example.com").SetUsername("gone").SetStatus(user.StatusSUSPENDED).SaveX(ctx)
	secret := c.User.Create().SetEmail("secret@example.com").SetUsername("secret").SetExternalID("ext-secret").SaveX(ctx)
	general := c.Space.Create().SetName("General").SetSlug("general").SaveX(ctx)
	c.Space.Create().SetName("Random").SetSlug("random").ExecX(ctx)
	c.SpaceMembership.Create().SetUserID(secret.ID).SetSpaceID(general.ID).ExecX(ctx)
	c.SpaceMembership.Create().SetUserID(w.member.ID).SetSpaceID(general.ID).ExecX(ctx)
	pf := c.ProfileField.Create().SetKey("company").SetName("Company").SaveX(ctx)
	c.ProfileFieldValue.Create().SetUserID(secret.ID).SetFieldID(pf.ID).SetKey("company").SetValue("Acme").ExecX(ctx)
	c.SecurityEvent.Create().SetType("LOGIN_SUCCEEDED").SetUserID(secret.ID).ExecX(ctx)
	h := NewHandler(&Resolver{DB: db, Client: c}, HandlerConfig{})
	w.client = client.New(h)
	return w
}

// filterResult is the part of a response these tests read.
type filterResult struct {
	count int
	code  string
	field string
	raw   string
}

// totalCount runs query (one connection with totalCount) and returns the count or the error.
func (w *filterWorld) totalCount(t *testing.T, u *ent.User, query string, vars map[string]any) filterResult {
	t.Helper()
	opts := []client.Option{graphtest.As(u)}
	for k, v := range vars {
		opts = append(opts, client.Var(k, v))
	}
	resp, err := w.client.RawPost(query, opts...)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(resp)
	out := filterResult{raw: string(raw)}
	var errs []struct {
		Extensions map[string]any `json:"extensions"`
	}
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatal(err)
		}
	}
	if len(errs) > 0 {
		out.code, _ = errs[0].Extensions["code"].(string)
		out.field, _ = errs[0].Extensions["field"].(string)
		return out
	}
	var data map[string]struct {
		TotalCount int `json:"totalCount"`
	}
	b, _ := json.Marshal(resp.Data) // RawPost leaves data decoded as any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatalf("data: %v: %s", err, raw)
	}
	for _, v := range data {
		out.count = v.TotalCount
	}
	return out
}

// TestFilterAccess: through GraphQL, on both backends, a filter on what the caller may not read
// is refused (FORBIDDEN, extensions.field naming the filter's path) at any depth, and the same
// filter works for a caller who may read it.
func TestFilterAccess(t *testing.T) {
	const oracle = `{ spaces(where: {hasMembersWith: [{hasUserWith: [{emailHasPrefix: "sec"}]}]}) { totalCount } }`
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newFilterWorld(t, db)
		type want struct {
			count  int
			field  string // the refused filter's path; "" when the query must succeed
			denied bool   // refused by the field's own role (@hasRole), before any filter
		}
		tests := []struct {
			name  string
			query string
			vars  map[string]any
			// what a member, a moderator and an admin get
			member, moderator, admin want
		}{
			{"the email oracle", oracle, nil,
				want{field: "where.hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"the oracle with a wrong guess", `{ spaces(where: {hasMembersWith: [{hasUserWith: [{emailHasPrefix: "zz"}]}]}) { totalCount } }`, nil,
				want{field: "where.hasMembersWith"}, want{count: 0}, want{count: 0}},
			{"under not", `{ spaces(where: {not: {hasMembersWith: [{hasUserWith: [{emailHasPrefix: "sec"}]}]}}) { totalCount } }`, nil,
				want{field: "where.not.hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"in the second branch of or", `{ spaces(where: {or: [{slug: "none"}, {hasMembersWith: [{hasUserWith: [{externalIdHasPrefix: "ext-s"}]}]}]}) { totalCount } }`, nil,
				want{field: "where.or[1].hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"and, not and or nested", `{ spaces(where: {and: [{slugNEQ: "x"}, {not: {or: [{hasMembers: false}]}}]}) { totalCount } }`, nil,
				want{field: "where.and[1].not.or[0].hasMembers"}, want{count: 1}, want{count: 1}},
			{"status through a variable", `query($w: SpaceWhereInput) { spaces(where: $w) { totalCount } }`,
				map[string]any{"w": map[string]any{"hasMembersWith": []any{map[string]any{"hasUserWith": []any{map[string]any{"status": "ACTIVE", "email": "secret@example.com"}}}}}},
				want{field: "where.hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"a field value over every edge", `{ spaces(where: {hasMembersWith: [{hasSpaceWith: [{hasMembersWith: [{hasUserWith: [{hasFieldsWith: [{key: "company", valueHasPrefix: "Ac"}]}]}]}]}]}) { totalCount } }`, nil,
				want{field: "where.hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"in a fragment", `query { ...F } fragment F on Query { ... on Query { spaces(where: {hasMembersWith: [{hasUserWith: [{emailHasPrefix: "sec"}]}]}) { totalCount } } }`, nil,
				want{field: "where.hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"membership roles", `{ spaces(where: {hasMembersWith: [{role: MEMBER}]}) { totalCount } }`, nil,
				want{field: "where.hasMembersWith"}, want{count: 1}, want{count: 1}},
			{"a member's own filters on spaces", `{ spaces(where: {nameContainsFold: "gen", or: [{slug: "general"}, {slugHasPrefix: "ran"}], not: {slugIn: ["random"]}}) { totalCount } }`, nil,
				want{count: 1}, want{count: 1}, want{count: 1}},
			{"spaces by name", `{ spaces(where: {nameHasPrefix: "R"}) { totalCount } }`, nil,
				want{count: 1}, want{count: 1}, want{count: 1}},
			{"users by email", `{ users(where: {emailHasPrefix: "sec"}) { totalCount } }`, nil,
				want{field: "where.emailHasPrefix"}, want{denied: true}, want{count: 1}},
			{"security events by user", `{ securityEvents(where: {hasUserWith: [{email: "secret@example.com"}]}) { totalCount } }`, nil,
				want{field: "where.hasUserWith"}, want{field: "where.hasUserWith"}, want{count: 1}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, c := range []struct {
					who  string
					u    *ent.User
					want want
				}{{"member", w.member, tt.member}, {"moderator", w.moderator, tt.moderator}, {"admin", w.admin, tt.admin}} {
					got := w.totalCount(t, c.u, tt.query, tt.vars)
					switch {
					case c.want.denied:
						if got.code != CodeForbidden {
							t.Errorf("%s: got %s, want FORBIDDEN", c.who, got.raw)
						}
					case c.want.field != "":
						if got.code != CodeForbidden || got.field != c.want.field {
							t.Errorf("%s: got %s, want FORBIDDEN on %s", c.who, got.raw, c.want.field)
						}
					case got.code != "" || got.count != c.want.count:
						t.Errorf("%s: got %s, want totalCount %d", c.who, got.raw, c.want.count)
					}
				}
			})
		}
		t.Run("anonymous and suspended callers", func(t *testing.T) {
			if got := w.totalCount(t, nil, oracle, nil); got.code != CodeUnauthenticated {
				t.Errorf("anonymous: %s", got.raw)
			}
			if got := w.totalCount(t, w.suspended, oracle, nil); got.code != CodeForbidden {
				t.Errorf("suspended: %s", got.raw)
			}
		})
	})
}

// TestFilterGuardRefusesUnclassified: a filter the rules do not know is refused to everyone,
// admins included.
func TestFilterGuardRefusesUnclassified(t *testing.T) {
	space := whereAccess["SpaceWhereInput"]
	saved := space["slug"]
	delete(space, "slug")
	t.Cleanup(func() { space["slug"] = saved })
	c := &filterCheck{
		rules:  compileWhereAccess(parsedSchema),
		viewer: &auth.Viewer{User: &ent.User{Role: user.RoleADMIN, Status: user.StatusACTIVE}},
	}
	err := c.value("where", "SpaceWhereInput", map[string]any{"or": []any{map[string]any{"name": "General", "slugHasPrefix": "gen"}}})
	if err == nil || err.Code != CodeForbidden || err.Extensions["field"] != "where.or[0].slugHasPrefix" {
		t.Fatalf("an unclassified filter for an admin: %v", err)
	}
}
