// The People tab: everyone in the call (and, for the mentor, everyone waiting to be let in) with
// the state a person would ask about — waiting, connecting, connected, reconnecting, muted,
// camera off. Fed by main.js from the room's messages and each peer connection's status.

const $ = (id) => document.getElementById(id);

const ROLE_TEXT = { mentor: "Mentor", trainee: "Trainee", supervisor: "Supervisor" };
const LINK_TEXT = {
  connecting: ["connecting", "Connecting…"],
  reconnecting: ["reconnecting", "Reconnecting…"],
};

const members = new Map(); // peer id → {name, role, link, audio, video, screen}
let waiting = [];
let self = null; // {name, role, audio, video, screen}

function entry(id) {
  let member = members.get(id);
  if (!member) {
    member = { name: "Participant", role: "", link: "connecting", audio: true, video: true, screen: false };
    members.set(id, member);
  }
  return member;
}

/** What one line says about a member's media: "Muted · Camera off". */
function mediaText({ audio, video, screen }) {
  const parts = [];
  if (!audio) parts.push("Muted");
  if (screen) parts.push("Screen shared");
  else if (!video) parts.push("Camera off");
  return parts;
}

function row(name, role, state, parts) {
  const item = document.createElement("li");
  const who = document.createElement("span");
  who.className = "person-name";
  who.textContent = name;
  const what = document.createElement("span");
  what.className = "person-role";
  what.textContent = ROLE_TEXT[role] ?? "Guest";
  const how = document.createElement("span");
  how.className = "person-state";
  how.dataset.state = state;
  how.textContent = parts.join(" · ");
  item.append(who, what, how);
  return item;
}

function render() {
  const list = $("people-list");
  const rows = [];
  if (self) rows.push(row(`${self.name} (you)`, self.role, "connected", ["In the call", ...mediaText(self)]));
  for (const member of members.values()) {
    const [state, text] = LINK_TEXT[member.link] ?? ["connected", "Connected"];
    rows.push(row(member.name, member.role, state, [text, ...mediaText(member)]));
  }
  for (const peer of waiting) rows.push(row(peer.display_name, peer.role, "waiting", ["Waiting to be let in"]));
  list.replaceChildren(...rows);
  $("tab-people").textContent = `People (${rows.length - waiting.length})`;
}

/** `welcome`: who I am and who is here already. */
export function welcomePeople({ display_name: name, role, peers }, media) {
  self = { name, role, ...media };
  const present = new Set(peers.map((p) => p.id));
  for (const id of [...members.keys()]) if (!present.has(id)) members.delete(id);
  for (const peer of peers) Object.assign(entry(peer.id), { name: peer.display_name, role: peer.role });
  render();
}

export function peerJoined(peer) {
  // A member already known (its socket resumed) keeps its connection's status.
  Object.assign(entry(peer.id), { name: peer.display_name, role: peer.role });
  render();
}

export function peerLeft(id) {
  members.delete(id);
  render();
}

export function peerState(id, { audio, video, screen }) {
  if (!members.has(id)) return;
  Object.assign(entry(id), { audio, video, screen });
  render();
}

/** A peer connection's status (peer.js): connecting, reconnecting, connected, good, fair, poor. */
export function linkStatus(id, status) {
  if (!members.has(id)) return;
  const member = entry(id);
  if (member.link === status) return;
  member.link = status;
  render();
}

export function selfState(media) {
  if (!self) return;
  Object.assign(self, media);
  render();
}

/** The lobby, as the mentor sees it. */
export function setWaiting(list) {
  waiting = list;
  render();
}

export function clearPeople() {
  members.clear();
  waiting = [];
  self = null;
  render();
}
