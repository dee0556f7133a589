package provision

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/profile"
)

// FuzzMap feeds arbitrary JSON documents to Map: it never panics, and what it returns is either a
// profile within the stored limits or a MISSING_CLAIM / INVALID_CLAIM *auth.SSOError.
func FuzzMap(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"sub": "auth0|1", "email": "Pat@Example.com", "name": "Pat", "picture": "https://cdn.example.com/p.png"}`,
		`{"data": {"id": 4711, "user_email": "a@b.co", "display_name": "Wrapped", "icon_url": "javascript:alert(1)"}}`,
		`{"data": {"data": {"sub": "nested twice"}}}`,
		`{"data": {"id": "x"}, "sub": "outer"}`,
		`{"id": 123456789012345678901234567890, "ID": 1e400, "sub": -0.0, "nameid": 1.5e-300}`,
		`{"id": "", "ID": null, "sub": ["a"], "nameid": {"v": 1}}`,
		`{"email": ["a@b.co"], "name": [1, 2], "username": true, "tagline": 3.25}`,
		`{"name": "Ünïcødé 名前 🎉", "username": "ユーザー", "email": "ü@例え.jp", "tagline": "\u0000\u202e"}`,
		"{\"name\": \"\xff\xfe invalid utf-8 \xc3\", \"sub\": \"\xed\xa0\x80\"}",
		`{"sub": "` + strings.Repeat("x", 51) + `"}`,
		`{"name": "` + strings.Repeat("€", 120) + `", "tagline": "` + strings.Repeat("é", 300) + `"}`,
		`{"email": "` + strings.Repeat("a", 190) + `@example.com"}`,
		`{"email_verified": "false", "spaceIds": "a, b,,c", "spacesOperation": "replace"}`,
		`{"spaceIds": [1, "two", null, {"x": 1}], "spaces": [{"spaceId": 3, "role": "admin", "action": "leave"}, {"slug": "s", "role": "owner"}, {}]}`,
		`{"spaces": ["not an object"], "spacesOperation": "MERGE"}`,
		`{"spaceIds": "", "spaces": null, "spacesOperation": null}`,
		`{"picture": "HTTPS://EXAMPLE.COM/A.PNG", "icon_url": "https://x.example/y"}`,
		`[1, 2, 3]`,
		`"just a string"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var p Payload
		if err := d.Decode(&p); err != nil || p == nil {
			return
		}
		for _, required := range [][]string{nil, {"externalId", "email", "name"}} {
			pr, err := Map(p, required...)
			if err != nil {
				var e *auth.SSOError
				if !errors.As(err, &e) {
					t.Fatalf("Map error %v (%T) is not an *auth.SSOError", err, err)
				}
				if e.Code != auth.CodeMissingClaim && e.Code != auth.CodeInvalidClaim {
					t.Fatalf("Map error code %s, want MISSING_CLAIM or INVALID_CLAIM", e.Code)
				}
				if claim, _ := e.Detail["claim"].(string); claim == "" {
					t.Fatalf("Map error without the claim in its detail: %v", e)
				}
				if pr != nil {
					t.Fatalf("Map returned a profile beside an error")
				}
				continue
			}
			if pr == nil {
				t.Fatal("Map returned neither a profile nor an error")
			}
			if len(pr.ExternalID) > MaxExternalIDLength {
				t.Fatalf("ExternalID of %d bytes", len(pr.ExternalID))
			}
			if pr.Email != "" {
				if n, err := auth.NormalizeEmail(pr.Email); err != nil || n != pr.Email {
					t.Fatalf("Email %q is not normalized (%q, %v)", pr.Email, n, err)
				}
				if len(pr.Email) > auth.MaxEmailLength {
					t.Fatalf("Email of %d bytes", len(pr.Email))
				}
			}
			if pr.Picture != "" {
				if _, err := profile.HTTPURL(pr.Picture); err != nil {
					t.Fatalf("Picture %q: %v", pr.Picture, err)
				}
				if u, err := url.Parse(pr.Picture); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					t.Fatalf("Picture %q is not an http(s) URL", pr.Picture)
				}
			}
			if len(pr.Name) > MaxNameLength {
				t.Fatalf("Name of %d bytes", len(pr.Name))
			}
			if len(pr.Tagline) > MaxTaglineLength {
				t.Fatalf("Tagline of %d bytes", len(pr.Tagline))
			}
			if utf8.Valid(data) {
				for what, s := range map[string]string{"Name": pr.Name, "Tagline": pr.Tagline, "ExternalID": pr.ExternalID, "Username": pr.Username} {
					if !utf8.ValidString(s) {
						t.Fatalf("%s %q is not valid UTF-8", what, s)
					}
				}
			}
			if pr.SpacesOperation != OpAdd && pr.SpacesOperation != OpReplace {
				t.Fatalf("SpacesOperation %q", pr.SpacesOperation)
			}
			for _, c := range pr.Spaces {
				if c.Space == "" || (c.Role != "MEMBER" && c.Role != "ADMIN") || (c.Action != ActionJoin && c.Action != ActionLeave) {
					t.Fatalf("space change %+v", c)
				}
			}
			for _, r := range required {
				switch {
				case r == "externalId" && pr.ExternalID == "",
					r == "email" && pr.Email == "",
					r == "name" && pr.Name == "":
					t.Fatalf("required %s is empty without an error", r)
				}
			}
			if pr.Payload == nil {
				t.Fatal("Profile.Payload is nil")
			}
			if (pr.ClearTagline && pr.Tagline != "") || (pr.ClearPicture && pr.Picture != "") {
				t.Fatalf("a value and its clearing: %+v", pr)
			}
		}
		// JWT SSO: the externalId is the sub claim, never another.
		if pr, err := MapJWT(p); err == nil && pr.ExternalID != String(pr.Payload["sub"]) {
			t.Fatalf("MapJWT externalId %q, sub %v", pr.ExternalID, pr.Payload["sub"])
		}
	})
}
