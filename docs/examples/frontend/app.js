// app.js: the example community frontend's only script (see index.html). It asks the API, on the
// page's own origin, who is signed in and what sign-in looks like, and shows one or the other.
'use strict';

// The page's one GraphQL request: the public sign-in options, and the viewer (null when signed out).
const PAGE_QUERY = `{
  loginOptions { methods oauth2 { buttonText } jwtSso { buttonText } signUpUrl }
  me { name email spaces { role space { name slug } } }
}`;

// graphql sends one operation to /graphql with the session cookie and returns its data.
async function graphql(query, variables) {
  const res = await fetch('/graphql', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors && body.errors.length) {
    throw new Error(body.errors.map((e) => e.message).join('; '));
  }
  return body.data;
}

function $(id) {
  return document.getElementById(id);
}

// showSignedOut offers sign-in: the server's /auth/login picks the method, and the button says
// what the one single sign-on method calls itself.
function showSignedOut(options) {
  const sso = [options.oauth2, options.jwtSso].filter(Boolean);
  if (sso.length === 1 && !options.methods.includes('EMAIL_PASSWORD')) {
    $('sign-in').textContent = sso[0].buttonText;
  }
  if (options.signUpUrl) {
    $('sign-up').href = options.signUpUrl;
    $('sign-up').hidden = false;
  }
  $('signed-out').hidden = false;
}

// showSignedIn shows the member and its spaces. Everything from the API goes in as text.
function showSignedIn(me) {
  $('name').textContent = me.name || me.email;
  $('email').textContent = me.email;
  const list = $('spaces');
  for (const m of me.spaces) {
    const item = document.createElement('li');
    item.dataset.slug = m.space.slug;
    item.textContent = m.space.name + (m.role === 'ADMIN' ? ' (admin)' : '');
    list.append(item);
  }
  $('no-spaces').hidden = me.spaces.length > 0;
  $('signed-in').hidden = false;
}

async function main() {
  try {
    const data = await graphql(PAGE_QUERY);
    if (data.me) {
      showSignedIn(data.me);
    } else {
      showSignedOut(data.loginOptions);
    }
    $('status').hidden = true;
  } catch (err) {
    $('status').textContent = 'The community is not available right now (' + err.message + ').';
  }
}

main();
