// "End session" for the session's mentor: a confirmation, then POST /api/sessions/{id}/end. The
// server closes every socket of the room with 4410, this one included, so every page (the
// mentor's too) shows "This session has ended" the same way.

import { api, ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);

let sessionPath = null;
let wired = false;

async function confirmEnd() {
  const button = $("end-confirm");
  const error = $("end-error");
  button.disabled = true;
  error.hidden = true;
  try {
    await api("POST", `${sessionPath}/end`);
    $("end-dialog").close();
  } catch (err) {
    error.textContent =
      err instanceof ApiError && err.status < 500
        ? "The session could not be ended: you may no longer be its mentor. Reload the page to check."
        : "The session could not be ended. Check your connection and try again.";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

export function enableEnd({ sessionId }) {
  sessionPath = `/api/sessions/${encodeURIComponent(sessionId)}`;
  $("end-session").hidden = false;
  if (wired) return;
  wired = true;
  $("end-session").addEventListener("click", () => {
    $("end-error").hidden = true;
    $("end-dialog").showModal();
    $("end-cancel").focus();
  });
  $("end-cancel").addEventListener("click", () => $("end-dialog").close());
  $("end-confirm").addEventListener("click", confirmEnd);
}
