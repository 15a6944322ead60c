// Giving feedback in a session: the session's mentor picks an instrument (the Mini-CEX first) and
// a trainee of the session and fills the form, citing marks; a trainee listed in the session fills
// the self-assessment instead. Shown in the call's "Feedback" tab (call/feedback.js) and on the
// record page once the call is over. The form itself (fields, autosave, submit) is editor.js.

import { api } from "/static/api.js";
import { markName, moment } from "/static/clock.js";
import { mountEditor } from "/static/feedback/editor.js";
import { loadLocal, storageKey } from "/static/feedback/draft.js";
import { el } from "/static/feedback/fields.js";
import { instruments, mentorInstruments, template } from "/static/feedback/instruments.js";
import { renderAnswers } from "/static/feedback/view.js";

const SELF_ASSESSMENT = "self-assessment";


function recordUrl(sessionId) {
  return `/review/sessions/${encodeURIComponent(sessionId)}`;
}

/** Whether `me` gives feedback in `session` ("mentor"), fills a self-assessment ("trainee"), or
 * neither (null). */
export function feedbackRole(session, me) {
  if (!session || !me?.user) return null;
  const userId = me.user.id;
  if (session.mentor_id === userId && me.user.role === "mentor" && !me.scope_session_id) return "mentor";
  if ((session.trainee_ids ?? []).includes(userId)) return "trainee";
  return null;
}

/**
 * Fill `root` with the feedback panel of whoever gives or receives feedback in this session.
 * Returns false (and leaves `root` alone) for anyone else.
 * @param {HTMLElement} root
 * @param {object} o
 * @param {string} o.sessionId
 * @param {object} o.session `GET /api/sessions/{id}`
 * @param {object} o.me `GET /api/me`
 * @param {{list: () => object[], subscribe: (fn: () => void) => () => void}} o.marks the
 *   session's marks (for the mentor to cite)
 * @param {(form: object) => void} [o.onSubmitted]
 * @param {boolean} [o.inRecord] on the record page, which lists submitted forms itself
 */
export function mountFeedbackPanel(root, { sessionId, session, me, marks, onSubmitted, inRecord = false }) {
  const role = feedbackRole(session, me);
  if (!role) return false;
  const host = el("div", "fb-host");
  const message = el("p", "fb-message muted");
  message.setAttribute("role", "status");
  const context = {
    sessionId,
    session,
    userId: me.user.id,
    host,
    message,
    onSubmitted,
    inRecord,
    current: null,
    mounting: 0,
  };
  if (role === "mentor") {
    root.append(mentorControls(context, marks), message, host);
  } else {
    root.append(el("h2", "fb-heading", "Self-assessment"), message, host);
    startSelfAssessment(context);
  }
  return true;
}

// --- the mentor ------------------------------------------------------------------------------------

function labelled(id, text, control) {
  const label = el("label", "", text);
  label.htmlFor = id;
  control.id = id;
  return [label, control];
}

function mentorControls(context, marks) {
  const box = el("div", "fb-controls");
  const trainees = context.session.trainees ?? [];
  if (trainees.length === 0) {
    box.append(
      el(
        "p",
        "notice",
        "Feedback goes to a trainee's record: add a trainee account to this session to give feedback.",
      ),
    );
    return box;
  }
  const instrument = document.createElement("select");
  const trainee = document.createElement("select");
  for (const t of trainees) trainee.append(new Option(t.name || "Trainee", t.id));
  const pickers = el("div", "fb-pickers");
  const left = el("div");
  left.append(...labelled("fb-instrument", "Instrument", instrument));
  const right = el("div");
  right.append(...labelled("fb-trainee", "Trainee", trainee));
  pickers.append(left, right);
  box.append(pickers, markPanel(marks));

  instrument.append(new Option("Loading…", ""));
  instrument.disabled = true;
  instruments()
    .then((list) => {
      instrument.replaceChildren();
      for (const i of mentorInstruments(list)) instrument.append(new Option(i.short_name || i.name, i.id));
      instrument.disabled = false;
      show();
    })
    .catch(() => {
      context.message.textContent = "The instruments could not be loaded. Reload the page to try again.";
    });

  // Every "change" opens the form anew, even for the same pick: the record page's "Revise and
  // resubmit" relies on it to show the revision it has just made.
  const show = () => {
    if (instrument.value && trainee.value) {
      openForm(context, { instrumentId: instrument.value, traineeId: trainee.value, marks });
    }
  };
  instrument.addEventListener("change", show);
  trainee.addEventListener("change", show);
  return box;
}

