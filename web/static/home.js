import { api, ApiError, setCsrfToken } from "/static/api.js";
import { byName, el, peoplePanel, problem, when } from "/static/home-people.js";
import { traineePicker } from "/static/trainee-picker.js";
import { forgetOfflineCopies, registerWorker } from "/static/offline.js";

const $ = (id) => document.getElementById(id);

let currentUser = null;
/** Sessions whose "People and links" panel is open: a re-render keeps it open. */
const openPanels = new Set();

/** `/?next=/sessions/…`: where to go once signed in (a path on this site only). */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next") ?? "";
  return /^\/(?![/\\])[\w\-./]*$/.test(next) ? next : null;
}

function show(section) {
  for (const id of ["loading", "sign-in", "home"]) $(id).hidden = id !== section;
}

function signedIn({ user, csrf_token }) {
  const next = nextPath();
  if (next) {
    // replace(): Back does not return to a sign-in form that is no longer needed.
    location.replace(next);
    return;
  }
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
  // Where each role goes next besides its sessions: supervisors review their trainees,
  // trainees follow their own progress, admins manage accounts (review.js, trainee.js, admin.js).
  const onward = {
    supervisor: ["/review", "Review your trainees"],
    trainee: [`/review/trainees/${encodeURIComponent(user.id)}`, "Your progress"],
    admin: ["/admin", "Administration"],
  }[user.role];
  $("onward-link")?.remove(); // another person may have signed in on this page before
  if (onward) {
    const [href, textContent] = onward;
    $("home-title").parentElement.append(Object.assign(document.createElement("a"), { id: "onward-link", className: "button", href, textContent }));
  }
  show("home");
  loadSessions();
}

function signedOut() {
  // Signed out (or found so): no copy of anyone's records stays on this device (sw.js).
  forgetOfflineCopies().catch(() => {});
  setCsrfToken(null);
  currentUser = null;
  $("whoami").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-form").reset();
  $("session-list").replaceChildren();
  $("sign-in-next").hidden = !nextPath();
  show("sign-in");
  $("email").focus();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("sign-in-error");
  error.hidden = true;
  const email = $("email").value.trim();
  if (!email || !$("password").value) {
    error.textContent = "Enter your e-mail and password.";
    error.hidden = false;
    (email ? $("password") : $("email")).focus();
    return;
  }
  const button = event.submitter ?? $("sign-in-form").querySelector("button");
  button.disabled = true;
  try {
    const session = await api("POST", "/api/auth/login", { email, password: $("password").value });
    await forgetOfflineCopies().catch(() => {}); // a new person's copies start empty
    signedIn(session);
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
    await forgetOfflineCopies().catch(() => {});
    signedOut();
  }
});

// --- sessions ------------------------------------------------------------------------------------

const STATUS_LABEL = { live: "Live", scheduled: "Scheduled", ended: "Ended" };
const STATUS_ORDER = { live: 0, scheduled: 1, ended: 2 };
/** How the session's video travels (DESIGN.md §3), as the "New session" form names it. */
const MODE_LABEL = { auto: "Automatic video", routed: "Video through the server", direct: "Direct video only" };

