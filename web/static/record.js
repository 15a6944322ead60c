// /review/sessions/{id}: a session's record, phone-first and printable. The notes as text, the
// marks and the timeline (chat included) at their offsets into the call ("+01:42"), and each
// feedback form read-only in its instrument's words, with the marks it cites. The trainee
// acknowledges a form (with an optional reply and the items the trainee answers, e.g. the
// Mini-CEX satisfaction score); an assigned supervisor countersigns it with an optional comment,
// or returns it to its mentor with a reason, and the mentor revises it as an amendment. FHIR
// export is a secondary link. A link to #mark-<id> or #form-<id> lands on that mark or form.

import { api, ApiError, setCsrfToken } from "/static/api.js";
import { failure, pageStates } from "/static/page.js";
import { moment, offset, timeElement } from "/static/clock.js";
import { buildField, el, newPrefix } from "/static/feedback/fields.js";
import { template } from "/static/feedback/instruments.js";
import { mountFeedbackPanel } from "/static/feedback/panel.js";
import { referenceNote, renderAnswers } from "/static/feedback/view.js";
import { signOffBox } from "/static/review/signoff.js";
import { hasRecordings, mountRecordings, seekToMark } from "/static/record-player.js";
import { showOfflineCopy } from "/static/offline.js";
import { mountTalkTime } from "/static/record-talk.js";

const $ = (id) => document.getElementById(id);
const sessionId = decodeURIComponent(location.pathname.split("/")[3] ?? "");
const base = `/api/sessions/${encodeURIComponent(sessionId)}`;

let me = null;
let record = null;
let marks = new Map();
let panelShown = false;
let timeline = [];
let timelineNext = null;

/** An offset into the call as people read it: "+01:42". */
function plus(ms) {
  return `+${offset(ms)}`;
}

function markText(m) {
  const tags = m.tags?.length ? ` [${m.tags.join(", ")}]` : "";
  return `${plus(m.at_ms)}${m.label ? ` · ${m.label}` : ""}${tags}`;
}

const { show, problem } = pageStates("record");

async function load() {
  try {
    me = await api("GET", "/api/me");
    setCsrfToken(me.csrf_token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      return problem("You are not signed in", "Sign in, or open your invite link again, to see this record.");
    }
    return problem("Could not reach the server", "Check your connection and reload the page.");
  }
  $("whoami").textContent = me.user.name;
  $("whoami").hidden = false;
  try {
    record = await api("GET", `${base}/record`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
      return problem("No such record", "This session does not exist, or its record is not yours to see.");
    }
    return problem("Could not load the record", failure(err));
  }
  render();
}

// --- the page ------------------------------------------------------------------------------------

function isGuest() {
  return Boolean(me.scope_session_id);
}

function canExport() {
  return !isGuest() && ["mentor", "supervisor", "admin"].includes(me.user.role);
}

function traineeName(id) {
  return record.session.trainees?.find((t) => t.id === id)?.name || "the trainee";
}

