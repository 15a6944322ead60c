// The mentor's invites, in the People tab: make a link for a trainee account of the session or a
// named guest, copy it (or hand it to the phone's share sheet: Web Share API), and see every link
// with its uses and expiry, withdrawing any (GET/POST /api/sessions/{id}/invites, …/revoke).

import { api, ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);
const GUEST = "";

let sessionPath = null;
let wired = false;

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function day(seconds) {
  const date = new Date(seconds * 1000);
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return `today at ${clock(seconds)}`;
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** "Used 1 of 5 · expires today at 14:05", or why it no longer works. */
function describe(invite, now) {
  const used = `Used ${invite.uses} of ${invite.max_uses}`;
  if (invite.revoked) return `${used} · withdrawn`;
  if (invite.expires_at <= now) return `${used} · expired`;
  if (invite.uses >= invite.max_uses) return `${used} · used up`;
  return `${used} · expires ${day(invite.expires_at)}`;
}

function live(invite, now) {
  return !invite.revoked && invite.expires_at > now && invite.uses < invite.max_uses;
}

/** One sentence and one piece of advice, whatever went wrong. */
function problem(err, doing) {
  if (err instanceof ApiError && err.status === 409) return "The session has ended, so no new links can be made.";
  if (err instanceof ApiError && err.status < 500) {
    const reason = err.message.charAt(0).toUpperCase() + err.message.slice(1);
    return reason.endsWith(".") ? reason : `${reason}.`;
  }
  return `The link could not be ${doing}. Check your connection and try again.`;
}

async function refresh() {
  let invites;
  try {
    invites = await api("GET", `${sessionPath}/invites`);
  } catch {
    return; // the list keeps what it showed; the next change refreshes it
  }
  const now = Date.now() / 1000;
  const list = $("invite-list");
  list.replaceChildren(
    ...invites
      .sort((a, b) => Number(live(b, now)) - Number(live(a, now)) || b.expires_at - a.expires_at)
      .map((invite) => {
        const item = document.createElement("li");
        const info = document.createElement("div");
        info.className = "invite-info";
        const name = document.createElement("strong");
        name.textContent = invite.name || "Guest";
        const state = document.createElement("span");
        state.textContent = describe(invite, now);
        info.append(name, state);
        item.append(info);
        if (live(invite, now)) {
          const withdraw = document.createElement("button");
          withdraw.type = "button";
          withdraw.className = "secondary danger";
          withdraw.textContent = "Withdraw";
          withdraw.setAttribute("aria-label", `Withdraw the link for ${name.textContent}`);
          withdraw.addEventListener("click", () => revoke(invite, withdraw));
          item.append(withdraw);
        }
        return item;
      }),
  );
  $("invite-none").hidden = invites.length > 0;
}

async function revoke(invite, button) {
  button.disabled = true;
  try {
    await api("POST", `${sessionPath}/invites/${encodeURIComponent(invite.id)}/revoke`);
    $("invite-status").textContent = "";
  } catch (err) {
    button.disabled = false;
    $("invite-error").textContent = problem(err, "withdrawn");
    $("invite-error").hidden = false;
    return;
  }
  await refresh();
}

async function create(event) {
  event.preventDefault();
  const error = $("invite-error");
  error.hidden = true;
  const traineeId = $("invite-for").value;
  const name = $("invite-name").value.trim();
  if (traineeId === GUEST && !name) {
    error.textContent = "Type the name of the person the link is for.";
    error.hidden = false;
    $("invite-name").focus();
    return;
  }
  const body = traineeId === GUEST ? { name } : { trainee_id: traineeId };
  let made;
  try {
    made = await api("POST", `${sessionPath}/invites`, body);
  } catch (err) {
    error.textContent = problem(err, "made");
    error.hidden = false;
    return;
  }
  $("invite-name").value = "";
  $("invite-link").value = made.url;
  $("invite-made").hidden = false;
  $("invite-status").textContent = `Link for ${made.name ?? "your guest"} made. Copy or share it.`;
  $("invite-share").hidden = typeof navigator.share !== "function";
  await refresh();
}

async function copy() {
  const field = $("invite-link");
  try {
    await navigator.clipboard.writeText(field.value);
    $("invite-status").textContent = "Link copied.";
  } catch {
    // No clipboard permission (or an old browser): select it for the person to copy.
    field.select();
    $("invite-status").textContent = "Press Ctrl+C (or long-press and Copy) to copy the selected link.";
  }
}

async function share() {
  try {
    await navigator.share({ title: document.title, text: "Join the session", url: $("invite-link").value });
  } catch (err) {
    if (err?.name !== "AbortError") $("invite-status").textContent = "The link could not be shared. Copy it instead.";
  }
}

function fillFor(trainees) {
  const select = $("invite-for");
  select.replaceChildren(
    ...trainees.map((t) => new Option(`${t.name || "Trainee"} (trainee account)`, t.id)),
    new Option("Someone else (a guest)", GUEST),
  );
  select.value = GUEST;
  $("invite-name-field").hidden = false;
}

/** The session's mentor is in the room: show the invites and load them. */
export function enableInvites({ sessionId, session }) {
  sessionPath = `/api/sessions/${encodeURIComponent(sessionId)}`;
  $("invites").hidden = false;
  fillFor(session?.trainees ?? []);
  if (!wired) {
    wired = true;
    $("invite-form").addEventListener("submit", create);
    $("invite-for").addEventListener("change", () => {
      $("invite-name-field").hidden = $("invite-for").value !== GUEST;
    });
    $("invite-copy").addEventListener("click", copy);
    $("invite-share").addEventListener("click", share);
  }
  refresh();
}

/** Someone redeemed or left: the uses changed. */
export function refreshInvites() {
  if (sessionPath) refresh();
}
