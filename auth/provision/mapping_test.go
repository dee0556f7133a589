package provision

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/community/sso/auth"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/user"
)

// decode reads a JSON object the way the SSO methods do (numbers as json.Number).
func decode(t testing.TB, js string) Payload {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(js))
	d.UseNumber()
	var p Payload
	if err := d.Decode(&p); err != nil {
		t.Fatalf("decode %s: %v", js, err)
	}
	return p
}

// mustMap maps p and fails the test on an error.
func mustMap(t testing.TB, p Payload, required ...string) *Profile {
	t.Helper()
	pr, err := Map(p, required...)
	if err != nil {
		t.Fatalf("Map(%v): %v", p, err)
	}
	return pr
}

// wantSSOError checks that err is an *auth.SSOError with code and, when claim is not "", that
// claim in its Detail.
func wantSSOError(t testing.TB, err error, code, claim string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	var e *auth.SSOError
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *auth.SSOError", err, err)
	}
	if e.Code != code {
		t.Fatalf("code %s (%v), want %s", e.Code, err, code)
	}
	if claim != "" {
		if got, _ := e.Detail["claim"].(string); got != claim {
			t.Fatalf("Detail[claim] = %q, want %q (detail %v)", got, claim, e.Detail)
		}
	}
}

func TestMapFallbackKeys(t *testing.T) {
	attrs := []struct {
		name  string
		keys  []string
		value func(i int) string // the payload value of keys[i]
		want  func(i int) string // the mapped value
		get   func(*Profile) string
	}{
		{
			name:  "externalId",
			keys:  []string{"id", "ID", "sub", "nameid"},
			value: func(i int) string { return "ext-" + string(rune('a'+i)) },
			get:   func(p *Profile) string { return p.ExternalID },
		},
		{
			name:  "email",
			keys:  []string{"email", "user_email", "emailAddress"},
			value: func(i int) string { return " Key" + string(rune('A'+i)) + "@Example.COM " },
			want:  func(i int) string { return "key" + string(rune('a'+i)) + "@example.com" },
			get:   func(p *Profile) string { return p.Email },
		},
		{
			name:  "name",
			keys:  []string{"name", "display_name", "displayName", "full_name", "fullName"},
			value: func(i int) string { return "Name " + string(rune('A'+i)) },
			get:   func(p *Profile) string { return p.Name },
		},
		{
			name:  "username",
			keys:  []string{"username", "user_login", "nickname"},
			value: func(i int) string { return "user_" + string(rune('a'+i)) },
			get:   func(p *Profile) string { return p.Username },
		},
		{
			name:  "picture",
			keys:  []string{"picture", "icon_url"},
			value: func(i int) string { return "https://cdn.example.com/" + string(rune('a'+i)) + ".png" },
			get:   func(p *Profile) string { return p.Picture },
		},
		{
			name:  "tagline",
			keys:  []string{"tagline"},
			value: func(i int) string { return "  tagline " + string(rune('a'+i)) + "  " },
			want:  func(i int) string { return "tagline " + string(rune('a'+i)) },
			get:   func(p *Profile) string { return p.Tagline },
		},
	}
	// Values that count as "not there": the next key is tried.
	empties := map[string]any{"absent": nil, "empty": "", "blank": "   ", "null": "null", "object": map[string]any{"x": "y"}, "array": []any{"x"}}
	for _, a := range attrs {
		want := a.want
		if want == nil {
			want = a.value
		}
		for i, key := range a.keys {
			t.Run(a.name+"/"+key+"/first-wins", func(t *testing.T) {
				// keys[i:] all set: keys[i] wins.
				p := Payload{}
				for j := i; j < len(a.keys); j++ {
					p[a.keys[j]] = a.value(j)
				}
				pr := mustMap(t, p)
				if got := a.get(pr); got != want(i) {
					t.Fatalf("%s = %q, want %q (payload %v)", a.name, got, want(i), p)
				}
			})
			if i == len(a.keys)-1 {
				continue
			}
			for ename, empty := range empties {
				t.Run(a.name+"/"+key+"/"+ename+"-falls-through", func(t *testing.T) {
					p := Payload{a.keys[i+1]: a.value(i + 1)}
					switch ename {
					case "absent":
					case "null":
						p[key] = nil
					default:
						p[key] = empty
					}
					pr := mustMap(t, p)
					if got := a.get(pr); got != want(i+1) {
						t.Fatalf("%s = %q, want %q from %s (payload %v)", a.name, got, want(i+1), a.keys[i+1], p)
					}
				})
			}
		}
	}
	t.Run("empty id falls through to sub", func(t *testing.T) {
		pr := mustMap(t, decode(t, `{"id": "", "ID": "  ", "sub": "auth0|42", "nameid": "n"}`))
		if pr.ExternalID != "auth0|42" {
			t.Fatalf("ExternalID = %q, want auth0|42", pr.ExternalID)
		}
	})
	t.Run("nothing at all", func(t *testing.T) {
		pr := mustMap(t, Payload{})
		if pr.ExternalID != "" || pr.Email != "" || pr.Name != "" || pr.Username != "" || pr.Picture != "" || pr.Tagline != "" {
			t.Fatalf("profile of an empty payload: %+v", pr)
		}
		if !pr.EmailVerified || pr.SpacesOperation != OpAdd || len(pr.Spaces) != 0 || len(pr.Skipped) != 0 {
			t.Fatalf("defaults of an empty payload: %+v", pr)
		}
	})
}

