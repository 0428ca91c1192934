// The import's progress page: ask the server how far the import is, every second, until it ends; then go to the
// result. A separate file, not an inline script: the Content Security Policy allows scripts from this site only.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var url = box.dataset.statusUrl;
  var phase = document.getElementById("import-phase");
  var bar = document.getElementById("import-bar");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.json(); })
      .then(function (data) {
        if (data.next) { window.location.assign(data.next); return; }
        if (data.state === "running") {
          phase.textContent = data.label + ": " + data.done + " / " + data.total;
          bar.max = Math.max(data.total, 1);
          bar.value = data.done;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
})();
