// /join/{token}: a trainee opens the invite link, usually on a phone. The token only ever goes to
// this server's invite endpoints; it is never logged or stored.

import { api, ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const invitePath = `/api/invites/${encodeURIComponent(token)}`;

function show(section) {
  for (const id of ["loading", "invite", "invalid"]) $(id).hidden = id !== section;
}

function invalid(message) {
  $("invalid-detail").textContent = message;
  show("invalid");
}

function problem(err) {
  if (!(err instanceof ApiError)) return "Could not reach the server. Check your connection and try again.";
  if (err.status === 404) return err.message || "This invite link is not valid.";
  if (err.status === 410) return err.message || "This invite has expired or was withdrawn.";
  return err.message;
}

async function load() {
  if (!token) return invalid("This invite link is not valid.");
  try {
    const invite = await api("GET", invitePath);
    $("invite-session").textContent = invite.session_title;
    $("invite-mentor").textContent = invite.mentor_name;
    document.title = `Join ${invite.session_title} · Preceptor`;
    $("display-name").value = invite.invitee_name ?? "";
    show("invite");
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 410)) invalid(problem(err));
    else $("loading").textContent = problem(err);
  }
}

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("join-error");
  error.hidden = true;
  const name = $("display-name").value.trim();
  if (!name) {
    error.textContent = "Please enter your name.";
    error.hidden = false;
    $("display-name").focus();
    return;
  }
  const button = $("join-form").querySelector("button");
  button.disabled = true;
  try {
    const { session_id: sessionId } = await api("POST", `${invitePath}/redeem`, { display_name: name });
    // replace(): the invite page (and its token) does not stay in the history.
    location.replace(`/sessions/${encodeURIComponent(sessionId)}`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 410)) invalid(problem(err));
    else {
      error.textContent = problem(err);
      error.hidden = false;
    }
    button.disabled = false;
  }
});

load();
