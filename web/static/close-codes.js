// Every WebSocket close code the server sends, mirrored from signaling/close_codes.py
// (tests/unit/test_close_codes.py keeps the two tables equal).
export const CLOSE = Object.freeze({
  NORMAL: 1000,
  POLICY: 1008,
  TOO_BIG: 1009,
  RESTARTING: 1012,
  TRY_AGAIN: 1013,
  NOT_AUTHENTICATED: 4401,
  NOT_ALLOWED: 4403,
  NO_SESSION: 4404,
  REPLACED: 4409,
  ENDED: 4410,
});

/** The name the pages show a close by. */
export const CLOSE_NAMES = new Map([
  [1000, "normal"],
  [1008, "policy"],
  [1009, "too-big"],
  [1012, "restarting"],
  [1013, "try-again"],
  [4401, "not-authenticated"],
  [4403, "not-allowed"],
  [4404, "no-session"],
  [4409, "replaced"],
  [4410, "ended"],
]);

/**
 * A 4403 says who refused in its close reason, so that a page never blames the wrong person:
 * exactly "origin" when this page's address is not one the server serves (the operator's
 * PRECEPTOR_PUBLIC_URL), exactly "denied" when a mentor did not let the member in, exactly
 * "direct-video" when an observer comes to a session whose video never reaches the server. Any other
 * 4403 is "not-allowed".
 */
export const NOT_ALLOWED_REASONS = Object.freeze(["origin", "denied", "direct-video"]);

/** The name to show a close by: `closeName(event.code, event.reason)`. */
export function closeName(code, reason = "") {
  if (code === CLOSE.NOT_ALLOWED && NOT_ALLOWED_REASONS.includes(reason)) return reason;
  return CLOSE_NAMES.get(code) ?? "unknown";
}
