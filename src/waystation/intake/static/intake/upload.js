// The import's upload page: send the chosen file as the request's body (streamed by the server into a temporary
// file), instead of a form post, which the server only takes up to 3 MB. The answer says where to go next, or what
// is wrong with the file. Without this script the form still posts (small files only).
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form || !window.fetch) { return; }
  var input = form.querySelector("input[type=file]");
  var sheet = form.querySelector("input[name=sheet]");
  var alertBox = document.getElementById("upload-error");
  var button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    if (!input || !input.files || input.files.length !== 1) { return; } // the form's own "required" message
    event.preventDefault();
    var file = input.files[0];
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    button.disabled = true;
    alertBox.hidden = false;
    alertBox.textContent = form.dataset.sending;
    fetch(form.action || window.location.href, {
      method: "POST",
      body: file,
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/octet-stream",
        "X-CSRFToken": token,
        "X-File-Name": encodeURIComponent(file.name),
        "X-Sheet": encodeURIComponent(sheet ? sheet.value : "")
      }
    })
      .then(function (answer) { return answer.json(); })
      .then(function (data) {
        if (data.next) { window.location.assign(data.next); return; }
        alertBox.textContent = data.error || form.dataset.failed;
        button.disabled = false;
      })
      .catch(function () {
        alertBox.textContent = form.dataset.failed;
        button.disabled = false;
      });
  });
})();