async function loadSessions(focusKey = null, sessionId = null) {
  const status = $("sessions-status");
  status.textContent = "Loading…";
  try {
    render(await api("GET", "/api/sessions"));
  } catch (err) {
    status.textContent = problem(err);
    return;
  }
  if (focusKey && sessionId) focusIn(sessionId, focusKey);
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

/** One session changed: rebuild its item in place and put the focus back where the person was. */
function replaceSession(session, focusKey) {
  const old = document.querySelector(`[data-session="${CSS.escape(session.id)}"]`);
  if (!old) return loadSessions(focusKey, session.id);
  old.replaceWith(sessionItem(session));
  if (focusKey) focusIn(session.id, focusKey);
}

function focusIn(sessionId, key) {
  const item = document.querySelector(`[data-session="${CSS.escape(sessionId)}"]`);
  item?.querySelector(`[data-focus="${key}"]`)?.focus();
}

function button(text, className = "secondary") {
  return el("button", { type: "button", className, textContent: text });
}

function sessionItem(session) {
  const can = new Set(session.can ?? []);
  const mine = session.mentor_id === currentUser?.id;
  const item = el("li", { className: "session-item" });
  item.dataset.session = session.id;
  const titleId = `session-${session.id}-title`;

  const badge = el("span", {
    className: `status status-${session.status}`,
    textContent: STATUS_LABEL[session.status] ?? session.status,
  });
  const head = el("div", { className: "session-head" }, el("span", { id: titleId, className: "session-title", textContent: session.title }), badge);

  const parts = [];
  if (!mine && session.mentor_name) parts.push(`with ${session.mentor_name}`);
  if (session.status === "scheduled" && session.scheduled_for) parts.push(`starts ${when(session.scheduled_for)}`);
  else if (session.status === "ended") parts.push(`ended ${when(session.ended_at)}`.trim());
  else parts.push(`created ${when(session.created_at)}`.trim());
  if (MODE_LABEL[session.media_mode]) parts.push(MODE_LABEL[session.media_mode]);
  const meta = el("p", { className: "muted small", textContent: parts.filter(Boolean).join(" · ") });

  const names = byName(session.trainees).map((t) => t.name).filter(Boolean);
  const trainees = el("p", { className: "small session-trainees" });
  if (names.length) trainees.textContent = `${names.length > 1 ? "Trainees" : "Trainee"}: ${names.join(", ")}`;
  else if (can.has("trainees.manage")) trainees.textContent = "No trainee account yet: add one under People and links to give feedback.";
  trainees.hidden = !trainees.textContent;

  const actions = el("div", { className: "session-actions" });
  const describe = (control) => {
    control.setAttribute("aria-describedby", titleId);
    return control;
  };
  if (session.status !== "ended") {
    actions.append(describe(el("a", { className: "button", href: `/sessions/${encodeURIComponent(session.id)}`, textContent: "Open" })));
  }
  actions.append(
    describe(el("a", { className: "button secondary-link", href: `/review/sessions/${encodeURIComponent(session.id)}`, textContent: "Record" })),
  );
  item.append(head, meta, trainees);
  // A direct session cannot be observed (its video never reaches the server): no setting to show.
  const observable = session.status !== "ended" && session.media_mode !== "direct";
  if (can.has("observers.configure") && observable) item.append(observersToggle(session, titleId));
  item.append(actions);

  let people = null;
  if (can.has("invites.manage")) {
    const invite = describe(button("Invite"));
    invite.setAttribute("aria-expanded", "false");
    actions.append(invite);
    const panel = invitePanel(session, () => people?.reloadInvites());
    item.append(panel.form, panel.result);
    invite.addEventListener("click", () => {
      // A link already shown: Invite starts another one.
      const opening = panel.form.hidden;
      invite.setAttribute("aria-expanded", String(opening));
      if (opening) panel.open();
      else panel.close();
    });
  }
  if (can.has("trainees.manage") || can.has("guests.manage")) {
    const toggle = describe(button("People and links"));
    people = peoplePanel(session, replaceSession);
    toggle.setAttribute("aria-controls", people.panel.id);
    const setOpen = (open) => {
      people.panel.hidden = !open;
      toggle.setAttribute("aria-expanded", String(open));
      if (open) {
        openPanels.add(session.id);
        people.load();
      } else openPanels.delete(session.id);
    };
    toggle.addEventListener("click", () => setOpen(people.panel.hidden));
    actions.append(toggle);
    item.append(people.panel);
    setOpen(openPanels.has(session.id));
  }
  if (can.has("session.end")) {
    const end = describe(button("End", "secondary danger"));
    actions.append(end);
    end.addEventListener("click", () => confirmEnd(session, end));
  }
  return item;
}

/** The session's observer setting, changed in place (a call in progress follows at once). */
function observersToggle(session, titleId) {
  const id = `session-${session.id}-observers`;
  const box = el("input", { id, type: "checkbox", checked: Boolean(session.observers_hidden) });
  box.dataset.focus = "observers";
  box.setAttribute("aria-describedby", titleId);
  const row = el("label", { className: "choice-option small", htmlFor: id }, box, " Supervisors may observe without the trainee seeing them");
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      const changed = await api("PUT", `/api/sessions/${encodeURIComponent(session.id)}/observers`, { hidden: box.checked });
      replaceSession(changed, "observers");
    } catch (err) {
      box.checked = !box.checked;
      box.disabled = false;
      $("sessions-status").textContent = problem(err);
    }
  });
  return row;
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
    .then(() => loadSessions())
    .catch((err) => {
      $("sessions-status").textContent = problem(err);
      endButton.disabled = false;
    });
}

