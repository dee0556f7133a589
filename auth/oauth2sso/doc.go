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
// refetches the key set when the keys it holds do not verify a token (a new kid), at most once per
// KeySetRefreshInterval (keySetTransport), so that forged tokens cannot make the server fetch it
// on every request.
//
// Sessions keep the sealed id_token and refresh token. With refresh revalidation configured, a
// session is revalidated with a refresh-token grant once it is older than the configured minutes,
// and what the provider now says (new id_token claims, user info as at a login) is re-applied
// through the provisioning core (provision.Apply): invalid_grant, a payload for another member or
// one a login would refuse ends the session; a transient provider error keeps it and retries later.
//
// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): each OAUTH2 session keeps the
// id_token's sid. POST /auth/oauth2/backchannel-logout takes the provider's logout_token,
// verifies it as the specification's section 2.6 says (the provider's keys through go-oidc, iss,
// aud, iat age, exp, the back-channel event, sid or sub, no nonce; its jti single-use through the
// replay markers, in the logout's transaction) and ends the sessions of the sid, or all OAUTH2
// sessions of the member whose externalId is the sub. It is for servers: no cookie, no cross-site
// form check; the signature is the credential.
//
// A domain typed as a URL (https://host/path/) is normalised to host/path (NormalizeDomain).
//
// Every outbound request uses one *http.Client with connect and total timeouts and a response
// size limit; a slow or broken provider is IDP_UNAVAILABLE, never a hang.
package oauth2sso
