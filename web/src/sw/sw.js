/* Sova service worker: caches the app shell so the client opens offline (chats come from IndexedDB).
   Built by scripts/postbuild.mjs, which fills in the version and the list of files. */
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const CACHE = `sova-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("sova-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

function isServerPath(path) {
  return path.startsWith("/api/") || path === "/ws" || path === "/health" || path === "/metrics";
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== location.origin || isServerPath(url.pathname)) return;
  if (req.mode === "navigate") {
    // Network first (index.html is no-cache), the cached shell when offline.
    event.respondWith(
      fetch(req).then((res) => {
        if (res.ok) {
          const copy = res.clone();
          void caches.open(CACHE).then((c) => c.put("/index.html", copy));
        }
        return res;
      }).catch(() => caches.match("/index.html", { ignoreVary: true }).then((r) => r || Response.error())),
    );
    return;
  }
  if (url.pathname.startsWith("/assets/")) {
    // Hashed, immutable: cache first.
    event.respondWith(
      caches.match(req, { ignoreVary: true }).then((hit) => hit || fetch(req).then((res) => {
        if (res.ok) {
          const copy = res.clone();
          void caches.open(CACHE).then((c) => c.put(req, copy));
        }
        return res;
      })),
    );
    return;
  }
  // Icons, manifest: cached copy at once, refreshed in the background.
  event.respondWith(
    caches.match(req, { ignoreVary: true }).then((hit) => {
      const net = fetch(req).then((res) => {
        if (res.ok) {
          const copy = res.clone();
          void caches.open(CACHE).then((c) => c.put(req, copy));
        }
        return res;
      });
      return hit || net;
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const tag = event.notification.tag || "";
  const target = tag.startsWith("chat-") ? `/chat/${tag.slice(5)}` : "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
      for (const c of list) if ("focus" in c) return c.navigate(target).then((w) => (w || c).focus());
      return self.clients.openWindow(target);
    }),
  );
});
