// sign.js: the customer's server sends a signed-in member to the community with JWT SSO.
// Needs `npm install jsonwebtoken@9`, and JWT_SECRET and COMMUNITY_URL in the environment.
const crypto = require("node:crypto");
const jwt = require("jsonwebtoken");

function communityLoginUrl(member, returnTo) {
  const token = jwt.sign(
    {
      sub: String(member.id), // the member's externalId in the community (at most 50 bytes of UTF-8)
      email: member.email,
      name: member.name,
      jti: crypto.randomUUID(), // makes the link single-use
    },
    process.env.JWT_SECRET, // the secret regenerateJwtSsoSecret returned, used as it is
    { algorithm: "HS256", expiresIn: "5m" }, // HS256 only; exp and iat are set for you
  );
  const query = new URLSearchParams({ jwt: token, redirect_uri: returnTo || "/" });
  return `${process.env.COMMUNITY_URL}/api/auth/sso?${query}`;
}

// In a web app: res.redirect(communityLoginUrl(req.user, req.query.referrer_uri));
console.log(communityLoginUrl({ id: 1003, email: "kim@example.com", name: "Kim Park" }, "/"));
