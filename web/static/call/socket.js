// The signaling socket of one session (DESIGN.md §2): JSON text frames, `join {resume}` on every
// (re)connection, a ping every few seconds so that a socket silently killed by a network change
// is noticed and replaced, and reconnection with capped, jittered exponential backoff.

import { CLOSE, closeName } from "/static/close-codes.js";

const PING_EVERY_MS = 5000;
/** No frame at all (not even a pong) for this long: the socket is dead even if it looks open. */
const SILENCE_LIMIT_MS = 12000;
const BACKOFF_MS = [250, 1000, 2000, 4000, 8000];
/** After "restarting" (1012): reconnect within this long, at random. */
const RESTART_JITTER_MS = 250;
const MAX_OUTBOX = 64;

/** Close codes after which reconnecting cannot help. */
export const FATAL_CLOSES = new Set([
  CLOSE.NOT_AUTHENTICATED,
  CLOSE.NOT_ALLOWED,
  CLOSE.NO_SESSION,
  CLOSE.REPLACED,
  CLOSE.ENDED,
  CLOSE.POLICY,
  CLOSE.TOO_BIG,
]);

const resumeKey = (sessionId) => `preceptor.resume.${sessionId}`;

/** The resume token lives in sessionStorage: it survives a reload of this tab, not other tabs. */
export function forgetResume(sessionId) {
  try {
    sessionStorage.removeItem(resumeKey(sessionId));
  } catch {
    /* storage may be disabled; resuming is then simply not possible */
  }
}

function loadResume(sessionId) {
  try {
    return sessionStorage.getItem(resumeKey(sessionId));
  } catch {
    return null;
  }
}

function saveResume(sessionId, token) {
  try {
    sessionStorage.setItem(resumeKey(sessionId), token);
  } catch {
    /* see forgetResume */
  }
}

export class SignalingSocket {
  /**
   * @param {object} options
   * @param {string} options.sessionId
   * @param {(message: object) => void} options.onMessage every server frame, parsed
   * @param {(status: "connecting"|"open"|"reconnecting"|"closed") => void} options.onStatus
   * @param {(reason: string, code: number) => void} options.onFatal the socket gave up for good;
   *   `reason` names why (closeName: "replaced", "origin", "denied", …)
   */
  constructor({ sessionId, onMessage, onStatus, onFatal }) {
    this.sessionId = sessionId;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onFatal = onFatal;
    this.ws = null;
    this.attempt = 0;
    this.stopped = false;
    this.joined = false;
    this.admitted = false;
    this.joins = 0; // welcome/waiting frames received: one per (re)connection
    this.lastHeard = 0;
    this.pingSeq = 0;
    this.pingTimer = null;
    this.retryTimer = null;
    this.outbox = [];
    this.onOnline = () => {
      // The device got a network back: try now rather than at the end of the backoff.
      if (!this.stopped && !this.joined) this.reconnectNow();
    };
    window.addEventListener("online", this.onOnline);
  }

  get url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}/ws/sessions/${encodeURIComponent(this.sessionId)}`;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.onStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    this.joined = false;
    this.admitted = false;
    // A handshake that hangs (a phone between networks) is abandoned like a silent socket.
    this.lastHeard = Date.now();
    this.startPinging();
    ws.onopen = () => {
      this.lastHeard = Date.now();
      const resume = loadResume(this.sessionId);
      this.rawSend(resume ? { type: "join", resume } : { type: "join" });
    };
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message.type !== "string") return;
      if ((message.type === "welcome" || message.type === "waiting") && message.resume) {
        saveResume(this.sessionId, message.resume);
        this.attempt = 0;
        this.joined = true;
        this.joins += 1;
        this.admitted = message.type === "welcome";
        this.onStatus("open");
        if (this.admitted) this.flush();
      }
      if (message.type === "pong") return;
      this.onMessage(message);
    };
    ws.onclose = (event) => this.closed(ws, event.code, event.reason);
    ws.onerror = () => {
      /* a close event always follows */
    };
  }

  closed(ws, code, text = "") {
    if (ws !== this.ws) return;
    this.stopPinging();
    this.ws = null;
    this.joined = false;
    this.admitted = false;
    if (this.stopped) return;
    if (FATAL_CLOSES.has(code)) {
      const fatal = closeName(code, text);
      this.stopped = true;
      if (fatal !== "replaced") forgetResume(this.sessionId);
      this.onStatus("closed");
      this.onFatal(fatal, code);
      return;
    }
    if (code === CLOSE.RESTARTING) {
      // The node is draining on purpose and the others are up: come back now, not after a
      // backoff (a little jitter spreads a whole node's members over the ones that stay).
      this.attempt = 0;
      this.onStatus("reconnecting");
      this.retryTimer = setTimeout(() => this.connect(), Math.random() * RESTART_JITTER_MS);
      return;
    }
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.onStatus("reconnecting");
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    const delay = base / 2 + Math.random() * base;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Give up on the current socket without waiting for a close handshake that may never end. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(4000, "silent");
    } catch {
      /* already closing */
    }
    this.closed(ws, 4000);
  }

  reconnectNow() {
    this.attempt = 0;
    if (this.ws) this.drop();
    else {
      clearTimeout(this.retryTimer);
      this.connect();
    }
  }

  startPinging() {
    this.stopPinging();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
        this.drop();
        return;
      }
      this.pingSeq += 1;
      this.rawSend({ type: "ping", id: String(this.pingSeq) });
    }, PING_EVERY_MS);
  }

  stopPinging() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  rawSend(message) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /**
   * Send once joined. Chat and state wait in a small outbox while reconnecting; signals do not
   * (`queue: false`): they belong to a negotiation that is rebuilt after resuming anyway.
   */
  send(message, { queue = true } = {}) {
    if (this.admitted && this.rawSend(message)) return true;
    if (queue && !this.stopped) {
      if (this.outbox.length >= MAX_OUTBOX) this.outbox.shift();
      this.outbox.push(message);
    }
    return false;
  }

  flush() {
    const pending = this.outbox.splice(0);
    for (const message of pending) this.rawSend(message);
  }

  /** Leave for good: tell the room, stop reconnecting, forget the resume token. */
  leave() {
    this.rawSend({ type: "leave" });
    this.close();
    forgetResume(this.sessionId);
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPinging();
    window.removeEventListener("online", this.onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(1000, "bye");
      } catch {
        /* already closing */
      }
    }
  }
}
