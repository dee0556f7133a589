//go:build ignore

// gqlgen.go runs gqlgen with the settings in ../gqlgen.yml and one plugin of this project's,
// sequentialFields. `go generate ./...` runs it from the module root (see ent/generate.go); a
// plain `go tool gqlgen generate` would leave out the plugin and change graph/generated.go and
// graph/blocking.generated.go.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	gql "github.com/vektah/gqlparser/v2/ast"
)

// The helpers (graph/lists.go) that replace gqlgen's graphql.MarshalSliceConcurrently in the
// marshallers of lists; both have its signature.
const (
	// inOrder marshals the elements one after the other: for lists whose elements reach no
	// field that can block, whatever the query selects.
	inOrder = "marshalSliceInOrder"
	// mayBlock marshals them concurrently when the query selects, under the list, a field that
	// can block, and in order otherwise.
	mayBlock = "marshalSliceMayBlock"
)

// gqlgenCall is the call gqlgen's template (codegen/type.gotpl) writes in every marshaller of a
// list of objects, interfaces, unions or enums.
const gqlgenCall = "graphql.MarshalSliceConcurrently"

// sequentialFields resolves the fields of every object type in order, on the goroutine that
// marshals the object, and marshals lists in order where no field can block; only Query's root
// fields keep gqlgen's goroutine per field.
//
// gqlgen gives a field a goroutine of its own when its resolver takes a context, and every
// element of a list of objects another (graphql.MarshalSliceConcurrently). Here the fields that
// take a context are ent's edge methods (User.spaces, User.fields, SpaceMembership.space, …),
// whose edges the resolvers of Query load up front with entgql's field collection, so those
// goroutines only wait on each other: for users(first: 100) with spaces and fields, 100 field
// goroutines and 600 list goroutines a page. A field can block when a resolver of ours does I/O
// for it (User.pendingEmail): a list keeps the concurrent marshal only when the query selects
// such a field under it (marshalSliceMayBlock), so that their I/O overlaps.
type sequentialFields struct {
	// lists maps the marshaller of each list to the helper that replaces gqlgenCall in it.
	lists map[string]string
	// blocking holds "Type.field" for each field that can block, on objects and on the
	// interfaces they implement.
	blocking []string
}

// Name implements plugin.Plugin.
func (*sequentialFields) Name() string { return "sequentialfields" }

// GenerateCode implements plugin.CodeGenerator; gqlgen calls it before it writes the executor.
func (p *sequentialFields) GenerateCode(data *codegen.Data) error {
	blocks := map[string]map[string]bool{} // type → fields that can block
	for _, o := range data.Objects {
		if o.Definition == data.Schema.Query {
			continue
		}
		o.DisableConcurrency = true
		if o.Root {
			continue // Mutation: its fields are never in a list
		}
		for _, f := range o.Fields {
			edge, err := isEntEdge(o, f)
			if err != nil {
				return err
			}
			if f.IsResolver || (f.MethodHasContext && !edge) {
				if blocks[o.Name] == nil {
					blocks[o.Name] = map[string]bool{}
				}
				blocks[o.Name][f.Name] = true
			}
		}
	}
	// A field of an interface can block when it can on one of its implementors.
	for _, def := range data.Schema.Types {
		if def.Kind != gql.Interface {
			continue
		}
		for _, impl := range data.Schema.GetPossibleTypes(def) {
			for name := range blocks[impl.Name] {
				if def.Fields.ForName(name) != nil {
					if blocks[def.Name] == nil {
						blocks[def.Name] = map[string]bool{}
					}
					blocks[def.Name][name] = true
				}
			}
		}
	}
	for t, fields := range blocks {
		for f := range fields {
			p.blocking = append(p.blocking, t+"."+f)
		}
	}
	sort.Strings(p.blocking)
	// Before gqlgen writes the executor and compiles the package, which calls fieldCanBlock.
	if err := p.writeBlocking(filepath.Join(filepath.Dir(data.Config.Exec.Filename), "blocking.generated.go")); err != nil {
		return err
	}

	reach := reaching(data.Schema, blocks)
	p.lists = map[string]string{}
	for _, ref := range data.ReferencedTypes {
		if !ref.IsSlice() || ref.IsPtrToSlice() || ref.IsScalar() || ref.MarshalFunc() == "" {
			continue
		}
		if reach[ref.Definition.Name] {
			p.lists[ref.MarshalFunc()] = mayBlock
		} else {
			p.lists[ref.MarshalFunc()] = inOrder
		}
	}
	return nil
}

