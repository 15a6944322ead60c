// The "Feedback" tab of the call's side panel (a sheet on a phone): shown to the session's mentor
// (instrument forms, citing marks) and to a trainee listed in the session (the self-assessment).
// The panel itself is web/static/feedback/panel.js.

import { mountFeedbackPanel } from "/static/feedback/panel.js";

const $ = (id) => document.getElementById(id);
let started = false;

/** Idempotent: a resumed `welcome` keeps the panel (and any draft being typed) as it is. */
export function enableFeedback({ sessionId, session, me, marks }) {
  if (started) return;
  const root = $("panel-feedback");
  if (!mountFeedbackPanel(root, { sessionId, session, me, marks })) return;
  started = true;
  root.classList.add("feedback");
  $("tab-feedback").hidden = false;
}
