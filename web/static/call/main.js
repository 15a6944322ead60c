// The call page (/sessions/{id}): device check → join → lobby or room. Wires the signaling
// socket, the peer connections, our media and the DOM together; each lives in its own module.

import { api, ApiError, setCsrfToken } from "/static/api.js";
import { enableFeedback } from "/static/call/feedback.js";
import { disableMarks, enableMarks, markReceived, marks } from "/static/call/marks.js";
import { LevelMeter, LocalMedia, PROBLEM_TEXT } from "/static/call/media.js";
import { disableNotes, enableNotes } from "/static/call/notes.js";
import { PeerMesh } from "/static/call/peers.js";
import { SignalingSocket } from "/static/call/socket.js";
import * as ui from "/static/call/ui.js";

const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/")[2] ?? "");

const media = new LocalMedia();
const meter = new LevelMeter($("level"));
const names = new Map(); // peer id → display name
const remoteStates = new Map(); // peer id → last `peer-state`
let socket = null;
let mesh = null;
let selfId = null;
let me = null; // GET /api/me
let session = null; // GET /api/sessions/{id}, when we may see it
const state = { audio: false, video: false, screen: false };

const FATAL_SCREENS = {
  denied: ["The mentor did not let you in", "", {}],
  ended: ["This session has ended", "Thank you for taking part.", {}],
  replaced: [
    "You joined from another tab",
    "This tab was disconnected. Carry on in the other tab, or rejoin here.",
    { rejoin: true },
  ],
  "not-authenticated": [
    "You are not signed in",
    "Sign in again, or open your invite link again, to join this session.",
    {},
  ],
  "no-session": ["No such session", "Check the link you were given.", {}],
  policy: ["The connection was refused", "Reload the page to try again.", { rejoin: true }],
  "too-big": ["The connection was refused", "Reload the page to try again.", { rejoin: true }],
};

// A debug and test hook: the live peer links (each with `.pc`, `.generation`, `.status`).
window.__preceptor = {
  get peers() {
    return mesh?.links ?? new Map();
  },
  get socket() {
    return socket;
  },
  media,
};

// --- loading and the device check ---------------------------------------------------------------