function render() {
  const { session } = record;
  document.title = `${session.title} · Record · Preceptor`;
  $("record-title").textContent = session.title;
  const names = (session.trainees ?? []).map((t) => t.name).filter(Boolean);
  const meta = [`Mentor ${session.mentor_name}`];
  if (names.length) meta.push(`Trainee${names.length > 1 ? "s" : ""} ${names.join(", ")}`);
  if (session.status === "ended" && session.ended_at) meta.push(`ended ${moment(session.ended_at)}`);
  else if (session.status === "live") meta.push("live now");
  else if (session.started_at) meta.push(`started ${moment(session.started_at)}`);
  $("record-meta").textContent = meta.join(" · ");

  const fhir = $("fhir-link");
  $("exports").hidden = !canExport();
  fhir.href = `${base}/record.fhir.json`;
  fhir.setAttribute("download", `session-${session.id}.fhir.json`);
  const call = $("call-link");
  call.hidden = session.status === "ended";
  call.href = `/sessions/${encodeURIComponent(session.id)}`;
  const trainees = session.trainees ?? [];
  const progress = $("trainee-link");
  progress.hidden = isGuest() || trainees.length !== 1;
  if (trainees.length === 1) {
    progress.href = `/review/trainees/${encodeURIComponent(trainees[0].id)}`;
    progress.textContent = trainees[0].id === me.user.id ? "Your progress" : `${trainees[0].name || "Trainee"}'s progress`;
  }

  renderNotes();

  renderPeople();
  mountTalkTime($("people-card"), record.talk_time);
  marks = new Map(record.marks.map((m) => [m.id, m]));
  renderMarks();
  // Recordings play with the marks as chapters; once they are drawn, marks become seekable.
  const recordings = mountRecordings($("recordings-card"), $("recordings-list"), base, [
    ...marks.values(),
  ]).then(() => {
    renderMarks();
    watchCitations();
  });
  timeline = record.timeline ?? [];
  timelineNext = record.timeline_next ?? null;
  renderTimeline();
  const forms = renderForms();
  renderPanel();
  show("record");
  // Landed once both are drawn: the marks are drawn again when the recordings arrive, and a
  // mark landed on before that lost its highlight (seen under load).
  Promise.all([forms, recordings.catch(() => undefined)]).then(() => {
    landOnHash();
    // Offline, this is the service worker's copy of the last visit: said so, and read-only.
    showOfflineCopy(document.querySelector("main"));
  });
}

/** A link to #mark-<id> or #form-<id> (from the trainee page) lands there once it is drawn. */
function landOnHash() {
  const target = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
  if (!target) return;
  target.classList.add("landed");
  target.scrollIntoView({ block: "center" });
  target.focus({ preventScroll: true });
}

/** The notes as plain text; on request, each run of text marked with the person who wrote it
 * (from the stored history: every update keeps its author). */
function renderNotes(runs = null) {
  const notes = $("notes-text");
  const text = record.notes ?? "";
  const button = $("notes-authors");
  button.hidden = !text.trim();
  button.setAttribute("aria-pressed", runs ? "true" : "false");
  button.textContent = runs ? "Hide who wrote what" : "Show who wrote what";
  notes.classList.toggle("empty", !text.trim());
  const legend = $("notes-legend");
  legend.hidden = !runs;
  if (!text.trim()) {
    notes.textContent = "No notes were written.";
    return;
  }
  if (!runs) {
    notes.textContent = text;
    return;
  }
  const authors = [...new Set(runs.map((r) => r.author_name))];
  const tone = (name) => `author-${authors.indexOf(name) % 6}`;
  notes.replaceChildren(
    ...runs.map((r) => {
      const span = el("span", tone(r.author_name), r.text);
      span.title = r.author_name;
      return span;
    }),
  );
  legend.replaceChildren(...authors.map((name) => el("li", tone(name), name)));
}

async function toggleAuthors() {
  if ($("notes-authors").getAttribute("aria-pressed") === "true") {
    renderNotes();
    return;
  }
  try {
    const history = await api("GET", `${base}/notes/history`);
    renderNotes(history.authored);
  } catch (err) {
    const legend = $("notes-legend");
    legend.replaceChildren(el("li", "error", failure(err)));
    legend.hidden = false;
  }
}

/** Who was in the call, from when to when (first join, last leave). */
function renderPeople() {
  const people = record.participants ?? [];
  $("people-card").hidden = people.length === 0;
  $("record-people").replaceChildren(
    ...people.map((p) => {
      const until = p.left_at ? ` until ${moment(p.left_at)}` : "";
      return el("li", "", `${p.name || "Guest"} (${p.role}) · from ${moment(p.joined_at)}${until}`);
    }),
  );
}

/** The moments the mentor marked (a trainee sees those cited in their feedback). */
function renderMarks() {
  const list = [...marks.values()].sort((a, b) => a.at_ms - b.at_ms);
  $("marks-card").hidden = list.length === 0;
  const trainee = me.user.role === "trainee" || isGuest();
  $("marks-note").textContent = trainee
    ? "The moments your feedback cites."
    : "Moments the mentor marked during the call.";
  $("record-marks").replaceChildren(
    ...list.map((m) => {
      const item = el("li", "record-mark", markText(m));
      item.id = `mark-${m.id}`;
      item.tabIndex = -1;
      if (hasRecordings()) {
        const play = el("button", "secondary mark-play", "Play from here");
        play.type = "button";
        play.setAttribute("aria-label", `Play the recording from ${markText(m)}`);
        play.addEventListener("click", () => seekToMark(m));
        item.append(play);
      }
      return item;
    }),
  );
}

