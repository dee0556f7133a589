package graph

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/community/sso/auth/config"
	"github.com/community/sso/auth/web"
	"github.com/community/sso/graph/internal/overlap"
	"github.com/community/sso/graph/playground"
)

// DefaultTimeout is how long a GraphQL request may run when HandlerConfig.Timeout is zero: the
// default of GRAPHQL_TIMEOUT.
const DefaultTimeout = config.DefaultGraphQLTimeout

// queryCacheSize is how many documents the handler keeps parsed and validated.
const queryCacheSize = 1000

// HandlerConfig tunes the GraphQL endpoint.
type HandlerConfig struct {
	// Limits bound a signed-in caller's requests, AnonymousLimits everyone else's; a zero
	// field takes DefaultLimits' or DefaultAnonymousLimits' value.
	Limits, AnonymousLimits Limits
	// Timeout is how long a request may run before its work is stopped (DefaultTimeout when 0).
	Timeout       time.Duration
	Introspection bool
	Log           *slog.Logger
}

// NewHandler returns the GraphQL endpoint: JSON POST for every operation, GET for queries only,
// a query cache, the request limits (Limits) for signed-in and anonymous callers, a deadline,
// at most MaxErrors errors per response (ErrorLimit), the filter guard (FilterGuard), the error
// presenter and the recover func.
func NewHandler(r *Resolver, cfg HandlerConfig) http.Handler {
	t := tiers{member: cfg.Limits.orDefault(DefaultLimits)}
	t.anonymous = cfg.AnonymousLimits.orDefault(DefaultAnonymousLimits).atMost(t.member)
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	srv := handler.New(NewSchema(r))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	srv.AddTransport(postTransport{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheSize))
	srv.SetParserTokenLimit(max(t.member.Tokens, t.anonymous.Tokens))
	srv.SetValidationRulesFn(validationRules)
	for _, e := range extensions(r, cfg, t) {
		srv.Use(e)
	}
	present := ErrorPresenter(cfg.Log, r.DB)
	if !cfg.Introspection {
		// Suggestions name the schema's fields, arguments, types and enum values: with
		// introspection off they would let anyone enumerate it.
		srv.SetDisableSuggestion(true)
		present = withoutSuggestions(present)
	}
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(Recover(cfg.Log))
	return guard(retryBusy(srv), timeout, t)
}

// extensions are the handler's extensions, in the order they run. None may be a field
// interceptor (graphql.FieldInterceptor, AroundFields): the plain leaf fields are resolved
// without graphql.ResolveField (graph/gqlgen.go, directFields), so an interceptor would not see
// them; TestExtensions checks it.
func extensions(r *Resolver, cfg HandlerConfig, t tiers) []graphql.HandlerExtension {
	exts := []graphql.HandlerExtension{ErrorLimit{Limit: MaxErrors}}
	if cfg.Introspection {
		exts = append(exts, extension.Introspection{})
	}
	return append(exts,
		newDocumentLimits(t, queryCacheSize),
		&complexityLimit{tiers: t},
		&FilterGuard{},
		stopWhenDone{},
		mailAfterCommit{r: r, log: cfg.Log}, // before the Transactioner: runs around it
		transactioner{entgql.Transactioner{TxOpener: r.Client, SkipTxFunc: onlySyncMembers}},
	)
}

// validationRules are gqlparser's rules with the rule for overlapping fields replaced by one
// whose work is bounded (graph/internal/overlap).
func validationRules() *rules.Rules {
	rs := rules.NewDefaultRules()
	rs.ReplaceRule(overlap.OverlappingFieldsCanBeMerged.Name, overlap.OverlappingFieldsCanBeMerged.RuleFunc)
	return rs
}

// stopWhenDone resolves no more fields once the request is cancelled (the client went away)
// or its deadline passed: the error is the context's cause. It wraps each operation's field
// middleware once, when the operation starts, rather than being a field interceptor
// (AroundFields), whose chain allocates a closure for every field it resolves: 1,800 for
// users(first: 100) with spaces and fields. It asks the request's context, the one the operation
// starts with, rather than the field's, whose Err walks up through a context for every field and
// list element above it.
type stopWhenDone struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = stopWhenDone{}

// ExtensionName implements graphql.HandlerExtension.
func (stopWhenDone) ExtensionName() string { return "StopWhenDone" }

// Validate implements graphql.HandlerExtension.
func (stopWhenDone) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (stopWhenDone) MutateOperationContext(request context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	next := rc.ResolverMiddleware
	rc.ResolverMiddleware = func(ctx context.Context, resolve graphql.Resolver) (any, error) {
		if request.Err() != nil {
			return nil, context.Cause(request)
		}
		return next(ctx, resolve)
	}
	return nil
}