func TestMapNumbersAsIDs(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   any
		want string // "" when the id is refused (INVALID_CLAIM)
	}{
		{"float64 integer", float64(4711), "4711"},
		{"float64 negative integer", float64(-12), "-12"},
		{"float64 fraction", 1.5, ""},
		{"float64 above 2^53", 1e20, ""},
		{"json.Number integer", json.Number("12345678901234"), "12345678901234"},
		{"json.Number in exponent form", json.Number("1e3"), "1000"},
		{"json.Number fraction", json.Number("1.5"), ""},
		{"json.Number beyond int64", json.Number("123456789012345678901234567890"), "123456789012345678901234567890"},
		{"json.Number with a large exponent", json.Number("1e999999"), ""},
		{"json.Number literal too long", json.Number(strings.Repeat("9", 65)), ""},
		{"int", 7, "7"},
		{"int64", int64(9007199254740993), "9007199254740993"},
		{"string kept exactly", "Abc-1", "Abc-1"},
		{"string with spaces around", "  abc  ", ""},
		{"bool", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := Map(Payload{"sub": tc.in})
			if tc.want == "" {
				wantSSOError(t, err, auth.CodeInvalidClaim, "sub")
				return
			}
			if err != nil || pr.ExternalID != tc.want {
				t.Fatalf("ExternalID = %v, %v; want %q", pr, err, tc.want)
			}
		})
	}
}

func TestMapUnwrap(t *testing.T) {
	inner := `{"id": "w-1", "email": "w@example.com", "name": "Wrapped"}`
	for _, tc := range []struct {
		name    string
		in      string
		wantExt string
		wrapped bool
	}{
		{"data sole key", `{"data": ` + inner + `}`, "w-1", true},
		{"data beside other keys", `{"data": ` + inner + `, "sub": "outer"}`, "outer", false},
		{"data not an object", `{"data": "w-1"}`, "", false},
		{"data an array", `{"data": [` + inner + `]}`, "", false},
		{"no envelope", inner, "w-1", false},
		{"nested envelopes (Memberful)", `{"data": {"currentMember": ` + inner + `}}`, "w-1", true},
		{"another single-key envelope", `{"user": ` + inner + `}`, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decode(t, tc.in)
			pr := mustMap(t, p)
			if pr.ExternalID != tc.wantExt {
				t.Fatalf("ExternalID = %q, want %q", pr.ExternalID, tc.wantExt)
			}
			if tc.wrapped {
				if pr.Email != "w@example.com" || pr.Name != "Wrapped" {
					t.Fatalf("unwrapped profile: %+v", pr)
				}
				if _, ok := pr.Payload["data"]; ok || pr.Payload["id"] != "w-1" {
					t.Fatalf("Profile.Payload is not the inner object: %v", pr.Payload)
				}
				if !reflect.DeepEqual(map[string]any(Unwrap(p)), map[string]any(decode(t, inner))) {
					t.Fatalf("Unwrap = %v", Unwrap(p))
				}
			} else if !reflect.DeepEqual(Unwrap(p), p) {
				t.Fatalf("Unwrap changed a payload without a sole object inside: %v", Unwrap(p))
			}
		})
	}
}

func TestMapLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	// DNS labels are at most 63 bytes.
	email200 := strings.Repeat("a", 60) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".ddddddd.com"
	for _, tc := range []struct {
		name  string
		p     Payload
		code  string // "" for success
		claim string
		check func(t *testing.T, pr *Profile)
	}{
		{name: "externalId of 50 bytes", p: Payload{"sub": long(50)},
			check: func(t *testing.T, pr *Profile) {
				if len(pr.ExternalID) != 50 {
					t.Fatalf("ExternalID length %d", len(pr.ExternalID))
				}
			}},
		{name: "externalId of 51 bytes", p: Payload{"sub": long(51)}, code: auth.CodeInvalidClaim, claim: "sub"},
		{name: "externalId of 51 bytes in id", p: Payload{"id": long(51), "sub": "short"}, code: auth.CodeInvalidClaim, claim: "id"},
		{name: "externalId of 17 three-byte runes", p: Payload{"nameid": strings.Repeat("€", 17)}, code: auth.CodeInvalidClaim, claim: "nameid"},
		{name: "externalId padded with spaces", p: Payload{"sub": "  " + long(50) + "  "}, code: auth.CodeInvalidClaim, claim: "sub"},
		{name: "invalid email", p: Payload{"email": "not-an-email"}, code: auth.CodeInvalidClaim, claim: "email"},
		{name: "email without a dot in the domain", p: Payload{"email": "a@localhost"}, code: auth.CodeInvalidClaim, claim: "email"},
		{name: "email with a display name", p: Payload{"email": "Pat <pat@example.com>"}, code: auth.CodeInvalidClaim, claim: "email"},
		{name: "email with a space", p: Payload{"user_email": "pat doe@example.com"}, code: auth.CodeInvalidClaim, claim: "user_email"},
		{name: "invalid email in emailAddress", p: Payload{"emailAddress": "@example.com"}, code: auth.CodeInvalidClaim, claim: "emailAddress"},
		{name: "email of 200 bytes", p: Payload{"email": email200},
			check: func(t *testing.T, pr *Profile) {
				if pr.Email != email200 {
					t.Fatalf("Email = %q", pr.Email)
				}
			}},
		{name: "email of 201 bytes", p: Payload{"email": "a" + email200}, code: auth.CodeInvalidClaim, claim: "email"},
		{name: "email far too long", p: Payload{"email": long(300) + "@example.com"}, code: auth.CodeInvalidClaim, claim: "email"},
		{name: "email normalized", p: Payload{"email": "  Pat.Doe@Example.COM\t"},
			check: func(t *testing.T, pr *Profile) {
				if pr.Email != "pat.doe@example.com" {
					t.Fatalf("Email = %q", pr.Email)
				}
			}},
		{name: "name truncated to 200 bytes", p: Payload{"name": long(250)},
			check: func(t *testing.T, pr *Profile) {
				if pr.Name != long(200) {
					t.Fatalf("Name length %d", len(pr.Name))
				}
			}},
		{name: "name truncated on a rune boundary", p: Payload{"name": strings.Repeat("€", 100)},
			check: func(t *testing.T, pr *Profile) {
				if len(pr.Name) > MaxNameLength || !utf8.ValidString(pr.Name) || pr.Name != strings.Repeat("€", 66) {
					t.Fatalf("Name = %q (%d bytes)", pr.Name, len(pr.Name))
				}
			}},
		{name: "tagline truncated to 500 bytes", p: Payload{"tagline": strings.Repeat("é", 400)},
			check: func(t *testing.T, pr *Profile) {
				if pr.Tagline != strings.Repeat("é", 250) {
					t.Fatalf("Tagline has %d bytes", len(pr.Tagline))
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := Map(tc.p)
			if tc.code != "" {
				wantSSOError(t, err, tc.code, tc.claim)
				if pr != nil {
					t.Fatalf("a profile beside the error: %+v", pr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, pr)
		})
	}
}

func TestMapPicture(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       Payload
		want    string
		skipped []string
	}{
		{"https", Payload{"picture": "https://cdn.example.com/a.png"}, "https://cdn.example.com/a.png", nil},
		{"http", Payload{"picture": "http://cdn.example.com/a.png?s=64"}, "http://cdn.example.com/a.png?s=64", nil},
		{"icon_url", Payload{"icon_url": "https://gravatar.example/x"}, "https://gravatar.example/x", nil},
		{"javascript", Payload{"picture": "javascript:alert(1)"}, "", []string{"picture"}},
		{"data URL", Payload{"picture": "data:image/png;base64,AAAA"}, "", []string{"picture"}},
		{"ftp", Payload{"icon_url": "ftp://example.com/a.png"}, "", []string{"icon_url"}},
		{"relative", Payload{"picture": "/avatars/a.png"}, "", []string{"picture"}},
		{"protocol relative", Payload{"picture": "//cdn.example.com/a.png"}, "", []string{"picture"}},
		{"credentials", Payload{"picture": "https://user:pw@cdn.example.com/a.png"}, "", []string{"picture"}},
		{"too long", Payload{"picture": "https://cdn.example.com/" + strings.Repeat("a", 3000)}, "", []string{"picture"}},
		// The first non-empty key wins even when it is unusable: icon_url is not tried.
		{"invalid picture then icon_url", Payload{"picture": "file:///etc/passwd", "icon_url": "https://ok.example/a.png"}, "", []string{"picture"}},
		{"empty picture then icon_url", Payload{"picture": "", "icon_url": "https://ok.example/a.png"}, "https://ok.example/a.png", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := mustMap(t, tc.p)
			if pr.Picture != tc.want {
				t.Fatalf("Picture = %q, want %q", pr.Picture, tc.want)
			}
			if !slices.Equal(pr.Skipped, tc.skipped) {
				t.Fatalf("Skipped = %q, want %q", pr.Skipped, tc.skipped)
			}
		})
	}
}

