// Package auth is everything about identity: the viewer in the request context, sessions (a
// browser's in a cookie, an app's as a css_ bearer token) and API tokens (cst_), the redirect
// validator, direct (email/password) login and its throttle, logout, the login page, the mailed
// links (a member's email confirmation and the password reset, see MailLinks), and the SSO methods
// (OAuth2/OpenID Connect and JWT SSO) that share one provisioning core and end in FinishLogin (a
// browser) or FinishTokenLogin (an app).
//
// # Direct login throttle
//
// Throttle (throttle.go) counts direct login attempts per client address and per (email, client
// address) pair in login_throttles, with compare-and-set updates so that concurrent attempts
// cannot all pass a limit; a pair pays progressive delays rather than a lock, so nobody at another
// address can lock an email out. The password checks then run in the slots of one
// password.Limiter, so a burst cannot hold more than its memory.
//
// # Embedding
//
// The admin's embed origins (AuthSettings.embedOrigins, NormalizeEmbedOrigins) are the sites that
// may frame the community. Embedding (on every route that needs the database) and FramePolicy
// (around the whole mux, for 404 and 405 answers) read them from the settings row once per
// request (one single-column read): a change applies at once on every replica, with no cache to
// go stale. They set the answer's
// frame-ancestors; EmbedOrigins tells the session cookie (SameSite=None; Secure; Partitioned
// while there are any), the OAuth2 flow cookie (likewise, in a frame), the API's CORS and its
// cross-origin check about them.
//
// # Statements on the login path
//
// The login's reads and writes (members, usernames, memberships, field values, settings,
// sessions and API tokens, security events, replay markers, the throttle's counters) are in
// package authdb; this package decides what they are. Most go through ent's builders; the few
// that every login sends as fixed SQL (the member, space and field lookups, the session INSERT,
// the login-time UPDATE, the security events INSERT and the JWT SSO settings read) are in
// authdb, and only there.
package auth
