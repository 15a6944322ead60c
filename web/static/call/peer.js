// One remote peer: the RTCPeerConnection we share with it, negotiated with the "perfect
// negotiation" pattern (W3C webrtc-pc §10.7, RFC 8829 JSEP), and rebuilt from scratch when the
// network under it changes — aiortc and many phones have no ICE restart (DESIGN.md §3), so a dead
// connection is replaced, never restarted.
//
// The rules, one connection "generation" at a time:
// - The side that starts a generation (the newcomer, or the side re-offering after a failure) is
//   impolite and offers; the side that takes a generation from an offer is polite and answers.
// - Glare inside a generation: the impolite side ignores the other's offer, the polite side rolls
//   back and answers. Both sides impolite (both started a fresh generation at once, before either
//   connected): the lower peer id keeps its offer, the higher one turns polite.
// - An offer whose DTLS fingerprint differs from the current remote description, or that arrives
//   while our connection is failed/closed, or that our connection refuses, is a new generation:
//   close ours, take the offer on a fresh connection, answer.
// - A connection is dead when it is `failed`/`closed`, `disconnected` for over 3 s, connected but
//   no byte arrived for 5 s while media is expected, or still not connected 10 s after it started.
//   The side with the lower peer id then re-offers at once; the other waits for that offer and
//   re-offers itself only if the connection is still dead 8 s later (lost offer, dead peer).
// - `answerOnly` (the server's `media` peer in routed mode, which makes every offer): we never
//   offer; a dead connection waits for media's next offer, and asks for one (`onDead`: the page
//   rejoins, and media offers a fresh connection to every joining member) if none comes.

import { HealthTracker, readStats } from "/static/call/health.js";

const DISCONNECTED_LIMIT_MS = 3000;
const STALL_LIMIT_MS = 5000;
const SETUP_LIMIT_MS = 10000;
const FALLBACK_MS = 8000;
const KINDS = ["audio", "video"];

/** The `a=fingerprint`s of an SDP (RFC 8122): a new RTCPeerConnection means a new certificate.
 * aiortc lists three hashes (sha-256, -384, -512) and Chrome keeps one of them in
 * `remoteDescription`, so two descriptions are of one certificate if any fingerprint matches. */
export function fingerprintsOf(sdp) {
  const found = (sdp ?? "").matchAll(/^a=fingerprint:(\S+ \S+)/gm);
  return new Set([...found].map((match) => match[1].toLowerCase()));
}

export class PeerLink {
  /**
   * @param {object} o
   * @param {string} o.selfId our peer id
   * @param {{id: string, role: string, display_name: string}} o.peer
   * @param {RTCIceServer[]} o.iceServers from `welcome.ice_servers`, never a default STUN server
   * @param {(kind: "audio"|"video") => MediaStreamTrack|null} o.tracks what we send now
   * @param {(payload: {description?: object, candidate?: object}) => void} o.send
   * @param {(link: PeerLink, stream: MediaStream) => void} o.onStream
   * @param {(link: PeerLink, status: string) => void} o.onStatus
   * @param {boolean} [o.answerOnly] the other side makes every offer
   * @param {(link: PeerLink, event: RTCTrackEvent) => void} [o.onTrack] instead of one stream
   * @param {() => void} [o.onDead] an answer-only connection stayed dead
   */
  constructor({ selfId, peer, iceServers, tracks, send, onStream, onStatus, answerOnly = false, onTrack = null, onDead = null }) {
    this.answerOnly = answerOnly;
    this.onTrack = onTrack;
    this.onDead = onDead;
    this.selfId = selfId;
    this.peer = peer;
    this.iceServers = iceServers;
    this.tracks = tracks;
    this.send = send;
    this.onStream = onStream;
    this.onStatus = onStatus;
    this.pc = null;
    this.generation = 0;
    this.polite = true;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.connectedOnce = false;
    this.createdAt = Date.now();
    this.startedAt = this.createdAt;
    this.deadSince = null;
    this.disconnectedSince = null;
    this.health = null;
    this.lastSample = null;
    this.status = "connecting";
    this.stream = new MediaStream();
    this.queue = Promise.resolve();
    this.closed = false;
  }

  get id() {
    return this.peer.id;
  }