func TestMapRequired(t *testing.T) {
	full := func() Payload {
		return Payload{"sub": "s-1", "email": "r@example.com", "name": "R"}
	}
	for _, tc := range []struct {
		attr, claim string
		drop        []string
		set         Payload
	}{
		{attr: "externalId", claim: "sub", drop: []string{"sub"}},
		{attr: "externalId", claim: "sub", set: Payload{"sub": "   "}},
		{attr: "email", claim: "email", drop: []string{"email"}},
		{attr: "email", claim: "email", set: Payload{"email": ""}},
		{attr: "name", claim: "name", drop: []string{"name"}},
		{attr: "name", claim: "name", set: Payload{"name": nil}},
	} {
		t.Run(tc.attr+"/"+tc.claim, func(t *testing.T) {
			p := full()
			for _, k := range tc.drop {
				delete(p, k)
			}
			for k, v := range tc.set {
				p[k] = v
			}
			_, err := Map(p, "externalId", "email", "name")
			wantSSOError(t, err, auth.CodeMissingClaim, tc.claim)
			// Not required: no error.
			if _, err := Map(p); err != nil {
				t.Fatalf("not required: %v", err)
			}
		})
	}
	t.Run("all present", func(t *testing.T) {
		pr := mustMap(t, full(), "externalId", "email", "name")
		if pr.ExternalID != "s-1" || pr.Email != "r@example.com" || pr.Name != "R" {
			t.Fatalf("profile: %+v", pr)
		}
	})
	t.Run("fallback keys satisfy requirements", func(t *testing.T) {
		mustMap(t, Payload{"nameid": "n", "emailAddress": "n@example.com", "fullName": "N"}, "externalId", "email", "name")
	})
	t.Run("an invalid email is INVALID_CLAIM, not MISSING_CLAIM", func(t *testing.T) {
		p := full()
		p["email"] = "nope"
		_, err := Map(p, "externalId", "email", "name")
		wantSSOError(t, err, auth.CodeInvalidClaim, "email")
	})
}