/** A feedback answer's cited marks become buttons that play the recording from there. */
function watchCitations() {
  if (!hasRecordings()) return;
  const upgrade = () => {
    for (const cite of document.querySelectorAll("#feedback-list .fb-mark[data-mark]:not(.seekable)")) {
      const mark = marks.get(cite.dataset.mark);
      if (!mark) continue;
      cite.classList.add("seekable");
      const button = el("button", "linkish", cite.textContent);
      button.type = "button";
      button.setAttribute("aria-label", `Play the recording from ${markText(mark)}`);
      button.addEventListener("click", () => seekToMark(mark));
      cite.replaceChildren(button);
    }
  };
  upgrade();
  new MutationObserver(upgrade).observe($("feedback-list"), { childList: true, subtree: true });
}

// --- the timeline: the room's events and its chat, at their offsets into the call ----------------

const EVENT_TEXT = {
  "session.created": "Session created",
  "session.ended": "Session ended",
  "room.join": "joined",
  "room.leave": "left",
  "room.admit": "admitted a guest",
  "room.deny": "turned a guest away",
  "room.recording": "changed the recording",
  "room.consent": "answered the recording consent",
  "mark.added": "marked a moment",
  "feedback.drafted": "started a feedback form",
  "feedback.submitted": "submitted feedback",
  "feedback.acknowledged": "acknowledged feedback",
  "feedback.countersigned": "countersigned feedback",
  "feedback.returned": "returned feedback to its mentor",
  "feedback.amended": "started a revision of feedback",
  "notes.edited-after-end": "edited the notes after the call",
};

function eventOffset(event) {
  if (typeof event.at_ms === "number") return plus(event.at_ms);
  const start = record.session.started_at;
  if (!start || event.at < start) return "before";
  return plus((event.at - start) * 1000);
}

function timelineItem(event) {
  const item = el("li", event.kind === "chat" ? "tl-chat" : "tl-event");
  const when = el("span", "tl-when", eventOffset(event));
  if (event.kind === "chat") {
    const who = event.who ?? event.name ?? "Someone";
    item.append(when, el("span", "tl-who", `${who}:`), el("span", "tl-text", event.text ?? ""));
    // Said by an observer hidden from the trainee: this reader is on the mentor's side.
    if (event.detail?.audience === "mentors") item.append(el("span", "muted", " (not shown to trainees)"));
    return item;
  }
  // A lobby join is a knock: the person was not in the room until a mentor admitted them.
  const knocked = event.action === "room.join" && event.detail?.admission === "lobby";
  const what = knocked ? "asked to join" : EVENT_TEXT[event.action] ?? event.action;
  const sentence = /^[A-Z]/.test(what) || !event.who ? what : `${event.who} ${what}`;
  item.append(when, el("span", "tl-text", sentence));
  return item;
}

function renderTimeline() {
  $("timeline-card").hidden = timeline.length === 0;
  $("record-timeline").replaceChildren(...timeline.map(timelineItem));
  $("timeline-older").hidden = timelineNext === null;
}

async function loadOlder() {
  const button = $("timeline-older");
  button.disabled = true;
  try {
    const page = await api("GET", `${base}/timeline?before=${timelineNext}`);
    timeline = [...page.events, ...timeline];
    timelineNext = page.next;
    renderTimeline();
  } catch (err) {
    button.textContent = `${failure(err)} Try again`;
  } finally {
    button.disabled = false;
  }
}

function renderForms() {
  return drawForms().catch(() => {});
}

