{% autoescape off %}/* Service worker for /m/: caches the app shell (styles, icons, the offline page) so the installed app
   opens offline. Pages with personal data are never cached: navigations go to the network, and only
   when it fails is the cached offline page shown. */
"use strict";
const CACHE = {{ cache_json }};
const OFFLINE_URL = {{ offline_json }};
const SHELL = {{ shell_json }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("dangjian-m-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
    return;
  }
  const url = new URL(request.url);
  if (url.origin === self.location.origin && SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
  }
});
{% endautoescape %}