func TestMapEmailVerified(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		set  bool
		want bool
	}{
		{name: "absent", want: true},
		{name: "true", v: true, set: true, want: true},
		{name: "false", v: false, set: true, want: false},
		{name: "string false", v: "false", set: true, want: false},
		{name: "string FALSE", v: "FALSE", set: true, want: false},
		{name: "string true", v: "true", set: true, want: true},
		{name: "null", v: nil, set: true, want: true},
		{name: "string True with spaces", v: " True ", set: true, want: true},
		{name: "zero", v: json.Number("0"), set: true, want: false},
		{name: "one", v: json.Number("1"), set: true, want: false},
		{name: "string no", v: "no", set: true, want: false},
		{name: "string 0", v: "0", set: true, want: false},
		{name: "empty string", v: "", set: true, want: false},
		{name: "object", v: map[string]any{"value": true}, set: true, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Payload{"email": "v@example.com"}
			if tc.set {
				p["email_verified"] = tc.v
			}
			if got := mustMap(t, p).EmailVerified; got != tc.want {
				t.Fatalf("EmailVerified = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMapSpaces(t *testing.T) {
	join := func(s string) SpaceChange { return SpaceChange{Space: s, Role: "MEMBER", Action: ActionJoin} }
	for _, tc := range []struct {
		name    string
		in      string
		want    []SpaceChange
		op      string
		skipped []string
		code    string
		claim   string
	}{
		{name: "no spaces", in: `{}`, op: OpAdd},
		{name: "spaceIds list", in: `{"spaceIds": ["general", "news"]}`, want: []SpaceChange{join("general"), join("news")}, op: OpAdd},
		{name: "spaceIds numbers", in: `{"spaceIds": [1, 22]}`, want: []SpaceChange{join("1"), join("22")}, op: OpAdd},
		{name: "spaceIds list with empties", in: `{"spaceIds": ["a", "", null, " b "]}`, want: []SpaceChange{join("a"), join("b")}, op: OpAdd},
		{name: "spaceIds comma string", in: `{"spaceIds": "a, b,c"}`, want: []SpaceChange{join("a"), join("b"), join("c")}, op: OpAdd},
		{name: "spaceIds comma string with empty parts", in: `{"spaceIds": "a,,b,"}`, want: []SpaceChange{join("a"), join("b")}, op: OpAdd},
		{name: "spaceIds single string", in: `{"spaceIds": "general"}`, want: []SpaceChange{join("general")}, op: OpAdd},
		{name: "spaceIds number", in: `{"spaceIds": 7}`, want: []SpaceChange{join("7")}, op: OpAdd},
		{name: "spaceIds null", in: `{"spaceIds": null}`, op: OpAdd},
		// Providers send an attribute without a value as "": no spaces, not a failed login
		// ("," already maps to no spaces).
		{name: "spaceIds empty string", in: `{"spaceIds": ""}`, op: OpAdd},
		{name: "spaceIds object", in: `{"spaceIds": {"a": 1}}`, code: auth.CodeInvalidClaim, claim: "spaceIds"},
		{name: "spaces with defaults", in: `{"spaces": [{"spaceId": "general"}]}`, want: []SpaceChange{join("general")}, op: OpAdd},
		{name: "spaces full entries", in: `{"spaces": [{"spaceId": "a", "role": "admin", "action": "join"}, {"id": 5, "role": "MEMBER", "action": "LEAVE"}, {"slug": "s"}]}`,
			want: []SpaceChange{{Space: "a", Role: "ADMIN", Action: ActionJoin}, {Space: "5", Role: "MEMBER", Action: ActionLeave}, join("s")}, op: OpAdd},
		{name: "spaceId beats id beats slug", in: `{"spaces": [{"spaceId": "x", "id": "y", "slug": "z"}, {"id": "y", "slug": "z"}]}`,
			want: []SpaceChange{join("x"), join("y")}, op: OpAdd},
		{name: "invalid entries skipped", in: `{"spaces": [{"role": "ADMIN"}, {"spaceId": "a", "role": "OWNER"}, {"spaceId": "b", "action": "DELETE"}, {"spaceId": "c"}, {}]}`,
			want: []SpaceChange{join("c")}, skipped: []string{"spaces[0]", "spaces[1]", "spaces[2]", "spaces[4]"}, op: OpAdd},
		{name: "spaceIds and spaces together", in: `{"spaceIds": ["a"], "spaces": [{"spaceId": "b", "role": "ADMIN"}]}`,
			want: []SpaceChange{join("a"), {Space: "b", Role: "ADMIN", Action: ActionJoin}}, op: OpAdd},
		{name: "spaces not a list", in: `{"spaces": "a"}`, code: auth.CodeInvalidClaim, claim: "spaces"},
		{name: "spaces entry not an object", in: `{"spaces": [{"spaceId": "a"}, "b"]}`, code: auth.CodeInvalidClaim, claim: "spaces"},
		{name: "spacesOperation ADD", in: `{"spacesOperation": "ADD", "spaceIds": ["a"]}`, want: []SpaceChange{join("a")}, op: OpAdd},
		{name: "spacesOperation add", in: `{"spacesOperation": "add"}`, op: OpAdd},
		{name: "spacesOperation REPLACE", in: `{"spacesOperation": "REPLACE", "spaceIds": ["a"]}`, want: []SpaceChange{join("a")}, op: OpReplace},
		{name: "spacesOperation replace without spaces", in: `{"spacesOperation": " replace "}`, op: OpReplace},
		{name: "spacesOperation empty", in: `{"spacesOperation": ""}`, op: OpAdd},
		{name: "spacesOperation invalid", in: `{"spacesOperation": "MERGE"}`, code: auth.CodeInvalidClaim, claim: "spacesOperation"},
		{name: "spacesOperation number", in: `{"spacesOperation": 1}`, code: auth.CodeInvalidClaim, claim: "spacesOperation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := Map(decode(t, tc.in))
			if tc.code != "" {
				wantSSOError(t, err, tc.code, tc.claim)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pr.Spaces, tc.want) {
				t.Fatalf("Spaces = %+v, want %+v", pr.Spaces, tc.want)
			}
			if pr.SpacesOperation != tc.op {
				t.Fatalf("SpacesOperation = %q, want %q", pr.SpacesOperation, tc.op)
			}
			if !slices.Equal(pr.Skipped, tc.skipped) {
				t.Fatalf("Skipped = %q, want %q", pr.Skipped, tc.skipped)
			}
		})
	}
}

func TestClaimMatches(t *testing.T) {
	for _, tc := range []struct {
		name         string
		payload      string
		claim, value string
		want         bool
	}{
		{"no claim configured", `{"admin": true}`, "", "", false},
		{"absent", `{}`, "admin", "", false},
		{"null", `{"admin": null}`, "admin", "", false},
		{"presence: true", `{"admin": true}`, "admin", "", true},
		{"presence: false", `{"admin": false}`, "admin", "", false},
		{"presence: string", `{"admin": "yes"}`, "admin", "", true},
		{"presence: string false", `{"admin": "false"}`, "admin", "", false},
		{"presence: string 0", `{"admin": "0"}`, "admin", "", false},
		{"presence: empty string", `{"admin": ""}`, "admin", "", true},
		{"presence: blank string", `{"admin": "  "}`, "admin", "", true},
		{"presence: number 1", `{"admin": 1}`, "admin", "", true},
		{"presence: number 0", `{"admin": 0}`, "admin", "", false},
		{"presence: empty array", `{"admin": []}`, "admin", "", true},
		{"presence: array", `{"admin": ["x"]}`, "admin", "", true},
		{"presence: object", `{"admin": {"a": 1}}`, "admin", "", true},
		{"presence: empty object", `{"admin": {}}`, "admin", "", true},
		{"presence: path to an empty string", `{"app_metadata": {"admin": ""}}`, "app_metadata.admin", "", true},
		{"path to null", `{"app_metadata": {"admin": null}}`, "app_metadata.admin", "", false},
		{"empty string with a value", `{"admin": ""}`, "admin", "yes", false},
		{"empty array with a value", `{"admin": []}`, "admin", "yes", false},
		{"value of an object", `{"admin": {"a": 1}}`, "admin", "1", false},
		{"path: value", `{"app_metadata": {"roles": ["staff", "admin"]}}`, "app_metadata.roles", "admin", true},
		{"path: presence", `{"app_metadata": {"admin": true}}`, "app_metadata.admin", "", true},
		{"path: missing", `{"app_metadata": {"roles": ["staff"]}}`, "app_metadata.groups", "", false},
		{"path through a scalar", `{"app_metadata": "x"}`, "app_metadata.roles", "", false},
		{"dotted key wins", `{"https://example.com/role": "admin"}`, "https://example.com/role", "admin", true},
		{"value equal", `{"role": "admin"}`, "role", "admin", true},
		{"value differs", `{"role": "member"}`, "role", "admin", false},
		{"value is a prefix", `{"role": "administrators"}`, "role", "admin", false},
		{"value is case-sensitive", `{"role": "Admin"}`, "role", "admin", false},
		{"value inside an array", `{"groups": ["users", "admin"]}`, "groups", "admin", true},
		{"value not inside an array", `{"groups": ["users", "administrators"]}`, "groups", "admin", false},
		{"number inside an array", `{"groups": [1, 42]}`, "groups", "42", true},
		{"value in a space-separated string", `{"groups": "users admin mods"}`, "groups", "admin", true},
		{"value in a comma-separated string", `{"groups": "users,admin"}`, "groups", "admin", true},
		{"value in a comma-space-separated string", `{"groups": "users, admin"}`, "groups", "admin", true},
		{"value not in a separated string", `{"groups": "users, admins"}`, "groups", "admin", false},
		{"bool true with value true", `{"admin": true}`, "admin", "true", true},
		{"bool false with value true", `{"admin": false}`, "admin", "true", false},
		{"bool false with value false", `{"admin": false}`, "admin", "false", true},
		{"number value", `{"level": 7}`, "level", "7", true},
		{"object with a value", `{"role": {"admin": true}}`, "role", "admin", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := claimMatches(decode(t, tc.payload), tc.claim, tc.value); got != tc.want {
				t.Fatalf("claimMatches(%s, %q, %q) = %v, want %v", tc.payload, tc.claim, tc.value, got, tc.want)
			}
		})
	}
}

func TestRoleMapping(t *testing.T) {
	groups := &RoleMapping{AdminClaim: "groups", AdminValue: "admins", ModeratorClaim: "groups", ModeratorValue: "mods"}
	flags := &RoleMapping{AdminClaim: "is_admin", ModeratorClaim: "is_moderator"}
	for _, tc := range []struct {
		name    string
		m       *RoleMapping
		payload string
		want    user.Role
	}{
		{"admin by value", groups, `{"groups": ["admins"]}`, user.RoleADMIN},
		{"admin beats moderator", groups, `{"groups": ["mods", "admins"]}`, user.RoleADMIN},
		{"moderator by value", groups, `{"groups": "users mods"}`, user.RoleMODERATOR},
		{"nothing matches", groups, `{"groups": ["users"]}`, user.RoleMEMBER},
		{"claim absent", groups, `{}`, user.RoleMEMBER},
		{"admin by presence", flags, `{"is_admin": true, "is_moderator": true}`, user.RoleADMIN},
		{"moderator by presence", flags, `{"is_admin": false, "is_moderator": true}`, user.RoleMODERATOR},
		{"both false", flags, `{"is_admin": false, "is_moderator": "false"}`, user.RoleMEMBER},
		{"only a moderator claim configured", &RoleMapping{ModeratorClaim: "mod"}, `{"mod": 1, "admin": true}`, user.RoleMODERATOR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.m.Role(decode(t, tc.payload)); got != tc.want {
				t.Fatalf("Role(%s) = %s, want %s", tc.payload, got, tc.want)
			}
		})
	}
	t.Run("Configured", func(t *testing.T) {
		for _, tc := range []struct {
			m    *RoleMapping
			want bool
		}{
			{nil, false},
			{&RoleMapping{}, false},
			{&RoleMapping{AdminValue: "x", ModeratorValue: "y"}, false},
			{&RoleMapping{AdminClaim: "a"}, true},
			{&RoleMapping{ModeratorClaim: "m"}, true},
		} {
			if got := tc.m.Configured(); got != tc.want {
				t.Fatalf("%+v.Configured() = %v, want %v", tc.m, got, tc.want)
			}
		}
	})
}

