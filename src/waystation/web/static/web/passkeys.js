// Passkeys (WebAuthn): the browser's part of adding a passkey and of using one at the second step of signing in.
// The server puts the ceremony's options in <script type="application/json" id="passkey-options"> and keeps the
// challenge in the session (accounts/passkeys.py). This file asks the browser's authenticator, puts its answer in
// the form's hidden "credential" field and posts the form. The passkey part of the page stays hidden where the
// browser has no WebAuthn, or where this address cannot use the passkeys' domain (such as 127.0.0.1): the code
// form is there either way. No inline script: the page's CSP is script-src 'self'.
(function () {
  "use strict";
  var section = document.querySelector("[data-passkey]");
  var source = document.getElementById("passkey-options");
  if (!section || !source || !window.PublicKeyCredential || !navigator.credentials) { return; }
  var form = section.querySelector("form");
  var button = form && form.querySelector("button[type=submit]");
  var status = section.querySelector("[data-passkey-status]");
  var creating = section.dataset.passkey === "create";
  var options = JSON.parse(source.textContent);
  var domain = creating ? options.rp && options.rp.id : options.rpId;
  var host = window.location.hostname;
  if (!form || !button || !domain || (host !== domain && !host.endsWith("." + domain))) { return; }

  section.hidden = false;
  var unsupported = document.querySelector("[data-passkey-unsupported]");
  if (unsupported) { unsupported.hidden = true; }

  function bytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }

  function text(buffer) {
    var view = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < view.length; i++) { raw += String.fromCharCode(view[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: bytes(item.id), transports: item.transports };
    });
  }

  function create() {
    var publicKey = Object.assign({}, options, {
      challenge: bytes(options.challenge),
      user: Object.assign({}, options.user, { id: bytes(options.user.id) }),
      excludeCredentials: descriptors(options.excludeCredentials)
    });
    return navigator.credentials.create({ publicKey: publicKey }).then(function (credential) {
      var response = credential.response;
      return answer(credential, {
        clientDataJSON: text(response.clientDataJSON),
        attestationObject: text(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : []
      });
    });
  }

  // What the server reads of a credential: the same envelope for both ceremonies, each with its own response.
  function answer(credential, response) {
    return {
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: response
    };
  }

  function get() {
    var publicKey = Object.assign({}, options, {
      challenge: bytes(options.challenge),
      allowCredentials: descriptors(options.allowCredentials)
    });
    return navigator.credentials.get({ publicKey: publicKey }).then(function (credential) {
      var response = credential.response;
      return answer(credential, {
        clientDataJSON: text(response.clientDataJSON),
        authenticatorData: text(response.authenticatorData),
        signature: text(response.signature),
        userHandle: response.userHandle ? text(response.userHandle) : null
      });
    });
  }

  function show(message) {
    if (!status) { return; }
    status.textContent = message;
    status.hidden = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!form.reportValidity()) { return; }
    button.disabled = true;
    (creating ? create() : get()).then(function (answer) {
      form.elements.credential.value = JSON.stringify(answer);
      form.submit();
    }, function (error) {
      button.disabled = false;
      var name = error && error.name;
      if (name === "NotAllowedError" || name === "AbortError") {
        show(section.dataset.msgCancelled);
      } else if (creating && name === "InvalidStateError") {
        show(section.dataset.msgExists);
      } else {
        show(section.dataset.msgFailed);
      }
    });
  });
})();
