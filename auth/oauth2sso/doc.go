// Package oauth2sso signs members in through the community's OAuth2 or OpenID Connect identity
// provider.
//
// GET /auth/oauth2/login sends the browser to the provider with a state, a nonce and a PKCE S256
// challenge; the state, the nonce, the PKCE verifier and the validated return path travel in one
// sealed, short-lived cookie, so any replica can take the callback. GET /auth/oauth2/callback
// checks, in order, the provider's error parameter, the flow cookie and the state (constant
// time), exchanges the code with the verifier, verifies the id_token (signature through the
// provider's JWKS, issuer, audience, expiry, nonce, sub, iat, azp), fetches user info when the
// id_token lacks the id, email or name (its sub must match), and hands the claims to the
// provisioning core.
//
// Providers come from presets (OKTA, AUTH0, OUTSETA, WORDPRESS, MEMBERFUL) built from the domain
// setting, or CUSTOM with explicit URLs. Discovery documents are cached for DiscoveryTTL; go-oidc
// refetches the key set when a token names an unknown kid.
//
// Sessions keep the sealed id_token and refresh token. With refresh revalidation configured, a
// session is revalidated with a refresh-token grant once it is older than the configured minutes,
// and what the provider now says (new id_token claims, user info as at a login) is re-applied
// through the provisioning core (provision.Apply): invalid_grant, a payload for another member or
// one a login would refuse ends the session; a transient provider error keeps it and retries later.
//
// A domain typed as a URL (https://host/path/) is normalised to host/path (NormalizeDomain).
//
// Every outbound request uses one *http.Client with connect and total timeouts and a response
// size limit; a slow or broken provider is IDP_UNAVAILABLE, never a hang.
package oauth2sso