// TestMapJWT: JWT SSO takes the externalId from sub alone; OAuth2 payloads keep id, ID, sub,
// nameid.
func TestMapJWT(t *testing.T) {
	for _, tc := range []struct {
		name      string
		payload   string
		wantJWT   string
		wantOAuth string
	}{
		{"sub only", `{"sub": "s-1", "email": "a@example.com", "name": "A"}`, "s-1", "s-1"},
		{"id and sub", `{"id": "i-1", "sub": "s-1", "email": "a@example.com", "name": "A"}`, "s-1", "i-1"},
		{"ID and nameid", `{"ID": "I-1", "nameid": "n-1", "sub": "s-1", "email": "a@example.com", "name": "A"}`, "s-1", "I-1"},
		{"numeric sub", `{"id": 7, "sub": 4711, "email": "a@example.com", "name": "A"}`, "4711", "7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, err := MapJWT(decode(t, tc.payload))
			if err != nil {
				t.Fatalf("MapJWT: %v", err)
			}
			if pr.ExternalID != tc.wantJWT {
				t.Fatalf("JWT externalId %q, want %q", pr.ExternalID, tc.wantJWT)
			}
			if got := mustMap(t, decode(t, tc.payload)).ExternalID; got != tc.wantOAuth {
				t.Fatalf("OAuth2 externalId %q, want %q", got, tc.wantOAuth)
			}
		})
	}
	for _, tc := range []struct {
		name, payload, claim string
	}{
		{"id without sub", `{"id": "i-1", "email": "a@example.com", "name": "A"}`, "sub"},
		{"empty sub", `{"sub": " ", "id": "i-1", "email": "a@example.com", "name": "A"}`, "sub"},
		{"no email", `{"sub": "s-1", "name": "A"}`, "email"},
		{"no name", `{"sub": "s-1", "email": "a@example.com"}`, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MapJWT(decode(t, tc.payload))
			wantSSOError(t, err, auth.CodeMissingClaim, tc.claim)
		})
	}
}

