// The call page (/sessions/{id}): device check → join → lobby or room. Wires the signaling
// socket, the peer connections, our media and the DOM together; each lives in its own module.

import { api, ApiError, setCsrfToken } from "/static/api.js";
import { enableEnd } from "/static/call/end.js";
import { endScreen } from "/static/call/ends.js";
import { enableFeedback } from "/static/call/feedback.js";
import { enableInvites, refreshInvites } from "/static/call/invites.js";
import { disableMarks, enableMarks, markReceived, marks } from "/static/call/marks.js";
import { LevelMeter, LocalMedia, PROBLEM_TEXT } from "/static/call/media.js";
import { feedbackArrived, hideNotice, mediaRefused, wireNotice } from "/static/call/notice.js";
import { enableObserverHint, hideHint, showObserversHidden } from "/static/call/observer-hint.js";
import { disableNotes, enableNotes } from "/static/call/notes.js";
import * as people from "/static/call/people.js";
import { PeerMesh } from "/static/call/peers.js";
import { enableRecording, recordingStatus } from "/static/call/recording.js";
import { RoutedMesh } from "/static/call/routed.js";
import { setSheet, wireSheet } from "/static/call/sheet.js";
import { forgetResume, SignalingSocket } from "/static/call/socket.js";
import { setRecording, startTimer, stopStatus } from "/static/call/status.js";
import * as ui from "/static/call/ui.js";

const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/")[2] ?? "");

const media = new LocalMedia();
const meter = new LevelMeter($("level"));
const names = new Map(); // peer id → display name
const remoteStates = new Map(); // peer id → last `peer-state`
let socket = null;
let mesh = null;
let retiring = null; // the direct connections, kept until the routed one carries the pictures
let iceServers = []; // from the last `welcome`, for a switch to routed mode
let selfId = null;
let me = null; // GET /api/me
let session = null; // GET /api/sessions/{id}, when we may see it
let observersHiddenHeard = null; // the room's last `observers-hidden` ({hidden}): newer than a read asked before it
const state = { audio: false, video: false, screen: false };
let selection = {}; // the devices picked in the check, reused when this tab takes the call back
let wasWaiting = false; // this tab sat in the lobby: a 4403 then means the mentor said no

/** Signed in through an invite link rather than an account. */
const isGuest = () => Boolean(me?.scope_session_id);
/** The session's capabilities for me (the policy's actions), so the page derives no roles. */
const can = (action) => Boolean(session?.can?.includes(action));
/** A silent observer (an assigned supervisor): receives everything, sends nothing. */
const observing = () => Boolean(session?.can) && !can("media.publish");

