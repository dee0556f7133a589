// app.js: an app signs its member in to the community with a session token, without cookies.
// Runs as it is in Node.js 18 or later; signIn, api and signOut work the same in React Native,
// Capacitor or any JavaScript runtime with fetch. Needs COMMUNITY_URL and JWT in the environment.
const COMMUNITY_URL = process.env.COMMUNITY_URL; // the community's PUBLIC_URL

// signIn trades a JWT SSO token, which your backend signed for the member signed in to your
// app, for a session token.
async function signIn(jwt) {
  const res = await fetch(`${COMMUNITY_URL}/api/auth/sso/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ jwt }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`sign-in refused: ${body.error.code}`);
  return body.token; // keep it in the platform's secure storage (Keychain, Keystore)
}

// api runs a GraphQL operation as the member. A 401 means the session ended (signed out,
// expired, revoked by an admin, or the member was suspended): sign in again.
async function api(session, query, variables) {
  const res = await fetch(`${COMMUNITY_URL}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${session}` },
    body: JSON.stringify({ query, variables }),
  });
  if (res.status === 401) throw new Error("the session ended: sign in again");
  const body = await res.json();
  if (body.errors) throw new Error(`${body.errors[0].extensions.code}: ${body.errors[0].message}`);
  return body.data;
}

// signOut ends the session; the server answers 204.
async function signOut(session) {
  await fetch(`${COMMUNITY_URL}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${session}` } });
}

async function main() {
  const session = await signIn(process.env.JWT);
  const { me } = await api(session, "{ me { externalId email } }");
  console.log(JSON.stringify({ me }));
  await signOut(session);
  await api(session, "{ me { email } }").catch((err) => console.log(err.message));
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
