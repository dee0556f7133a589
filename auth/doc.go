// Package auth is everything about identity: the viewer in the request context, sessions and API
// tokens, the redirect validator, direct (email/password) login, logout, the login page, and the
// SSO methods (OAuth2/OpenID Connect and JWT SSO) that share one provisioning core.
package auth
