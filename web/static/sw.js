// The service worker (served as /sw.js, so its scope is the whole site): what lets Preceptor be
// added to a phone's home screen, and the review pages open read-only offline from the last visit.
//
// - Network first, always: online, every answer is fresh; a copy of the last good answer is kept
//   only for when the network fails.
// - Two caches. The shell (the review pages' HTML, one copy per kind of page, and /static assets)
//   holds nothing personal. The personal cache holds the last GET answers of the review APIs the
//   pages read; it is emptied on sign-in and sign-out, on any 401, and when /api/me names someone
//   else, so no one is ever shown another person's copy and nothing personal outlives a sign-out.
// - Everything else passes through untouched: sign-in, invites, tickets, the call's page and
//   sockets, recordings, downloads, and every request that is not a GET.

const SHELL = "preceptor-shell-v1";
const PERSONAL = "preceptor-personal-v1";
const SAVED_AT = "X-Offline-Copy"; // on an answer served from the personal cache: when it was saved

// Pages that open offline, each kept once (they are static shells; the data comes from the API).
const PAGES = [
  [/^\/$/, "/"],
  [/^\/review$/, "/review"],
  [/^\/review\/program$/, "/review/program"],
  [/^\/review\/trainees\/[^/]+$/, "/review/trainees/_"],
  [/^\/review\/sessions\/[^/]+$/, "/review/sessions/_"],
];

// The review APIs whose last answer is kept (an allow-list: anything new stays uncached).
const KEPT = [
  /^\/api\/me$/,
  /^\/api\/review$/,
  /^\/api\/program$/,
  /^\/api\/trainees\/[^/]+\/(progress|views)$/,
  /^\/api\/sessions\/[^/]+\/(record|timeline|marks|feedback|notes\/history)$/,
  /^\/api\/feedback\/[^/]+$/,
  /^\/api\/instruments(\/[^/]+)?$/,
];

// Answers that change who is signed in: the personal cache starts again.
const SIGN_IN_OR_OUT = [/^\/api\/auth\//, /^\/api\/invites\/[^/]+\/redeem$/];

// Bumped by every forget(), so an answer fetched before a sign-out is not stored after it.
let generation = 0;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(names.filter((n) => n.startsWith("preceptor-") && n !== SHELL && n !== PERSONAL).map((n) => caches.delete(n)));
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "forget") event.waitUntil(forget());
});

function forget() {
  generation += 1;
  return caches.delete(PERSONAL);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (request.method !== "GET") {
    if (SIGN_IN_OR_OUT.some((re) => re.test(path))) event.respondWith(signingInOrOut(request));
    return;
  }
  if (request.mode === "navigate") {
    const page = PAGES.find(([re]) => re.test(path));
    if (page) event.respondWith(networkFirst(event, SHELL, new Request(page[1])));
    return;
  }
  if (path.startsWith("/static/") && !request.headers.has("range")) {
    event.respondWith(networkFirst(event, SHELL, request));
    return;
  }
  if (KEPT.some((re) => re.test(path))) event.respondWith(personal(request));
});

async function signingInOrOut(request) {
  await forget(); // whatever the answer: the person behind this browser may be changing
  const response = await fetch(request);
  if (response.ok) await forget();
  return response;
}

async function networkFirst(event, cacheName, key) {
  try {
    const response = await fetch(event.request);
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      event.waitUntil(caches.open(cacheName).then((cache) => cache.put(key, copy)));
    }
    return response;
  } catch (err) {
    const cached = await caches.match(key, { cacheName });
    if (cached) return cached;
    throw err;
  }
}

async function personal(request) {
  const started = generation;
  let response;
  try {
    response = await fetch(request);
  } catch {
    return (await caches.match(request, { cacheName: PERSONAL })) ?? offline();
  }
  if (response.status === 401) {
    await forget(); // signed out elsewhere, or timed out: nothing of theirs stays here
  } else if (response.ok && response.type === "basic") {
    await keep(request, response.clone(), started);
  }
  return response;
}

/** Store the answer stamped with when it was saved; a different person's /api/me starts again. */
async function keep(request, response, started) {
  if (started !== generation) return; // signed in or out meanwhile: this answer is not theirs
  let body = await response.text();
  if (new URL(request.url).pathname === "/api/me") {
    let me;
    try {
      me = JSON.parse(body);
    } catch {
      return;
    }
    const before = await caches.match(request, { cacheName: PERSONAL });
    const owner = before ? (await before.json().catch(() => null))?.user?.id : null;
    if (owner && owner !== me.user?.id) {
      await forget();
      started = generation;
    }
    delete me.csrf_token; // a copy serves reading only: no token on disk
    body = JSON.stringify(me);
  }
  if (started !== generation) return;
  const headers = new Headers(response.headers);
  headers.set(SAVED_AT, String(Date.now()));
  const cache = await caches.open(PERSONAL); // opened after any forget(): never a deleted cache
  await cache.put(request, new Response(body, { status: response.status, headers }));
}

function offline() {
  const body = {
    error: "offline",
    message: "This was not saved on this device for reading offline. Reconnect, then reload the page.",
  };
  return new Response(JSON.stringify(body), { status: 503, headers: { "Content-Type": "application/json" } });
}
