// What the page says when the call ends for this tab: a title, one sentence with one piece of
// advice, and the ways on. Reasons are the close names of web/static/close-codes.js (`closeName`):
// a 4403 names who refused — "denied" (a mentor, from the lobby), "origin" (the server: this
// page's address is not the one it serves) or "not-allowed" (the access policy) — so that nobody
// is told "the mentor did not let you in" when the mentor did nothing.

/**
 * @param {string} reason a close name, or "unreachable" when the page could not load at all
 * @param {object} o
 * @param {boolean} [o.wasWaiting] this tab was waiting in the lobby
 * @param {boolean} [o.guest] signed in through an invite link, not an account
 * @returns {[string, string, object]} title, detail, showEnded options
 */
export function endScreen(reason, { wasWaiting = false, guest = false } = {}) {
  switch (reason) {
    case "ended":
      // An admitted guest keeps reading the record (not the feedback) until their sign-in ends.
      return [
        "This session has ended",
        guest
          ? "Thank you for taking part. The notes are in the session record; to read your " +
            "feedback, sign in to your own account."
          : "Thank you for taking part. The notes and feedback are in the session record.",
        { record: true },
      ];
    case "replaced":
      return [
        "You joined from another tab",
        "The call goes on in your other tab or device. To carry on here instead, take the call back.",
        { takeBack: true },
      ];
    case "origin":
      return [
        "This address cannot join the call",
        `The server does not accept calls from ${location.origin}: ask whoever runs Preceptor ` +
          "to set PRECEPTOR_PUBLIC_URL to the address people open.",
        {},
      ];
    case "direct-video":
      return [
        "This session cannot be observed",
        "Its video goes directly between the mentor and the trainee and never through the " +
          "server, so there is nothing to observe. Ask the mentor to choose Automatic video " +
          "for sessions you observe.",
        {},
      ];
    case "denied":
      return [
        "The mentor did not let you in",
        "If you think this is a mistake, ask your mentor for a new link.",
        {},
      ];
    case "not-allowed":
      return [
        "You cannot join this session",
        wasWaiting
          ? "Ask your mentor for a new invite link."
          : "This account is not part of the session: check that you signed in to the right account.",
        {},
      ];
    case "not-authenticated":
      return guest
        ? [
            "Your link no longer works",
            "The mentor withdrew it, or your sign-in timed out. Ask your mentor for a new link.",
            {},
          ]
        : [
            "You are not signed in",
            "Your sign-in has ended. Sign in again to rejoin the call.",
            { homeText: "Sign in" },
          ];
    case "no-session":
      return ["No such session", "Check the link you were given.", {}];
    case "policy":
    case "too-big":
      return [
        "The connection was closed",
        "The server refused a message from this page. Reload the page to rejoin.",
        { rejoin: true },
      ];
    case "unreachable":
      return ["Could not reach the server", "Check your connection, then reload the page.", { rejoin: true }];
    default:
      return ["You were disconnected", "Reload the page to rejoin the call.", { rejoin: true }];
  }
}
