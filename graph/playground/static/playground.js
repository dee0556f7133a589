// playground.js starts GraphiQL on the community's playground page. It is a file of its own,
// not an inline script, so that the page's Content-Security-Policy allows scripts from the
// server's own origin only. React, ReactDOM and GraphiQL are the page's earlier scripts.
(function () {
  'use strict';

  // The style element GraphiQL adds while a dialog is open (react-remove-scroll's) carries
  // __webpack_nonce__, which the page's Content-Security-Policy allows: the page writes it on
  // this script's element.
  window.__webpack_nonce__ = document.currentScript.nonce;

  var root = document.getElementById('graphiql');
  var endpoint = root.getAttribute('data-endpoint');

  // fetcher sends an operation as a JSON POST to the endpoint with the browser's cookies (the
  // member's session) and the headers of GraphiQL's headers editor (e.g. Authorization: Bearer).
  // An answer that is not JSON (a proxy's error page) becomes a GraphQL error GraphiQL can show.
  function fetcher(params, opts) {
    var headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    var extra = (opts && opts.headers) || {};
    Object.keys(extra).forEach(function (name) {
      headers[name] = extra[name];
    });
    return fetch(endpoint, {
      method: 'POST',
      credentials: 'same-origin',
      headers: headers,
      body: JSON.stringify(params),
    }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (err) {
          return { errors: [{ message: 'HTTP ' + response.status + ': ' + text.slice(0, 500) }] };
        }
      });
    });
  }

  // ?query= opens the playground on that operation (a link from the documentation, a test).
  var params = new URLSearchParams(window.location.search);
  var props = {
    fetcher: fetcher,
    defaultQuery: '# Community GraphQL: press the run button (Ctrl-Enter) to ask who you are.\n{\n  me {\n    email\n    name\n    role\n  }\n}\n',
  };
  if (params.has('query')) {
    props.query = params.get('query');
  }
  if (params.has('variables')) {
    props.variables = params.get('variables');
  }

  ReactDOM.createRoot(root).render(React.createElement(GraphiQL, props));
})();