/** Invite: for one of the session's trainee accounts, or for a guest by name. */
function invitePanel(session, made) {
  const base = `invite-${session.id}`;
  const form = el("form", { className: "invite-form", noValidate: true, hidden: true });
  const listed = session.trainees ?? [];
  let forWhom = null;
  if (listed.length) {
    forWhom = el("select", { id: `${base}-for` });
    for (const trainee of listed) forWhom.append(el("option", { value: trainee.id, textContent: `${trainee.name} (signs in to their account)` }));
    forWhom.append(el("option", { value: "", textContent: "A guest, by name" }));
    form.append(el("label", { htmlFor: forWhom.id, textContent: "Who is it for?" }), forWhom);
  }
  const nameRow = el("div");
  const name = el("input", { id: `${base}-name`, type: "text", maxLength: 80, autocomplete: "off" });
  nameRow.append(el("label", { htmlFor: name.id, textContent: "Invitee name" }), name);
  const note = el("p", { className: "muted small" });
  const error = el("p", { className: "error", hidden: true });
  error.setAttribute("role", "alert");
  form.append(nameRow, note, error, el("button", { type: "submit", textContent: "Create invite" }));

  const sync = () => {
    const account = Boolean(forWhom?.value);
    nameRow.hidden = account;
    note.textContent = account
      ? "The link asks them to sign in, so feedback and the record are theirs. Without signing in they join as a guest."
      : "A guest can join the call and read the notes once you let them in, but cannot receive feedback.";
  };
  forWhom?.addEventListener("change", sync);
  sync();

  const result = el("div", { className: "invite-result", hidden: true });
  const link = el("input", { id: `${base}-link`, type: "text", readOnly: true });
  const copy = button("Copy link", "");
  const expiry = el("p", { className: "muted small" });
  result.append(el("label", { htmlFor: link.id, textContent: "Invite link" }), el("div", { className: "copy-row" }, link, copy), expiry);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = forWhom?.value ? { trainee_id: forWhom.value } : { name: name.value.trim() };
    if (!body.trainee_id && !body.name) {
      error.textContent = "Enter the name of the person you are inviting.";
      error.hidden = false;
      name.focus();
      return;
    }
    const create = form.querySelector("button[type=submit]");
    create.disabled = true;
    try {
      const invite = await api("POST", `/api/sessions/${encodeURIComponent(session.id)}/invites`, body);
      link.value = invite.url;
      expiry.textContent = `For ${invite.name}. Expires ${when(invite.expires_at)}.`;
      form.hidden = true;
      result.hidden = false;
      link.focus();
      link.select();
      made();
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
      link.value = "";
      form.hidden = false;
      name.value = "";
      (forWhom ?? name).focus();
    },
    close() {
      form.hidden = true;
      result.hidden = true;
    },
  };
}

// --- new session ---------------------------------------------------------------------------------

/** Trainee accounts chosen for the new session, in the order picked. */
const chosen = new Map();

function renderChosen() {
  const list = $("new-session-trainees");
  list.replaceChildren();
  for (const [id, name] of chosen) {
    const remove = button("Remove", "secondary");
    remove.setAttribute("aria-label", `Remove ${name}`);
    remove.addEventListener("click", () => {
      chosen.delete(id);
      renderChosen();
      picker.input.focus();
    });
    list.append(el("li", {}, el("span", { className: "people-name", textContent: name }), remove));
  }
  list.hidden = chosen.size === 0;
}

const picker = traineePicker({
  label: "Trainees (optional)",
  skip: () => new Set(chosen.keys()),
  pick: (person) => {
    chosen.set(person.id, person.name);
    renderChosen();
    picker.input.focus();
  },
});
$("new-session-picker").append(picker.root);

// "Direct only" sessions cannot be observed: the observers setting goes with that choice.
function showObserversChoice(shown) {
  $("session-observers-hidden").closest("label").hidden = !shown;
  $("observers-help").hidden = !shown;
}
$("new-session-form").addEventListener("change", (event) => {
  if (event.target.name === "media_mode") showObserversChoice(event.target.value !== "direct");
});
$("new-session-form").addEventListener("reset", () => showObserversChoice(true));

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
  const mode = $("new-session-form").elements.namedItem("media_mode")?.value || "auto";
  const body = {
    title,
    trainee_ids: [...chosen.keys()],
    media_mode: mode,
    observers_hidden: mode !== "direct" && $("session-observers-hidden").checked,
  };
  const start = $("session-start").value;
  if (start) {
    const at = new Date(start).getTime();
    if (Number.isNaN(at)) {
      error.textContent = "The start time is not a date and time. Pick one, or leave it empty.";
      error.hidden = false;
      $("session-start").focus();
      return;
    }
    body.scheduled_for = at / 1000;
  }
  const submit = $("new-session-form").querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    await api("POST", "/api/sessions", body);
    $("new-session-form").reset();
    chosen.clear();
    renderChosen();
    picker.reset();
    await loadSessions();
  } catch (err) {
    error.textContent = problem(err);
    error.hidden = false;
  } finally {
    submit.disabled = false;
  }
});

registerWorker();
try {
  const me = await api("GET", "/api/me");
  // A guest's visit (from an invite link) asked to sign in to an account: offer the form.
  if (me.scope_session_id && nextPath()) signedOut();
  else signedIn(me);
} catch (err) {
  if (err instanceof ApiError && err.status === 401) signedOut();
  else {
    $("loading").textContent = "Could not reach the server. Reload to try again.";
  }
}
