// Autosave of one feedback draft (DESIGN.md §4: "feedback drafts autosave").
//
// Every edit is written to localStorage at once (synchronously, so a closed tab or a crashed
// browser loses nothing) and sent to the server ~600 ms after typing pauses: the first save
// creates the draft (POST /api/sessions/{id}/feedback), later ones replace its answers
// (PUT /api/feedback/{id}). Once the server holds the latest edit the local copy is removed;
// until then it stays, and a reload restores it and saves it. Leaving the page (pagehide, or the
// tab going to the background) sends what is unsaved with `keepalive`, which outlives the page.
// A form's requests go one at a time, also across a form closed and opened again (lane.js); each
// save names a revision, so one that reaches the server after a newer one is refused ("stale")
// rather than kept.

import { api, ApiError } from "/static/api.js";
import { busy, forget, inTurn, nextRevision, seenRevision } from "/static/feedback/lane.js";

const DEBOUNCE_MS = 600;
const RETRY_MS = [1000, 2000, 5000, 10000, 20000];
const PREFIX = "preceptor.feedback";

export function storageKey(sessionId, instrumentId, traineeId) {
  return `${PREFIX}.${sessionId}.${instrumentId}.${traineeId}`;
}

/** The unsent copy kept on this device, or null. */
export function loadLocal(sessionId, instrumentId, traineeId) {
  try {
    const raw = localStorage.getItem(storageKey(sessionId, instrumentId, traineeId));
    const copy = raw ? JSON.parse(raw) : null;
    return copy && typeof copy.responses === "object" ? copy : null;
  } catch {
    return null;
  }
}

function retryable(err, attempt) {
  if (!(err instanceof ApiError)) return true; // the network
  if (err.status >= 500 || err.status === 429 || err.status === 408) return true;
  // A mark reaches the mentor over the socket a moment before the server has stored it, so a
  // mark cited at once can be unknown for that moment: try again shortly, a few times.
  return err.status === 422 && err.message.startsWith("evidence.") && attempt < 3;
}

function stale(err) {
  return err instanceof ApiError && err.status === 409 && err.code === "stale";
}

export class Draft {
  /**
   * @param {object} o
   * @param {string} o.sessionId
   * @param {object} o.template the instrument (its id and template_version)
   * @param {string} o.traineeId
   * @param {string|null} o.formId an existing draft on the server
   * @param {number} o.revision that draft's revision, as read
   * @param {(status: "saving"|"saved"|"retry"|"error", err?: Error) => void} o.onStatus
   * @param {(form: object) => void} o.onSaved the server's copy after each save
   * @param {(err: ApiError) => void} o.onRejected a save the server refused (4xx)
   */
  constructor({ sessionId, template, traineeId, formId = null, revision = 0, onStatus, onSaved, onRejected }) {
    this.sessionId = sessionId;
    this.template = template;
    this.traineeId = traineeId;
    this.formId = formId;
    this.onStatus = onStatus ?? (() => {});
    this.onSaved = onSaved ?? (() => {});
    this.onRejected = onRejected ?? (() => {});
    this.responses = {};
    this.evidence = {};
    this.rev = 0; // bumps on every edit
    this.savedRev = 0; // the edit the server is known to hold
    this.inflight = null;
    this.again = false;
    this.timer = null;
    this.attempt = 0;
    this.closed = false;
    this.key = storageKey(sessionId, template.id, traineeId);
    seenRevision(this.key, revision);
    this.onPageHide = () => this.sendOnExit({ leaving: true });
    this.onHidden = () => {
      if (document.visibilityState === "hidden") this.save({ keepalive: true }).catch(() => {});
    };
    this.onOnline = () => {
      if (this.dirty) this.schedule(0);
    };
    window.addEventListener("pagehide", this.onPageHide);
    document.addEventListener("visibilitychange", this.onHidden);
    window.addEventListener("online", this.onOnline);
  }

  /** Edits the server does not hold yet. */
  get dirty() {
    return this.rev > this.savedRev;
  }

  /** The answers as they stand (`responses` without unanswered items). */
  set(responses, evidence) {
    this.responses = responses;
    this.evidence = evidence;
    this.rev += 1;
    this.keepLocal();
    this.schedule(DEBOUNCE_MS);
    // "Saved" must not stay up while an edit waits for the pause in typing.
    this.onStatus("saving");
  }

  /** Start from a copy restored from this device: it is newer than the server's. */
  restore(copy) {
    this.responses = copy.responses ?? {};
    this.evidence = copy.evidence ?? {};
    this.rev += 1;
    this.keepLocal();
    this.schedule(0);
  }

  keepLocal() {
    try {
      localStorage.setItem(
        this.key,
        JSON.stringify({
          form_id: this.formId,
          instrument_version: this.template.template_version,
          responses: this.responses,
          evidence: this.evidence,
          at: Date.now(),
        }),
      );
    } catch {
      /* storage full or disabled: the server copy is all there is */
    }
  }

  dropLocal() {
    try {
      localStorage.removeItem(this.key);
    } catch {
      /* see keepLocal */
    }
  }