  /** After a failure, the lower id re-offers (a rule both sides reach without talking). */
  get designated() {
    return this.selfId < this.peer.id;
  }

  /** Connected and not known to be dead: worth keeping across a signaling reconnect. */
  get alive() {
    return this.pc?.connectionState === "connected" && this.deadSince === null;
  }

  /** Start a new generation that we offer: as the newcomer, or to recover a dead connection. */
  initiate() {
    if (this.closed) return;
    if (this.answerOnly) {
      this.onDead?.();
      return;
    }
    this.replace(true);
  }

  replace(initiator) {
    const old = this.pc;
    if (old) {
      old.onicecandidate = old.ontrack = old.onnegotiationneeded = old.onconnectionstatechange = null;
      old.close();
    }
    this.generation += 1;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    this.pc = pc;
    this.polite = !initiator;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.connectedOnce = false;
    this.startedAt = Date.now();
    this.disconnectedSince = null;
    this.health = new HealthTracker(this.startedAt);
    this.stream = new MediaStream();
    this.onStream(this, this.stream);
    const current = () => this.pc === pc && !this.closed;

    pc.onicecandidate = ({ candidate }) => {
      // Trickle ICE (RFC 8838); the end-of-candidates null is not sent.
      if (candidate && current()) this.send({ candidate: candidate.toJSON() });
    };
    pc.ontrack = (event) => {
      if (!current()) return;
      if (this.onTrack) return this.onTrack(this, event);
      const { track } = event;
      for (const other of this.stream.getTracks()) {
        if (other.kind === track.kind) this.stream.removeTrack(other);
      }
      this.stream.addTrack(track);
      this.onStream(this, this.stream);
    };
    pc.onnegotiationneeded = async () => {
      if (!current() || this.answerOnly) return;
      try {
        this.makingOffer = true;
        await pc.setLocalDescription();
        if (current()) this.send({ description: pc.localDescription.toJSON() });
      } catch {
        // The health check rebuilds the connection if this left it unusable.
      } finally {
        this.makingOffer = false;
      }
    };
    pc.onconnectionstatechange = () => {
      if (current() && pc.connectionState === "connected") {
        this.connectedOnce = true;
        this.deadSince = null;
        this.setStatus("connected");
      }
    };
    if (initiator) {
      // Fixed order, audio then video, so that both ends agree on what each m-line carries.
      for (const kind of KINDS) {
        const track = this.tracks(kind);
        pc.addTransceiver(track ?? kind, { direction: track ? "sendrecv" : "recvonly" });
      }
    }
    this.setStatus(this.generation > 1 ? "reconnecting" : "connecting");
  }

  /** A `signal` from this peer. Handled one at a time, in arrival order. */
  receive({ description, candidate }) {
    const step = description
      ? () => this.takeDescription(description)
      : () => this.takeCandidate(candidate);
    this.queue = this.queue.then(step).catch(() => {
      /* a failed step leaves a connection the health check will replace */
    });
    return this.queue;
  }

  isNewGeneration(description) {
    const pc = this.pc;
    if (!pc) return true;
    if (pc.signalingState === "closed" || ["failed", "closed"].includes(pc.connectionState)) {
      return true;
    }
    const ours = fingerprintsOf(pc.remoteDescription?.sdp);
    const theirs = fingerprintsOf(description.sdp);
    return ours.size > 0 && theirs.size > 0 && ![...theirs].some((f) => ours.has(f));
  }

  async takeDescription(description) {
    if (this.closed) return;
    const isOffer = description.type === "offer";
    if (isOffer && this.isNewGeneration(description)) this.replace(false);
    let pc = this.pc;
    if (!pc) return; // an answer for a connection we no longer have
    const collision = isOffer && (this.makingOffer || pc.signalingState !== "stable");
    if (collision && !this.polite && !this.connectedOnce && this.peer.id < this.selfId) {
      // Both of us started a fresh generation at once: the lower id wins, we yield.
      this.polite = true;
    }
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return;
    try {
      // A polite side in glare rolls back implicitly here (RFC 8829 §5.7).
      await pc.setRemoteDescription(description);
    } catch (err) {
      if (!isOffer || this.pc !== pc) throw err;
      // An offer this connection refuses: the other side rebuilt. Take it on a fresh one.
      this.replace(false);
      pc = this.pc;
      await pc.setRemoteDescription(description);
    }
    if (!isOffer) return;
    await this.attachTracks(pc);
    await pc.setLocalDescription();
    if (this.pc === pc) this.send({ description: pc.localDescription.toJSON() });
  }