// TestMapClears: an explicit empty tagline or picture clears it; an absent one, a value under
// another key, or an invalid picture does not.
func TestMapClears(t *testing.T) {
	for _, tc := range []struct {
		name             string
		payload          string
		tagline, picture bool
	}{
		{"absent", `{}`, false, false},
		{"null", `{"tagline": null, "picture": null}`, true, true},
		{"empty strings", `{"tagline": "", "icon_url": "  "}`, true, true},
		{"empty arrays", `{"tagline": [], "picture": [""]}`, true, true},
		{"an object is not empty", `{"tagline": {}, "picture": {}}`, false, false},
		{"a value under another key wins", `{"picture": "", "icon_url": "https://cdn.example.com/a.png"}`, false, false},
		{"an invalid picture is skipped, not cleared", `{"picture": "javascript:alert(1)"}`, false, false},
		{"values", `{"tagline": "hi", "picture": "https://cdn.example.com/a.png"}`, false, false},
		{"a name is never cleared", `{"name": "", "tagline": "x"}`, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := mustMap(t, decode(t, tc.payload))
			if pr.ClearTagline != tc.tagline || pr.ClearPicture != tc.picture {
				t.Fatalf("ClearTagline %v, ClearPicture %v, want %v, %v", pr.ClearTagline, pr.ClearPicture, tc.tagline, tc.picture)
			}
		})
	}
}