  schedule(delay) {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save().catch(() => {}), delay);
  }

  /** The answers as they stand, as the next revision: taken later, a body has a higher one. */
  body() {
    return {
      responses: { ...this.responses },
      evidence: { ...this.evidence },
      revision: nextRevision(this.key),
    };
  }

  /** Send the current answers now; resolves with the server's form once it holds them. */
  async save({ keepalive = false } = {}) {
    clearTimeout(this.timer);
    if (this.closed) throw new Error("closed");
    if (this.inflight) {
      // One request at a time, so the server never sees an older edit after a newer one.
      this.again = true;
      return this.inflight;
    }
    if (!this.dirty) return null;
    const rev = this.rev;
    const body = this.body();
    this.onStatus("saving");
    this.inflight = this.send(body, { keepalive })
      .then((form) => {
        this.formId = form.id;
        this.savedRev = Math.max(this.savedRev, rev);
        this.attempt = 0;
        // Closed, the local copy belongs to whichever form opened next on this device: dropping
        // it now would lose what that form restored from it and has not saved yet.
        if (this.closed) return form;
        this.onSaved(form);
        if (this.dirty) {
          this.keepLocal(); // now with the form's id
          this.schedule(this.again ? 0 : DEBOUNCE_MS);
          this.onStatus("saving");
        } else {
          this.dropLocal();
          this.onStatus("saved");
        }
        return form;
      })
      .catch((err) => {
        if (this.closed) throw err;
        if (stale(err)) return this.catchUp();
        if (retryable(err, this.attempt)) {
          this.onStatus("retry", err);
          const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
          this.attempt += 1;
          this.schedule(delay);
        } else {
          this.onStatus("error", err);
          this.onRejected(err);
        }
        throw err;
      })
      .finally(() => {
        this.inflight = null;
        this.again = false;
      });
    return this.inflight;
  }

  /** A newer save reached the server first (409 "stale": one sent as the page was left, or from
   * another device): not an error. Learn the revision it holds, and send again what this page
   * has that the server may not. Resolves with null. */
  async catchUp() {
    try {
      const latest = await api("GET", `/api/feedback/${encodeURIComponent(this.formId)}`);
      seenRevision(this.key, latest.revision);
    } catch (err) {
      if (!this.closed) {
        this.onStatus("retry", err);
        this.schedule(RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)]);
        this.attempt += 1;
      }
      return null;
    }
    if (this.closed) return null;
    this.attempt = 0;
    if (this.dirty) {
      this.schedule(0);
      this.onStatus("saving");
    } else {
      this.dropLocal();
      this.onStatus("saved");
    }
    return null;
  }

  /** Save until the server holds the latest edit (before submitting). Throws if it cannot. */
  async flush() {
    // Nothing typed yet: the draft is created empty, so that submitting names what is missing.
    if (!this.formId && !this.inflight && !this.dirty) this.rev += 1;
    for (let round = 0; round < 5; round += 1) {
      if (this.inflight) {
        await this.inflight.catch(() => {});
        continue;
      }
      if (!this.dirty) return;
      await this.save();
    }
    if (this.dirty) throw new Error("the draft could not be saved");
  }

  /** `body` in this form's lane: a PUT to the draft, or the POST that creates it. */
  send(body, { keepalive = false } = {}) {
    return inTurn(this.key, (created) => {
      this.formId ??= created;
      return this.formId
        ? api("PUT", `/api/feedback/${encodeURIComponent(this.formId)}`, body, { keepalive })
        : api(
            "POST",
            `/api/sessions/${encodeURIComponent(this.sessionId)}/feedback`,
            {
              instrument_id: this.template.id,
              instrument_version: this.template.template_version,
              trainee_id: this.traineeId,
              responses: body.responses,
              evidence: body.evidence,
            },
            { keepalive },
          );
    });
  }

  /** The form is closing, or the page going away (`leaving`): send what is unsaved in a request
   * that outlives the page. */
  sendOnExit({ leaving = false } = {}) {
    if (this.closed || !this.dirty) return;
    this.keepLocal();
    if (!leaving || !busy(this.key)) {
      this.send(this.body(), { keepalive: true })
        .then((form) => {
          this.formId ??= form.id; // a page back from the back-forward cache updates this draft
        })
        .catch(() => {});
    } else if (this.formId) {
      // A request waiting for its turn would never leave a page that is going away: this one
      // goes at once, and may reach the server before the one on the wire, which its higher
      // revision then makes stale. The copy on this device (kept above) is restored and saved on
      // the next visit either way.
      const rev = this.rev;
      api("PUT", `/api/feedback/${encodeURIComponent(this.formId)}`, this.body(), {
        keepalive: true,
      })
        .then((form) => {
          // A page back from the back-forward cache knows what the server holds.
          seenRevision(this.key, form.revision);
          if (!this.closed) this.savedRev = Math.max(this.savedRev, rev);
        })
        .catch(() => {});
    }
  }

  /** Stop autosaving (submitted, or another form chosen); what is unsaved is sent first. */
  close({ discard = false } = {}) {
    if (!discard) this.sendOnExit();
    if (discard) {
      this.dropLocal();
      forget(this.key);
    }
    this.closed = true;
    clearTimeout(this.timer);
    window.removeEventListener("pagehide", this.onPageHide);
    document.removeEventListener("visibilitychange", this.onHidden);
    window.removeEventListener("online", this.onOnline);
  }
}
