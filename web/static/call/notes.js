// The "Notes" tab of the call page's side panel: the session's shared notes (DESIGN.md §2 "Notes
// socket", §3b). The editor and its sync come from the bundle /static/dist/notes.js (built from
// web/src/notes.js by `make web`); this module decides when and how to mount it and shows the
// connection badge. Loaded lazily: a page without the bundle still makes calls.

import { CLOSE } from "/static/close-codes.js";
import { api } from "/static/api.js";

const $ = (id) => document.getElementById(id);

const BADGE = {
  online: "Online",
  syncing: "Syncing…",
  offline: "Offline — changes are kept and will sync",
};

let mounted = null; // {handle} once the editor is up; {pending: Promise} while it loads
let generation = 0; // bumps on every teardown, so a slow mount that lost the race gives up

function panel() {
  const root = $("panel-notes");
  if (!root.dataset.built) {
    root.dataset.built = "1";
    root.classList.add("notes");
    const bar = document.createElement("div");
    bar.className = "notes-bar";
    const badge = document.createElement("span");
    badge.id = "notes-status";
    badge.className = "notes-status";
    badge.setAttribute("role", "status");
    badge.dataset.status = "syncing";
    badge.textContent = "Connecting…";
    const mode = document.createElement("span");
    mode.id = "notes-mode";
    mode.className = "notes-mode";
    mode.hidden = true;
    bar.append(badge, mode);
    const message = document.createElement("p");
    message.id = "notes-message";
    message.className = "notes-message";
    message.hidden = true;
    const host = document.createElement("div");
    host.id = "notes-editor";
    host.className = "notes-editor";
    root.append(bar, message, host);
  }
  return {
    badge: $("notes-status"),
    mode: $("notes-mode"),
    message: $("notes-message"),
    host: $("notes-editor"),
  };
}

function setStatus(status) {
  const { badge } = panel();
  badge.dataset.status = status;
  badge.textContent = BADGE[status] ?? status;
}

function setMessage(text) {
  const { message } = panel();
  message.textContent = text ?? "";
  message.hidden = !text;
}

/** Whether I may edit: `can_edit` from the API (false for supervisors, and after the session
 * ended for everyone but the mentor). Unknown (the request failed) counts as editable: the
 * server enforces the rule on the socket anyway, and refuses with 4403. */
async function canEdit(sessionId) {
  try {
    const notes = await api("GET", `/api/sessions/${encodeURIComponent(sessionId)}/notes`);
    return notes.can_edit !== false;
  } catch {
    return true;
  }
}

/** Who I am, to keep my offline copy apart from anyone else's on this browser. */
async function myId() {
  try {
    return (await api("GET", "/api/me")).user?.id ?? null;
  } catch {
    return null;
  }
}

/**
 * Show the Notes tab and mount the shared editor (idempotent: a resumed `welcome` keeps it).
 * Called once the member is in the room: admitted guests, and mentors straight away.
 */
export function enableNotes({ sessionId, userName }) {
  $("tab-notes").hidden = false;
  if (mounted) return;
  const mine = generation;
  const pending = mount({ sessionId, userName, mine }).catch(() => {
    if (mine !== generation) return;
    mounted = null;
    setStatus("offline");
    setMessage("The notes could not be loaded. Reload the page to try again.");
  });
  mounted = { pending };
}

async function mount({ sessionId, userName, mine, forceReadOnly = false }) {
  const parts = panel();
  setMessage(null);
  const [{ mountNotes }, editable, userId] = await Promise.all([
    import("/static/dist/notes.js"),
    forceReadOnly ? false : canEdit(sessionId),
    myId(),
  ]);
  if (mine !== generation) return;
  parts.mode.textContent = editable ? "" : "Read only";
  parts.mode.hidden = editable;
  const handle = mountNotes(parts.host, {
    sessionId,
    userId,
    userName,
    readOnly: !editable,
    onStatus: setStatus,
    onClosed: ({ code }) => closed({ code, sessionId, userName, editable, mine }),
  });
  mounted = { handle };
}

/** The server refused the socket for good (y-websocket stops retrying on 44xx). */
function closed({ code, sessionId, userName, editable, mine }) {
  if (mine !== generation) return;
  setStatus("offline");
  if (code === CLOSE.NOT_ALLOWED && editable) {
    // Not (or no longer) allowed to edit, e.g. the session just ended: reopen read-only.
    mounted?.handle?.destroy();
    const pending = mount({ sessionId, userName, mine, forceReadOnly: true }).catch(() => {
      if (mine === generation) setMessage("The notes could not be loaded. Reload the page to try again.");
    });
    mounted = { pending };
    setMessage("You can read these notes but no longer edit them.");
    return;
  }
  const text =
    code === CLOSE.NOT_AUTHENTICATED
      ? "You are not signed in any more. Sign in again to see the notes."
      : code === CLOSE.NO_SESSION
        ? "These notes are not available."
        : "You are not allowed to see these notes.";
  setMessage(text);
}

/** Leaving the call: close the notes socket (the text stays in IndexedDB and on the server). */
export function disableNotes() {
  generation += 1;
  mounted?.handle?.destroy();
  mounted = null;
}
