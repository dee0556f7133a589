package graphtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Result is a GraphQL answer as a client over HTTP reads it.
type Result struct {
	Status int
	Header http.Header
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	Raw string
}

// Code is the first error's extensions.code, or "".
func (r Result) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Field is the first error's extensions.field, or nil.
func (r Result) Field() any {
	if len(r.Errors) == 0 {
		return nil
	}
	return r.Errors[0].Extensions["field"]
}

// Post sends a GraphQL operation to endpoint with c (http.DefaultClient when nil) and its cookies,
// or with the bearer token when not empty.
func Post(t testing.TB, c *http.Client, endpoint, bearer, query string, vars map[string]any) Result {
	t.Helper()
	body := map[string]any{"query": query}
	if vars != nil {
		body["variables"] = vars
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return Do(t, c, req)
}

// Do sends a GraphQL request with c (http.DefaultClient when nil) and decodes the answer, which
// must be JSON.
func Do(t testing.TB, c *http.Client, req *http.Request) Result {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	out := Result{Status: resp.StatusCode, Header: resp.Header, Raw: string(body)}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GraphQL answer is not JSON (%d): %s", resp.StatusCode, body)
	}
	return out
}

// Dig walks a decoded JSON value along a path of keys and indexes; a missing step gives nil.
func Dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// Documents several tests send.
const (
	CreateUser     = `mutation($in: CreateUserInput!) { createUser(input: $in) { id email username externalId role fields { key value } } }`
	UpdateUser     = `mutation($id: ID!, $in: UpdateUserInput!) { updateUser(id: $id, input: $in) { id email name username externalId picture role status fields { key value } } }`
	CreateAPIToken = `mutation($name: String!, $exp: Time) { createApiToken(name: $name, expiresAt: $exp) { token apiToken { id name } } }`
	// ChangeEmail sets user $id's email to $email (with a confirmation link when mail is on).
	ChangeEmail = `mutation($id: ID!, $email: String) { updateUser(id: $id, input: {email: $email}) { email emailVerified pendingEmail } }`
)
