// Package web is the HTTP plumbing every route of the server goes through: request ids, one
// request log line per request that never holds a secret, Prometheus metrics by route pattern,
// request body limits, panic recovery, a few security headers, and the gate that answers 503 while
// the database is away.
//
// The server assembles the chain around its *http.ServeMux, outermost last:
//
//	h := web.Instrument(metrics, log, mux) // request id, metrics and the request log
//	h = web.TrustProxies(proxies)(h)       // the client's address and scheme, once
//	h = web.LimitBody(maxBodyBytes)(h)
//	h = web.SecurityHeaders(h)
//	h = web.Recover(log)(h)
//
// Instrument labels metrics with the pattern the mux matched ("GET /api/auth/sso"), never with the
// raw path, and the method with one of the standard methods or OTHER, so a client cannot grow the
// number of series. Requests the mux has no pattern for are labelled "unmatched".
//
// Request logs carry the method, path, the query with secret values replaced by REDACTED (see
// [RedactQuery]), status, size, duration, client IP, user agent and request id. No other header is
// logged: cookies and the Authorization header never reach the log.
//
// [ClientIP] is the client's address and [IsHTTPS] whether it came over https, as [TrustProxies]
// worked them out: the connection's peer, unless the peer is a trusted proxy (TRUSTED_PROXIES),
// whose Forwarded or X-Forwarded-For / X-Forwarded-Proto headers then name the client. Rate
// limits, security events and the request log use ClientIP; session and flow cookies are Secure
// when IsHTTPS (and always when the public URL is https).
//
// [SecurityHeaders] sets only X-Content-Type-Options and Referrer-Policy. It sets no
// X-Frame-Options and no Content-Security-Policy: the pages set their own policy (the login
// pages, the playground), and who may frame an answer is the admin's setting, which
// auth.Embedding applies.
package web