  async takeCandidate(candidate) {
    const pc = this.pc;
    if (!pc || this.closed) return;
    try {
      await pc.addIceCandidate(candidate);
    } catch {
      // Candidates of an ignored offer or of an older generation are expected to fail; a
      // connection that lacks a needed one shows up in the health check.
    }
  }

  transceiver(kind) {
    return this.pc
      ?.getTransceivers()
      .find((t) => !t.stopped && t.receiver.track.kind === kind);
  }

  /** On the answering side: send our tracks on the transceivers the offer created. */
  async attachTracks(pc) {
    for (const kind of KINDS) {
      const t = this.transceiver(kind);
      const track = this.tracks(kind);
      if (!t || !track || t.sender.track) continue;
      await t.sender.replaceTrack(track);
      if (t.direction === "recvonly") t.direction = "sendrecv";
      else if (t.direction === "inactive") t.direction = "sendonly";
    }
  }

  /** Mute, camera, screen share, device switch: swap what we send, renegotiating only if the
   * transceiver did not send before (that fires `negotiationneeded`: perfect negotiation). */
  async setTrack(kind, track) {
    const t = this.transceiver(kind);
    if (!t) return;
    await t.sender.replaceTrack(track).catch(() => {});
    if (!track) return;
    if (t.direction === "recvonly") t.direction = "sendrecv";
    else if (t.direction === "inactive") t.direction = "sendonly";
  }

  /** Whether the other side should be sending us something (media, or RTCP for ours). */
  expectsMedia() {
    return this.pc
      .getTransceivers()
      .some((t) => t.currentDirection && !["inactive", "stopped"].includes(t.currentDirection));
  }

  /** Called about once a second: sample stats, judge liveness, rebuild if dead. */
  async tick(now = Date.now()) {
    if (this.closed) return;
    const pc = this.pc;
    let problem = null;
    let quality = null;
    if (!pc) {
      if (now - this.createdAt > SETUP_LIMIT_MS) problem = "no-offer";
    } else {
      const state = pc.connectionState;
      if (state === "connected" || state === "disconnected") {
        if (state === "connected") {
          this.connectedOnce = true;
          this.disconnectedSince = null;
        } else {
          this.disconnectedSince ??= now;
          if (now - this.disconnectedSince > DISCONNECTED_LIMIT_MS) problem = "disconnected";
        }
        let sample;
        try {
          sample = readStats(await pc.getStats());
        } catch {
          return;
        }
        if (pc !== this.pc || this.closed) return;
        this.lastSample = sample;
        const verdict = this.health.update(sample, now);
        quality = verdict.quality;
        // Whichever comes first: ICE may take ~5 s to call a silent path `disconnected`.
        if (this.expectsMedia() && verdict.stalledFor > STALL_LIMIT_MS) problem ??= "stalled";
      } else if (state === "failed" || state === "closed") {
        problem = state;
      } else if (now - this.startedAt > SETUP_LIMIT_MS) {
        problem = "setup-timeout";
      }
    }
    if (!problem) {
      this.deadSince = null;
      const state = pc?.connectionState;
      if (state === "connected") this.setStatus(quality ?? "connected");
      else if (state === "disconnected") this.setStatus("reconnecting");
      return;
    }
    this.deadSince ??= now;
    this.setStatus("reconnecting");
    // The server's media peer re-offers on its own when it sees the connection fail.
    const waited = now - this.deadSince > FALLBACK_MS;
    if (this.answerOnly ? waited : this.designated || waited) {
      this.deadSince = null;
      this.initiate();
    }
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(this, status);
  }

  rename(peer) {
    this.peer = peer;
  }

  close() {
    this.closed = true;
    const pc = this.pc;
    this.pc = null;
    if (pc) {
      pc.onicecandidate = pc.ontrack = pc.onnegotiationneeded = pc.onconnectionstatechange = null;
      pc.close();
    }
  }
}
