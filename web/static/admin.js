// The admin page (/admin): accounts, supervisor assignments and the audit-log check — what the
// `preceptor` command does, for people who do not use a terminal. Admins only; the server
// refuses everyone else too, this page just says so in words.

import { api, ApiError, setCsrfToken } from "/static/api.js";

const $ = (id) => document.getElementById(id);

const ROLE_LABEL = { admin: "Admin", mentor: "Mentor", trainee: "Trainee", supervisor: "Supervisor" };

let me = null;
let accounts = [];
let resetOpener = null;

function problem(err) {
  return err instanceof ApiError ? err.message : "Could not reach the server; check your connection and try again.";
}

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** A button whose accessible name says what it acts on: "Disable" + hidden " Dr Ada". */
function actionButton(text, subject, className = "secondary") {
  const button = el("button", { type: "button", className });
  button.append(text, el("span", { className: "visually-hidden", textContent: ` ${subject}` }));
  return button;
}

function refuse(title, text, linkText) {
  $("refused-title").textContent = title;
  $("refused-text").textContent = text;
  $("refused-link").textContent = linkText;
  $("loading").hidden = true;
  $("refused").hidden = false;
}

// --- accounts ------------------------------------------------------------------------------------

async function loadAccounts() {
  $("accounts-status").textContent = "Loading…";
  try {
    accounts = await api("GET", "/api/admin/users");
    renderAccounts();
    renderAssignChoices();
    $("accounts-status").textContent = accounts.length === 1 ? "1 account." : `${accounts.length} accounts.`;
  } catch (err) {
    $("accounts-status").textContent = problem(err);
  }
}

function renderAccounts() {
  const rows = accounts.map((user) => {
    const status = user.disabled
      ? el("span", { className: "account-state disabled", textContent: "Disabled" })
      : el("span", { className: "account-state active", textContent: "Active" });
    const actions = el("td", { className: "actions" });
    if (user.id !== me.id) {
      const toggle = actionButton(user.disabled ? "Enable" : "Disable", user.name, user.disabled ? "secondary" : "secondary danger");
      toggle.addEventListener("click", () => setDisabled(user, toggle));
      actions.append(toggle);
    }
    if (!user.disabled) {
      const reset = actionButton("Reset password", user.name);
      reset.addEventListener("click", () => makeResetLink(user, reset));
      actions.append(reset);
    }
    const row = el(
      "tr",
      { className: user.disabled ? "is-disabled" : "" },
      el("td", { className: "name", textContent: user.name }),
      el("td", { textContent: user.email }),
      el("td", { textContent: ROLE_LABEL[user.role] ?? user.role }),
      el("td", {}, status),
      actions,
    );
    return row;
  });
  $("account-rows").replaceChildren(...rows);
}

async function setDisabled(user, button) {
  // Disabling ends someone's calls at once: ask once more, as "End" does on the home page.
  if (!user.disabled && button.dataset.confirm !== "yes") {
    button.dataset.confirm = "yes";
    button.firstChild.textContent = "Confirm disable";
    setTimeout(() => {
      if (!button.isConnected) return;
      button.dataset.confirm = "";
      button.firstChild.textContent = "Disable";
    }, 5000);
    return;
  }
  button.disabled = true;
  const action = user.disabled ? "enable" : "disable";
  try {
    await api("POST", `/api/admin/users/${encodeURIComponent(user.id)}/${action}`);
    await loadAccounts();
    $("accounts-status").textContent = `${user.name} is ${action}d.`;
  } catch (err) {
    $("accounts-status").textContent = problem(err);
    button.disabled = false;
  }
}

async function makeResetLink(user, button) {
  button.disabled = true;
  try {
    const link = await api("POST", `/api/admin/users/${encodeURIComponent(user.id)}/password-reset`);
    $("reset-title").textContent = `Password reset link for ${user.name}`;
    $("reset-link").value = link.url;
    $("reset-expiry").textContent = new Date(link.expires_at * 1000).toLocaleString([], {
      dateStyle: "medium",
      timeStyle: "short",
    });
    $("reset-result").hidden = false;
    resetOpener = user.id;
    $("reset-link").focus();
    $("reset-link").select();
  } catch (err) {
    $("accounts-status").textContent = problem(err);
  } finally {
    button.disabled = false;
  }
}

$("reset-copy").addEventListener("click", async () => {
  $("reset-link").select();
  try {
    await navigator.clipboard.writeText($("reset-link").value);
    $("reset-copy").textContent = "Copied";
  } catch {
    $("reset-copy").textContent = "Select and copy the link";
  }
  setTimeout(() => {
    $("reset-copy").textContent = "Copy link";
  }, 2000);
});

$("reset-done").addEventListener("click", () => {
  // The link is not kept anywhere: once closed, a new one must be made (which spends this one).
  $("reset-link").value = "";
  $("reset-result").hidden = true;
  // Back where the person was: the same account's "Reset password" button.
  const row = accounts.findIndex((u) => u.id === resetOpener);
  $("account-rows").children[row]?.querySelector("td.actions button:last-child")?.focus();
});

