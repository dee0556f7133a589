package graph

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"maps"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

// listHelpers are the functions a list marshaller in generated.go may call: gqlgen's and the two
// the plugin (gqlgen.go) puts in its place.
var listHelpers = []string{"graphql.MarshalSliceConcurrently", "marshalSliceInOrder", "marshalSliceMayBlock"}

// wantListHelpers pins, for the marshaller of every list type in generated.go, the helper that
// marshals it. Lists of enums and of objects from which no field that can block is reachable go
// in order; lists from which User.pendingEmail (a resolver that reads the database) is reachable
// go concurrently when the query selects it and in order otherwise. None is left to gqlgen.
var wantListHelpers = map[string]string{
	"[LoginMethod!]!":         "marshalSliceInOrder",
	"[ProfileField!]!":        "marshalSliceInOrder",
	"[ProfileFieldType!]":     "marshalSliceInOrder",
	"[SpaceMembershipRole!]":  "marshalSliceInOrder",
	"[SsoSpaceChange!]!":      "marshalSliceInOrder",
	"[SyncChange!]!":          "marshalSliceInOrder",
	"[SyncMemberResult!]!":    "marshalSliceInOrder",
	"[UserField!]!":           "marshalSliceInOrder",
	"[UserRole!]":             "marshalSliceInOrder",
	"[UserStatus!]":           "marshalSliceInOrder",
	"[__Directive!]!":         "marshalSliceInOrder",
	"[__DirectiveLocation!]!": "marshalSliceInOrder",
	"[__EnumValue!]":          "marshalSliceInOrder",
	"[__Field!]":              "marshalSliceInOrder",
	"[__InputValue!]!":        "marshalSliceInOrder",
	"[__InputValue!]":         "marshalSliceInOrder",
	"[__Type!]!":              "marshalSliceInOrder",
	"[__Type!]":               "marshalSliceInOrder",
	"[Node]!":                 "marshalSliceMayBlock",
	"[SecurityEventEdge]":     "marshalSliceMayBlock",
	"[SpaceEdge]":             "marshalSliceMayBlock",
	"[SpaceMembership!]!":     "marshalSliceMayBlock",
	"[SpaceMembership!]":      "marshalSliceMayBlock",
	"[UserEdge]":              "marshalSliceMayBlock",
	"[Webhook!]!":             "marshalSliceInOrder",
	"[WebhookDeliveryEdge]":   "marshalSliceInOrder",
}

// listMarshaller is the name gqlgen gives the marshaller of a list: marshal, N for a non-null
// list (O otherwise), the element's GraphQL type, 2, the Go type (a slice: ᚕ…), and ᚄ when the
// elements are non-null.
var listMarshaller = regexp.MustCompile(`^marshal([NO])(\w+?)2ᚕ.*?(ᚄ?)$`)

// TestListMarshallers pins which lists are marshalled in order and which may be marshalled
// concurrently, and that every call has the shape the helpers stand in for. It fails when a
// gqlgen upgrade changes the generated marshallers of lists; then read graph/gqlgen.go and
// graph/lists.go against the new codegen/type.gotpl and graphql.MarshalSliceConcurrently.
func TestListMarshallers(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "generated.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || !slices.Contains(listHelpers, source(t, call.Fun)) {
				return true
			}
			helper := source(t, call.Fun)
			m := listMarshaller.FindStringSubmatch(fn.Name.Name)
			if m == nil {
				t.Errorf("%s calls %s but is not named as gqlgen names the marshaller of a list", fn.Name.Name, helper)
				return true
			}
			list := "[" + m[2] + map[string]string{"ᚄ": "!"}[m[3]] + "]" + map[string]string{"N": "!"}[m[1]]
			if prev, dup := got[list]; dup {
				t.Errorf("%s: two marshallers call %s and %s", list, prev, helper)
			}
			got[list] = helper
			want := "(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {…})"
			if args := argsSource(t, call); args != want {
				t.Errorf("%s: %s%s, want the call shape %s%s", list, helper, args, helper, want)
			}
			return true
		})
	}
	for _, list := range slices.Sorted(maps.Keys(got)) {
		if got[list] == "graphql.MarshalSliceConcurrently" {
			t.Errorf("%s is marshalled by gqlgen's graphql.MarshalSliceConcurrently: the plugin in graph/gqlgen.go did not replace it", list)
		}
		if want, ok := wantListHelpers[list]; !ok {
			t.Errorf("%s: marshalled by %s, not pinned here", list, got[list])
		} else if want != got[list] {
			t.Errorf("%s: marshalled by %s, want %s", list, got[list], want)
		}
	}
	for _, list := range slices.Sorted(maps.Keys(wantListHelpers)) {
		if _, ok := got[list]; !ok {
			t.Errorf("%s: no marshaller in generated.go calls %s (gqlgen no longer writes the call this plugin replaces?)", list, wantListHelpers[list])
		}
	}
}