// isEntEdge reports whether f is bound to one of ent's edge methods: a method taking a context on
// an ent entity whose Edges struct has a field of the method's name. entgql writes those methods;
// they return the edge that field collection loaded (and query it only when it was not).
func isEntEdge(o *codegen.Object, f *codegen.Field) (bool, error) {
	if !f.MethodHasContext {
		return false, nil
	}
	t := o.Type
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || named.Obj().Pkg() == nil || named.Obj().Pkg().Name() != "ent" {
		return false, nil
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		return false, fmt.Errorf("%s: %s is not a struct", o.Name, named)
	}
	for i := range st.NumFields() {
		if st.Field(i).Name() != "Edges" {
			continue
		}
		edges, ok := st.Field(i).Type().Underlying().(*types.Struct)
		if !ok {
			return false, nil
		}
		for j := range edges.NumFields() {
			if edges.Field(j).Name() == f.GoFieldName {
				return true, nil
			}
		}
	}
	return false, nil
}

// reaching returns the output types from which a selection can reach a field that can block.
func reaching(schema *gql.Schema, blocks map[string]map[string]bool) map[string]bool {
	reach := map[string]bool{}
	for t := range blocks {
		reach[t] = true
	}
	for changed := true; changed; {
		changed = false
		for name, def := range schema.Types {
			if reach[name] {
				continue
			}
			switch def.Kind {
			case gql.Object, gql.Interface:
				for _, f := range def.Fields {
					if reach[f.Type.Name()] {
						reach[name], changed = true, true
						break
					}
				}
			}
			if !reach[name] && (def.Kind == gql.Interface || def.Kind == gql.Union) {
				for _, impl := range schema.GetPossibleTypes(def) {
					if reach[impl.Name] {
						reach[name], changed = true, true
						break
					}
				}
			}
		}
	}
	return reach
}

