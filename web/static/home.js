import { api, ApiError, setCsrfToken } from "/static/api.js";

const $ = (id) => document.getElementById(id);

let currentUser = null;

function show(section) {
  for (const id of ["loading", "sign-in", "home"]) $(id).hidden = id !== section;
}

function signedIn({ user, csrf_token }) {
  setCsrfToken(csrf_token);
  currentUser = user;
  $("home-name").textContent = user.name;
  $("home-role").textContent = user.role;
  $("whoami").textContent = user.email;
  $("whoami").hidden = !user.email;
  $("sign-out").hidden = false;
  const mentor = user.role === "mentor";
  $("new-session").hidden = !mentor;
  $("sessions-title").textContent = mentor ? "Your sessions" : "Sessions";
  show("home");
  loadSessions();
}

function signedOut() {
  setCsrfToken(null);
  currentUser = null;
  $("whoami").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-form").reset();
  $("session-list").replaceChildren();
  show("sign-in");
  $("email").focus();
}

function problem(err) {
  return err instanceof ApiError ? err.message : "Could not reach the server. Check your connection.";
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("sign-in-error");
  error.hidden = true;
  const button = event.submitter ?? $("sign-in-form").querySelector("button");
  button.disabled = true;
  try {
    signedIn(
      await api("POST", "/api/auth/login", {
        email: $("email").value.trim(),
        password: $("password").value,
      }),
    );
  } catch (err) {
    error.textContent = problem(err);
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/logout");
  } finally {
    signedOut();
  }
});

// --- sessions ------------------------------------------------------------------------------------

const STATUS_LABEL = { live: "Live", scheduled: "Scheduled", ended: "Ended" };
const STATUS_ORDER = { live: 0, scheduled: 1, ended: 2 };

