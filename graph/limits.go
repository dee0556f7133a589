package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/config"
)

// Codes of the limits a request meets before it runs, cheapest first (see Limits).
const (
	CodeRequestTooLarge = "REQUEST_TOO_LARGE"       // the body is over MAX_BODY_BYTES (status 413)
	CodeTokenLimit      = "TOKEN_LIMIT_EXCEEDED"    // the document has more tokens than Limits.Tokens
	CodeDocumentLimit   = "DOCUMENT_LIMIT_EXCEEDED" // too many selections or directives, or too hard to validate
	CodeTimeout         = "TIMEOUT"                 // the request ran past HandlerConfig.Timeout and was stopped
)

func init() {
	// A request refused by a limit did not run: 422 for application/json (as gqlgen answers a
	// document that does not parse), 400 for application/graphql-response+json.
	for _, code := range []string{CodeTokenLimit, CodeDocumentLimit, CodeDepth, CodeComplexity} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// Limits bound what one GraphQL request may cost. The handler checks them cheapest first, and
// none of the checks does work that grows with what it refuses:
//
//  1. the body size (MAX_BODY_BYTES for every request, Bytes when it is lower), checked as the
//     body is read: CodeRequestTooLarge;
//  2. Tokens, counted by the lexer, which stops at the limit: CodeTokenLimit;
//  3. Selections and Directives, counted over the parsed document as it would run, every
//     fragment spread counted in full but each fragment measured once: CodeDocumentLimit; Depth
//     in the same pass: CodeDepth;
//  4. validation, whose rule for overlapping fields compares each distinct field once and gives
//     up past a fixed amount of work (CodeDocumentLimit);
//  5. Complexity, computed with each fragment's cost computed once: CodeComplexity;
//  6. execution, under HandlerConfig.Timeout and the client's connection: CodeTimeout.
//
// A document that passed 2 and 3 once is remembered, so repeating it costs a cache lookup.
type Limits struct {
	Bytes      int64 // the request body; 0 leaves only MAX_BODY_BYTES
	Tokens     int   // lexical tokens in the document
	Selections int   // fields, fragment spreads and inline fragments, with fragments expanded
	Directives int   // directives, with fragments expanded
	Depth      int   // nesting of fields; introspection (__schema, __type) not counted
	Complexity int   // gqlgen's complexity: each field counts 1 plus its children
}

// DefaultLimits apply to signed-in callers (a session or an API token). Their depth and
// complexity are the defaults of GRAPHQL_DEPTH_LIMIT and GRAPHQL_COMPLEXITY_LIMIT.
var DefaultLimits = Limits{Tokens: 10000, Selections: 2000, Directives: 200,
	Depth: config.DefaultDepthLimit, Complexity: config.DefaultComplexityLimit}

// DefaultAnonymousLimits apply to callers without a session. They leave room for everything an
// anonymous caller can ask (loginOptions, me, and GraphiQL's introspection query when
// introspection is on) and for little else.
var DefaultAnonymousLimits = Limits{Bytes: 64 << 10, Tokens: 2000, Selections: 500, Directives: 50, Depth: 8, Complexity: 200}

// orDefault is l with d's value for each limit l leaves at zero.
func (l Limits) orDefault(d Limits) Limits {
	return Limits{
		Bytes: positiveOr(l.Bytes, d.Bytes), Tokens: positiveOr(l.Tokens, d.Tokens),
		Selections: positiveOr(l.Selections, d.Selections), Directives: positiveOr(l.Directives, d.Directives),
		Depth: positiveOr(l.Depth, d.Depth), Complexity: positiveOr(l.Complexity, d.Complexity),
	}
}

func positiveOr[T int | int64](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}

// atMost lowers each limit of l to m's where m's is lower: anonymous callers never get more
// than signed-in ones.
func (l Limits) atMost(m Limits) Limits {
	bytes := l.Bytes
	if m.Bytes > 0 && (bytes == 0 || bytes > m.Bytes) {
		bytes = m.Bytes
	}
	return Limits{
		Bytes: bytes, Tokens: min(l.Tokens, m.Tokens), Selections: min(l.Selections, m.Selections),
		Directives: min(l.Directives, m.Directives), Depth: min(l.Depth, m.Depth),
		Complexity: min(l.Complexity, m.Complexity),
	}
}

// tiers are the limits of both kinds of caller.
type tiers struct {
	member, anonymous Limits
}

// of returns the limits for the caller of ctx, and whether it is signed in.
func (t tiers) of(ctx context.Context) (Limits, bool) {
	if auth.FromContext(ctx) != nil {
		return t.member, true
	}
	return t.anonymous, false
}

// documentLimits applies limits 2 and 3 before gqlgen parses and validates the document.
type documentLimits struct {
	tiers
	// accepted remembers the documents that passed, one cache per kind of caller.
	member, anonymous *lru.LRU[struct{}]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*documentLimits)(nil)

func newDocumentLimits(t tiers, size int) *documentLimits {
	return &documentLimits{tiers: t, member: lru.New[struct{}](size), anonymous: lru.New[struct{}](size)}
}

// ExtensionName implements graphql.HandlerExtension.
func (*documentLimits) ExtensionName() string { return "DocumentLimits" }

// Validate implements graphql.HandlerExtension.
func (*documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (d *documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	lim, member := d.of(ctx)
	accepted := d.anonymous
	if member {
		accepted = d.member
	}
	if _, ok := accepted.Get(ctx, p.Query); ok {
		return nil
	}
	if err := checkDocument(p.Query, lim); err != nil {
		return err
	}
	accepted.Add(ctx, p.Query, struct{}{})
	return nil
}

// checkDocument applies limits 2 and 3 to query. A document that does not parse passes: gqlgen
// parses it next and reports where it fails.
func checkDocument(query string, lim Limits) *gqlerror.Error {
	src := &ast.Source{Input: query}
	if n := countTokens(src, lim.Tokens); n > lim.Tokens {
		return limitError(CodeTokenLimit, "the document has more than %d tokens", lim.Tokens)
	}
	doc, err := parser.ParseQuery(src)
	if err != nil {
		return nil
	}
	size := measure(doc)
	switch {
	case size.selections > lim.Selections:
		return limitError(CodeDocumentLimit, "the document selects more than %d fields and fragments (fragments counted at every spread)", lim.Selections)
	case size.directives > lim.Directives:
		return limitError(CodeDocumentLimit, "the document has more than %d directives (fragments counted at every spread)", lim.Directives)
	case size.depth > lim.Depth:
		return limitError(CodeDepth, "the operation nests %d levels, the limit is %d", size.depth, lim.Depth)
	}
	return nil
}

func limitError(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": code}
	return err
}

// countTokens counts the lexical tokens of src, stopping after stop+1. A lexing error ends the
// count: the parser reports it.
func countTokens(src *ast.Source, stop int) int {
	lx := lexer.New(src)
	n := 0
	for n <= stop {
		tok, err := lx.ReadToken()
		if err != nil || tok.Kind == lexer.EOF {
			break
		}
		n++
	}
	return n
}

// docSize is what a document costs to run, its fragments expanded at every spread.
type docSize struct {
	selections, directives, depth int
}

func (s *docSize) add(o docSize) {
	s.selections = satAdd(s.selections, o.selections)
	s.directives = satAdd(s.directives, o.directives)
}

// measure sizes doc in one pass over it: each fragment definition is measured once and its
// size added at every spread, so forty fragments that each spread the next twice cost forty
// steps, not 2^40. Operations are summed; so are fragments no operation spreads, which
// validation still walks.
func measure(doc *ast.QueryDocument) docSize {
	m := &measurer{
		frags: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:  make(map[string]docSize, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if _, ok := m.frags[f.Name]; !ok {
			m.frags[f.Name] = f
		}
	}
	var total docSize
	for _, op := range doc.Operations {
		s := m.set(op.SelectionSet)
		s.directives = satAdd(s.directives, len(op.Directives))
		total.add(s)
		total.depth = max(total.depth, s.depth)
	}
	for _, f := range doc.Fragments {
		if _, seen := m.memo[f.Name]; !seen {
			total.add(m.fragment(f.Name))
		}
	}
	return total
}

type measurer struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[string]docSize
}

func (m *measurer) fragment(name string) docSize {
	if s, ok := m.memo[name]; ok {
		return s
	}
	f := m.frags[name]
	if f == nil {
		return docSize{}
	}
	m.memo[name] = docSize{} // a cycle counts nothing more; validation refuses it
	s := m.set(f.SelectionSet)
	s.directives = satAdd(s.directives, len(f.Directives))
	m.memo[name] = s
	return s
}

func (m *measurer) set(set ast.SelectionSet) docSize {
	var out docSize
	for _, sel := range set {
		var (
			child      docSize
			directives int
			fieldDepth = -1
		)
		switch x := sel.(type) {
		case *ast.Field:
			child = m.set(x.SelectionSet)
			directives = len(x.Directives)
			if x.Name != "__schema" && x.Name != "__type" {
				fieldDepth = child.depth + 1
			}
		case *ast.InlineFragment:
			child = m.set(x.SelectionSet)
			directives = len(x.Directives)
			fieldDepth = child.depth
		case *ast.FragmentSpread:
			child = m.fragment(x.Name)
			directives = len(x.Directives)
			fieldDepth = child.depth
		}
		out.selections = satAdd(out.selections, 1)
		out.directives = satAdd(out.directives, directives)
		out.add(child)
		out.depth = max(out.depth, fieldDepth)
	}
	return out
}

// satAdd adds two counts, saturating instead of overflowing.
func satAdd(a, b int) int {
	if c := a + b; c >= a {
		return c
	}
	return int(^uint(0) >> 1)
}

// complexityLimit is limit 5: gqlgen's complexity, computed with each fragment's cost computed
// once (gqlgen's own walk computes a fragment again at every spread, which grows as 2^n for n
// fragments that each spread the next twice). The result is the same number.
type complexityLimit struct {
	tiers
	es graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = (*complexityLimit)(nil)

// ExtensionName implements graphql.HandlerExtension.
func (*complexityLimit) ExtensionName() string { return "ComplexityLimit" }

// Validate implements graphql.HandlerExtension.
func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (c *complexityLimit) MutateOperationContext(ctx context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	lim, _ := c.of(ctx)
	cw := &complexityWalk{es: c.es, schema: c.es.Schema(), vars: rc.Variables, memo: map[*ast.FragmentDefinition]int{}}
	if n := cw.set(ctx, rc.Operation.SelectionSet); n > lim.Complexity {
		return limitError(CodeComplexity, "operation has complexity %d, which exceeds the limit of %d", n, lim.Complexity)
	}
	return nil
}

// complexityWalk is gqlgen's complexity walk (github.com/99designs/gqlgen/complexity) with
// fragments memoised. It runs after validation: every field has its definitions and no
// fragment spreads itself.
type complexityWalk struct {
	es     graphql.ExecutableSchema
	schema *ast.Schema
	vars   map[string]any
	memo   map[*ast.FragmentDefinition]int
}

func (cw *complexityWalk) set(ctx context.Context, set ast.SelectionSet) int {
	var total int
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			def := cw.schema.Types[s.Definition.Type.Name()]
			if def.Name == "__Schema" {
				continue
			}
			var child int
			switch def.Kind {
			case ast.Object, ast.Interface, ast.Union:
				child = cw.set(ctx, s.SelectionSet)
			}
			args := s.ArgumentMap(cw.vars)
			var n int
			if s.ObjectDefinition.Kind == ast.Interface {
				// Interfaces have no costs of their own: the most expensive implementation.
				for _, impl := range cw.schema.GetPossibleTypes(s.ObjectDefinition) {
					n = max(n, cw.field(ctx, impl, def.Kind, s.Name, child, args))
				}
			} else {
				n = cw.field(ctx, s.ObjectDefinition, def.Kind, s.Name, child, args)
			}
			total = satAdd(total, n)
		case *ast.FragmentSpread:
			n, ok := cw.memo[s.Definition]
			if !ok {
				n = cw.set(ctx, s.Definition.SelectionSet)
				cw.memo[s.Definition] = n
			}
			total = satAdd(total, n)
		case *ast.InlineFragment:
			total = satAdd(total, cw.set(ctx, s.SelectionSet))
		}
	}
	return total
}

func (cw *complexityWalk) field(ctx context.Context, obj *ast.Definition, kind ast.DefinitionKind, name string, child int, args map[string]any) int {
	if n, ok := cw.es.Complexity(ctx, obj.Name, name, child, args); ok && n >= 1 {
		return n
	}
	return satAdd(1, max(child, 0))
}

// errTimeout is the cause of a request's context when HandlerConfig.Timeout passes.
var errTimeout = errors.New("graph: request timed out")
