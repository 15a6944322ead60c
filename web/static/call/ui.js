// The call page's DOM: screens, video tiles, controls, lobby, chat and the side-panel tabs.
// No protocol knowledge here; main.js decides, this module shows.

const $ = (id) => document.getElementById(id);
const SCREENS = ["loading", "check", "connecting", "waiting", "ended", "room"];

const STATUS_TEXT = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting…",
  connected: "Connected",
  unknown: "Connected",
  good: "Good connection",
  fair: "Fair connection",
  poor: "Poor connection",
};

export function showScreen(name) {
  for (const screen of SCREENS) $(`screen-${screen}`).hidden = screen !== name;
  document.body.dataset.screen = name;
}

export function setTitle(text) {
  $("call-title").textContent = text;
  document.title = `${text} · Preceptor`;
}

/** The signaling connection's state, shown only when it is not fine. */
export function setNetStatus(text) {
  $("net-status").textContent = text ?? "";
  $("net-status").hidden = !text;
}

let toastTimer = null;
/** Unobtrusive: a line at the top that fades after a few seconds. */
export function toast(text) {
  const box = $("toast");
  box.textContent = text;
  // Below the recording bar under the top bar, never on its words or buttons (a consent
  // question). A notice to act on sends the toast down instead (call.css).
  const bar = document.getElementById("rec-consent");
  if (bar && !bar.hidden) {
    box.style.setProperty("--toast-top", `${Math.round(bar.getBoundingClientRect().bottom) + 8}px`);
  } else {
    box.style.removeProperty("--toast-top");
  }
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    box.hidden = true;
  }, 6000);
}

/** `record`: offer the session's record (after leaving, or once the session ended). */
export function showEnded(
  title,
  detail = "",
  { rejoin = false, takeBack = false, home = true, record = false, homeText = "Back to home" } = {},
) {
  $("ended-title").textContent = title;
  $("ended-detail").textContent = detail;
  $("rejoin").hidden = !rejoin;
  $("take-back").hidden = !takeBack;
  $("home-link").hidden = !home;
  $("home-link").textContent = homeText;
  $("toast").hidden = true; // "X joined" belongs to the call, not to its end
  $("record-link").hidden = !record || !$("record-link").getAttribute("href");
  showScreen("ended");
}

export function setRecordLink(href) {
  $("record-link").href = href;
}

// --- pre-join check -----------------------------------------------------------------------------

/** Fill a device <select>; `kind` names unlabelled devices ("Camera 2"), `none` an empty list. */
export function fillPicker(select, devices, selectedId, { kind, none }) {
  select.replaceChildren();
  if (devices.length === 0) {
    select.append(new Option(none, ""));
    select.disabled = true;
    return;
  }
  devices.forEach((device, index) => {
    const label = device.label || `${kind} ${index + 1}`;
    select.append(new Option(label, device.deviceId, false, device.deviceId === selectedId));
  });
  select.disabled = false;
}

export function setCheckMessage(text) {
  $("check-message").textContent = text ?? "";
  $("check-message").hidden = !text;
}

// --- audio unlock (autoplay policies) -----------------------------------------------------------

const blocked = new Set();

/** Play a video; if the browser wants a tap first, offer "Tap to enable sound". */
export function play(video) {
  const attempt = video.play();
  if (!attempt) return;
  attempt
    .then(() => blocked.delete(video))
    .catch((err) => {
      if (err?.name !== "NotAllowedError") return;
      blocked.add(video);
      $("unlock-audio").hidden = false;
    });
}

export function unlockAudio() {
  for (const video of [...blocked]) play(video);
  blocked.clear();
  $("unlock-audio").hidden = true;
}

// --- tiles --------------------------------------------------------------------------------------

const tiles = new Map();

function tileOf(id) {
  return tiles.get(id);
}

/** The remote video elements, by peer id (the People list and tests read them). */
export function tileVideo(id) {
  return tileOf(id)?.video ?? null;
}

function updateAlone() {
  $("alone").hidden = tiles.size > 0;
  $("tiles").dataset.count = String(tiles.size);
}