// source prints n as Go source.
func source(t *testing.T, n ast.Node) string {
	t.Helper()
	var b bytes.Buffer
	if err := format.Node(&b, token.NewFileSet(), n); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// argsSource prints the arguments of call, with function bodies as {…}.
func argsSource(t *testing.T, call *ast.CallExpr) string {
	t.Helper()
	args := make([]string, len(call.Args))
	for i, a := range call.Args {
		if lit, ok := a.(*ast.FuncLit); ok {
			args[i] = source(t, lit.Type) + " {…}"
		} else {
			args[i] = source(t, a)
		}
	}
	return "(" + strings.Join(args, ", ") + ")"
}

// goroutineID is the number runtime.Stack prints for the calling goroutine.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
}

// marshalled is what a list helper made of a list: the JSON of the array (or null), the errors
// it added, and for each element its index in the field context and the goroutine it ran on.
type marshalled struct {
	json       string
	errors     []string
	indexes    []int
	goroutines []string
}

// marshalList runs helper over length elements; the element at panicAt panics.
func marshalList(ctx context.Context, helper func(context.Context, int, int64, bool, func(context.Context, int) graphql.Marshaler) graphql.Array, length, panicAt int) marshalled {
	ctx = graphql.WithResponseContext(ctx, graphql.DefaultErrorPresenter, func(_ context.Context, r any) error {
		return fmt.Errorf("panic: %v", r)
	})
	var out marshalled
	indexes := make([]int, length)
	goroutines := make([]string, length)
	arr := helper(ctx, length, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		fc := graphql.GetFieldContext(ctx)
		indexes[i] = *fc.Index
		goroutines[i] = goroutineID()
		fc.Result = i
		if i == panicAt {
			panic(fmt.Sprintf("element %d", i))
		}
		return graphql.MarshalInt(i)
	})
	var b bytes.Buffer
	if arr == nil {
		b.WriteString("null")
	} else {
		arr.MarshalGQL(&b)
	}
	out.json = b.String()
	for _, e := range graphql.GetErrors(ctx) {
		out.errors = append(out.errors, e.Path.String()+": "+e.Message)
	}
	slices.Sort(out.errors)
	out.indexes, out.goroutines = indexes, goroutines
	return out
}

// TestMarshalSliceInOrder: the same array, indexes and errors as graphql.MarshalSliceConcurrently,
// a panic included, with every element marshalled on the calling goroutine.
func TestMarshalSliceInOrder(t *testing.T) {
	for _, length := range []int{0, 1, 2, 5} {
		panics := []int{-1} // none
		if length > 0 {
			panics = append(panics, 0)
		}
		if length > 1 {
			panics = append(panics, length-1)
		}
		for _, panicAt := range panics {
			t.Run(fmt.Sprintf("%d elements, panic at %d", length, panicAt), func(t *testing.T) {
				want := marshalList(context.Background(), graphql.MarshalSliceConcurrently, length, panicAt)
				got := marshalList(context.Background(), marshalSliceInOrder, length, panicAt)
				if got.json != want.json || !slices.Equal(got.errors, want.errors) || !slices.Equal(got.indexes, want.indexes) {
					t.Fatalf("in order: %s %q %v\nconcurrently: %s %q %v", got.json, got.errors, got.indexes, want.json, want.errors, want.indexes)
				}
				for i, g := range got.goroutines {
					if g != goroutineID() {
						t.Fatalf("element %d ran on goroutine %s, not the caller's", i, g)
					}
				}
			})
		}
	}
	if got := marshalList(context.Background(), marshalSliceInOrder, 3, 1); got.json != "null" || len(got.errors) != 1 || got.errors[0] != "[1]: panic: element 1" {
		t.Fatalf("a panicking element: %s %q", got.json, got.errors)
	}
}

