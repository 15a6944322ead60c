// The reset page (/reset#token): the person an admin gave a one-time link chooses a new
// password. The token is in the URL's fragment, which the browser never sends to the server;
// this page sends it in a request body only.

import { api, ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(window.location.hash.slice(1));

function show(id) {
  for (const section of ["loading", "choose", "done", "dead"]) $(section).hidden = section !== id;
}

function problem(err) {
  return err instanceof ApiError ? err.message : "Could not reach the server; check your connection and try again.";
}

function dead(text) {
  $("dead-text").textContent = text;
  show("dead");
}

$("choose-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("choose-error");
  error.hidden = true;
  const password = $("new-password").value;
  const complain = (text, field) => {
    error.textContent = text;
    error.hidden = false;
    $(field).focus();
  };
  if (password !== $("repeat-password").value) {
    complain("The two passwords differ; type the same password in both boxes.", "repeat-password");
    return;
  }
  const submit = event.submitter ?? $("choose-form").querySelector("button");
  submit.disabled = true;
  try {
    await api("POST", "/api/password-resets", { token, password });
    show("done");
    $("done-title").focus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 410) dead(err.message);
    else complain(problem(err), "new-password");
  } finally {
    submit.disabled = false;
  }
});

// Another link pasted into the same tab changes only the fragment: start over with it.
window.addEventListener("hashchange", () => window.location.reload());

if (!token) {
  dead("The link is incomplete; open the whole link you were given, or ask your administrator for a new one.");
} else {
  try {
    const reset = await api("POST", "/api/password-resets/lookup", { token });
    $("choose-name").textContent = reset.name;
    $("choose-expiry").textContent = new Date(reset.expires_at * 1000).toLocaleString([], {
      dateStyle: "medium",
      timeStyle: "short",
    });
    show("choose");
    $("new-password").focus();
  } catch (err) {
    if (err instanceof ApiError && err.status === 410) dead(err.message);
    else dead(problem(err));
  }
}
