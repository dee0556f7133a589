package provision

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/community/sso/auth"
	"github.com/community/sso/auth/authdb"
	"github.com/community/sso/auth/identity"
	"github.com/community/sso/auth/profile"
	"github.com/community/sso/ent/migrate"
	"github.com/community/sso/ent/profilefield"
	"github.com/community/sso/ent/user"
)

// Payload is what an identity provider says about a member: JWT claims, id_token claims merged
// with user info, or a user info document.
type Payload map[string]any

// Keys tried in order for each profile attribute; the first non-empty value wins. OAuth2
// payloads (id_token claims and user info) take the externalId from id, ID, sub or nameid; JWT
// SSO takes it from sub alone (MapJWT), so a claim named id is an ordinary claim there.
var (
	externalIDKeys    = []string{"id", "ID", "sub", "nameid"}
	jwtExternalIDKeys = []string{"sub"}
	emailKeys         = []string{"email", "user_email", "emailAddress"}
	nameKeys          = []string{"name", "display_name", "displayName", "full_name", "fullName"}
	usernameKeys      = []string{"username", "user_login", "nickname", "preferred_username"}
	pictureKeys       = []string{"picture", "icon_url"}
	taglineKeys       = []string{"tagline"}
)

// MaxExternalIDLength bounds a mapped externalId.
const MaxExternalIDLength = identity.MaxExternalIDLength

// Limits of the mapped values cut to fit: their columns' sizes in the schema.
var (
	MaxNameLength    = authdb.Size(migrate.UsersTable, user.FieldName)
	MaxTaglineLength = authdb.Size(migrate.UsersTable, user.FieldTagline)
)

// Space actions and operations of a payload.
const (
	ActionJoin  = "JOIN"
	ActionLeave = "LEAVE"
	OpAdd       = "ADD"
	OpReplace   = "REPLACE"
)

// SpaceChange is one entry of the payload's spaces list.
type SpaceChange struct {
	Space  string // id or slug
	Role   string // ADMIN or MEMBER
	Action string // JOIN or LEAVE
}

// Profile is a payload mapped to what the community stores.
type Profile struct {
	ExternalID string
	Email      string
	Name       string
	Username   string
	Picture    string
	Tagline    string
	// ClearTagline and ClearPicture are set when the payload carries the attribute's key with an
	// explicit empty value (null, "" or []) and no key of it has a value: the member's tagline or
	// picture is cleared. A name is never cleared.
	ClearTagline bool
	ClearPicture bool
	// EmailVerified is true when the payload has no email_verified (or null), or says true (true
	// or "true"); any other value of it is false.
	EmailVerified bool
	Spaces        []SpaceChange
	// SpacesOperation is ADD (keep other memberships) or REPLACE (the payload's spaces are all).
	SpacesOperation string
	// Skipped lists what the payload held but could not be used (for the security log).
	Skipped []string
	// Payload is the unwrapped payload, for custom fields and role claims.
	Payload Payload
}

// Unwrap returns the member inside a {"data": {...}} envelope, or p itself. A GraphQL answer
// ({"data": {"currentMember": {...}}}, as Memberful's member API gives) is unwrapped down to the
// object of its one root field.
func Unwrap(p Payload) Payload {
	if len(p) != 1 {
		return p
	}
	data, ok := p["data"].(map[string]any)
	if !ok {
		return p
	}
	if len(data) == 1 {
		for _, v := range data {
			if inner, ok := v.(map[string]any); ok {
				return inner
			}
		}
	}
	return data
}