// rewrite replaces gqlgenCall in each list marshaller of the executor at path with its helper.
// It fails when gqlgen wrote the call in another shape than the one the helpers stand in for,
// when a marshaller does not hold exactly one such call, and when the call appears elsewhere.
func (p *sequentialFields) rewrite(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return err
	}
	type edit struct {
		from, to int
		helper   string
	}
	var edits []edit
	found := map[string]int{}
	var problems []string
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		name := fn.Name.Name
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || exprString(call.Fun) != gqlgenCall {
				return true
			}
			helper, planned := p.lists[name]
			if !planned {
				problems = append(problems, fmt.Sprintf("%s calls %s but marshals no list the plugin knows", name, gqlgenCall))
				return true
			}
			found[name]++
			if err := checkCall(call); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", name, err))
				return true
			}
			edits = append(edits, edit{fset.Position(call.Fun.Pos()).Offset, fset.Position(call.Fun.End()).Offset, helper})
			return true
		})
	}
	for name := range p.lists {
		if found[name] != 1 {
			problems = append(problems, fmt.Sprintf("%s holds %d calls of %s, not 1", name, found[name], gqlgenCall))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("the executor gqlgen wrote no longer has the shape this plugin rewrites "+
			"(see graph/lists.go):\n\t%s", strings.Join(problems, "\n\t"))
	}
	direct, err := directFields(fset, file)
	if err != nil {
		return err
	}
	for _, d := range direct {
		edits = append(edits, edit{d.from, d.to, d.call})
	}
	slices.SortFunc(edits, func(a, b edit) int { return b.from - a.from })
	for _, e := range edits {
		src = append(src[:e.from], append([]byte(e.helper), src[e.to:]...)...)
	}
	out, err := format.Source(src)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

// neverNull are the marshallers of built-in scalars whose values never marshal to null
// (graphql.MarshalString, MarshalIntID, MarshalInt, MarshalBoolean): their null branch, which
// reads the field's context to report an error, cannot run.
var neverNull = map[string]bool{
	"marshalNString2string": true, "marshalNID2int": true, "marshalNInt2int": true, "marshalNBoolean2bool": true,
}

// directField is the span of a field resolver's return value and what replaces it.
type directField struct {
	from, to int
	call     string
}

// directFields finds the fields that need none of graphql.ResolveField's work: a struct field of
// the model read as it is (`return obj.X, nil`), no directive (no middleware chain), a leaf
// whose marshaller cannot report an error (neverNull, or an enum's `return v`). gqlgen resolves
// each such field with a field context, a context holding it, the operation's resolver
// middleware, a panic handler and four closures: for users(first: 100) with spaces and fields,
// 1,300 times a page, most of the page's allocations. Their resolvers become the marshaller's
// call on the struct field. Nothing of that work applies to them: reading a loaded struct field
// does no I/O the deadline check could stop, cannot panic on a non-nil object, and the
// marshaller does not read the field context.
func directFields(fset *token.FileSet, file *ast.File) ([]directField, error) {
	allowed := maps.Clone(neverNull)
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "marshalN") || len(fn.Body.List) != 1 {
			continue
		}
		if ret, ok := fn.Body.List[0].(*ast.ReturnStmt); ok && len(ret.Results) == 1 && exprString(ret.Results[0]) == "v" {
			allowed[fn.Name.Name] = true // an enum: the value is its own marshaller
		}
	}
	var out []directField
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil || fn.Recv == nil || !strings.HasPrefix(fn.Name.Name, "_") || len(fn.Body.List) != 1 {
			continue
		}
		ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
		if !ok || len(ret.Results) != 1 {
			continue
		}
		call, ok := ret.Results[0].(*ast.CallExpr)
		if !ok || exprString(call.Fun) != "graphql.ResolveField" || len(call.Args) != 9 ||
			exprString(call.Args[2]) != "field" || exprString(call.Args[5]) != "nil" {
			continue
		}
		value := returned(call.Args[4], 2)
		if value == nil || exprString(value[1]) != "nil" {
			continue
		}
		sel, ok := value[0].(*ast.SelectorExpr)
		if !ok || exprString(sel.X) != "obj" {
			continue
		}
		marshal := returned(call.Args[6], 1)
		if marshal == nil {
			continue
		}
		m, ok := marshal[0].(*ast.CallExpr)
		if !ok || len(m.Args) != 3 || exprString(m.Args[0]) != "ctx" || exprString(m.Args[1]) != "selections" || exprString(m.Args[2]) != "v" {
			continue
		}
		name, ok := strings.CutPrefix(exprString(m.Fun), "ec.")
		if !ok || !allowed[name] {
			continue
		}
		out = append(out, directField{
			from: fset.Position(call.Pos()).Offset,
			to:   fset.Position(call.End()).Offset,
			call: "ec." + name + "(ctx, field.Selections, obj." + sel.Sel.Name + ")",
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no field resolver has the shape of graphql.ResolveField over a struct field " +
			"(see directFields): gqlgen changed what it writes")
	}
	return out, nil
}

// returned is what the function literal e returns when its body is one return statement of n
// values, or nil.
func returned(e ast.Expr, n int) []ast.Expr {
	lit, ok := e.(*ast.FuncLit)
	if !ok || len(lit.Body.List) != 1 {
		return nil
	}
	ret, ok := lit.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != n {
		return nil
	}
	return ret.Results
}

