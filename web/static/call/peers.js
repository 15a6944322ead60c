// Everyone we exchange media with: one PeerLink per remote member, kept in step with the room's
// `welcome` / `peer-joined` / `peer-left` / `signal` messages (DESIGN.md §2).

import { PeerLink } from "/static/call/peer.js";

const TICK_MS = 1000;
/** The server's own peer in routed mode (DESIGN.md §2). */
export const MEDIA_PEER = "media";

/** `welcome.ice_servers` as RTCIceServer dictionaries; nothing else is ever added. */
export function iceServersOf(list) {
  return (list ?? []).map(({ urls, username, credential }) => {
    const server = { urls: [...urls] };
    if (username != null) server.username = username;
    if (credential != null) server.credential = credential;
    return server;
  });
}

export class PeerMesh {
  /**
   * @param {object} o
   * @param {(message: object) => void} o.send a signaling frame to the server
   * @param {(kind: string) => MediaStreamTrack|null} o.tracks what we send now
   * @param {(link: PeerLink) => void} o.onAdded
   * @param {(id: string) => void} o.onRemoved
   * @param {(link: PeerLink, stream: MediaStream) => void} o.onStream
   * @param {(link: PeerLink, status: string) => void} o.onStatus
   */
  constructor({ send, tracks, onAdded, onRemoved, onStream, onStatus }) {
    this.sendFrame = send;
    this.tracks = tracks;
    this.onAdded = onAdded;
    this.onRemoved = onRemoved;
    this.onStream = onStream;
    this.onStatus = onStatus;
    this.selfId = null;
    this.iceServers = [];
    this.links = new Map();
    this.timer = null;
  }

  add(peer) {
    const link = new PeerLink({
      selfId: this.selfId,
      peer,
      iceServers: this.iceServers,
      tracks: this.tracks,
      send: (payload) => this.sendFrame({ type: "signal", to: peer.id, ...payload }),
      onStream: this.onStream,
      onStatus: this.onStatus,
    });
    this.links.set(peer.id, link);
    this.onAdded(link);
    return link;
  }

  /**
   * `welcome`. A fresh one (or a resumed one this page does not remember: a reload) makes us the
   * newcomer, who offers to every member. A resumed one keeps each connection that is still alive
   * and re-offers on the others; members that are gone are dropped.
   */
  welcome({ peer, peers, ice_servers: iceServers, resumed }) {
    this.iceServers = iceServersOf(iceServers);
    if (!resumed || peer !== this.selfId) {
      this.removeAll();
      this.selfId = peer;
      for (const member of peers) this.add(member).initiate();
    } else {
      const present = new Set(peers.map((p) => p.id));
      for (const id of [...this.links.keys()]) if (!present.has(id)) this.remove(id);
      for (const member of peers) {
        const link = this.links.get(member.id);
        if (!link) {
          this.add(member).initiate();
          continue;
        }
        link.rename(member);
        link.iceServers = this.iceServers;
        if (!link.alive) link.initiate();
      }
    }
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  /** A member arrived: it will offer to us; the link waits for that offer. */
  peerJoined(peer) {
    const known = this.links.get(peer.id);
    if (known) known.rename(peer);
    else this.add(peer);
  }

  peerLeft(id) {
    this.remove(id);
  }

  signal({ from, description, candidate }) {
    // The server's `media` peer speaks only to a page in routed mode (its `welcome` or
    // `media-mode` says so first): never answer it as if it were a member.
    if (from === MEDIA_PEER) return;
    let link = this.links.get(from);
    if (!link) {
      // A member whose `peer-joined` we missed while reconnecting; its name comes with the next
      // `welcome`.
      if (description?.type !== "offer") return;
      link = this.add({ id: from, role: "", display_name: "Participant" });
    }
    link.receive({ description, candidate });
  }

  /** Swap what we send of one kind on every connection. */
  setTrack(kind, track) {
    for (const link of this.links.values()) link.setTrack(kind, track);
  }

  tick() {
    const now = Date.now();
    for (const link of this.links.values()) link.tick(now);
  }

  remove(id) {
    const link = this.links.get(id);
    if (!link) return;
    link.close();
    this.links.delete(id);
    this.onRemoved(id);
  }

  removeAll() {
    for (const id of [...this.links.keys()]) this.remove(id);
  }

  close() {
    clearInterval(this.timer);
    this.timer = null;
    this.removeAll();
  }
}
