// The browser's side of the HTTP API contract (DESIGN.md §2): JSON in and out, errors as
// {error, message} (plus `fields` naming each wrong answer of a form), and the CSRF token on every
// state-changing request.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message, fields = null) {
    super(message);
    this.status = status;
    this.code = code;
    /** For field-level problems (422): {item_id: reason}. */
    this.fields = fields;
  }
}

export function setCsrfToken(token) {
  csrfToken = token;
}

/**
 * `keepalive`: the request outlives the page (a draft saved on `pagehide`); the browser caps
 * such bodies at 64 KiB in all.
 */
export async function api(method, path, body, { keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    keepalive,
  });
  const copy = response.headers.get("X-Offline-Copy");
  if (copy) {
    // The service worker answered from its copy of the last visit (sw.js): offline.js tells the page.
    dispatchEvent(new CustomEvent("offline-copy", { detail: Number(copy) }));
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data?.error ?? "http-error",
      data?.message ?? `the server answered ${response.status}`,
      data?.fields ?? null,
    );
  }
  return data;
}