/** `observer`: a silent observer's tile (it sends nothing): named as such, never hidden. */
export function addTile(id, name, { observer = false } = {}) {
  if (tiles.has(id)) return;
  const figure = document.createElement("figure");
  figure.className = "tile";
  figure.dataset.peer = id;
  const video = document.createElement("video");
  video.playsInline = true;
  video.autoplay = true;
  video.setAttribute("playsinline", "");
  const off = document.createElement("p");
  off.className = "tile-off";
  off.textContent = "Camera off";
  off.hidden = true;
  const caption = document.createElement("figcaption");
  const label = document.createElement("span");
  label.className = "tile-name";
  label.textContent = name;
  const muted = document.createElement("span");
  muted.className = "tile-muted";
  muted.hidden = true;
  muted.innerHTML =
    '<svg aria-hidden="true" viewBox="0 0 24 24"><path d="M19 11h-2c0 .7-.1 1.3-.4 1.9l1.5 1.5c.6-1 .9-2.2.9-3.4zm-4 .2V5a3 3 0 0 0-5.9-.7zM4.3 3 3 4.3l6 6V11a3 3 0 0 0 4.6 2.5l1.6 1.7A5 5 0 0 1 7 11H5a7 7 0 0 0 6 6.9V21h2v-3.1a7 7 0 0 0 3.6-1.4l3.1 3.1 1.3-1.3z"/></svg>';
  muted.append(Object.assign(document.createElement("span"), { className: "visually-hidden", textContent: "muted" }));
  const sharing = document.createElement("span");
  sharing.className = "tile-sharing";
  sharing.textContent = "Sharing screen";
  sharing.hidden = true;
  caption.append(label, muted, sharing);
  if (observer) {
    const badge = document.createElement("span");
    badge.className = "tile-observer";
    badge.textContent = "Observing";
    caption.append(badge);
    figure.classList.add("observer");
    figure.style.setProperty("--observer-index", String(document.querySelectorAll(".tile.observer").length));
    off.textContent = "Observing: sends no audio or video";
  }
  const quality = document.createElement("span");
  quality.className = "tile-quality";
  quality.dataset.quality = "connecting";
  quality.textContent = STATUS_TEXT.connecting;
  figure.append(video, off, caption, quality);
  $("tiles").append(figure);
  tiles.set(id, { figure, video, off, label, muted, sharing, quality });
  updateAlone();
}

export function removeTile(id) {
  const tile = tileOf(id);
  if (!tile) return;
  tile.video.srcObject = null;
  blocked.delete(tile.video);
  tile.figure.remove();
  tiles.delete(id);
  updateAlone();
}

export function renameTile(id, name) {
  const tile = tileOf(id);
  if (tile) tile.label.textContent = name;
}

export function setTileStream(id, stream) {
  const tile = tileOf(id);
  if (!tile) return;
  if (tile.video.srcObject !== stream) tile.video.srcObject = stream;
  if (stream.getTracks().length > 0) play(tile.video);
}

export function setTileStatus(id, status) {
  const tile = tileOf(id);
  if (!tile) return;
  tile.quality.dataset.quality = status;
  tile.quality.textContent = STATUS_TEXT[status] ?? status;
}

export function setTileState(id, { audio, video, screen }) {
  const tile = tileOf(id);
  if (!tile) return;
  tile.muted.hidden = audio;
  tile.off.hidden = video || screen;
  tile.sharing.hidden = !screen;
  tile.figure.classList.toggle("screen", screen);
}

export function clearTiles() {
  for (const id of [...tiles.keys()]) removeTile(id);
}

// --- controls -----------------------------------------------------------------------------------

export function setPressed(button, pressed) {
  button.setAttribute("aria-pressed", String(pressed));
}

/**
 * A toggle in the control bar: its label says what a press will do ("Unmute", "Start camera"),
 * and aria-pressed says whether its feature (mute, camera, sharing) is on now.
 */
export function setToggle(button, pressed, label) {
  setPressed(button, pressed);
  button.querySelector(".control-label").textContent = label;
}

// --- lobby (mentors) ----------------------------------------------------------------------------

