// Package auth is everything about identity: the viewer in the request context, sessions and API
// tokens, the redirect validator, direct (email/password) login and its throttle, logout, the login
// page, the mailed links (a member's email confirmation and the password reset, see MailLinks), and
// the SSO methods (OAuth2/OpenID Connect and JWT SSO) that share one provisioning core.
//
// # Direct login throttle
//
// Throttle (throttle.go) counts direct login attempts per client address and per (email, client
// address) pair in login_throttles, with compare-and-set updates so that concurrent attempts
// cannot all pass a limit; a pair pays progressive delays rather than a lock, so nobody at another
// address can lock an email out. The password checks then run in the slots of one
// password.Limiter, so a burst cannot hold more than its memory.
//
// # Statements on the login path
//
// Most statements go through ent's builders. The few that every login sends (the session
// INSERT, the security events INSERT and the login-time UPDATE here; the settings read in
// jwtsso; the member, space and field lookups in provision) are fixed SQL text whose rows are
// scanned into typed values: ent rebuilt each of them on every call and scanned by reflection,
// which cost as much as running them or more (docs/PERFORMANCE.md). The text uses backquoted
// identifiers and ? placeholders, which SQLite and MySQL/MariaDB read alike; the tests run it
// on both, and TestInsertColumns fails when the schema gains a column an INSERT does not write.
package auth