// listField returns the context of the field at path (field names, from the operation's root)
// in query, validated against the schema, as gqlgen's executor has it when it marshals the
// field's value; nested adds the context of an element of an enclosing list.
func listField(t *testing.T, query string, nested bool, path ...string) context.Context {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(NewExecutableSchema(Config{}).Schema(), query)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	sel := doc.Operations[0].SelectionSet
	var f *gqlast.Field
	for _, name := range path {
		f = nil
		for _, s := range sel {
			if field, ok := s.(*gqlast.Field); ok && field.Name == name {
				f = field
			}
		}
		if f == nil {
			t.Fatalf("%s: no field %s", query, name)
		}
		sel = f.SelectionSet
	}
	ctx := graphql.WithFieldContext(context.Background(), &graphql.FieldContext{
		Field: graphql.CollectedField{Field: f, Selections: f.SelectionSet},
	})
	if nested {
		i := 0
		ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
	}
	return ctx
}

// TestSelectsBlockingField: a list goes concurrently when the query selects, under it, a field
// that can block (User.pendingEmail), however it gets there: directly, through an interface,
// an inline fragment or a fragment spread.
func TestSelectsBlockingField(t *testing.T) {
	cases := []struct {
		query   string
		path    []string
		selects bool
	}{
		{`{ users(first: 100) { edges { node { id email name spaces { role space { slug } } fields { key value } } } } }`, []string{"users", "edges"}, false},
		{`{ users(first: 100) { edges { node { id email name spaces { role space { slug } } fields { key value } } } } }`, []string{"users", "edges", "node", "spaces"}, false},
		{`{ users { edges { cursor node { email pendingEmail } } } }`, []string{"users", "edges"}, true},
		{`{ users { edges { node { email pendingEmail spaces { role } } } } }`, []string{"users", "edges", "node", "spaces"}, false},
		{`{ users { edges { node { ...U } } } } fragment U on User { email pendingEmail }`, []string{"users", "edges"}, true},
		{`{ users { edges { node { ...U ...U } } } } fragment U on User { email name }`, []string{"users", "edges"}, false},
		{`{ users { edges { node { ... on User { pendingEmail } } } } }`, []string{"users", "edges"}, true},
		{`{ nodes(ids: [1, 2]) { id ... on Space { slug } } }`, []string{"nodes"}, false},
		{`{ nodes(ids: [1, 2]) { id ... on SpaceMembership { user { pendingEmail } } } }`, []string{"nodes"}, true},
		{`{ spaces { edges { node { members { role user { pendingEmail } } } } } }`, []string{"spaces", "edges", "node", "members"}, true},
		{`{ securityEvents { edges { node { type user { email } } } } }`, []string{"securityEvents", "edges"}, false},
	}
	for _, c := range cases {
		for _, nested := range []bool{false, true} {
			if got := selectsBlockingField(listField(t, c.query, nested, c.path...)); got != c.selects {
				t.Errorf("%s at %v (nested %v): selects a blocking field: %v, want %v", c.query, c.path, nested, got, c.selects)
			}
		}
	}
	if !selectsBlockingField(context.Background()) {
		t.Error("no field context: the list is not known to select no blocking field")
	}
}

