// Registers the service worker that caches the mobile shell (scope /m/), so the app installs and opens
// offline with a friendly page instead of the browser's error.
(function () {
  "use strict";
  var sw = document.body && document.body.getAttribute("data-sw");
  if (sw && "serviceWorker" in navigator && window.isSecureContext) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register(sw, { scope: document.body.getAttribute("data-scope") || "/m/" })
        .catch(function () { /* an old browser or a private window: the site works without it */ });
    });
  }
})();