// guard answers what gqlgen's transports do not take: 405 for other methods, 413 for a body
// over the limit (Limits.Bytes for anonymous callers), and 400 BAD_REQUEST for a POST that is
// not a GraphQL request (not JSON, not a JSON object, a batch, members of the wrong type),
// before any of it reaches gqlgen. A POST's body is decoded here, once, and handed to
// postTransport. What it lets through runs with a deadline of timeout, whose cause is
// errTimeout.
func guard(next http.Handler, timeout time.Duration, t tiers) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		switch r.Method {
		case http.MethodGet, http.MethodOptions:
		case http.MethodPost:
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				WriteError(w, http.StatusBadRequest, CodeBadRequest, "send the request as JSON: Content-Type: application/json")
				return
			}
			if lim, _ := t.of(ctx); lim.Bytes > 0 {
				web.MaxBytes(w, r, lim.Bytes)
			}
			params, status, code, msg := decodeParams(r.Body)
			if status != 0 {
				WriteError(w, status, code, msg)
				return
			}
			params.Headers = r.Header
			ctx = context.WithValue(ctx, paramsKey{}, params)
		default:
			w.Header().Set("Allow", "GET, POST")
			WriteError(w, http.StatusMethodNotAllowed, CodeBadUserInput, "use POST, or GET for queries")
			return
		}
		ctx, cancel := context.WithTimeoutCause(ctx, timeout, errTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// paramsKey carries a POST's decoded *graphql.RawParams from guard to postTransport.
type paramsKey struct{}

// postParams is a GraphQL POST body: an object whose query is a string, operationName a string
// or null, and variables and extensions objects or null.
type postParams struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

// decodeParams decodes a POST body in one pass (numbers kept as json.Number, as gqlgen's own
// transport does), or says why it is not a GraphQL request: a status, a code and a message.
// Batches (arrays) are not supported.
func decodeParams(body io.Reader) (*graphql.RawParams, int, string, string) {
	const shape = `the request body must be one JSON object: {"query": "...", "variables": {...}}`
	start := graphql.Now()
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var p postParams
	err := dec.Decode(&p)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errTrailing
	}
	var (
		tooLarge  *http.MaxBytesError
		typeErr   *json.UnmarshalTypeError
		syntaxErr *json.SyntaxError
	)
	switch {
	case errors.As(err, &tooLarge):
		return nil, http.StatusRequestEntityTooLarge, CodeRequestTooLarge, "the request body is too large"
	case errors.As(err, &typeErr):
		switch typeErr.Field {
		case "operationName":
			return nil, http.StatusBadRequest, CodeBadRequest, "operationName must be a string"
		case "variables", "extensions":
			return nil, http.StatusBadRequest, CodeBadRequest, typeErr.Field + " must be a JSON object"
		}
		return nil, http.StatusBadRequest, CodeBadRequest, shape
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errTrailing):
		return nil, http.StatusBadRequest, CodeBadRequest, "the request body is not valid JSON"
	case errors.Is(err, io.EOF):
		return nil, http.StatusBadRequest, CodeBadRequest, shape
	case err != nil:
		return nil, http.StatusBadRequest, CodeBadRequest, "the request body could not be read"
	case p.Query == nil:
		return nil, http.StatusBadRequest, CodeBadRequest, shape
	}
	raw := &graphql.RawParams{Query: *p.Query, Variables: p.Variables, Extensions: p.Extensions}
	if p.OperationName != nil {
		raw.OperationName = *p.OperationName
	}
	raw.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	return raw, 0, "", ""
}

var errTrailing = errors.New("graph: data after the JSON object")

// withoutSuggestions cuts the "Did you mean …?" gqlparser's validation rules add to their
// messages (SetDisableSuggestion covers only the rule for unknown fields).
func withoutSuggestions(present graphql.ErrorPresenterFunc) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := present(ctx, err)
		if i := strings.Index(gqlErr.Message, " Did you mean "); i >= 0 {
			gqlErr.Message = gqlErr.Message[:i]
		}
		return gqlErr
	}
}

// WriteError answers with a GraphQL-shaped error: {"errors":[{"message","extensions":{"code"}}]}.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}},
	})
}

// Playground serves the GraphiQL page, "Community GraphQL", against endpoint (a path on this
// server); the files it loads are embedded and served by playground.Assets under
// playground.AssetsPath, so it works without internet.
func Playground(endpoint string) http.Handler {
	return playground.Page("Community GraphQL", endpoint)
}

// postTransport runs the POST body guard decoded.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	_, ok := r.Context().Value(paramsKey{}).(*graphql.RawParams)
	return r.Method == http.MethodPost && ok
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	run(w, r, exec, r.Context().Value(paramsKey{}).(*graphql.RawParams), false)
}

// getTransport is gqlgen's GET transport with the GraphQL-over-HTTP answer to a mutation sent
// by GET (405 Method Not Allowed, with Allow: POST) and errors that carry extensions.code.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "the query string is malformed")
		return
	}
	raw := &graphql.RawParams{
		Query:         query.Get("query"),
		OperationName: query.Get("operationName"),
		Headers:       r.Header,
	}
	raw.ReadTime.Start = graphql.Now()
	for name, dst := range map[string]*map[string]any{"variables": &raw.Variables, "extensions": &raw.Extensions} {
		if v := query.Get(name); v != "" {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err := dec.Decode(dst); err != nil {
				WriteError(w, http.StatusBadRequest, CodeBadRequest, name+" is not a JSON object")
				return
			}
		}
	}
	raw.ReadTime.End = graphql.Now()
	run(w, r, exec, raw, true)
}

