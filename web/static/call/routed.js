// Routed mode (DESIGN.md §3): ONE peer connection, to the server's `media` peer, carries every
// remote track; the tiles follow the room's members, not connections. Same interface as PeerMesh
// (peers.js), so main.js drives either.
//
// Which member a track belongs to: `media` names it in its offers. Every m-line on which it sends
// a member's audio or video carries `a=msid:<that member's peer id> <track id>` (RFC 8830), so the
// browser's `RTCTrackEvent.streams[0].id` is the publisher's peer id. Tracks that arrive before
// their member's `peer-joined` wait for it.
//
// `media` makes every offer (it fixes the payload types of the connection): we only answer, and
// a fresh offer (a new DTLS fingerprint: media built a new connection, e.g. after we rejoined)
// replaces our connection. Observers publish nothing: `tracks` gives them no track to attach.

import { PeerLink } from "/static/call/peer.js";
import { iceServersOf, MEDIA_PEER } from "/static/call/peers.js";

export { MEDIA_PEER };
const TICK_MS = 1000;

export class RoutedMesh {
  /**
   * @param {object} o as PeerMesh, plus
   * @param {() => void} o.rejoin get a fresh offer from `media` (reconnect the signaling socket)
   * `onAdded` gets a member `{id, peer}`; `onStream`/`onStatus` name the member.
   */
  constructor({ send, tracks, onAdded, onRemoved, onStream, onStatus, rejoin }) {
    this.sendFrame = send;
    this.tracks = tracks;
    this.onAdded = onAdded;
    this.onRemoved = onRemoved;
    this.onStream = onStream;
    this.onStatus = onStatus;
    this.rejoin = rejoin;
    this.selfId = null;
    this.iceServers = [];
    this.members = new Map(); // peer id → {id, peer, stream}
    this.waiting = new Map(); // peer id → tracks that came before the member
    this.link = null;
    this.links = new Map(); // the one connection, by peer id "media" (the page's test hook)
    this.timer = null;
    this.status = "connecting";
  }

  welcome({ peer, peers, ice_servers: iceServers }) {
    this.iceServers = iceServersOf(iceServers);
    if (peer !== this.selfId) this.removeAll();
    this.selfId = peer;
    const present = new Set(peers.map((p) => p.id));
    for (const id of [...this.members.keys()]) if (!present.has(id)) this.peerLeft(id);
    for (const member of peers) this.peerJoined(member);
    if (!this.link) {
      // `media` offers to every member it welcomes; our link waits for that offer.
      this.link = new PeerLink({
        selfId: peer,
        peer: { id: MEDIA_PEER, role: "", display_name: "Media" },
        iceServers: this.iceServers,
        tracks: this.tracks,
        send: (payload) => this.sendFrame({ type: "signal", to: MEDIA_PEER, ...payload }),
        onStream: () => {},
        onStatus: (_link, status) => this.setStatus(status),
        answerOnly: true,
        onTrack: (_link, event) => this.track(event),
        onDead: () => this.rejoin(),
      });
      this.links.set(MEDIA_PEER, this.link);
    }
    this.link.iceServers = this.iceServers;
    this.timer ??= setInterval(() => this.link?.tick(), TICK_MS);
  }

  peerJoined(peer) {
    const known = this.members.get(peer.id);
    if (known) {
      known.peer = peer;
      return;
    }
    const member = { id: peer.id, peer, stream: new MediaStream() };
    this.members.set(peer.id, member);
    this.onAdded(member);
    this.onStatus(member, this.status);
    for (const track of this.waiting.get(peer.id) ?? []) this.addTrack(member, track);
    this.waiting.delete(peer.id);
  }

  peerLeft(id) {
    const member = this.members.get(id);
    this.waiting.delete(id);
    if (!member) return;
    this.members.delete(id);
    this.onRemoved(id);
  }

  track({ track, streams }) {
    const owner = streams[0]?.id;
    if (!owner) return;
    const member = this.members.get(owner);
    if (!member) {
      const early = this.waiting.get(owner) ?? [];
      this.waiting.set(owner, [...early.filter((t) => t.kind !== track.kind), track]);
      return;
    }
    this.addTrack(member, track);
  }

  addTrack(member, track) {
    // A new stream object makes the <video> pick the new track up at once.
    const kept = member.stream.getTracks().filter((t) => t.kind !== track.kind && t.readyState === "live");
    member.stream = new MediaStream([...kept, track]);
    this.onStream(member, member.stream);
  }

  signal({ from, description, candidate }) {
    if (from === MEDIA_PEER) this.link?.receive({ description, candidate });
  }

  setTrack(kind, track) {
    this.link?.setTrack(kind, track);
  }

  setStatus(status) {
    this.status = status;
    for (const member of this.members.values()) this.onStatus(member, status);
  }

  removeAll() {
    for (const id of [...this.members.keys()]) this.peerLeft(id);
    this.link?.close();
    this.link = null;
    this.links.clear();
  }

  close() {
    clearInterval(this.timer);
    this.timer = null;
    this.removeAll();
  }
}
