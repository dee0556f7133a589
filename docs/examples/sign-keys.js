// sign-keys.js: the customer's server signs JWT SSO tokens with the secret or with a key pair.
// Needs `npm install jsonwebtoken@9`, JWT_SECRET and COMMUNITY_URL in the environment, and the
// private keys made with openssl (above) in this folder.
const crypto = require("node:crypto");
const fs = require("node:fs");
const jwt = require("jsonwebtoken");

const claims = (member) => ({ sub: String(member.id), email: member.email, name: member.name, jti: crypto.randomUUID() });

// HS256: the secret regenerateJwtSsoSecret returned, as it is.
const hs256 = (member) => jwt.sign(claims(member), process.env.JWT_SECRET, { algorithm: "HS256", expiresIn: "5m" });

// RS256: the RSA private key; keyid is optional (it names a JWK's kid or a key set's key).
const rsaKey = fs.readFileSync("rs256.key.pem");
const rs256 = (member) => jwt.sign(claims(member), rsaKey, { algorithm: "RS256", expiresIn: "5m", keyid: "rsa-2026" });

// ES256: the EC P-256 private key.
const ecKey = fs.readFileSync("es256.key.pem");
const es256 = (member) => jwt.sign(claims(member), ecKey, { algorithm: "ES256", expiresIn: "5m" });

// The sign-in link is the same for every algorithm.
const kim = { id: 1003, email: "kim@example.com", name: "Kim Park" };
for (const sign of [hs256, rs256, es256]) {
  const query = new URLSearchParams({ jwt: sign(kim), redirect_uri: "/" });
  console.log(`${process.env.COMMUNITY_URL}/api/auth/sso?${query}`);
}