// checkCall checks that call is gqlgenCall(ctx, len(v), workerLimit, omitPanicHandler,
// func(ctx context.Context, i int) graphql.Marshaler {…}), as gqlgen v0.17.90 writes it.
func checkCall(call *ast.CallExpr) error {
	want := "graphql.MarshalSliceConcurrently(ctx, len(v), <int>, <bool>, func(ctx context.Context, i int) graphql.Marshaler {…})"
	if len(call.Args) != 5 || exprString(call.Args[0]) != "ctx" || exprString(call.Args[1]) != "len(v)" {
		return fmt.Errorf("the call is %s, want %s", callString(call), want)
	}
	if lit, ok := call.Args[2].(*ast.BasicLit); !ok || lit.Kind != token.INT {
		return fmt.Errorf("the worker limit is %s, want an integer: %s", exprString(call.Args[2]), want)
	}
	if b := exprString(call.Args[3]); b != "true" && b != "false" {
		return fmt.Errorf("omitPanicHandler is %s, want a boolean: %s", b, want)
	}
	lit, ok := call.Args[4].(*ast.FuncLit)
	if !ok || exprString(lit.Type) != "func(ctx context.Context, i int) graphql.Marshaler" {
		return fmt.Errorf("the element marshaller is %s, want %s", exprString(call.Args[4]), want)
	}
	return nil
}

// callString prints call as Go source, with the bodies of function literals as {…}.
func callString(call *ast.CallExpr) string {
	args := make([]string, len(call.Args))
	for i, a := range call.Args {
		args[i] = exprString(a)
	}
	return exprString(call.Fun) + "(" + strings.Join(args, ", ") + ")"
}

// exprString prints e as Go source; a function literal prints as its type and {…}.
func exprString(e ast.Node) string {
	if lit, ok := e.(*ast.FuncLit); ok {
		return exprString(lit.Type) + " {…}"
	}
	var b bytes.Buffer
	_ = format.Node(&b, token.NewFileSet(), e)
	return b.String()
}

// writeBlocking writes fieldCanBlock, the table of the fields that can block, next to the
// executor.
func (p *sequentialFields) writeBlocking(path string) error {
	byType := map[string][]string{}
	var typeNames []string
	for _, tf := range p.blocking {
		t, f, _ := strings.Cut(tf, ".")
		if byType[t] == nil {
			typeNames = append(typeNames, t)
		}
		byType[t] = append(byType[t], fmt.Sprintf("%q", f))
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by graph/gqlgen.go (the sequentialFields plugin), DO NOT EDIT.\n\n")
	b.WriteString("package graph\n\n")
	b.WriteString("// fieldCanBlock reports whether the field named field of the output type named typ can block:\n")
	b.WriteString("// a resolver of ours does I/O for it, on typ or, for an interface, on one of its implementors.\n")
	b.WriteString("// Fields of ent's edges do not block: field collection loaded them.\n")
	b.WriteString("func fieldCanBlock(typ, field string) bool {\n\tswitch typ {\n")
	for _, t := range typeNames {
		fmt.Fprintf(&b, "\tcase %q:\n\t\tswitch field {\n\t\tcase %s:\n\t\t\treturn true\n\t\t}\n", t, strings.Join(byType[t], ", "))
	}
	b.WriteString("\t}\n\treturn false\n}\n")
	out, err := format.Source(b.Bytes())
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o644)
}

func main() {
	cfg, err := config.LoadConfigFromDefaultLocations()
	if err != nil {
		log.Fatalf("gqlgen: load config: %v", err)
	}
	p := &sequentialFields{}
	if err := api.Generate(cfg, api.AddPlugin(p)); err != nil {
		log.Fatalf("gqlgen: %v", err)
	}
	if err := p.rewrite(cfg.Exec.Filename); err != nil {
		log.Fatalf("gqlgen: %s: %v", p.Name(), err)
	}
}
