// Package provision is the one core both SSO methods call: it maps an identity provider's payload
// (id_token claims and user info, or JWT SSO claims) to a profile, then finds, links, creates or
// updates the member with its spaces, custom fields and role — all in one transaction, safe when
// the same person signs in twice at once — and starts its session.
//
// Decisions:
//   - a user with the payload's externalId is updated (its email too);
//   - else a user with the email and no externalId is linked; one with another externalId is a
//     conflict (nothing changes; an SSO_CONFLICT security event names both sides);
//   - an email the provider marks unverified never links;
//   - else a user is created.
//
// What a payload changes:
//   - the externalId is the first of id, ID, sub and nameid for OAuth2 (Map), sub alone for JWT
//     SSO (MapJWT);
//   - email, name, tagline and picture follow a value; an absent key keeps the member's value, an
//     explicit empty one (null, "" or []) clears the tagline and the picture, never the name;
//   - the username is set at creation; Request.SyncUsername renames on a changed claim (numeric
//     suffix when taken);
//   - a custom field takes the first of its external keys with a value: an array joined with ", "
//     for TEXT, its first valid element for other types (SELECT: the first option); an explicit
//     empty value deletes the member's value;
//   - a role claim with no value configured matches when present, even empty; null is absent and
//     false, "false" and 0 say no.
//
// Login provisions and starts a session; Apply re-applies a payload to an existing member
// without one (OAuth2 refresh revalidation); DryRun decides and writes nothing; Sync creates or
// updates a member without a login (POST /api/auth/sso/sync, syncMembers), also a suspended
// one, and applies the payload's suspended claim. Each Result lists its Changes as field, old
// and new value. None of them
// speaks HTTP: they take the request's address and agent from the context
// (auth.RequestContext) and return a Result; the login methods end with auth.FinishLogin.
package provision
