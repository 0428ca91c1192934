// Quick exit: leave at once for a neutral site, replacing this page in the history so Back does not return.
// The link itself goes to /exit/, which signs out and redirects, so it works without JavaScript too.
(function () {
  "use strict";
  var link = document.getElementById("quick-exit");
  if (!link) { return; }
  function leave(event) {
    if (event) { event.preventDefault(); }
    try { navigator.sendBeacon(link.getAttribute("href")); } catch (e) { /* leave anyway */ }
    document.body.style.display = "none";
    window.location.replace(link.dataset.exitUrl);
  }
  link.addEventListener("click", leave);
  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    if (now - lastEscape < 800) { leave(event); }
    lastEscape = now;
  });
  // The language switch applies as soon as a language is picked.
  var lang = document.getElementById("lang-select");
  if (lang) { lang.addEventListener("change", function () { lang.form.submit(); }); }
})();