// TestFieldValue: array claims fill TEXT fields joined and other types with their first valid
// element; explicit empty values clear; the first key with a value wins.
func TestFieldValue(t *testing.T) {
	plans := []string{"free", "gold", "pro"}
	for _, tc := range []struct {
		name    string
		typ     profilefield.Type
		payload string
		val     string
		key     string
		state   fieldState
	}{
		{"absent", profilefield.TypeTEXT, `{"other": "x"}`, "", "", fieldAbsent},
		{"text scalar", profilefield.TypeTEXT, `{"a": " Acme "}`, "Acme", "a", fieldSet},
		{"text array joined", profilefield.TypeTEXT, `{"a": ["red", " green ", "", null, 3, {"x": 1}, ["y"]]}`, "red, green, 3", "a", fieldSet},
		{"text one-element array", profilefield.TypeTEXT, `{"a": ["only"]}`, "only", "a", fieldSet},
		{"select array: first option", profilefield.TypeSELECT, `{"a": ["silver", "pro", "gold"]}`, "pro", "a", fieldSet},
		{"select array: no option", profilefield.TypeSELECT, `{"a": ["silver", "bronze"]}`, "", "a", fieldInvalid},
		{"select scalar", profilefield.TypeSELECT, `{"a": "gold"}`, "gold", "a", fieldSet},
		{"number array: first number", profilefield.TypeNUMBER, `{"a": ["many", 42, 7]}`, "42", "a", fieldSet},
		{"boolean array", profilefield.TypeBOOLEAN, `{"a": [true]}`, "true", "a", fieldSet},
		{"null clears", profilefield.TypeTEXT, `{"a": null}`, "", "", fieldClear},
		{"empty string clears", profilefield.TypeNUMBER, `{"a": ""}`, "", "", fieldClear},
		{"blank string clears", profilefield.TypeSELECT, `{"a": "  "}`, "", "", fieldClear},
		{"empty array clears", profilefield.TypeTEXT, `{"a": []}`, "", "", fieldClear},
		{"array of empties clears", profilefield.TypeTEXT, `{"a": ["", null]}`, "", "", fieldClear},
		{"an object neither sets nor clears", profilefield.TypeTEXT, `{"a": {"x": 1}}`, "", "", fieldAbsent},
		{"a later key's value beats an earlier empty", profilefield.TypeTEXT, `{"a": "", "b": "Acme"}`, "Acme", "b", fieldSet},
		{"an earlier key's value beats a later empty", profilefield.TypeTEXT, `{"a": "Acme", "b": null}`, "Acme", "a", fieldSet},
		{"empty then absent clears", profilefield.TypeTEXT, `{"b": null}`, "", "", fieldClear},
		{"an invalid value is not cleared", profilefield.TypeNUMBER, `{"a": "abc", "b": ""}`, "", "a", fieldInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			val, key, state := fieldValue(decode(t, tc.payload), []string{"a", "b"}, tc.typ, plans)
			if val != tc.val || key != tc.key || state != tc.state {
				t.Fatalf("fieldValue = %q, %q, %d; want %q, %q, %d", val, key, state, tc.val, tc.key, tc.state)
			}
		})
	}
}