async function drawForms() {
  const list = $("feedback-list");
  const status = $("feedback-status");
  const forms = record.feedback
    .filter((f) => f.status !== "draft")
    .sort((a, b) => (a.submitted_at ?? 0) - (b.submitted_at ?? 0));
  const drafts = record.feedback.filter((f) => f.status === "draft" && f.author_id === me.user.id);
  const parts = [];
  if (forms.length === 0) parts.push("No feedback has been submitted yet.");
  if (drafts.length) {
    parts.push(
      drafts.length === 1
        ? "You have 1 draft not yet submitted."
        : `You have ${drafts.length} drafts not yet submitted.`,
    );
  }
  status.textContent = parts.join(" ");
  const cards = await Promise.all(
    forms.map(async (form) => {
      try {
        return formCard(form, await template(form.instrument_id, form.instrument_version));
      } catch {
        return el("p", "notice", "A form could not be shown: its instrument did not load.");
      }
    }),
  );
  list.replaceChildren(...cards);
}

function renderPanel() {
  if (panelShown) return;
  const mentor = me.user.id === record.session.mentor_id;
  // A trainee who has submitted the self-assessment finds it in the list above.
  if (!mentor && record.feedback.some((f) => f.author_id === me.user.id && f.status !== "draft")) return;
  const source = { list: () => [...marks.values()].sort((a, b) => a.at_ms - b.at_ms), subscribe: () => () => {} };
  const shown = mountFeedbackPanel($("give-panel"), {
    sessionId,
    session: record.session,
    me,
    marks: source,
    onSubmitted: refresh,
    inRecord: true,
  });
  if (!shown) return;
  panelShown = true;
  $("give-title").textContent = mentor ? "Give feedback" : "Your self-assessment";
  $("give-feedback").hidden = false;
}

async function refresh() {
  try {
    record = await api("GET", `${base}/record`);
    marks = new Map(record.marks.map((m) => [m.id, m]));
    renderMarks();
    await renderForms();
  } catch {
    /* the page keeps what it shows */
  }
}

// --- one form --------------------------------------------------------------------------------------

function formCard(form, t) {
  const card = el("article", "fb-record");
  card.dataset.form = form.id;
  card.id = `form-${form.id}`;
  card.tabIndex = -1;
  const titleId = `form-${form.id}-title`;
  card.setAttribute("aria-labelledby", titleId);
  const about = form.author_id === form.trainee_id ? "" : ` · ${traineeName(form.trainee_id)}`;
  const heading = el("h3", "", `${t.short_name || t.name}${about}`);
  heading.id = titleId;
  const by = el("p", "small muted");
  by.append(`By ${form.author_name} · submitted `, timeElement(form.submitted_at));
  card.append(heading, by);

  const states = el("div", "fb-states");
  states.setAttribute("role", "status");
  states.tabIndex = -1;
  if (form.acknowledged_at) states.append(el("p", "fb-state", `Acknowledged on ${moment(form.acknowledged_at)}`));
  if (form.countersigned_at) {
    const by = form.countersigned_by_name ? ` by ${form.countersigned_by_name}` : "";
    states.append(el("p", "fb-state", `Countersigned${by} on ${moment(form.countersigned_at)}`));
    if (form.countersign_comment) states.append(el("p", "fb-comment fb-text", form.countersign_comment));
  }
  const revision = revisionOf(form);
  if (form.returned_at) {
    const by = form.returned_by_name ? ` by ${form.returned_by_name}` : "";
    states.append(el("p", "fb-state returned", `Returned to the mentor${by} on ${moment(form.returned_at)}`));
    states.append(el("p", "fb-comment fb-text", form.return_reason ?? ""));
  }
  if (revision?.status === "submitted") {
    states.append(el("p", "fb-state replaced", `Replaced by a revision submitted on ${moment(revision.submitted_at)}`));
  }
  if (form.amends_id) states.append(el("p", "small muted", "A revision of earlier feedback."));
  card.append(states);

  card.append(renderAnswers(t, form, { marks, respondent: t.respondent ?? "mentor" }));
  if (form.ack_reply) {
    const reply = el("div", "fb-reply");
    reply.append(el("h4", "", "Trainee's reply"), el("p", "fb-text", form.ack_reply));
    card.append(reply);
  }

  const mentorForm = (t.respondent ?? "mentor") === "mentor";
  if (mentorForm && me.user.id === form.trainee_id && !form.acknowledged_at) {
    card.append(acknowledgeForm(form, t, card));
  }
  if (revision?.status !== "submitted") {
    card.append(signOffBox(form, { describedBy: titleId, onDone: (done) => replaceCard(card, done, t) }));
  }
  if (form.returned_at && me.user.id === form.author_id && (form.can ?? []).includes("form.amend")) {
    card.append(reviseBox(form, revision));
  }
  card.append(referenceNote(t));
  return card;
}

