// The top bar in the room: how long the call has run (from when the session went live, the same
// origin as the marks' offsets) and whether it is being recorded — shown on every screen size,
// "Not recorded" included, so nobody has to guess.

import { offset } from "/static/clock.js";

const $ = (id) => document.getElementById(id);

const RECORDING_TEXT = {
  off: "Not recorded",
  "pending-consent": "Recording: waiting for consent",
  active: "Recording",
};

// On a phone the badge shows these beside its dot (recording.css), so the title keeps its room;
// the full words stay its text, which is what assistive technology reads.
const RECORDING_SHORT = { off: "No rec", "pending-consent": "Asking…", active: "Rec" };

let timer = null;
let startedMs = null;

function tick() {
  $("call-timer").textContent = offset(Date.now() - startedMs);
}

/** Start (or correct) the timer; `startedAt` in seconds since the epoch (the API's unit). */
export function startTimer(startedAt) {
  const next = (startedAt ?? Date.now() / 1000) * 1000;
  // Keep the earliest origin we were told of: a later welcome must not restart the clock.
  startedMs = startedMs === null ? next : Math.min(startedMs, next);
  $("call-timer").hidden = false;
  tick();
  timer ??= setInterval(tick, 1000);
}

export function setRecording(state) {
  const box = $("rec-state");
  box.dataset.state = state in RECORDING_TEXT ? state : "off";
  box.textContent = RECORDING_TEXT[box.dataset.state];
  box.dataset.short = RECORDING_SHORT[box.dataset.state];
  box.hidden = false;
}

export function stopStatus() {
  clearInterval(timer);
  timer = null;
  $("call-timer").hidden = true;
  $("rec-state").hidden = true;
  $("end-session").hidden = true;
}
