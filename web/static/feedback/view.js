// A feedback form, read-only, in its instrument's own words: each answer under its item's label
// (a scale point with its label and band, "Not observed", choices by their labels), and the marks
// cited as evidence with their time and label.

import { markName } from "/static/clock.js";
import { el } from "/static/feedback/fields.js";

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Number(value));
}

/** An answer as text; `undefined` when there is none. */
export function answerText(item, value) {
  if (value === undefined) return undefined;
  switch (item.type) {
    case "scale": {
      if (value === null) return item.na_option?.label ?? "Not observed";
      const point = item.points.find((p) => p.value === value);
      if (!point) return formatNumber(value);
      const label = point.label === String(point.value) ? point.label : `${point.value} — ${point.label}`;
      return point.band ? `${label} (${point.band})` : label;
    }
    case "choice": {
      if (value === null) return undefined;
      const values = Array.isArray(value) ? value : [value];
      if (values.length === 0) return undefined;
      return values.map((v) => item.options.find((o) => o.value === v)?.label ?? v).join(", ");
    }
    case "number":
      if (value === null) return undefined;
      return item.unit ? `${formatNumber(value)} ${item.unit}` : formatNumber(value);
    case "boolean":
      if (value === null) return undefined;
      return value ? "Yes" : "No";
    default:
      if (value === null || String(value).trim() === "") return undefined;
      return String(value);
  }
}

/**
 * The answers of `form` laid out by the template's sections.
 * @param {object} template the instrument at the form's version
 * @param {object} form the API's feedback form
 * @param {object} options
 * @param {Map<string, object>} options.marks mark id → mark
 * @param {string} options.respondent whose required items are listed even when unanswered
 */
export function renderAnswers(template, form, { marks = new Map(), respondent = "mentor" } = {}) {
  const root = el("div", "fb-view");
  const answers = { ...(form.responses ?? {}), ...(form.trainee_responses ?? {}) };
  for (const section of template.sections) {
    // Unanswered optional items are left out: the record shows what was said.
    const items = template.items.filter(
      (item) =>
        item.section === section.id &&
        (answerText(item, answers[item.id]) !== undefined ||
          (item.required && (item.respondent ?? "mentor") === respondent)),
    );
    if (items.length === 0) continue;
    const box = el("section", "fb-view-section");
    box.append(el("h4", "", section.label));
    const list = el("dl");
    for (const item of items) {
      const row = el("div", "fb-view-row");
      row.dataset.item = item.id;
      const value = item.id in answers ? answerText(item, answers[item.id]) : undefined;
      const answer = el("dd", value === undefined ? "muted" : item.type === "text" ? "fb-text" : "");
      answer.textContent = value ?? "Not answered";
      if (value !== undefined && answers[item.id] === null) answer.classList.add("fb-not-observed");
      row.append(el("dt", "", item.label), answer);
      const cited = form.evidence?.[item.id] ?? [];
      if (cited.length) {
        const evidence = el("dd", "fb-evidence");
        evidence.append(el("span", "fb-evidence-title", "Evidence: "));
        const names = el("ul");
        for (const id of cited) {
          const mark = marks.get(id);
          const cite = el("li", "fb-mark", mark ? `Mark +${markName(mark)}` : "A mark"); // an offset into the call
          cite.dataset.mark = id; // the record page's player seeks there
          names.append(cite);
        }
        evidence.append(names);
        row.append(evidence);
      }
      list.append(row);
    }
    box.append(list);
    root.append(box);
  }
  return root;
}

/** The instrument's reference, in small print. */
export function referenceNote(template) {
  const note = el("p", "fb-reference small muted");
  const citation = template.reference?.citation;
  if (!citation) return note;
  note.append("Reference: ", citation);
  if (template.reference.url) {
    note.append(" ");
    const link = el("a", "", "Source");
    link.href = template.reference.url;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    note.append(link);
  }
  return note;
}
