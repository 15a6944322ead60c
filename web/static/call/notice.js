// Telling the trainee in the call that feedback arrived (signaling `feedback {form, state}`), and
// how to read it: a trainee signed in to their own account opens it on the record page (in a new
// tab, so the call goes on); a guest who came by link is offered to sign in to their own account
// right here, after which the page comes back to this call as that account.

import { api, ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);

let beforeSignIn = () => {};

function show(text, { openHref = null, signIn = false } = {}) {
  $("call-notice-text").textContent = text;
  $("call-notice-open").hidden = !openHref;
  if (openHref) $("call-notice-open").href = openHref;
  $("call-notice-signin").hidden = !signIn;
  $("call-notice").hidden = false;
}

/** `guest`: came by invite link (no account in this sign-in). */
export function feedbackArrived({ sessionId, guest }) {
  if (guest) {
    show("Your mentor sent you feedback. Sign in to your own account to read it.", { signIn: true });
  } else {
    show("Your mentor sent you feedback.", {
      openHref: `/review/sessions/${encodeURIComponent(sessionId)}#feedback`,
    });
  }
}

/** The server refused this member's media (`error {code: "media-capacity"}`): said until
 * dismissed, not in a passing toast, since the call shows nobody until the member rejoins. */
export function mediaRefused(text) {
  show(text);
}

export function hideNotice() {
  $("call-notice").hidden = true;
}

function signInProblem(err) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    return "That e-mail and password do not match an account. Check them and try again.";
  }
  if (err instanceof ApiError && err.status === 429) {
    return "Too many sign-in attempts. Wait a few minutes, then try again.";
  }
  if (err instanceof ApiError && err.status === 422) return "Type your e-mail address and password.";
  return "Could not reach the server. Check your connection and try again.";
}

async function signIn(event) {
  event.preventDefault();
  const error = $("signin-error");
  error.hidden = true;
  const email = $("signin-email").value.trim();
  const password = $("signin-password").value;
  if (!email || !password) {
    error.textContent = "Type your e-mail address and password.";
    error.hidden = false;
    return;
  }
  try {
    await api("POST", "/api/auth/login", { email, password });
  } catch (err) {
    error.textContent = signInProblem(err);
    error.hidden = false;
    return;
  }
  // Signed in as the account: leave as the guest, then come back to this call as the account.
  beforeSignIn();
  location.reload();
}

/** `leave`: called just before the page reloads signed in (closes the guest's membership). */
export function wireNotice({ leave }) {
  beforeSignIn = leave;
  $("call-notice-dismiss").addEventListener("click", hideNotice);
  $("call-notice-signin").addEventListener("click", () => {
    $("signin-error").hidden = true;
    $("signin-dialog").showModal();
    $("signin-email").focus();
  });
  $("signin-cancel").addEventListener("click", () => $("signin-dialog").close());
  $("signin-form").addEventListener("submit", signIn);
}
