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
package provision