/** The marks taken so far, newest last: what the "Cite mark" controls offer. */
function markPanel(marks) {
  const box = el("section", "fb-marks");
  box.setAttribute("aria-labelledby", "fb-marks-title");
  const title = el("h3", "", "Marks");
  title.id = "fb-marks-title";
  const list = el("ol", "mark-list");
  const empty = el("p", "small muted", "No marks yet. Tap Mark to keep a moment to cite.");
  box.append(title, list, empty);
  const render = () => {
    const all = marks.list();
    // "+03:07 · Good rapport": the time into the call, not a time of day.
    const line = (m) => `+${markName(m)}${m.tags?.length ? ` [${m.tags.join(", ")}]` : ""}`;
    list.replaceChildren(...all.map((m) => el("li", "", line(m))));
    title.textContent = all.length ? `Marks (${all.length})` : "Marks";
    empty.hidden = all.length > 0;
  };
  marks.subscribe(render);
  render();
  return box;
}

// --- the trainee -----------------------------------------------------------------------------------

function startSelfAssessment(context) {
  instruments()
    .then((list) => {
      const self = list.find((i) => i.id === SELF_ASSESSMENT) ?? list.find((i) => i.respondent === "trainee");
      if (!self) {
        context.message.textContent = "No self-assessment is offered.";
        return;
      }
      openForm(context, { instrumentId: self.id, traineeId: context.userId, marks: null });
    })
    .catch(() => {
      context.message.textContent = "The self-assessment could not be loaded. Reload the page to try again.";
    });
}

// --- one form --------------------------------------------------------------------------------------

async function openForm(context, { instrumentId, traineeId, marks }) {
  const { sessionId, userId, message } = context;
  const mine = ++context.mounting;
  context.current?.destroy();
  context.current = null;
  message.textContent = "Loading…";
  let forms;
  let latest;
  try {
    [forms, latest] = await Promise.all([
      api("GET", `/api/sessions/${encodeURIComponent(sessionId)}/feedback`),
      template(instrumentId),
    ]);
  } catch {
    if (mine === context.mounting) message.textContent = "The form could not be loaded. Reload the page to try again.";
    return;
  }
  if (mine !== context.mounting) return;
  const ours = forms
    .filter((f) => f.instrument_id === instrumentId && f.trainee_id === traineeId && f.author_id === userId)
    .sort((a, b) => b.updated_at - a.updated_at);
  const draft = ours.find((f) => f.status === "draft");
  const submitted = ours.find((f) => f.status !== "draft");
  const local = loadLocal(sessionId, instrumentId, traineeId);
  message.textContent = "";
  if (!draft && submitted) {
    if (!local || local.form_id === submitted.id) {
      forgetLocal(sessionId, instrumentId, traineeId);
      const shown = await template(instrumentId, submitted.instrument_version).catch(() => latest);
      if (mine === context.mounting) showSubmitted(context, shown, submitted, { instrumentId, traineeId, marks, latest });
      return;
    }
  }
  const version = draft ? await template(instrumentId, draft.instrument_version).catch(() => latest) : latest;
  if (mine !== context.mounting) return;
  mountForm(context, { template: version, traineeId, form: draft ?? null, marks, instrumentId });
}

function mountForm(context, { template: t, traineeId, form, marks, instrumentId }) {
  const editor = mountEditor(context.host, {
    sessionId: context.sessionId,
    template: t,
    traineeId,
    form,
    marks,
    onSubmitted: (done) => {
      // Submitted after the mentor opened another form: that form stays where it is.
      if (context.current === editor) {
        context.current = null;
        showSubmitted(context, t, done, { instrumentId, traineeId, marks, latest: t });
        context.message.textContent = "Feedback submitted.";
      }
      context.onSubmitted?.(done);
    },
  });
  context.current = editor;
}

function showSubmitted(context, t, form, again) {
  const box = el("article", "fb-submitted");
  const head = el("div", "fb-bar");
  head.append(el("span", "fb-title", t.short_name || t.name), el("span", "fb-save", "Submitted"));
  head.lastChild.dataset.state = "submitted";
  const when = el("p", "small muted", `Submitted ${moment(form.submitted_at)}. Submitted feedback does not change.`);
  const marksById = new Map((again.marks?.list() ?? []).map((m) => [m.id, m]));
  const actions = el("div", "fb-actions");
  const another = el("button", "secondary", "Start another");
  another.type = "button";
  another.addEventListener("click", () =>
    mountForm(context, {
      template: again.latest,
      traineeId: again.traineeId,
      form: null,
      marks: again.marks,
      instrumentId: again.instrumentId,
    }),
  );
  box.append(head, when);
  if (context.inRecord) {
    // The record page lists the submitted form already.
    actions.append(another);
  } else {
    const link = el("a", "button secondary-link", "Open the session record");
    link.href = recordUrl(context.sessionId);
    actions.append(link, another);
    box.append(renderAnswers(t, form, { marks: marksById, respondent: t.respondent ?? "mentor" }));
  }
  box.append(actions);
  context.host.replaceChildren(box);
}

function forgetLocal(sessionId, instrumentId, traineeId) {
  try {
    localStorage.removeItem(storageKey(sessionId, instrumentId, traineeId));
  } catch {
    /* storage disabled */
  }
}