function replaceCard(card, form, t) {
  const fresh = formCard(form, t);
  card.replaceWith(fresh);
  fresh.querySelector(".fb-states")?.focus();
  record.feedback = record.feedback.map((f) => (f.id === form.id ? form : f));
}

function acknowledgeForm(form, t, card) {
  const box = el("form", "fb-ack");
  box.noValidate = true;
  box.setAttribute("aria-label", "Acknowledge this feedback");
  box.append(el("h4", "", "Your acknowledgement"));
  const prefix = newPrefix();
  const fields = t.items
    .filter((item) => item.respondent === "trainee")
    .map((item) => buildField(item, { prefix, onChange: () => clearError(item.id) }));
  const clearError = (id) => fields.find((f) => f.item.id === id)?.setError(null);
  for (const field of fields) box.append(field.root);

  const replyId = `${prefix}-reply`;
  const label = el("label", "", "Reply (optional)");
  label.htmlFor = replyId;
  const reply = document.createElement("textarea");
  reply.id = replyId;
  reply.rows = 3;
  reply.maxLength = 5000;
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  const button = el("button", "wide", "Acknowledge");
  button.type = "submit";
  box.append(label, reply, error, button);

  box.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const responses = {};
    for (const field of fields) {
      const value = field.get();
      if (value !== undefined) responses[field.item.id] = value;
    }
    const body = { responses };
    if (reply.value.trim()) body.reply = reply.value;
    button.disabled = true;
    try {
      const done = await api("POST", `/api/feedback/${encodeURIComponent(form.id)}/acknowledge`, body);
      replaceCard(card, done, t);
    } catch (err) {
      if (err instanceof ApiError && err.fields) {
        let first = null;
        for (const field of fields) {
          field.setError(err.fields[field.item.id] ?? null);
          if (err.fields[field.item.id]) first ??= field;
        }
        first?.focus();
      }
      error.textContent = failure(err);
      error.hidden = false;
      button.disabled = false;
    }
  });
  return box;
}

/** The newest revision (amendment) of `form` in this record, if any. */
function revisionOf(form) {
  return record.feedback
    .filter((f) => f.amends_id === form.id)
    .sort((a, b) => (b.updated_at ?? 0) - (a.updated_at ?? 0))[0];
}

/** The mentor of a returned form: revise it (an amendment, opened in "Give feedback" below). */
function reviseBox(form, revision) {
  const box = el("div", "fb-revise");
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;
  if (revision?.status === "submitted") return box;
  const button = el("button", "wide", revision ? "Continue the revision" : "Revise and resubmit");
  button.type = "button";
  button.addEventListener("click", async () => {
    button.disabled = true;
    error.hidden = true;
    try {
      if (!revision) await api("POST", `/api/feedback/${encodeURIComponent(form.id)}/amend`);
      await refresh();
      openInPanel(form);
    } catch (err) {
      error.textContent = failure(err);
      error.hidden = false;
      button.disabled = false;
    }
  });
  box.append(el("p", "small", "Your revision replaces this form once you submit it; the supervisor then countersigns the revision."), error, button);
  return box;
}

/** Show the form's instrument and trainee in "Give feedback", where the revision is the draft. */
function openInPanel(form) {
  const instrument = document.getElementById("fb-instrument");
  const trainee = document.getElementById("fb-trainee");
  if (!instrument || !trainee) return;
  trainee.value = form.trainee_id;
  instrument.value = form.instrument_id;
  instrument.dispatchEvent(new Event("change"));
  $("give-feedback").scrollIntoView({ block: "start" });
  instrument.focus({ preventScroll: true });
}

$("notes-authors").addEventListener("click", toggleAuthors);
$("timeline-older").addEventListener("click", loadOlder);
$("print-record").addEventListener("click", () => window.print());
load();
