// A feedback form being filled in: the instrument's sections as fieldsets, a field per item, a
// "Cite mark" control per item (the session's marks as evidence), autosave with its status, and
// "Submit feedback", which names each answer the server finds missing or wrong next to its item.
// While it submits, the answers cannot change: what the mentor sees is what is submitted.

import { api, ApiError } from "/static/api.js";
import { markName } from "/static/clock.js";
import { Draft, loadLocal } from "/static/feedback/draft.js";
import { buildField, el, newPrefix } from "/static/feedback/fields.js";
import { referenceNote } from "/static/feedback/view.js";

const SAVE_TEXT = {
  saving: "Saving…",
  saved: "Saved",
  retry: "Not saved — will retry",
  error: "Not saved",
  submitting: "Submitting…",
  submitted: "Submitted",
};
const SUBMIT_TEXT = "Submit feedback";
const MAX_CITED = 20;

/**
 * Mount an editable form into `host` (replacing what is there).
 * @param {HTMLElement} host
 * @param {object} o
 * @param {string} o.sessionId
 * @param {object} o.template the instrument at the version being filled in
 * @param {string} o.traineeId whom the form is about
 * @param {object|null} o.form the server's draft, if one exists
 * @param {{list: () => object[], subscribe: (fn: () => void) => () => void}|null} o.marks the
 *   session's marks to cite (null: no citing, e.g. for a trainee)
 * @param {(form: object) => void} o.onSubmitted
 * @returns {{destroy: () => void, form: HTMLFormElement}}
 */