function showEnd(reason, context = {}) {
  const [title, detail, options] = endScreen(reason, { guest: isGuest(), wasWaiting, ...context });
  ui.showEnded(title, detail, options);
}

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
    showEnd(err instanceof ApiError && err.status === 401 ? "not-authenticated" : "unreachable");
    return;
  }
  try {
    session = await api("GET", `/api/sessions/${encodeURIComponent(sessionId)}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return showEnd("no-session");
    if (err instanceof ApiError && err.status === 403) return showEnd("not-allowed");
    // Otherwise the socket has the last word on whether we may join.
  }
  ui.setRecordLink(`/review/sessions/${encodeURIComponent(sessionId)}`);
  if (session?.status === "ended") return showEnd("ended");
  ui.setTitle(session?.title ?? "Session");
  $("check-session").textContent = session
    ? `${session.title} · with ${session.mentor_name}`
    : `Signed in as ${me.user.name}`;
  ui.showScreen("check");
  if (observing()) {
    enableObserverHint();
    return observeOnly();
  }
  await openDevices();
  navigator.mediaDevices?.addEventListener?.("devicechange", () => refreshPickers());
}

/** Observers never open a camera or microphone: nothing of theirs would be sent anyway. */
function observeOnly() {
  $("check-title").textContent = "Observe this session";
  $("preview-off").textContent = "You are observing";
  $("preview-off").hidden = false;
  $("device-fields").hidden = true;
  const seen = session?.observers_hidden
    ? "The mentor sees that you are observing; the trainee does not."
    : "Everyone sees that you are observing.";
  ui.setCheckMessage(`You see and hear everyone; your camera and microphone stay off. ${seen}`);
  $("join").disabled = false;
}

async function openDevices(picked = {}) {
  selection = picked;
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
  wasWaiting = false;
  state.audio = Boolean(media.audioTrack) && media.audioEnabled;
  state.video = Boolean(media.cameraTrack) && media.videoEnabled;
  state.screen = false;
  showSelf();
  setupControls();
  mesh = new PeerMesh(meshOptions());
  socket = new SignalingSocket({ sessionId, onMessage, onStatus, onFatal });
  socket.start();
}

/** What either kind of mesh needs: direct (one connection per member) or routed (one to media).
 * Either hands back "links" with `id` and `peer`: a member's tile follows it. */
function meshOptions() {
  return {
    send: (frame) => socket.send(frame, { queue: false }),
    tracks: (kind) => (observing() ? null : media.outgoing(kind)),
    onAdded: (link) => {
      ui.addTile(link.id, link.peer.display_name, { observer: Boolean(link.peer.observer) });
      const known = remoteStates.get(link.id);
      if (known) ui.setTileState(link.id, known);
    },
    onRemoved: (id) => ui.removeTile(id),
    onStream: (link, stream) => ui.setTileStream(link.id, stream),
    onStatus: (link, status) => {
      ui.setTileStatus(link.id, status);
      people.linkStatus(link.id, status);
    },
    rejoin: () => socket?.reconnectNow(),
  };
}

/** The welcome says how media flows; the mesh follows it. */
function meshFor(mode) {
  retire();
  const routed = mode === "routed";
  if (routed !== mesh instanceof RoutedMesh) {
    mesh?.close();
    mesh = routed ? new RoutedMesh(meshOptions()) : new PeerMesh(meshOptions());
  }
  return mesh;
}

/**
 * `media-mode {mode: "routed"}`: a third member, an observer or a recording moved the room to the
 * server's media peer. Make before break (DESIGN.md §3): the direct connections keep showing
 * the pictures until the connection to `media` is up, then they are dropped quietly (the tiles
 * stay: they follow the members).
 */
function switchToRouted() {
  if (mesh instanceof RoutedMesh) return;
  const direct = mesh;
  const members = [...direct.links.values()].map((link) => link.peer);
  const options = meshOptions();
  let up = false;
  mesh = new RoutedMesh({
    ...options,
    onStatus: (link, status) => {
      options.onStatus(link, status);
      if (up || !["connected", "good", "fair", "poor", "unknown"].includes(status)) return;
      up = true;
      setTimeout(() => retire(direct), 1000); // a moment for the first frames to arrive
    },
  });
  retiring = direct;
  mesh.welcome({ peer: selfId, peers: members, ice_servers: iceServers });
}

/** Drop the direct connections without touching the tiles. */
function retire(direct = retiring) {
  if (!direct || direct !== retiring) return;
  retiring = null;
  direct.onRemoved = direct.onStream = direct.onStatus = () => {};
  direct.close();
}

function onStatus(status) {
  if (status === "reconnecting") ui.setNetStatus("Reconnecting…");
  else if (status === "open") ui.setNetStatus(null);
}

function onFatal(reason) {
  teardown();
  showEnd(reason);
}

/** "Take the call back here" after another tab took over: join again with the same devices. */
async function takeBack() {
  ui.showScreen("connecting");
  forgetResume(sessionId);
  await media.open(selection);
  join();
}

function onMessage(message) {
  switch (message.type) {
    case "welcome":
      return welcome(message);
    case "waiting":
      if (document.body.dataset.screen !== "room") {
        wasWaiting = true;
        ui.showScreen("waiting");
      }
      return;
    case "lobby":
      people.setWaiting(message.waiting);
      return ui.renderLobby(message.waiting, {
        onAdmit: (peer) => socket.send({ type: "admit", peer: peer.id }),
        onDeny: (peer) => socket.send({ type: "deny", peer: peer.id }),
      });
    case "peer-joined":
      names.set(message.peer.id, message.peer.display_name);
      mesh.peerJoined(message.peer);
      people.peerJoined(message.peer);
      ui.renameTile(message.peer.id, message.peer.display_name);
      refreshInvites();
      return ui.toast(`${message.peer.display_name} joined`);
    case "peer-left":
      retiring?.peerLeft(message.peer);
      mesh.peerLeft(message.peer);
      people.peerLeft(message.peer);
      remoteStates.delete(message.peer);
      return ui.toast(`${names.get(message.peer) ?? "Someone"} left`);
    case "peer-state":
      remoteStates.set(message.peer, message);
      people.peerState(message.peer, message);
      return ui.setTileState(message.peer, message);
    case "signal":
      // During a switch, the direct connections still hear from the members themselves.
      if (retiring && message.from !== "media") return retiring.signal(message);
      return mesh.signal(message);
    case "media-mode":
      if (message.mode === "routed") switchToRouted();
      return;
    case "observers-hidden":
      // The mentor changed the setting during the call (sent to observers only); kept with the
      // session, which the next welcome (a reconnect) reads until the session is read again.
      observersHiddenHeard = { hidden: message.hidden };
      if (session) session = { ...session, observers_hidden: message.hidden };
      return showObserversHidden(message.hidden);
    case "chat":
      return ui.appendChat(chatLine(message));
    case "chat-history":
      return ui.replaceChat((message.messages ?? []).map(chatLine));
    case "mark":
      return markReceived(message, { mine: message.by === selfId });
    case "recording":
      recordingStatus(message);
      return setRecording(message.state);
    case "feedback":
      if (message.state === "submitted" && !can("session.end")) {
        feedbackArrived({ sessionId, guest: isGuest() });
      }
      return;
    case "error":
      if (message.code === "media-capacity") return mediaRefused(sentence(message.message));
      return ui.toast(sentence(message.message));
    default:
    // A message newer than this page: ignored.
  }
}

/** The server's reasons are lower-case clauses ("only the session's mentor marks moments"). */
function sentence(text) {
  const trimmed = String(text ?? "").trim();
  if (!trimmed) return "Something went wrong. Reload the page if it happens again.";
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function chatLine(message) {
  return {
    name: message.name ?? names.get(message.from) ?? "Someone",
    id: message.id,
    text: message.text,
    at: message.at,
    mine: message.from === selfId,
    // Said by an observer hidden from trainees and guests: only the mentor's side gets it.
    mentorsOnly: message.audience === "mentors",
  };
}

function welcome(message) {
  selfId = message.peer;
  wasWaiting = false;
  names.set(message.peer, message.display_name);
  for (const peer of message.peers) names.set(peer.id, peer.display_name);
  ui.showScreen("room");
  iceServers = message.ice_servers ?? [];
  meshFor(message.media_mode).welcome(message);
  for (const peer of message.peers) ui.renameTile(peer.id, peer.display_name);
  people.welcomePeople(message, selfMedia());
  setRecording(message.recording?.state ?? "off");
  enableRecording({
    self: message.peer,
    mentor: can("room.record"),
    observer: observing(),
    direct: session?.media_mode === "direct", // media never reaches the server: nothing to record
    send: (frame) => socket?.send(frame),
  });
  recordingStatus(message.recording);
  enableNotes({ sessionId, userName: message.display_name });
  if (can("session.end")) enableEnd({ sessionId });
  if (can("invites.manage")) {
    enableInvites({ sessionId, session });
    $("alone-invite").hidden = false;
  }
  enableFeedback({ sessionId, session, me, marks });
  showObserversHidden(session?.observers_hidden);
  sendState();
  askWhenLive(LIVE_ASKS);
}

// The session went live when its first member entered: ask when (for the timer), and what I
// may do now that it is live (marks are taken only then). The room stores that it went live
// a moment after it welcomes its first member: until the store says so, ask again.
const LIVE_ASKS = 10;
const LIVE_ASK_EVERY_MS = 300;

function askWhenLive(asksLeft) {
  const heard = observersHiddenHeard;
  api("GET", `/api/sessions/${encodeURIComponent(sessionId)}`)
    .then((fresh) => {
      // What the room said of the observer setting while this read was on its way is newer.
      const told = observersHiddenHeard !== heard ? observersHiddenHeard : null;
      session = told ? { ...fresh, observers_hidden: told.hidden } : fresh;
      showObserversHidden(session.observers_hidden);
      startTimer(fresh.started_at);
      if (fresh.status === "scheduled" && asksLeft > 1 && socket) {
        setTimeout(() => askWhenLive(asksLeft - 1), LIVE_ASK_EVERY_MS);
        return;
      }
      offerMarks();
    })
    .catch(() => {
      startTimer(null);
      offerMarks();
    });
}

function offerMarks() {
  if (can("mark.add") && socket) {
    enableMarks({ sessionId, send: (frame) => socket.send(frame, { queue: false }) });
  }
}

function selfMedia() {
  return { audio: state.audio, video: state.video, screen: state.screen };
}

function sendState() {
  socket?.send({ type: "state", audio: state.audio, video: state.video, screen: state.screen });
  people.selfState(selfMedia());
}

function teardown() {
  disableNotes();
  disableMarks();
  retire();
  mesh?.close();
  media.stop();
  meter.close();
  ui.clearTiles();
  ui.renderLobby([], {});
  people.clearPeople();
  stopStatus();
  hideNotice();
  hideHint();
  ui.setPanelOpen(false);
  if ($("end-dialog").open) $("end-dialog").close();
}

// --- the room's controls -------------------------------------------------------------------------

function showSelf() {
  const track = media.outgoing("video");
  $("self-video").srcObject = track ? new MediaStream([track]) : null;
  $("self-tile").classList.toggle("off", !track || (!state.video && !state.screen));
}

// Each toggle's label says what pressing it will do; aria-pressed says whether it is on now.
function showToggles() {
  ui.setToggle($("ctl-mute"), !state.audio, state.audio ? "Mute" : "Unmute");
  ui.setToggle($("ctl-camera"), state.video, state.video ? "Stop camera" : "Start camera");
  // "Share screen" keeps its name (DESIGN.md §2 names it); its pressed state shows sharing.
  ui.setToggle($("ctl-screen"), state.screen, "Share screen");
}

function setupControls() {
  const mute = $("ctl-mute");
  const camera = $("ctl-camera");
  mute.disabled = !media.audioTrack;
  camera.disabled = !media.cameraTrack;
  showToggles();
  $("ctl-screen").hidden = !LocalMedia.canShareScreen() || observing();
  mute.hidden = camera.hidden = observing(); // an observer has nothing to mute or show
  $("self-tile").querySelector("figcaption").textContent = observing() ? "You · observing" : "You";
  media.onScreenEnded = () => stopScreen();
}

$("ctl-mute").addEventListener("click", () => {
  state.audio = !state.audio;
  media.setAudioEnabled(state.audio);
  showToggles();
  sendState();
});

$("ctl-camera").addEventListener("click", () => {
  state.video = !state.video;
  media.setVideoEnabled(state.video);
  showToggles();
  showSelf();
  sendState();
});

$("ctl-screen").addEventListener("click", async () => {
  if (state.screen) return stopScreen();
  let track;
  try {
    track = await media.startScreen();
  } catch (err) {
    if (err?.name !== "NotAllowedError") ui.toast("Your screen could not be shared. Try sharing one window instead.");
    return;
  }
  state.screen = true;
  mesh.setTrack("video", track);
  showToggles();
  showSelf();
  sendState();
});

function stopScreen() {
  media.stopScreen();
  state.screen = false;
  mesh?.setTrack("video", media.cameraTrack);
  showToggles();
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
$("take-back").addEventListener("click", takeBack);

$("ctl-panel").addEventListener("click", () =>
  setSheet(document.body.classList.contains("panel-open") ? "closed" : document.body.dataset.sheet || "half"),
);
$("panel-close").addEventListener("click", () => setSheet("closed"));
$("alone-invite").addEventListener("click", () => ui.openTab("tab-people"));
ui.wireTabs();
wireSheet();
wireNotice({ leave: () => socket?.leave() });

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
