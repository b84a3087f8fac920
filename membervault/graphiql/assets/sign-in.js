/* GraphiQL with a token sign-in: the client id and secret are sent once to the token
   endpoint (client credentials); the access token it answers is kept in this page only
   (never stored) and sent as "Authorization: Bearer ..." with every operation. A header
   typed into GraphiQL's own header editor wins over it. */
(function () {
  "use strict";
  var token = null;
  var form = document.getElementById("sign-in");
  var status = document.getElementById("sign-in-status");

  function say(text) { status.textContent = text; }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var id = form.elements.client_id.value;
    var secret = form.elements.client_secret.value;
    form.elements.client_secret.value = "";
    fetch("/oauth/token", {
      method: "POST",
      headers: {
        "authorization": "Basic " + btoa(encodeURIComponent(id) + ":" + encodeURIComponent(secret)),
        "content-type": "application/x-www-form-urlencoded"
      },
      body: "grant_type=client_credentials"
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      if (answer.ok && answer.body.access_token) {
        token = answer.body.access_token;
        say("Signed in as " + id + " (scope: " + (answer.body.scope || "-") + "; the token expires in "
            + answer.body.expires_in + " s).");
      } else {
        token = null;
        say("Sign-in refused: " + (answer.body.error || "unknown error") + ".");
      }
    }, function () {
      token = null;
      say("Sign-in failed: the token endpoint did not answer.");
    });
  });

  document.getElementById("sign-out").addEventListener("click", function () {
    token = null;
    say("Not signed in: requests are anonymous.");
  });

  function fetcher(params, options) {
    var headers = { "content-type": "application/json", "accept": "application/json" };
    if (token) { headers.authorization = "Bearer " + token; }
    var typed = (options && options.headers) || {};
    Object.keys(typed).forEach(function (name) { headers[name.toLowerCase()] = typed[name]; });
    return fetch("/graphql", { method: "POST", headers: headers, body: JSON.stringify(params) })
      .then(function (response) { return response.json(); });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, { fetcher: fetcher, isHeadersEditorEnabled: true }));
})();