// run executes raw and writes the answer, with the status codes of the GraphQL-over-HTTP
// specification. queriesOnly answers any other operation 405.
func run(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, raw *graphql.RawParams, queriesOnly bool) {
	graphqlResponse := strings.Contains(r.Header.Get("Accept"), "application/graphql-response+json")
	if graphqlResponse {
		w.Header().Set("Content-Type", "application/graphql-response+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	rc, gqlErr := exec.CreateOperationContext(r.Context(), raw)
	if gqlErr != nil {
		w.WriteHeader(statusFor(gqlErr, graphqlResponse))
		writeResponse(w, exec.DispatchError(graphql.WithOperationContext(r.Context(), rc), gqlErr))
		return
	}
	if op := rc.Doc.Operations.ForName(rc.OperationName); queriesOnly && (op == nil || op.Operation != ast.Query) {
		w.Header().Set("Allow", "POST")
		WriteError(w, http.StatusMethodNotAllowed, CodeBadUserInput, "only queries may be sent with GET; send mutations with POST")
		return
	}
	responses, ctx := exec.DispatchOperation(r.Context(), rc)
	writeResponse(w, responses(ctx))
}

func statusFor(errs gqlerror.List, graphqlResponse bool) int {
	if errcode.GetErrorKind(errs) != errcode.KindProtocol {
		return http.StatusOK
	}
	if graphqlResponse {
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

// writeResponse writes resp as json.Marshal encodes it. The usual answer, data and nothing else,
// is written without it: {"data":…} with the data compacted and HTML-escaped as it is written
// (writeCompactHTML), where json.Marshal would run its JSON scanner over every byte of the data
// gqlgen has already encoded (5% of the time of users(first: 100) with spaces and fields) and
// copy it.
func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	if len(resp.Errors) == 0 && resp.Label == "" && len(resp.Path) == 0 && resp.HasNext == nil &&
		len(resp.Extensions) == 0 && (resp.Data == nil || len(resp.Data) > 0) {
		_, _ = io.WriteString(w, `{"data":`)
		if resp.Data == nil {
			_, _ = io.WriteString(w, "null")
		} else {
			writeCompactHTML(w, resp.Data)
		}
		_, _ = io.WriteString(w, "}")
		return
	}
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err)
	}
	_, _ = w.Write(b)
}

// writeCompactHTML writes the JSON document src to w as encoding/json writes a json.RawMessage
// it marshals: without the white space outside strings, and with <, >, &, U+2028 and U+2029
// escaped (\u003c, \u003e, \u0026, \u2028, \u2029). Unlike encoding/json it does not check
// that src is JSON: gqlgen wrote it. Write errors are left to the caller's next write (an
// http.ResponseWriter's are the client's going away).
func writeCompactHTML(w io.Writer, src []byte) {
	const hex = "0123456789abcdef"
	var esc [6]byte
	esc[0], esc[1] = '\\', 'u'
	start, inString := 0, false
	var keep uint8 // 2 in a string, where white space stays: compactSkip's 2s do not stop the scan
	for i := 0; i < len(src); i++ {
		for i < len(src) && compactSkip[src[i]]&^keep == 0 {
			i++ // the bulk of the document: nothing to drop, escape or track
		}
		if i == len(src) {
			break
		}
		switch c := src[i]; {
		case c == '<' || c == '>' || c == '&':
			esc[2], esc[3], esc[4], esc[5] = '0', '0', hex[c>>4], hex[c&0xF]
			_, _ = w.Write(src[start:i])
			_, _ = w.Write(esc[:])
			start = i + 1
		case c == 0xE2:
			if i+2 < len(src) && src[i+1] == 0x80 && src[i+2]&^1 == 0xA8 {
				esc[2], esc[3], esc[4], esc[5] = '2', '0', '2', hex[src[i+2]&0xF]
				_, _ = w.Write(src[start:i])
				_, _ = w.Write(esc[:])
				start = i + 3
				i += 2
			}
		case inString:
			switch c {
			case '\\':
				i++ // the escaped character: a quote, a backslash, /, b, f, n, r, t or u
			case '"':
				inString, keep = false, 0
			}
		case c == '"':
			inString, keep = true, 2
		default: // white space outside a string
			_, _ = w.Write(src[start:i])
			start = i + 1
		}
	}
	_, _ = w.Write(src[start:])
}

// compactSkip marks the bytes writeCompactHTML stops at: 1 in strings and out of them (a quote,
// a backslash, <, >, &, the first byte of U+2028 and U+2029), 2 out of strings only (white space).
var compactSkip = func() (t [256]uint8) {
	for _, c := range []byte{'"', '\\', '<', '>', '&', 0xE2} {
		t[c] = 1
	}
	for _, c := range []byte{' ', '\t', '\n', '\r'} {
		t[c] = 2
	}
	return t
}()