// String reads a scalar claim as a string: numbers as their decimal form (ids are often numbers),
// booleans as true/false. Objects, arrays and null are "".
func String(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return strconv.FormatInt(i, 10)
		}
		return x.String()
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// firstID returns the first id among keys, exactly as the payload has it, and the key it came
// from: a string as it is (not trimmed: identity.ExternalID refuses spaces around an id), a whole
// number as its decimal form ("1e3" is "1000"). ok is false when that key holds something else:
// a fraction, a boolean, or a number decoded as float64 beyond 2^53, whose digits may have been
// lost (two members must never read as one id). A blank string, null, an object or an array is
// passed over, as for every claim.
func firstID(p Payload, keys []string) (id, key string, ok bool) {
	for _, k := range keys {
		switch x := p[k].(type) {
		case nil, map[string]any, []any:
			continue
		case string:
			if strings.TrimSpace(x) == "" {
				continue
			}
			return x, k, true
		case json.Number:
			// The literal is bounded before it is read: "1e999999" would be a million digits.
			lit := x.String()
			if len(lit) > maxIDLiteral || exponentOver(lit, MaxExternalIDLength) {
				return "", k, false
			}
			r, valid := new(big.Rat).SetString(lit)
			if !valid || !r.IsInt() {
				return "", k, false
			}
			return r.Num().String(), k, true
		case int:
			return strconv.Itoa(x), k, true
		case int64:
			return strconv.FormatInt(x, 10), k, true
		case float64:
			if x != math.Trunc(x) || math.Abs(x) >= 1<<53 {
				return "", k, false
			}
			return strconv.FormatInt(int64(x), 10), k, true
		default:
			return "", k, false
		}
	}
	return "", "", true
}

// maxIDLiteral bounds the text of a number read as an id.
const maxIDLiteral = 64

// exponentOver reports whether the number literal lit has an exponent above max.
func exponentOver(lit string, max int) bool {
	i := strings.IndexAny(lit, "eE")
	if i < 0 {
		return false
	}
	e, err := strconv.Atoi(strings.TrimPrefix(lit[i+1:], "+"))
	return err != nil || e > max
}

// first returns the first non-empty value among keys, and the key it came from.
func first(p Payload, keys []string) (string, string) {
	for _, k := range keys {
		if v := String(p[k]); v != "" {
			return v, k
		}
	}
	return "", ""
}

// Empty reports whether a claim's value is an explicit empty one: null, a blank string, or an
// array without a non-empty scalar element. Objects, numbers and booleans are not empty.
func Empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(Strings(x)) == 0
	}
	return false
}