function when(value) {
  if (value === null || value === undefined) return "";
  const date = new Date(typeof value === "number" ? value * 1000 : value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

async function loadSessions() {
  const status = $("sessions-status");
  status.textContent = "Loading…";
  try {
    render(await api("GET", "/api/sessions"));
  } catch (err) {
    status.textContent = problem(err);
  }
}

function render(sessions) {
  const list = $("session-list");
  list.replaceChildren();
  const sorted = [...sessions].sort(
    (a, b) =>
      (STATUS_ORDER[a.status] ?? 3) - (STATUS_ORDER[b.status] ?? 3) ||
      (b.created_at ?? 0) - (a.created_at ?? 0),
  );
  for (const session of sorted) list.append(sessionItem(session));
  $("sessions-status").textContent = sessions.length === 0 ? "No sessions yet." : "";
}

function button(text, className = "secondary") {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  return element;
}

function sessionItem(session) {
  const mine = currentUser?.role === "mentor" && session.mentor_id === currentUser.id;
  const item = document.createElement("li");
  item.className = "session-item";
  const titleId = `session-${session.id}-title`;

  const head = document.createElement("div");
  head.className = "session-head";
  const title = document.createElement("span");
  title.id = titleId;
  title.className = "session-title";
  title.textContent = session.title;
  const badge = document.createElement("span");
  badge.className = `status status-${session.status}`;
  badge.textContent = STATUS_LABEL[session.status] ?? session.status;
  head.append(title, badge);

  const meta = document.createElement("p");
  meta.className = "muted small";
  const parts = [];
  if (!mine && session.mentor_name) parts.push(`with ${session.mentor_name}`);
  if (session.status === "scheduled" && session.scheduled_for) parts.push(when(session.scheduled_for));
  else if (session.status === "ended") parts.push(`ended ${when(session.ended_at)}`.trim());
  else parts.push(`created ${when(session.created_at)}`.trim());
  meta.textContent = parts.filter(Boolean).join(" · ");

  const actions = document.createElement("div");
  actions.className = "session-actions";
  const open = document.createElement("a");
  open.className = "button";
  open.href = `/sessions/${encodeURIComponent(session.id)}`;
  open.textContent = "Open";
  open.setAttribute("aria-describedby", titleId);
  const record = document.createElement("a");
  record.className = "button secondary-link";
  record.href = `/review/sessions/${encodeURIComponent(session.id)}`;
  record.textContent = "Record";
  record.setAttribute("aria-describedby", titleId);
  actions.append(open, record);
  item.append(head, meta, actions);

  if (mine && session.status !== "ended") {
    const invite = button("Invite");
    const end = button("End", "secondary danger");
    for (const b of [invite, end]) b.setAttribute("aria-describedby", titleId);
    actions.append(invite, end);
    const panel = invitePanel(session);
    item.append(panel.form, panel.result);
    invite.addEventListener("click", () => panel.open());
    end.addEventListener("click", () => confirmEnd(session, end));
  }
  return item;
}

/** "End" asks once more before ending a session for everyone in it. */
function confirmEnd(session, endButton) {
  if (endButton.dataset.confirm !== "yes") {
    endButton.dataset.confirm = "yes";
    endButton.textContent = "Confirm end";
    setTimeout(() => {
      endButton.dataset.confirm = "";
      endButton.textContent = "End";
    }, 5000);
    return;
  }
  endButton.disabled = true;
  api("POST", `/api/sessions/${encodeURIComponent(session.id)}/end`)
    .then(loadSessions)
    .catch((err) => {
      $("sessions-status").textContent = problem(err);
      endButton.disabled = false;
    });
}

function invitePanel(session) {
  const base = `invite-${session.id}`;
  const form = document.createElement("form");
  form.className = "invite-form";
  form.noValidate = true;
  form.hidden = true;
  const label = Object.assign(document.createElement("label"), { htmlFor: `${base}-name`, textContent: "Invitee name" });
  const name = Object.assign(document.createElement("input"), { id: `${base}-name`, type: "text", maxLength: 80 });
  name.autocomplete = "off";
  const error = Object.assign(document.createElement("p"), { className: "error", hidden: true });
  error.setAttribute("role", "alert");
  const create = Object.assign(document.createElement("button"), { type: "submit", textContent: "Create invite" });
  form.append(label, name, error, create);

  const result = document.createElement("div");
  result.className = "invite-result";
  result.hidden = true;
  const linkLabel = Object.assign(document.createElement("label"), { htmlFor: `${base}-link`, textContent: "Invite link" });
  const row = Object.assign(document.createElement("div"), { className: "copy-row" });
  const link = Object.assign(document.createElement("input"), { id: `${base}-link`, type: "text", readOnly: true });
  const copy = button("Copy link", "");
  row.append(link, copy);
  const expiry = Object.assign(document.createElement("p"), { className: "muted small" });
  result.append(linkLabel, row, expiry);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    if (!name.value.trim()) {
      error.textContent = "Enter the name of the person you are inviting.";
      error.hidden = false;
      name.focus();
      return;
    }
    create.disabled = true;
    const body = { name: name.value.trim() };
    try {
      const invite = await api("POST", `/api/sessions/${encodeURIComponent(session.id)}/invites`, body);
      link.value = invite.url;
      expiry.textContent = invite.expires_at ? `Expires ${when(invite.expires_at)}` : "";
      form.hidden = true;
      result.hidden = false;
      link.focus();
      link.select();
    } catch (err) {
      error.textContent = problem(err);
      error.hidden = false;
    } finally {
      create.disabled = false;
    }
  });

  copy.addEventListener("click", async () => {
    link.select();
    try {
      await navigator.clipboard.writeText(link.value);
    } catch {
      document.execCommand?.("copy");
    }
    copy.textContent = "Copied";
    setTimeout(() => {
      copy.textContent = "Copy link";
    }, 2000);
  });

  return {
    form,
    result,
    open() {
      result.hidden = true;
      form.hidden = false;
      name.value = "";
      name.focus();
    },
  };
}

$("new-session-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("new-session-error");
  error.hidden = true;
  const title = $("session-title").value.trim();
  if (!title) {
    error.textContent = "Give the session a title.";
    error.hidden = false;
    $("session-title").focus();
    return;
  }
  const submit = $("new-session-form").querySelector("button");
  submit.disabled = true;
  try {
    await api("POST", "/api/sessions", { title });
    $("new-session-form").reset();
    await loadSessions();
  } catch (err) {
    error.textContent = problem(err);
    error.hidden = false;
  } finally {
    submit.disabled = false;
  }
});

try {
  signedIn(await api("GET", "/api/me"));
} catch (err) {
  if (err instanceof ApiError && err.status === 401) signedOut();
  else {
    $("loading").textContent = "Could not reach the server. Reload to try again.";
  }
}
