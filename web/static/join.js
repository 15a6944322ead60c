// /join/{token}: someone opens an invite link, usually on a phone. The token only ever goes to
// this server's invite endpoints; it is never logged or stored.
//
// A link made for a trainee's account asks that trainee to sign in (an invite grants presence
// only: feedback and the record are the account's), with "join as a guest" as the fallback.
// After the end, the link says so and offers the record to whoever may still read it.

import { api, ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/")[2] ?? "");
const invitePath = `/api/invites/${encodeURIComponent(token)}`;

function show(section) {
  for (const id of ["loading", "invite", "ended", "invalid"]) $(id).hidden = id !== section;
}

/** The API's reasons are lower-case clauses; on the page they read as sentences. */
function sentence(text) {
  const t = (text ?? "").trim();
  if (!t) return "";
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function invalid(message) {
  $("invalid-detail").textContent = message;
  show("invalid");
}

function problem(err) {
  if (!(err instanceof ApiError)) return "Could not reach the server. Check your connection and try again.";
  if (err.status === 404) return sentence(err.message) || "This invite link is not valid. Ask your mentor for a new one.";
  if (err.status === 410) return sentence(err.message) || "This invite has expired or was withdrawn. Ask your mentor for a new one.";
  return sentence(err.message);
}

function signInHref(next) {
  return `/?next=${encodeURIComponent(next)}`;
}

async function whoAmI() {
  try {
    return await api("GET", "/api/me");
  } catch {
    return null;
  }
}

async function ended(invite) {
  const record = `/review/sessions/${encodeURIComponent(invite.session_id)}`;
  const me = await whoAmI();
  const go = $("ended-go");
  // A guest let in keeps reading the record while their visit's sign-in lasts; an account
  // reads it signed in. Nobody is sent back to a link that can no longer help.
  const guestHere = me?.scope_session_id === invite.session_id;
  if (guestHere || (me && !me.scope_session_id)) {
    $("ended-detail").textContent = "The call is over. Its notes and record stay open to you.";
    go.textContent = "See the session record";
    go.href = record;
  } else {
    $("ended-detail").textContent =
      `The call is over, so this link no longer lets anyone in. If you have an account, sign in to see the record; otherwise ask ${invite.mentor_name || "your mentor"} for the notes.`;
    go.textContent = "Sign in";
    go.href = signInHref(record);
  }
  go.hidden = false;
  show("ended");
}

async function forAccount(invite) {
  const call = `/sessions/${encodeURIComponent(invite.session_id)}`;
  const name = invite.invitee_name || "a trainee";
  const go = $("account-go");
  const me = invite.signed_in_as_invitee ? null : await whoAmI();
  if (invite.signed_in_as_invitee) {
    $("account-detail").textContent = `You are signed in as ${name}: go straight to the call.`;
    go.textContent = "Go to the call";
    go.href = call;
  } else if (me && !me.scope_session_id) {
    // Someone else's account on this device: signing in again would land in the wrong account.
    $("account-detail").textContent =
      `This invite is for ${name}'s account, but this browser is signed in as ${me.user.name}. Sign out on the home page, then open this link again.`;
    go.textContent = "Go to the home page";
    go.href = "/";
  } else {
    $("account-detail").textContent =
      `This invite is for ${name}'s account. Sign in to take part as yourself, so your feedback and the session record are yours.`;
    go.textContent = "Sign in";
    go.href = signInHref(call);
  }
  $("account").hidden = false;
  $("join-form").hidden = true;
  $("as-guest").addEventListener("click", () => {
    const opening = $("join-form").hidden;
    $("join-form").hidden = !opening;
    $("as-guest-note").hidden = !opening;
    $("as-guest").setAttribute("aria-expanded", String(opening));
    if (opening) $("display-name").focus();
  });
}

async function load() {
  if (!token) return invalid("This invite link is not valid. Ask your mentor for a new one.");
  let invite;
  try {
    invite = await api("GET", invitePath);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 410)) invalid(problem(err));
    else $("loading").textContent = problem(err);
    return;
  }
  $("invite-session").textContent = invite.session_title;
  $("invite-mentor").textContent = invite.mentor_name;
  document.title = `Join ${invite.session_title} · Preceptor`;
  if (invite.ended) return ended(invite);
  $("display-name").value = invite.invitee_name ?? "";
  if (invite.for_account) await forAccount(invite);
  show("invite");
}

$("join-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("join-error");
  error.hidden = true;
  const name = $("display-name").value.trim();
  if (!name) {
    error.textContent = "Enter your name, so the mentor knows who is asking to join.";
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