$("new-account").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("new-account-error");
  error.hidden = true;
  const body = {
    name: $("new-name").value.trim(),
    email: $("new-email").value.trim(),
    role: $("new-role").value,
    password: $("new-password").value,
  };
  const submit = event.submitter ?? $("new-account").querySelector("button");
  submit.disabled = true;
  try {
    const user = await api("POST", "/api/admin/users", body);
    $("new-account").reset();
    await loadAccounts();
    $("accounts-status").textContent = `Created ${ROLE_LABEL[user.role].toLowerCase()} account for ${user.name}.`;
  } catch (err) {
    error.textContent = problem(err);
    error.hidden = false;
    const field = err instanceof ApiError && err.fields ? Object.keys(err.fields)[0] : null;
    const input = { name: "new-name", email: "new-email", role: "new-role", password: "new-password" }[field];
    if (input) $(input).focus();
  } finally {
    submit.disabled = false;
  }
});

// --- supervisor assignments ---------------------------------------------------------------------

function renderAssignChoices() {
  for (const [id, role] of [
    ["assign-supervisor", "supervisor"],
    ["assign-trainee", "trainee"],
  ]) {
    const select = $(id);
    const chosen = select.value;
    const people = accounts.filter((u) => u.role === role && !u.disabled);
    select.replaceChildren(
      ...(people.length
        ? people.map((u) => el("option", { value: u.id, textContent: `${u.name} (${u.email})` }))
        : [el("option", { value: "", textContent: `No active ${role} accounts` })]),
    );
    if (people.some((u) => u.id === chosen)) select.value = chosen;
  }
}

async function loadAssignments() {
  try {
    const pairs = await api("GET", "/api/admin/assignments");
    const items = pairs.map((pair) => {
      const remove = actionButton("Unassign", `${pair.trainee_name} from ${pair.supervisor_name}`);
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        try {
          await api(
            "DELETE",
            `/api/admin/assignments/${encodeURIComponent(pair.supervisor_id)}/${encodeURIComponent(pair.trainee_id)}`,
          );
          await loadAssignments();
          $("assign-status").textContent = `${pair.supervisor_name} no longer follows ${pair.trainee_name}.`;
        } catch (err) {
          $("assign-status").textContent = problem(err);
          remove.disabled = false;
        }
      });
      const text = el("span", { className: "pair" });
      text.append(
        el("strong", { textContent: pair.supervisor_name }),
        " follows ",
        el("strong", { textContent: pair.trainee_name }),
      );
      return el("li", {}, text, remove);
    });
    $("assignment-list").replaceChildren(...items);
    if (!pairs.length) $("assign-status").textContent = "No trainee is assigned to a supervisor yet.";
  } catch (err) {
    $("assign-status").textContent = problem(err);
  }
}

$("assign").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("assign-error");
  error.hidden = true;
  const supervisor_id = $("assign-supervisor").value;
  const trainee_id = $("assign-trainee").value;
  if (!supervisor_id || !trainee_id) {
    error.textContent = "Pick a supervisor and a trainee; create their accounts first if they are missing.";
    error.hidden = false;
    return;
  }
  const submit = event.submitter ?? $("assign").querySelector("button");
  submit.disabled = true;
  try {
    await api("POST", "/api/admin/assignments", { supervisor_id, trainee_id });
    await loadAssignments();
    const name = (id) => accounts.find((u) => u.id === id)?.name ?? "";
    $("assign-status").textContent = `${name(supervisor_id)} now follows ${name(trainee_id)}.`;
  } catch (err) {
    error.textContent = problem(err);
    error.hidden = false;
  } finally {
    submit.disabled = false;
  }
});

// --- audit chain ---------------------------------------------------------------------------------

$("audit-check").addEventListener("click", async () => {
  const button = $("audit-check");
  const result = $("audit-result");
  button.disabled = true;
  result.className = "";
  result.textContent = "Checking…";
  try {
    const check = await api("GET", "/api/admin/audit/verify");
    const events = check.checked === 1 ? "1 entry" : `${check.checked} entries`;
    if (check.intact) {
      result.className = "audit-ok";
      result.textContent = `The audit log is intact: ${events} checked, none changed or missing.`;
    } else {
      result.className = "error";
      result.textContent =
        `The audit log was altered at entry ${check.first_break.seq} (${check.first_break.reason}). ` +
        "Keep a copy of the database as it is and tell whoever is responsible for security.";
    }
  } catch (err) {
    result.className = "error";
    result.textContent = problem(err);
  } finally {
    button.disabled = false;
  }
});

// --- start ---------------------------------------------------------------------------------------

try {
  const session = await api("GET", "/api/me");
  me = session.user;
  setCsrfToken(session.csrf_token);
  $("whoami").textContent = me.email || me.name;
  $("whoami").hidden = false;
  if (me.role !== "admin" || session.scope_session_id) {
    refuse(
      "This page is for administrators",
      `You are signed in as ${me.name}, who is not an administrator. An administrator can change accounts for you.`,
      "Go to the home page",
    );
  } else {
    $("loading").hidden = true;
    $("admin").hidden = false;
    await Promise.all([loadAccounts(), loadAssignments()]);
  }
} catch (err) {
  if (err instanceof ApiError && err.status === 401) {
    refuse(
      "Sign in first",
      "The administration page needs an administrator's sign-in. Sign in on the home page, then open this page again.",
      "Go to sign-in",
    );
  } else {
    refuse("The page could not load", problem(err), "Go to the home page");
  }
}