export function mountEditor(host, { sessionId, template, traineeId, form, marks, onSubmitted }) {
  const respondent = template.respondent ?? "mentor";
  const prefix = newPrefix();
  const root = el("form", "fb-form");
  root.noValidate = true;
  root.setAttribute("aria-label", `${template.short_name ?? template.name} form`);

  const bar = el("div", "fb-bar");
  const title = el("span", "fb-title", template.short_name || template.name);
  const status = el("span", "fb-save");
  status.setAttribute("role", "status");
  bar.append(title, status);
  const restored = el("p", "notice fb-restored", "Restored answers from this device that had not reached the server yet.");
  restored.hidden = true;
  root.append(bar, restored);
  const about = el("p", "fb-description small muted");
  about.append(el("strong", "", template.name));
  if (template.description) about.append(` — ${template.description}`);
  root.append(about);

  // --- fields ------------------------------------------------------------------------------------
  const fields = [];
  const evidence = {};
  const citeViews = new Map(); // item id → {render()}
  const onChange = (field) => {
    if (field && !field.hasLocalError()) field.setError(null);
    draft.set(collect(), citedEvidence());
  };
  for (const section of template.sections) {
    const items = template.items.filter(
      (item) => item.section === section.id && (item.respondent ?? "mentor") === respondent,
    );
    if (items.length === 0) continue;
    const fieldset = el("fieldset", "fb-section");
    fieldset.append(el("legend", "", section.label));
    for (const item of items) {
      const field = buildField(item, { prefix, onChange: () => onChange(field) });
      fields.push(field);
      if (marks) field.root.append(citeControl(field));
      fieldset.append(field.root);
    }
    root.append(fieldset);
  }

  const summary = el("p", "error fb-summary");
  summary.setAttribute("role", "alert");
  summary.hidden = true;
  const submit = el("button", "wide fb-submit", SUBMIT_TEXT);
  submit.type = "submit";
  root.append(summary, submit, referenceNote(template));
  host.replaceChildren(root);

  // --- citing marks --------------------------------------------------------------------------------
  function citeControl(field) {
    const id = field.item.id;
    const box = el("div", "fb-cite");
    const toggle = el("button", "fb-cite-toggle", "Cite mark");
    toggle.type = "button";
    const listId = `${prefix}-${id}-cite`;
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-controls", listId);
    toggle.setAttribute("aria-describedby", field.labelId);
    const cited = el("p", "fb-cited");
    cited.hidden = true;
    const list = el("div", "fb-cite-list");
    list.id = listId;
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", `Marks to cite for ${field.item.label}`);
    list.hidden = true;
    box.append(toggle, cited, list);

    const render = () => {
      const all = marks.list();
      const byId = new Map(all.map((m) => [m.id, m]));
      const chosen = evidence[id] ?? [];
      cited.textContent = chosen.length
        ? `Cited: ${chosen.map((m) => (byId.has(m) ? markName(byId.get(m)) : "a mark")).join("; ")}`
        : "";
      cited.hidden = chosen.length === 0;
      if (list.hidden) return;
      list.replaceChildren();
      if (all.length === 0) {
        list.append(el("p", "small muted", "No marks yet. Tap Mark during the call to keep a moment."));
        return;
      }
      for (const mark of all) {
        const row = el("label", "fb-option");
        const input = document.createElement("input");
        input.type = "checkbox";
        input.value = mark.id;
        input.checked = chosen.includes(mark.id);
        input.disabled = !input.checked && chosen.length >= MAX_CITED;
        input.addEventListener("change", () => {
          const now = new Set(evidence[id] ?? []);
          if (input.checked) now.add(mark.id);
          else now.delete(mark.id);
          evidence[id] = [...now];
          if (evidence[id].length === 0) delete evidence[id];
          render();
          onChange(null);
        });
        row.append(input, el("span", "", markName(mark)));
        list.append(row);
      }
    };
    toggle.addEventListener("click", () => {
      const open = list.hidden;
      list.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      render();
    });
    citeViews.set(id, { render });
    return box;
  }

  const renderCites = () => {
    for (const view of citeViews.values()) view.render();
  };
  const unsubscribe = marks ? marks.subscribe(renderCites) : () => {};

  function collect() {
    const responses = {};
    for (const field of fields) {
      const value = field.get();
      if (value !== undefined) responses[field.item.id] = value;
    }
    return responses;
  }

  function citedEvidence() {
    const out = {};
    for (const [item, ids] of Object.entries(evidence)) if (ids.length) out[item] = [...ids];
    return out;
  }

  function fill(responses, cited) {
    for (const field of fields) field.set(responses?.[field.item.id]);
    for (const key of Object.keys(evidence)) delete evidence[key];
    for (const [item, ids] of Object.entries(cited ?? {})) {
      if (Array.isArray(ids) && ids.length) evidence[item] = ids.map(String);
    }
    renderCites();
  }

  // --- saving --------------------------------------------------------------------------------------
  let submitting = false;
  let saveState = null; // the draft's, shown again when submitting ends
  const showState = (state) => {
    status.dataset.state = state ?? "";
    status.textContent = SAVE_TEXT[state] ?? "";
  };
  const setStatus = (state, err) => {
    saveState = state;
    if (!submitting) showState(state);
    if (state === "error" && err) {
      summary.textContent = `Your last change was not saved: ${err.message}`;
      summary.hidden = false;
    }
  };

  const draft = new Draft({
    sessionId,
    template,
    traineeId,
    formId: form?.id ?? null,
    revision: form?.revision ?? 0,
    onStatus: setStatus,
    onRejected: (err) => {
      if (err instanceof ApiError && err.fields) showErrors(err.fields, { focus: false });
      if (err instanceof ApiError && err.status === 409) onRejected409();
    },
  });

  fill(form?.responses ?? {}, form?.evidence ?? {});
  if (form) setStatus("saved");
  const local = loadLocal(sessionId, template.id, traineeId);
  if (local && (local.instrument_version ?? template.template_version) === template.template_version) {
    // The copy on this device has edits the server never confirmed: it is the newest.
    fill(local.responses, local.evidence);
    restored.hidden = false;
    draft.restore({ responses: collect(), evidence: citedEvidence() });
  }

  // --- submitting ----------------------------------------------------------------------------------
  function showErrors(reasons, { focus = true } = {}) {
    let first = null;
    let count = 0;
    for (const field of fields) {
      const reason = reasons[field.item.id];
      if (reason) {
        field.setError(reason);
        count += 1;
        first ??= field;
      } else if (!field.hasLocalError()) {
        field.setError(null);
      }
    }
    const others = Object.keys(reasons).filter((id) => !fields.some((f) => f.item.id === id));
    const parts = [];
    if (count) parts.push(count === 1 ? "1 answer needs attention." : `${count} answers need attention.`);
    if (others.length) parts.push(others.map((id) => `${id}: ${reasons[id]}`).join("; "));
    summary.textContent = parts.join(" ");
    summary.hidden = parts.length === 0;
    if (focus && first) {
      first.root.scrollIntoView({ block: "center" });
      first.focus();
    }
  }

  let finished = false;
  function finish(done) {
    if (finished) return;
    finished = true;
    draft.close({ discard: true });
    unsubscribe();
    // Submitted feedback never changes: this form stays locked until the panel shows it as such.
    lock(true);
    submit.textContent = SAVE_TEXT.submitted;
    submitting = true; // no save status replaces it
    showState("submitted");
    root.setAttribute("aria-busy", "false");
    onSubmitted?.(done);
  }

  function lock(on) {
    for (const fieldset of root.querySelectorAll("fieldset")) fieldset.disabled = on;
    submit.disabled = on;
  }

  /** Submitting: every answer (and citation) is locked, so none is typed that would not be
   * submitted; "Submitting…" on the button and in the form's status. */
  function setSubmitting(on) {
    submitting = on;
    lock(on);
    submit.textContent = on ? SAVE_TEXT.submitting : SUBMIT_TEXT;
    root.setAttribute("aria-busy", String(on));
    showState(on ? "submitting" : saveState);
  }

  root.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submitting || finished) return;
    summary.hidden = true;
    const local = fields.find((f) => f.hasLocalError());
    if (local) {
      summary.textContent = "1 answer needs attention.";
      summary.hidden = false;
      local.focus();
      return;
    }
    setSubmitting(true);
    try {
      await draft.flush();
    } catch (err) {
      setSubmitting(false);
      if (!(err instanceof ApiError && err.fields)) {
        summary.textContent = "Your answers could not be saved yet. Check your connection and try again.";
        summary.hidden = false;
      }
      return;
    }
    let done;
    try {
      done = await api("POST", `/api/feedback/${encodeURIComponent(draft.formId)}/submit`);
    } catch (err) {
      // Not submitted: the answers can change again, as they were (nothing typed is lost).
      setSubmitting(false);
      if (err instanceof ApiError && err.status === 422 && err.fields) showErrors(err.fields);
      else if (err instanceof ApiError && err.status === 409 && err.code !== "stale") onRejected409();
      else {
        summary.textContent = err instanceof ApiError ? err.message : "Could not reach the server. Try again.";
        summary.hidden = false;
      }
      return;
    }
    finish(done);
  });

  /** Submitted meanwhile (another tab or device): show what was submitted. */
  function onRejected409() {
    if (!draft.formId) return;
    api("GET", `/api/feedback/${encodeURIComponent(draft.formId)}`)
      .then((latest) => latest.status !== "draft" && finish(latest))
      .catch(() => {});
  }

  return {
    form: root,
    destroy() {
      if (!finished) draft.close();
      unsubscribe();
    },
  };
}