async function load() {
  try {
    me = await api("GET", "/api/me");
    setCsrfToken(me.csrf_token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      ui.showEnded(...FATAL_SCREENS["not-authenticated"]);
    } else {
      ui.showEnded("Could not reach the server", "Check your connection and reload.", { rejoin: true });
    }
    return;
  }
  try {
    session = await api("GET", `/api/sessions/${encodeURIComponent(sessionId)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return ui.showEnded(...FATAL_SCREENS["no-session"]);
    if (err instanceof ApiError && err.status === 403) {
      return ui.showEnded("You are not part of this session", "Check the link you were given.");
    }
    // Otherwise the socket has the last word on whether we may join.
  }
  ui.setRecordLink(`/review/sessions/${encodeURIComponent(sessionId)}`);
  if (session?.status === "ended") {
    const [title, detail] = FATAL_SCREENS.ended;
    return ui.showEnded(title, detail, { record: true });
  }
  ui.setTitle(session?.title ?? "Session");
  $("check-session").textContent = session
    ? `${session.title} · with ${session.mentor_name}`
    : `Signed in as ${me.user.name}`;
  ui.showScreen("check");
  await openDevices();
  navigator.mediaDevices?.addEventListener?.("devicechange", () => refreshPickers());
}

async function openDevices(selection = {}) {
  $("join").disabled = true;
  const { problem, partial } = await media.open(selection);
  const camera = media.cameraTrack;
  $("preview").srcObject = camera ? new MediaStream([camera]) : null;
  $("preview-off").hidden = Boolean(camera);
  meter.attach(media.audioTrack);
  ui.setCheckMessage(problem ? PROBLEM_TEXT[problem] : partial ? PROBLEM_TEXT[partial] : null);
  // Denied or absent: nothing to measure or pick. Busy or other: another device may work.
  $("device-fields").hidden = problem === "denied" || problem === "missing";
  await refreshPickers();
  $("join").disabled = false;
}

async function refreshPickers() {
  const { cameras, microphones } = await media.devices();
  ui.fillPicker($("camera-select"), cameras, media.cameraTrack?.getSettings().deviceId, {
    kind: "Camera",
    none: "No camera found",
  });
  ui.fillPicker($("mic-select"), microphones, media.audioTrack?.getSettings().deviceId, {
    kind: "Microphone",
    none: "No microphone found",
  });
}

function pickDevices() {
  openDevices({
    videoId: $("camera-select").value || null,
    audioId: $("mic-select").value || null,
  });
}

$("camera-select").addEventListener("change", pickDevices);
$("mic-select").addEventListener("change", pickDevices);
$("join").addEventListener("click", join);

// --- joining -------------------------------------------------------------------------------------

function join() {
  meter.close();
  ui.showScreen("connecting");
  state.audio = Boolean(media.audioTrack) && media.audioEnabled;
  state.video = Boolean(media.cameraTrack) && media.videoEnabled;
  showSelf();
  setupControls();
  mesh = new PeerMesh({
    send: (frame) => socket.send(frame, { queue: false }),
    tracks: (kind) => media.outgoing(kind),
    onAdded: (link) => {
      ui.addTile(link.id, link.peer.display_name);
      const known = remoteStates.get(link.id);
      if (known) ui.setTileState(link.id, known);
    },
    onRemoved: (id) => ui.removeTile(id),
    onStream: (link, stream) => ui.setTileStream(link.id, stream),
    onStatus: (link, status) => ui.setTileStatus(link.id, status),
  });
  socket = new SignalingSocket({ sessionId, onMessage, onStatus, onFatal });
  socket.start();
}

function onStatus(status) {
  if (status === "reconnecting") ui.setNetStatus("Reconnecting…");
  else if (status === "open") ui.setNetStatus(null);
}

function onFatal(reason) {
  teardown();
  const [title, detail, options] = FATAL_SCREENS[reason] ?? ["Disconnected", "", { rejoin: true }];
  ui.showEnded(title, detail, { ...options, record: reason === "ended" });
}

function onMessage(message) {
  switch (message.type) {
    case "welcome":
      return welcome(message);
    case "waiting":
      if (document.body.dataset.screen !== "room") ui.showScreen("waiting");
      return;
    case "lobby":
      return ui.renderLobby(message.waiting, {
        onAdmit: (peer) => socket.send({ type: "admit", peer: peer.id }),
        onDeny: (peer) => socket.send({ type: "deny", peer: peer.id }),
      });
    case "peer-joined":
      names.set(message.peer.id, message.peer.display_name);
      mesh.peerJoined(message.peer);
      ui.renameTile(message.peer.id, message.peer.display_name);
      return ui.toast(`${message.peer.display_name} joined`);
    case "peer-left":
      mesh.peerLeft(message.peer);
      remoteStates.delete(message.peer);
      return ui.toast(`${names.get(message.peer) ?? "Someone"} left`);
    case "peer-state":
      remoteStates.set(message.peer, message);
      return ui.setTileState(message.peer, message);
    case "signal":
      return mesh.signal(message);
    case "chat":
      return ui.appendChat({
        name: names.get(message.from) ?? "Someone",
        text: message.text,
        at: message.at,
        mine: message.from === selfId,
      });
    case "mark":
      return markReceived(message, { mine: message.by === selfId });
    case "error":
      return ui.toast(message.message);
    default:
    // media-mode, recording: later features.
  }
}

function welcome(message) {
  selfId = message.peer;
  names.set(message.peer, message.display_name);
  for (const peer of message.peers) names.set(peer.id, peer.display_name);
  ui.showScreen("room");
  mesh.welcome(message);
  for (const peer of message.peers) ui.renameTile(peer.id, peer.display_name);
  enableNotes({ sessionId, userName: message.display_name });
  if (session && me?.user && session.mentor_id === me.user.id) {
    enableMarks({ sessionId, send: (frame) => socket.send(frame, { queue: false }) });
  }
  enableFeedback({ sessionId, session, me, marks });
  sendState();
}

function sendState() {
  socket?.send({ type: "state", audio: state.audio, video: state.video, screen: state.screen });
}

function teardown() {
  disableNotes();
  disableMarks();
  mesh?.close();
  media.stop();
  meter.close();
  ui.clearTiles();
}

// --- the room's controls -------------------------------------------------------------------------

function showSelf() {
  const track = media.outgoing("video");
  $("self-video").srcObject = track ? new MediaStream([track]) : null;
  $("self-tile").classList.toggle("off", !track || (!state.video && !state.screen));
}

function setupControls() {
  const mute = $("ctl-mute");
  const camera = $("ctl-camera");
  mute.disabled = !media.audioTrack;
  camera.disabled = !media.cameraTrack;
  ui.setPressed(mute, !state.audio);
  ui.setPressed(camera, state.video);
  $("ctl-screen").hidden = !LocalMedia.canShareScreen();
  media.onScreenEnded = () => stopScreen();
}

$("ctl-mute").addEventListener("click", () => {
  state.audio = !state.audio;
  media.setAudioEnabled(state.audio);
  ui.setPressed($("ctl-mute"), !state.audio);
  sendState();
});

$("ctl-camera").addEventListener("click", () => {
  state.video = !state.video;
  media.setVideoEnabled(state.video);
  ui.setPressed($("ctl-camera"), state.video);
  showSelf();
  sendState();
});

$("ctl-screen").addEventListener("click", async () => {
  if (state.screen) return stopScreen();
  let track;
  try {
    track = await media.startScreen();
  } catch (err) {
    if (err?.name !== "NotAllowedError") ui.toast("Your screen could not be shared.");
    return;
  }
  state.screen = true;
  mesh.setTrack("video", track);
  ui.setPressed($("ctl-screen"), true);
  showSelf();
  sendState();
});

function stopScreen() {
  media.stopScreen();
  state.screen = false;
  mesh?.setTrack("video", media.cameraTrack);
  ui.setPressed($("ctl-screen"), false);
  showSelf();
  sendState();
}

function leave() {
  socket?.leave();
  teardown();
  ui.showEnded("You left the session", "", { rejoin: true, record: true });
}

$("ctl-leave").addEventListener("click", leave);
$("waiting-leave").addEventListener("click", leave);
$("rejoin").addEventListener("click", () => location.reload());

$("ctl-panel").addEventListener("click", () =>
  ui.setPanelOpen(!document.body.classList.contains("panel-open")),
);
$("panel-close").addEventListener("click", () => ui.setPanelOpen(false));
ui.wireTabs();

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-text");
  const text = input.value.trim();
  if (!text) return;
  // Shown when the server echoes it back, so every member sees the same order.
  socket?.send({ type: "chat", text: text.slice(0, 2000) });
  input.value = "";
});

// Autoplay policies: the first tap anywhere also unlocks sound.
$("unlock-audio").addEventListener("click", ui.unlockAudio);
document.addEventListener("pointerdown", () => {
  meter.resume();
  ui.unlockAudio();
});

load();
