// /review: the review home. The trainees I follow (assigned, for a supervisor), each with sessions
// to date, last activity and the forms awaiting me, linked to their progress page; and the forms
// awaiting my countersignature as a queue to work through, one at a time (previous / next), each
// shown in its instrument's words and signed off (or returned to its mentor) in place. Offline, the
// page is the service worker's copy of the last visit, read-only (offline.js).

import { api, ApiError, setCsrfToken } from "/static/api.js";
import { failure, pageStates } from "/static/page.js";
import { moment } from "/static/clock.js";
import { el } from "/static/feedback/fields.js";
import { template } from "/static/feedback/instruments.js";
import { renderAnswers } from "/static/feedback/view.js";
import { signOffBox } from "/static/review/signoff.js";
import { forgetOfflineCopies, isOfflineCopy, registerWorker, showOfflineCopy } from "/static/offline.js";

const $ = (id) => document.getElementById(id);

let me = null;
let queue = [];
let position = 0;

const { show, problem } = pageStates("review");

const TITLES = {
  supervisor: "Your trainees",
  trainee: "Your progress",
  mentor: "Trainees you teach",
  admin: "All trainees",
};

async function load() {
  try {
    me = await api("GET", "/api/me");
    setCsrfToken(me.csrf_token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forgetOfflineCopies().catch(() => {});
      return problem("You are not signed in", "Sign in on the home page, then come back to Review.");
    }
    if (err instanceof ApiError && err.code === "offline") return problem("You are offline", err.message);
    return problem("Could not reach the server", "Check your connection and reload the page.");
  }
  $("whoami").textContent = me.user.name;
  $("whoami").hidden = false;
  let home;
  try {
    home = await api("GET", "/api/review");
  } catch (err) {
    return problem("Review can't be shown", failure(err));
  }
  $("review-title").textContent = TITLES[me.user.role] ?? "Trainees";
  $("program-link").hidden = me.user.role !== "admin";
  renderTrainees(home.trainees);
  queue = home.queue;
  position = 0;
  $("queue").hidden = me.user.role !== "supervisor" && queue.length === 0;
  show("review");
  if (isOfflineCopy()) showOfflineCopy(document.querySelector("main"), $("queue-item"));
  await renderQueue();
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function renderTrainees(trainees) {
  $("trainees-status").textContent = trainees.length
    ? ""
    : me.user.role === "supervisor"
      ? "No trainees are assigned to you yet. An administrator assigns them."
      : "No trainees to show yet.";
  $("trainee-list").replaceChildren(
    ...trainees.map((t) => {
      const item = el("li");
      const link = el("a", "trainee-name", t.name || "Trainee");
      link.href = `/review/trainees/${encodeURIComponent(t.id)}`;
      item.append(link);
      if (t.awaiting_me) item.append(el("span", "awaiting", `${t.awaiting_me} awaiting you`));
      const facts = [plural(t.sessions, "session") + " to date"];
      facts.push(t.last_activity ? `last activity ${moment(t.last_activity)}` : "no activity yet");
      item.append(el("p", "small muted", facts.join(" · ")));
      return item;
    }),
  );
}

// --- the queue -------------------------------------------------------------------------------------

async function renderQueue(message = "") {
  const status = $("queue-status");
  const item = $("queue-item");
  $("queue-nav").hidden = queue.length < 2;
  if (queue.length === 0) {
    status.textContent = `${message} Nothing is waiting for your countersignature.`.trim();
    item.hidden = true;
    item.replaceChildren();
    return;
  }
  position = Math.min(Math.max(position, 0), queue.length - 1);
  status.textContent = `${message} ${plural(queue.length, "form")} waiting, oldest first.`.trim();
  $("queue-position").textContent = `${position + 1} of ${queue.length}`;
  $("queue-prev").disabled = position === 0;
  $("queue-next").disabled = position === queue.length - 1;
  const entry = queue[position];
  item.replaceChildren(el("p", "muted", "Loading the form…"));
  item.hidden = false;
  try {
    const [form, marks, t] = await Promise.all([
      api("GET", `/api/feedback/${encodeURIComponent(entry.form_id)}`),
      api("GET", `/api/sessions/${encodeURIComponent(entry.session_id)}/marks`).catch(() => []),
      template(entry.instrument_id, entry.instrument_version),
    ]);
    if (queue[position] !== entry) return; // the supervisor moved on meanwhile
    item.replaceChildren(...queueCard(entry, form, t, new Map(marks.map((m) => [m.id, m]))));
  } catch (err) {
    item.replaceChildren(el("p", "error", `This form could not be loaded: ${failure(err)}`));
  }
  // Offline: the copy is for reading; signing off waits for the connection.
  if (isOfflineCopy()) showOfflineCopy(document.querySelector("main"), item);
}

function queueCard(entry, form, t, marks) {
  const title = el("h3", "", `${t.short_name || t.name} · ${entry.trainee.name || "Trainee"}`);
  title.id = "queue-form-title";
  const when = entry.session_date ? ` on ${moment(entry.session_date)}` : "";
  const facts = el("p", "small muted", `${entry.session_title}${when} · by ${entry.author_name}`);
  const states = [`Submitted ${moment(entry.submitted_at)}`];
  states.push(entry.acknowledged_at ? `acknowledged by the trainee ${moment(entry.acknowledged_at)}` : "not yet acknowledged by the trainee");
  if (entry.amends_id) states.push("a revision of a form you returned");
  const record = el("a", "", "Open the session record");
  record.href = `/review/sessions/${encodeURIComponent(entry.session_id)}#form-${encodeURIComponent(entry.form_id)}`;
  const links = el("p", "small");
  links.append(record);
  const box = signOffBox(form, {
    describedBy: title.id,
    onDone: (_done, what) => {
      queue.splice(position, 1);
      const next = queue.length ? " Here is the next one." : "";
      renderQueue(what === "countersigned" ? `Countersigned.${next}` : `Returned to ${entry.author_name}.${next}`).then(
        () => $("queue-item").focus(),
      );
    },
  });
  return [title, facts, el("p", "small", `${states.join("; ")}.`), links, renderAnswers(t, form, { marks }), box];
}

$("queue-prev").addEventListener("click", () => {
  position -= 1;
  renderQueue();
});
$("queue-next").addEventListener("click", () => {
  position += 1;
  renderQueue();
});
registerWorker();
load();
