// Marks: the mentor keeps moments of the call worth discussing (DESIGN.md §2, signaling `mark`).
// One tap on "Mark" sends `{type: "mark", label, tags}`; the server stores the mark and echoes it
// to the mentor (and supervisors) with its id and offset into the session, and only then does
// the page say "Marked at +mm:ss into the call". The session's marks are kept here for citing in
// feedback.

import { api } from "/static/api.js";
import { offset } from "/static/clock.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_LABEL = "Marked moment";
const CONFIRM_MS = 5000;

/** The session's marks, by time, with change notifications. */
export class MarkList {
  constructor() {
    this.byId = new Map();
    this.listeners = new Set();
  }

  list() {
    return [...this.byId.values()].sort((a, b) => a.at_ms - b.at_ms);
  }

  get(id) {
    return this.byId.get(id);
  }

  add(...marks) {
    let changed = false;
    for (const mark of marks) {
      if (!mark?.id || this.byId.has(mark.id)) continue;
      this.byId.set(mark.id, { id: mark.id, label: mark.label ?? "", tags: mark.tags ?? [], at_ms: mark.at_ms ?? 0 });
      changed = true;
    }
    if (changed) for (const listener of this.listeners) listener();
  }

  /** Call `fn` after every change; returns the way to stop. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

export const marks = new MarkList();

/** An offset read as one: "Marked at +01:42 into the call" (not a time of day). */
function markedAt(ms) {
  return `Marked at +${offset(ms)} into the call`;
}

let enabled = false;
let sessionIdOf = null;
let sendFrame = null;
let confirmTimer = null;

function setStatus(text) {
  const status = $("mark-status");
  status.textContent = text;
  clearTimeout(confirmTimer);
  if (text) {
    confirmTimer = setTimeout(() => {
      status.textContent = "";
    }, CONFIRM_MS);
  }
}

function chosenTags() {
  return [...document.querySelectorAll("#mark-bar .mark-tag")]
    .filter((b) => b.getAttribute("aria-pressed") === "true")
    .map((b) => b.dataset.tag);
}

function resetBar() {
  $("mark-label").value = "";
  for (const b of document.querySelectorAll("#mark-bar .mark-tag")) b.setAttribute("aria-pressed", "false");
}

async function mark() {
  const label = $("mark-label").value.trim().slice(0, 200) || DEFAULT_LABEL;
  const tags = chosenTags();
  resetBar();
  if (sendFrame({ type: "mark", label, tags })) {
    setStatus("Marking…");
    return;
  }
  // The socket is between connections: the API takes the mark now rather than later.
  try {
    const added = await api("POST", `/api/sessions/${encodeURIComponent(sessionIdOf)}/marks`, { label, tags });
    marks.add(added);
    setStatus(markedAt(added.at_ms));
  } catch {
    setStatus("The mark was not saved. Try again.");
  }
}

/** The mentor is in the room: show the Mark control and load the marks taken so far. */
export function enableMarks({ sessionId, send }) {
  sessionIdOf = sessionId;
  sendFrame = send;
  $("ctl-mark").hidden = false;
  $("mark-bar").hidden = false;
  document.body.classList.add("marking");
  api("GET", `/api/sessions/${encodeURIComponent(sessionId)}/marks`)
    .then((list) => marks.add(...list))
    .catch(() => {
      /* the socket's echoes still fill the list */
    });
  if (enabled) return;
  enabled = true;
  $("ctl-mark").addEventListener("click", mark);
  $("mark-bar").addEventListener("submit", (event) => {
    event.preventDefault();
    mark();
  });
  for (const button of document.querySelectorAll("#mark-bar .mark-tag")) {
    button.addEventListener("click", () => {
      const pressed = button.getAttribute("aria-pressed") === "true";
      button.setAttribute("aria-pressed", String(!pressed));
    });
  }
}

/** A `mark` frame from the server. `mine`: I took it, so confirm it. */
export function markReceived(message, { mine }) {
  marks.add(message);
  if (mine) setStatus(markedAt(message.at_ms));
}

export function disableMarks() {
  $("ctl-mark").hidden = true;
  $("mark-bar").hidden = true;
  document.body.classList.remove("marking");
}
