package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// HandlerConfig tunes the GraphQL endpoint.
type HandlerConfig struct {
	ComplexityLimit int
	DepthLimit      int
	Introspection   bool
	Log             *slog.Logger
}

// NewHandler returns the GraphQL endpoint: JSON POST for every operation, GET for queries only,
// a query cache, at most MaxErrors errors per response (ErrorLimit), complexity and depth
// limits, the filter guard (FilterGuard), the error presenter and the recover func.
func NewHandler(r *Resolver, cfg HandlerConfig) http.Handler {
	srv := handler.New(NewSchema(r))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(getTransport{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.Use(ErrorLimit{Limit: MaxErrors})
	if cfg.Introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(cfg.ComplexityLimit))
	srv.Use(DepthLimit{Limit: cfg.DepthLimit})
	srv.Use(&FilterGuard{})
	srv.Use(mailAfterCommit{r: r, log: cfg.Log}) // before the Transactioner: runs around it
	srv.Use(entgql.Transactioner{TxOpener: r.Client})
	present := ErrorPresenter(cfg.Log, r.DB)
	if !cfg.Introspection {
		// Suggestions name the schema's fields, arguments, types and enum values: with
		// introspection off they would let anyone enumerate it.
		srv.SetDisableSuggestion(true)
		present = withoutSuggestions(present)
	}
	srv.SetErrorPresenter(present)
	srv.SetRecoverFunc(Recover(cfg.Log))
	return guard(srv)
}

// guard answers what gqlgen's transports do not take: 405 for other methods, and 400
// BAD_REQUEST for a POST that is not a GraphQL request (not JSON, not a JSON object, a batch,
// members of the wrong type), before any of it reaches gqlgen.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodOptions:
		case http.MethodPost:
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				WriteError(w, http.StatusBadRequest, CodeBadRequest, "send the request as JSON: Content-Type: application/json")
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					WriteError(w, http.StatusRequestEntityTooLarge, CodeBadUserInput, "the request body is too large")
					return
				}
				WriteError(w, http.StatusBadRequest, CodeBadRequest, "the request body could not be read")
				return
			}
			if msg := checkParams(body); msg != "" {
				WriteError(w, http.StatusBadRequest, CodeBadRequest, msg)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		default:
			w.Header().Set("Allow", "GET, POST")
			WriteError(w, http.StatusMethodNotAllowed, CodeBadUserInput, "use POST, or GET for queries")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkParams tells why a body is not a GraphQL request, or "" when it is one: JSON, an object
// whose query is a string, operationName a string or null, and variables and extensions
// objects or null. Batches (arrays) are not supported. It reads the body once.
func checkParams(body []byte) string {
	const shape = `the request body must be one JSON object: {"query": "...", "variables": {...}}`
	var params map[string]json.RawMessage
	err := json.Unmarshal(body, &params)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return "the request body is not valid JSON"
	case err != nil || params == nil:
		return shape
	}
	kind := func(name string) byte {
		v := bytes.TrimSpace(params[name])
		if len(v) == 0 || bytes.Equal(v, []byte("null")) {
			return 0
		}
		return v[0]
	}
	if kind("query") != '"' {
		return shape
	}
	if k := kind("operationName"); k != 0 && k != '"' {
		return "operationName must be a string"
	}
	for _, name := range []string{"variables", "extensions"} {
		if k := kind(name); k != 0 && k != '{' {
			return name + " must be a JSON object"
		}
	}
	return ""
}

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

// Playground serves GraphiQL against endpoint.
func Playground(endpoint string) http.Handler {
	return playground.Handler("Community GraphQL", endpoint)
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
	if op := rc.Doc.Operations.ForName(rc.OperationName); op == nil || op.Operation != ast.Query {
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

func writeResponse(w http.ResponseWriter, resp *graphql.Response) {
	b, err := json.Marshal(resp)
	if err != nil {
		panic(err)
	}
	_, _ = w.Write(b)
}
