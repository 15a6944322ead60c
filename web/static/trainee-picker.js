// Picks a trainee account by name: a search field and the matching accounts as buttons. The
// server answers mentors and admins only, with ids and names (never e-mails), ten at most, and
// needs two letters or more.

import { api, ApiError } from "/static/api.js";

const MIN_LETTERS = 2;
const PAUSE_MS = 250;

let count = 0;

function el(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children);
  return element;
}

/**
 * `label`: the field's label; `verb`: the button's first word ("Add Jane Okafor");
 * `skip()`: ids not to offer (already chosen); `pick(person)`: called with {id, name}.
 */
export function traineePicker({ label, verb = "Add", skip = () => new Set(), pick }) {
  const id = `trainee-search-${++count}`;
  const root = el("div", { className: "picker" });
  const input = el("input", { id, type: "search", autocomplete: "off", spellcheck: false, maxLength: 80 });
  const status = el("p", { id: `${id}-status`, className: "muted small picker-status" });
  status.setAttribute("role", "status");
  input.setAttribute("aria-describedby", status.id);
  const results = el("ul", { className: "picker-results" });
  results.setAttribute("aria-label", "Matching trainee accounts");
  root.append(el("label", { htmlFor: id, textContent: label }), input, status, results);

  let timer = null;
  let asked = 0;

  async function search() {
    const q = input.value.trim();
    const mine = ++asked;
    results.replaceChildren();
    if (q.length < MIN_LETTERS) {
      status.textContent = q ? `Type at least ${MIN_LETTERS} letters of the name.` : "";
      return;
    }
    status.textContent = "Searching…";
    let people;
    try {
      people = await api("GET", `/api/trainees?q=${encodeURIComponent(q)}`);
    } catch (err) {
      if (mine === asked) {
        status.textContent =
          err instanceof ApiError ? err.message : "Could not reach the server. Check your connection.";
      }
      return;
    }
    if (mine !== asked) return; // a newer search is under way
    const skipped = skip();
    const offered = people.filter((p) => !skipped.has(p.id));
    for (const person of offered) {
      const button = el("button", { type: "button", className: "secondary picker-choice" });
      button.textContent = `${verb} ${person.name}`;
      button.addEventListener("click", () => {
        input.value = "";
        results.replaceChildren();
        status.textContent = "";
        pick(person);
      });
      results.append(el("li", {}, button));
    }
    if (offered.length) {
      status.textContent = offered.length === 1 ? "1 trainee account found." : `${offered.length} trainee accounts found.`;
    } else if (people.length) {
      status.textContent = "Everyone who matches is already chosen.";
    } else {
      status.textContent = `No trainee account matches “${q}”. Check the spelling, or ask an admin to create the account.`;
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, PAUSE_MS);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    // Enter searches at once, and never submits the form around the picker.
    event.preventDefault();
    clearTimeout(timer);
    search();
  });

  return { root, input, reset() { input.value = ""; results.replaceChildren(); status.textContent = ""; } };
}