export function renderLobby(waiting, { onAdmit, onDeny }) {
  const list = $("lobby-list");
  list.replaceChildren();
  for (const peer of waiting) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "lobby-name";
    name.textContent = peer.display_name;
    const admit = document.createElement("button");
    admit.type = "button";
    admit.textContent = "Admit";
    admit.setAttribute("aria-label", `Admit ${peer.display_name}`);
    admit.addEventListener("click", () => onAdmit(peer));
    const deny = document.createElement("button");
    deny.type = "button";
    deny.className = "secondary";
    deny.textContent = "Deny";
    deny.setAttribute("aria-label", `Deny ${peer.display_name}`);
    deny.addEventListener("click", () => onDeny(peer));
    item.append(name, admit, deny);
    list.append(item);
  }
  $("lobby-title").textContent = waiting.length === 1 ? "Waiting to join" : `Waiting to join (${waiting.length})`;
  $("lobby-panel").hidden = waiting.length === 0;
}

// --- chat and side panel ------------------------------------------------------------------------

let unread = 0;

function panelOpen() {
  return document.body.classList.contains("panel-open") || !matchMedia("(max-width: 899px)").matches;
}

/** Replace the chat with the room's stored history (sent after every `welcome`). */
export function replaceChat(messages) {
  $("chat-log").replaceChildren();
  for (const message of messages) appendChat({ ...message, history: true });
}

export function appendChat({ id, name, text, at, mine, mentorsOnly = false, history = false }) {
  const log = $("chat-log");
  // A line can reach the page twice when its room moved between nodes as it was stored (the old
  // node relays it, and the new one tells whoever it has): shown once.
  if (id && log.querySelector(`li[data-chat-id="${CSS.escape(id)}"]`)) return;
  const item = document.createElement("li");
  item.className = mine ? "mine" : "";
  if (id) item.dataset.chatId = id;
  const head = document.createElement("span");
  head.className = "chat-from";
  head.textContent = mine ? "You" : name;
  const time = document.createElement("time");
  const date = new Date(at);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const body = document.createElement("p");
  body.textContent = text;
  item.append(head, time, body);
  if (mentorsOnly) {
    const note = document.createElement("p");
    note.className = "muted chat-audience";
    note.textContent = mine
      ? "Only the mentor (and supervisors) see your messages while you are hidden"
      : "Not shown to trainees: sent by a hidden observer";
    item.append(note);
  }
  log.append(item);
  log.scrollTop = log.scrollHeight;
  if (!mine && !history && !(panelOpen() && $("tab-chat").getAttribute("aria-selected") === "true")) {
    unread += 1;
    $("unread").textContent = String(unread);
    $("unread").hidden = false;
    $("unread-text").textContent = `${unread} unread`;
  }
}

/** A standing line above the composer (null: none); the message box is described by it. */
export function setChatHint(text) {
  const hint = $("chat-hint");
  hint.textContent = text ?? "";
  hint.hidden = !text;
  if (text) $("chat-text").setAttribute("aria-describedby", "chat-hint");
  else $("chat-text").removeAttribute("aria-describedby");
}

export function setPanelOpen(open) {
  if (open && !document.body.dataset.sheet) document.body.dataset.sheet = "half";
  document.body.classList.toggle("panel-open", open);
  $("ctl-panel").setAttribute("aria-expanded", String(open));
  if (open && $("tab-chat").getAttribute("aria-selected") === "true") {
    unread = 0;
    $("unread").hidden = true;
    $("unread-text").textContent = "";
  }
}

let selectTab = () => {};

/** Open the side panel (the sheet on a phone) at the tab `id`. */
export function openTab(id) {
  setPanelOpen(true);
  selectTab(id);
}

/** Tabs (WAI-ARIA tabs pattern): every visible [role=tab] switches to its aria-controls panel. */
export function wireTabs() {
  const tabs = [...document.querySelectorAll('#side-panel [role="tab"]')];
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (tab.id === "tab-chat") setPanelOpen(panelOpen());
  };
  selectTab = (id) => {
    const tab = tabs.find((t) => t.id === id);
    if (tab && !tab.hidden) select(tab);
  };
  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
      const visible = tabs.filter((t) => !t.hidden);
      const step = event.key === "ArrowRight" ? 1 : -1;
      const next = visible[(visible.indexOf(tab) + step + visible.length) % visible.length];
      next.focus();
      select(next);
    });
  }
}
