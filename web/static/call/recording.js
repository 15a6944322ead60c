// Recording consent in the room (issue 12). The mentor asks to record ("Start recording"); every
// member — the mentor too, and anyone who joins later — answers ("I consent" or "Not now"), and
// the server records only while every present member consents. Anyone may withdraw, which stops
// it; the mentor stops it with "Stop recording". The state itself shows in the top bar
// (status.js) on every screen; this bar holds the question and the buttons.

const TEXT = {
  ask: "The mentor asks to record this session for review. It starts only when everyone consents.",
  consented: "You consent to recording. You can withdraw at any time.",
  declined: "You have not consented. Nothing is recorded until everyone does.",
  waiting: "Waiting for everyone to consent before recording starts.",
  observed: "This session is being recorded. You observe, so nothing of yours is recorded.",
  observedWaiting: "The mentor asked to record; it starts when the members consent.",
  direct: "This session is direct: video never passes through the server, so it cannot be recorded.",
};

let bar = null;
let send = () => {};
let self = null;
let mentor = false;
let observer = false; // publishes nothing, so is never recorded and never asked
let direct = false; // an explicitly direct session (issue 11): the server never has its media
let answered = null; // what I last said: true, false or null (not asked yet)

function button(label, onClick, secondary = false) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

function ensureBar() {
  if (bar) return bar;
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/static/call/recording.css";
  document.head.append(css);
  bar = document.createElement("section");
  bar.id = "rec-consent";
  bar.className = "rec-consent";
  bar.setAttribute("aria-label", "Recording");
  bar.hidden = true;
  document.querySelector(".call-topbar").after(bar);
  return bar;
}

/** Called once the room welcomes me. */
export function enableRecording(options) {
  ({ send, self, mentor } = options);
  observer = Boolean(options.observer);
  direct = Boolean(options.direct);
  ensureBar();
}

function answer(granted) {
  answered = granted;
  send({ type: "consent", granted });
}

/** The room's recording status: `{ state, consents }` (from `welcome.recording` or `recording`). */
export function recordingStatus(status) {
  if (!bar || !status) return;
  const state = status.state ?? "off";
  const mine = (status.consents ?? []).includes(self);
  const parts = [];
  const text = document.createElement("p");
  text.setAttribute("role", "status");
  if (state === "off") {
    answered = null;
    if (mentor && direct) text.textContent = TEXT.direct;
    else if (mentor) parts.push(button("Start recording", () => send({ type: "recording", action: "start" })));
  } else if (observer) {
    text.textContent = state === "active" ? TEXT.observed : TEXT.observedWaiting;
  } else {
    if (mine) text.textContent = state === "active" ? TEXT.consented : TEXT.waiting;
    else text.textContent = answered === false ? TEXT.declined : TEXT.ask;
    parts.push(mine ? button("Withdraw consent", () => answer(false), true) : button("I consent", () => answer(true)));
    if (!mine && answered !== false) parts.push(button("Not now", () => answer(false), true));
    if (mentor) parts.push(button("Stop recording", () => send({ type: "recording", action: "stop" }), true));
  }
  const buttons = document.createElement("div");
  buttons.className = "rec-consent-buttons";
  buttons.append(...parts);
  bar.replaceChildren(...(text.textContent ? [text] : []), buttons);
  bar.dataset.state = state;
  bar.toggleAttribute("data-direct", mentor && direct && state === "off");
  bar.hidden = parts.length === 0 && !text.textContent;
}