// Strings reads a claim as a list of strings: a scalar as String does (one element, none when
// empty), an array as the non-empty String of each scalar element. Objects and null are none.
func Strings(v any) []string {
	list, ok := v.([]any)
	if !ok {
		if s := String(v); s != "" {
			return []string{s}
		}
		return nil
	}
	var out []string
	for _, item := range list {
		if _, nested := item.([]any); nested {
			continue
		}
		if s := String(item); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// cleared reports whether the payload carries one of keys with an explicit empty value (Empty).
// Callers ask only when no key has a value.
func cleared(p Payload, keys []string) bool {
	for _, k := range keys {
		if v, ok := p[k]; ok && Empty(v) {
			return true
		}
	}
	return false
}

// Map turns an OAuth2 payload (id_token claims with user info, or a user info document) into a
// profile; its externalId is the first of id, ID, sub and nameid. required names attributes
// that must be present ("externalId", "email", "name"); a missing one is MISSING_CLAIM, a
// malformed one INVALID_CLAIM.
func Map(p Payload, required ...string) (*Profile, error) {
	return mapKeys(p, externalIDKeys, required)
}

// MapJWT turns JWT SSO claims into a profile: its externalId is the token's sub (an id claim
// is an ordinary claim, free for a custom field), and sub, email and name are required.
func MapJWT(p Payload) (*Profile, error) {
	return mapKeys(p, jwtExternalIDKeys, []string{"externalId", "email", "name"})
}

func mapKeys(p Payload, idKeys, required []string) (*Profile, error) {
	p = Unwrap(p)
	pr := &Profile{Payload: p, EmailVerified: true, SpacesOperation: OpAdd}
	ext, key, ok := firstID(p, idKeys)
	if !ok {
		return nil, claimError(auth.CodeInvalidClaim, key, "the id must be a string or a whole number")
	}
	var err error
	if pr.ExternalID, err = identity.ExternalID(ext); err != nil {
		return nil, claimError(auth.CodeInvalidClaim, key, "the id must be at most %d bytes, with no spaces around it and no invisible characters", MaxExternalIDLength)
	}
	var email string
	email, key = first(p, emailKeys)
	if email != "" {
		e, err := auth.NormalizeEmail(email)
		if err != nil {
			return nil, claimError(auth.CodeInvalidClaim, key, "the email address is not valid")
		}
		pr.Email = e
	}
	pr.Name, _ = first(p, nameKeys)
	pr.Name = authdb.Truncate(pr.Name, MaxNameLength)
	pr.Username, _ = first(p, usernameKeys)
	if pic, key := first(p, pictureKeys); pic != "" {
		if _, err := profile.HTTPURL(pic); err != nil {
			pr.Skipped = append(pr.Skipped, key)
		} else {
			pr.Picture = pic
		}
	} else {
		pr.ClearPicture = cleared(p, pictureKeys)
	}
	pr.Tagline, _ = first(p, taglineKeys)
	pr.Tagline = authdb.Truncate(pr.Tagline, MaxTaglineLength)
	pr.ClearTagline = pr.Tagline == "" && cleared(p, taglineKeys)
	if v := p["email_verified"]; v != nil {
		// Given, it must say true: any other value (0, "no", an object) is not a provider
		// vouching for the address, and an unverified address never links. null says nothing.
		switch x := v.(type) {
		case bool:
			pr.EmailVerified = x
		case string:
			pr.EmailVerified = strings.EqualFold(strings.TrimSpace(x), "true")
		default:
			pr.EmailVerified = false
		}
	}
	for _, r := range required {
		missing := false
		switch r {
		case "externalId":
			missing = pr.ExternalID == ""
		case "email":
			missing = pr.Email == ""
		case "name":
			missing = pr.Name == ""
		}
		if missing {
			return nil, claimError(auth.CodeMissingClaim, claimName(r), "the sign-in data has no %s", claimName(r))
		}
	}
	if err := mapSpaces(p, pr); err != nil {
		return nil, err
	}
	return pr, nil
}

func claimName(attr string) string {
	switch attr {
	case "externalId":
		return "sub"
	}
	return attr
}

func claimError(code, claim, format string, args ...any) *auth.SSOError {
	e := auth.NewSSOError(code, format, args...)
	e.Detail = map[string]any{"claim": claim}
	return e
}

// What a payload says about a custom profile field.
type fieldState int

const (
	fieldAbsent  fieldState = iota // no key of the field: the value stays
	fieldSet                       // a valid value
	fieldInvalid                   // a value the field's type refuses: skipped, the value stays
	fieldClear                     // an explicit empty value (null, "" or []): the value is cleared
)

// ArraySeparator joins the elements of an array claim for a TEXT field.
const ArraySeparator = ", "

// fieldValue reads a custom profile field of type typ from the first of keys whose claim holds a
// value, and returns the value in its stored form and that key. An array claim fills a TEXT field
// with its elements joined by ArraySeparator; any other type takes the first element that is a
// valid value (for SELECT, the first that is one of the options). When no key holds a value but
// one carries an explicit empty value, the field is to be cleared.
func fieldValue(p Payload, keys []string, typ profilefield.Type, options []string) (string, string, fieldState) {
	clear := false
	for _, k := range keys {
		v, ok := p[k]
		if !ok {
			continue
		}
		vals := Strings(v)
		if len(vals) == 0 {
			clear = clear || Empty(v)
			continue
		}
		if typ == profilefield.TypeTEXT {
			vals = []string{strings.Join(vals, ArraySeparator)}
		}
		for _, raw := range vals {
			if val, err := profile.Value(typ, options, raw); err == nil {
				return val, k, fieldSet
			}
		}
		return "", k, fieldInvalid
	}
	if clear {
		return "", "", fieldClear
	}
	return "", "", fieldAbsent
}

// mapSpaces reads spaceIds, spaces and spacesOperation.
func mapSpaces(p Payload, pr *Profile) error {
	switch op := strings.ToUpper(String(p["spacesOperation"])); op {
	case "", OpAdd:
	case OpReplace:
		pr.SpacesOperation = OpReplace
	default:
		return claimError(auth.CodeInvalidClaim, "spacesOperation", "spacesOperation must be ADD or REPLACE")
	}
	if raw, ok := p["spaceIds"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			if s := String(raw); s != "" { // a single id, or a comma-separated list
				for _, part := range strings.Split(s, ",") {
					list = append(list, strings.TrimSpace(part))
				}
			} else if _, isString := raw.(string); !isString {
				return claimError(auth.CodeInvalidClaim, "spaceIds", "spaceIds must be a list of space ids or slugs")
			}
		}
		for _, item := range list {
			if id := String(item); id != "" {
				pr.Spaces = append(pr.Spaces, SpaceChange{Space: id, Role: "MEMBER", Action: ActionJoin})
			}
		}
	}
	if raw, ok := p["spaces"]; ok && raw != nil {
		list, ok := raw.([]any)
		if !ok {
			return claimError(auth.CodeInvalidClaim, "spaces", "spaces must be a list of {spaceId, role, action}")
		}
		for i, item := range list {
			m, ok := item.(map[string]any)
			if !ok {
				return claimError(auth.CodeInvalidClaim, "spaces", "spaces[%d] must be an object", i)
			}
			c := SpaceChange{Space: String(m["spaceId"]), Role: strings.ToUpper(String(m["role"])), Action: strings.ToUpper(String(m["action"]))}
			if c.Space == "" {
				c.Space = String(m["id"])
			}
			if c.Space == "" {
				c.Space = String(m["slug"])
			}
			if c.Role == "" {
				c.Role = "MEMBER"
			}
			if c.Action == "" {
				c.Action = ActionJoin
			}
			if c.Space == "" || (c.Role != "MEMBER" && c.Role != "ADMIN") || (c.Action != ActionJoin && c.Action != ActionLeave) {
				pr.Skipped = append(pr.Skipped, fmt.Sprintf("spaces[%d]", i))
				continue
			}
			pr.Spaces = append(pr.Spaces, c)
		}
	}
	return nil
}

// claimMatches reports whether the payload's claim matches. With no value configured, a
// present claim matches whatever it holds, an empty string, array or object included, except
// null (absent) and an explicit false (false, "false", 0, "0"). With a value, the claim must
// equal it (or, for an array claim, contain it). A claim with dots that is not a key of its own
// is a path into nested objects ("app_metadata.roles").
func claimMatches(p Payload, claim, value string) bool {
	if claim == "" {
		return false
	}
	v, ok := lookupClaim(p, claim)
	if !ok || v == nil {
		return false
	}
	switch x := v.(type) {
	case map[string]any:
		return value == ""
	case []any:
		if value == "" {
			return true
		}
		for _, item := range x {
			if String(item) == value {
				return true
			}
		}
		return false
	case bool:
		if value == "" {
			return x
		}
	}
	s := String(v)
	if value == "" {
		return s != "false" && s != "0"
	}
	if s == value {
		return true
	}
	// A space- or comma-separated list, as some providers send groups.
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' }) {
		if part == value {
			return true
		}
	}
	return false
}

// lookupClaim finds claim in p: as a key, else as a dotted path through nested objects.
func lookupClaim(p Payload, claim string) (any, bool) {
	if v, ok := p[claim]; ok {
		return v, true
	}
	if !strings.Contains(claim, ".") {
		return nil, false
	}
	var cur any = map[string]any(p)
	for _, part := range strings.Split(claim, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
