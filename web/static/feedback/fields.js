// One form field per template item (session_notes/instruments/template.py): a scale is a radio
// group of its points (plus "Not observed" where the item offers it), a choice radios or
// checkboxes, text an input or textarea, a number an input with its bounds and unit, a boolean a
// checkbox. Each field reads and writes the API's answer values (DESIGN.md §2): a number for a
// scale point, a string for text or one choice, a list for several, a boolean, null for "not
// observed", and undefined for "no answer yet" (left out of `responses`).

let instances = 0;

/** A prefix for element ids, unique to one form on the page. */
export function newPrefix() {
  instances += 1;
  return `fb${instances}`;
}

export function el(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/** What the server's reasons ("is required", "must be at most 240") say, as a sentence. */
export function reasonText(reason) {
  const text = String(reason ?? "").trim();
  if (!text) return "Check this answer.";
  if (text.startsWith("is ")) return `This ${text}.`;
  return `${text[0].toUpperCase()}${text.slice(1)}.`;
}

function describe(element, ids) {
  const list = ids.filter(Boolean);
  if (list.length) element.setAttribute("aria-describedby", list.join(" "));
  else element.removeAttribute("aria-describedby");
}

function formatNumber(value) {
  return Number.isInteger(value) ? String(value) : String(Number(value));
}

/**
 * Build the field for `item`. `onChange()` runs after every edit. Returns
 * {item, root, get(), set(value), setError(reason|null), focus(), labelId}.
 */
export function buildField(item, { prefix, onChange }) {
  const base = `${prefix}-${item.id}`;
  const ids = { label: `${base}-label`, error: `${base}-error`, help: null, extra: [] };
  const root = el("div", `fb-item fb-${item.type}`);
  root.dataset.item = item.id;

  const head = el("div", "fb-head");
  const grouped = item.type === "scale" || item.type === "choice";
  const label = el(grouped ? "span" : "label", "fb-label", item.label);
  label.id = ids.label;
  head.append(label);
  if (item.required) head.append(el("span", "fb-required", "Required"));
  if (item.type !== "boolean") root.append(head);

  for (const [key, text] of [
    ["help", item.help],
    ["prompt", item.prompt],
    ["note", item.note],
  ]) {
    if (!text) continue;
    const hint = el("p", `fb-hint fb-${key}`, text);
    hint.id = `${base}-${key}`;
    root.append(hint);
    ids.extra.push(hint.id);
  }

  const error = el("p", "field-error");
  error.id = ids.error;
  error.hidden = true;

  let control; // the element that carries aria-invalid / aria-describedby
  let api;
  const changed = () => onChange?.();

  switch (item.type) {
    case "scale":
      ({ control, api } = scale(item, base, changed));
      break;
    case "choice":
      ({ control, api } = choice(item, base, changed));
      break;
    case "number":
      ({ control, api } = number(item, base, changed, (text) => setError(text, true)));
      label.htmlFor = control.id;
      break;
    case "boolean":
      ({ control, api } = boolean(item, base, label, head, changed));
      root.append(head);
      break;
    default:
      ({ control, api } = text(item, base, changed));
      label.htmlFor = control.id;
  }
  if (grouped) {
    control.setAttribute("aria-labelledby", ids.label);
    if (item.required && control.getAttribute("role") === "radiogroup") {
      control.setAttribute("aria-required", "true");
    }
  } else if (item.required) {
    control.setAttribute("aria-required", "true");
  }
  if (item.type !== "boolean") root.append(api.node ?? control);
  root.append(error);

  let errorShown = false;
  let localError = false;
  const describedBy = () => [...ids.extra, ...(api.describedBy ?? []), errorShown ? ids.error : null];
  describe(control, describedBy());

  /** `local`: found in the browser (a number out of range), cleared by the next valid edit. */
  function setError(reason, local = false) {
    if (!reason && local && !localError) return;
    errorShown = Boolean(reason);
    localError = errorShown && local;
    error.textContent = reason ? (local ? reason : reasonText(reason)) : "";
    error.hidden = !errorShown;
    root.classList.toggle("invalid", errorShown);
    if (errorShown) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
    describe(control, describedBy());
  }

  return {
    item,
    root,
    labelId: ids.label,
    get: api.get,
    set: api.set,
    setError: (reason) => setError(reason),
    hasLocalError: () => localError,
    focus: api.focus,
  };
}

// --- the types ---------------------------------------------------------------------------------

function scale(item, base, changed) {
  const group = el("div", "fb-scale");
  group.setAttribute("role", "radiogroup");
  const inputs = [];
  const notes = el("ul", "fb-point-notes");

  const chip = (text, value, extraDescribe) => {
    const wrap = el("label", "fb-chip");
    const input = document.createElement("input");
    input.type = "radio";
    input.name = base;
    input.value = value;
    if (extraDescribe.length) input.setAttribute("aria-describedby", extraDescribe.join(" "));
    input.addEventListener("change", changed);
    wrap.append(input, el("span", "fb-chip-text", text));
    inputs.push(input);
    return wrap;
  };

  // Consecutive points of one band ("unsatisfactory" 1–3) sit under that band's name.
  let band = null;
  let row = null;
  item.points.forEach((point, index) => {
    if (!row || point.band !== band) {
      band = point.band ?? null;
      const box = el("div", "fb-band");
      if (band) {
        const name = el("span", "fb-band-name", band);
        name.id = `${base}-band-${index}`;
        box.append(name);
        box.dataset.band = name.id;
      }
      row = el("div", "fb-points");
      box.append(row);
      group.append(box);
    }
    const described = [];
    if (row.parentElement.dataset.band) described.push(row.parentElement.dataset.band);
    if (point.description) {
      const note = el("li", "", `${point.label}: ${point.description}`);
      note.id = `${base}-point-${index}`;
      notes.append(note);
      described.push(note.id);
    }
    row.append(chip(point.label, String(index), described));
  });
  let na = null;
  if (item.na_option) {
    const box = el("div", "fb-band fb-na");
    box.append(chip(item.na_option.label, "na", []));
    na = inputs[inputs.length - 1];
    group.append(box);
  }
  const node = el("div", "fb-scale-wrap");
  node.append(group);
  if (notes.children.length) node.append(notes);

  return {
    control: group,
    api: {
      node,
      get() {
        const checked = inputs.find((input) => input.checked);
        if (!checked) return undefined;
        if (checked === na) return null;
        return item.points[Number(checked.value)]?.value;
      },
      set(value) {
        for (const input of inputs) input.checked = false;
        if (value === undefined) return;
        if (value === null) {
          if (na) na.checked = true;
          return;
        }
        const index = item.points.findIndex((point) => point.value === value);
        if (index >= 0) inputs[index].checked = true;
      },
      focus() {
        (inputs.find((input) => input.checked) ?? inputs[0])?.focus();
      },
    },
  };
}

function choice(item, base, changed) {
  const group = el("div", "fb-options");
  group.setAttribute("role", item.multiple ? "group" : "radiogroup");
  const inputs = item.options.map((option, index) => {
    const row = el("label", "fb-option");
    const input = document.createElement("input");
    input.type = item.multiple ? "checkbox" : "radio";
    input.name = base;
    input.value = option.value;
    input.id = `${base}-option-${index}`;
    input.addEventListener("change", changed);
    row.append(input, el("span", "", option.label));
    group.append(row);
    return input;
  });
  return {
    control: group,
    api: {
      get() {
        const chosen = inputs.filter((input) => input.checked).map((input) => input.value);
        if (item.multiple) return chosen.length ? chosen : undefined;
        return chosen[0];
      },
      set(value) {
        const wanted = new Set(Array.isArray(value) ? value : value == null ? [] : [value]);
        for (const input of inputs) input.checked = wanted.has(input.value);
      },
      focus() {
        (inputs.find((input) => input.checked) ?? inputs[0])?.focus();
      },
    },
  };
}

function text(item, base, changed) {
  const input = document.createElement(item.multiline ? "textarea" : "input");
  if (item.multiline) input.rows = 3;
  else input.type = "text";
  input.id = `${base}-input`;
  input.maxLength = item.max_length ?? 5000;
  input.autocomplete = "off";
  input.addEventListener("input", changed);
  return {
    control: input,
    api: {
      get: () => (input.value === "" ? undefined : input.value),
      set(value) {
        input.value = typeof value === "string" ? value : "";
      },
      focus: () => input.focus(),
    },
  };
}

function number(item, base, changed, setLocalError) {
  const row = el("div", "fb-number");
  const input = document.createElement("input");
  input.type = "number";
  input.id = `${base}-input`;
  input.inputMode = "decimal";
  input.step = "any";
  if (item.min !== undefined && item.min !== null) input.min = String(item.min);
  if (item.max !== undefined && item.max !== null) input.max = String(item.max);
  row.append(input);
  const describedBy = [];
  const bounds = [item.min, item.max].every((v) => v !== undefined && v !== null)
    ? `${formatNumber(item.min)}–${formatNumber(item.max)}`
    : "";
  if (item.unit || bounds) {
    const unit = el("span", "fb-unit", [item.unit, bounds && `(${bounds})`].filter(Boolean).join(" "));
    unit.id = `${base}-unit`;
    describedBy.push(unit.id);
    row.append(unit);
  }
  const check = () => {
    if (input.value !== "" && !input.validity.valid) {
      const range = bounds ? `a number from ${bounds}${item.unit ? ` ${item.unit}` : ""}` : "a number";
      setLocalError(`Enter ${range}.`);
      return false;
    }
    setLocalError(null);
    return true;
  };
  input.addEventListener("input", () => {
    check();
    changed();
  });
  return {
    control: input,
    api: {
      node: row,
      describedBy,
      get() {
        if (input.value === "" || !input.validity.valid) return undefined;
        const value = Number(input.value);
        return Number.isFinite(value) ? value : undefined;
      },
      set(value) {
        input.value = typeof value === "number" ? String(value) : "";
      },
      focus: () => input.focus(),
    },
  };
}

function boolean(item, base, label, head, changed) {
  const input = document.createElement("input");
  input.type = "checkbox";
  input.id = `${base}-input`;
  let touched = false;
  input.addEventListener("change", () => {
    touched = true;
    changed();
  });
  label.htmlFor = input.id;
  label.classList.add("fb-check");
  head.prepend(input);
  return {
    control: input,
    api: {
      get: () => (touched ? input.checked : undefined),
      set(value) {
        touched = typeof value === "boolean";
        input.checked = value === true;
      },
      focus: () => input.focus(),
    },
  };
}
