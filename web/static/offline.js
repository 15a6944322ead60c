// Installable, and readable offline (web/static/sw.js): registers the service worker, tells a page
// when what it shows is the worker's copy of the last visit (then the page is read-only), and
// forgets every personal copy on sign-out.

const PERSONAL = "preceptor-personal"; // the prefix of the worker's personal cache

export function registerWorker() {
  // The site works without it (an old browser, a private window that refuses storage).
  navigator.serviceWorker?.register("/sw.js").catch(() => {});
}

/** Empty the personal copies, from the page itself: this works whether or not a worker runs. */
export async function forgetOfflineCopies() {
  navigator.serviceWorker?.controller?.postMessage({ type: "forget" });
  if (!globalThis.caches) return;
  const names = await caches.keys();
  await Promise.all(names.filter((n) => n.startsWith(PERSONAL)).map((n) => caches.delete(n)));
}

let savedAt = null; // when the oldest copy this page shows was saved (ms since the epoch)

// api.js announces each answer the worker served from its copy.
addEventListener("offline-copy", (event) => {
  savedAt = savedAt === null ? event.detail : Math.min(savedAt, event.detail);
});

/** Whether anything on this page came from the offline copy. */
export function isOfflineCopy() {
  return savedAt !== null;
}

/**
 * Say that the page is a read-only copy (a notice at the top of `main`) and disable the
 * controls under `root` that would change or fetch anything. Safe to call again after a render.
 */
export function showOfflineCopy(main, root = main) {
  if (savedAt === null) return;
  let notice = document.getElementById("offline-notice");
  if (!notice) {
    notice = document.createElement("p");
    notice.id = "offline-notice";
    notice.className = "notice";
    notice.setAttribute("role", "status");
    main.prepend(notice);
  }
  const when = new Date(savedAt).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  notice.textContent = `You are offline: this is a read-only copy from your last visit, saved ${when}. Reconnect to see changes or to act.`;
  for (const control of root.querySelectorAll("button, input, select, textarea")) control.disabled = true;
}