// TestMarshalSliceMayBlock: concurrently (on other goroutines) when the selection reaches a
// blocking field, in order otherwise; the array and errors are the same either way.
func TestMarshalSliceMayBlock(t *testing.T) {
	blocking := listField(t, `{ users { edges { node { pendingEmail } } } }`, false, "users", "edges")
	plain := listField(t, `{ users { edges { node { email } } } }`, false, "users", "edges")
	for _, c := range []struct {
		ctx        context.Context
		concurrent bool
	}{{blocking, true}, {plain, false}} {
		got := marshalList(c.ctx, marshalSliceMayBlock, 4, 2)
		want := marshalList(c.ctx, graphql.MarshalSliceConcurrently, 4, 2)
		if got.json != want.json || !slices.Equal(got.errors, want.errors) || !slices.Equal(got.indexes, want.indexes) {
			t.Fatalf("got %s %q %v, want %s %q %v", got.json, got.errors, got.indexes, want.json, want.errors, want.indexes)
		}
		for i, g := range got.goroutines {
			if (g != goroutineID()) != c.concurrent {
				t.Fatalf("concurrent %v: element %d ran on goroutine %s, the caller is %s", c.concurrent, i, g, goroutineID())
			}
		}
	}
	if got := marshalList(blocking, marshalSliceMayBlock, 1, -1); got.goroutines[0] != goroutineID() {
		t.Fatal("a single element: not marshalled on the caller's goroutine")
	}
}

// directField matches a field resolver the plugin (gqlgen.go, directFields) rewrote: the
// marshaller's call on a struct field of the model.
var directField = regexp.MustCompile(`^ec\.(marshal[^(]+)\(ctx, field\.Selections, obj\.\w+\)$`)

// TestDirectFields checks the fields resolved without graphql.ResolveField: the leaves the users
// page reads are among them (a gqlgen upgrade that changes what it writes fails here), each is a
// field without a directive in the schema, and each marshaller is one that cannot report an error
// (it has no field context to report it in): a built-in scalar that never marshals to null, or
// an enum.
func TestDirectFields(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "generated.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	enums := map[string]bool{}
	direct := map[string]string{} // "_Type_field" → marshaller
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || len(fn.Body.List) != 1 {
			continue
		}
		ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			continue
		}
		if strings.HasPrefix(fn.Name.Name, "marshalN") && source(t, ret.Results[0]) == "v" {
			enums[fn.Name.Name] = true
		}
		if m := directField.FindStringSubmatch(source(t, ret.Results[0])); m != nil {
			direct[fn.Name.Name] = m[1]
		}
	}
	for _, f := range []string{"_User_id", "_User_email", "_User_name", "_SpaceMembership_role", "_Space_slug", "_UserField_key", "_UserField_value"} {
		if _, ok := direct[f]; !ok {
			t.Errorf("%s is resolved through graphql.ResolveField: the plugin in graph/gqlgen.go no longer rewrites it", f)
		}
	}
	schema := NewExecutableSchema(Config{}).Schema()
	builtins := []string{"marshalNString2string", "marshalNID2int", "marshalNInt2int", "marshalNBoolean2bool"}
	for _, name := range slices.Sorted(maps.Keys(direct)) {
		rest, introspection := strings.CutPrefix(strings.TrimPrefix(name, "_"), "__")
		typ, field, ok := strings.Cut(rest, "_")
		if introspection {
			typ = "__" + typ
		}
		def := schema.Types[typ]
		if !ok || def == nil || def.Fields.ForName(field) == nil {
			t.Errorf("%s: no field %s.%s in the schema", name, typ, field)
			continue
		}
		if d := def.Fields.ForName(field).Directives; len(d) > 0 {
			t.Errorf("%s.%s has the directive @%s but skips its middleware", typ, field, d[0].Name)
		}
		if m := direct[name]; !slices.Contains(builtins, m) && !enums[m] {
			t.Errorf("%s.%s is marshalled by %s, which may report an error", typ, field, m)
		}
	}
}

// TestExtensions: no extension of the handler intercepts fields, with introspection on or off;
// an interceptor would not see the fields TestDirectFields lists.
func TestExtensions(t *testing.T) {
	for _, introspection := range []bool{false, true} {
		exts := extensions(&Resolver{}, HandlerConfig{Introspection: introspection}, tiers{member: DefaultLimits, anonymous: DefaultAnonymousLimits})
		if len(exts) < 7 {
			t.Fatalf("%d extensions", len(exts))
		}
		for _, e := range exts {
			if _, ok := e.(graphql.FieldInterceptor); ok {
				t.Errorf("%s intercepts fields (AroundFields): the direct fields would skip it", e.ExtensionName())
			}
		}
	}
}
