// The home page's "People and links" panel of one session, for its mentor: the trainee accounts
// listed (add one, take one off while no feedback names them), the invite links (uses, expiry,
// Withdraw) and the guests let in, each of whom can be linked to the trainee account they turned
// out to have. What the mentor may do comes from the session's `can` (the server's policy).

import { api, ApiError } from "/static/api.js";
import { traineePicker } from "/static/trainee-picker.js";

export function el(tag, props = {}, ...children) {
  const element = Object.assign(document.createElement(tag), props);
  element.append(...children);
  return element;
}

export function problem(err) {
  return err instanceof ApiError ? sentence(err.message) : "Could not reach the server. Check your connection and try again.";
}

/** The API's reasons are lower-case clauses; on the page they read as sentences. */
export function sentence(text) {
  const trimmed = (text ?? "").trim();
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

export function when(value) {
  if (value === null || value === undefined) return "";
  const date = new Date(typeof value === "number" ? value * 1000 : value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export function byName(people) {
  return [...(people ?? [])].sort((a, b) => a.name.localeCompare(b.name));
}

const INVITE_STATE = {
  revoked: "Withdrawn",
  denied: "Withdrawn: you denied someone who used it",
  expired: "Expired",
  "used-up": "Used up",
};

/** One button that asks once more ("Confirm …") before it acts. */
function confirming(text, confirmText, act, className = "secondary danger") {
  const button = el("button", { type: "button", className, textContent: text });
  button.addEventListener("click", async () => {
    if (button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = confirmText;
      setTimeout(() => {
        button.dataset.confirm = "";
        button.textContent = text;
      }, 5000);
      return;
    }
    button.disabled = true;
    await act();
    button.disabled = false;
  });
  return button;
}

/**
 * `session`: as the API gives it; `changed(session?)`: the session changed (re-render it).
 * Returns the panel element; its lists load when it is first shown (`load()`).
 */
export function peoplePanel(session, changed) {
  const base = `people-${session.id}`;
  const can = new Set(session.can ?? []);
  const panel = el("div", { className: "people-panel", id: base, hidden: true });
  const error = el("p", { className: "error", hidden: true });
  error.setAttribute("role", "alert");
  const sessionPath = `/api/sessions/${encodeURIComponent(session.id)}`;

  function fail(err) {
    error.textContent = problem(err);
    error.hidden = false;
  }

  async function act(method, path, body) {
    error.hidden = true;
    try {
      return await api(method, path, body);
    } catch (err) {
      fail(err);
      return undefined;
    }
  }

  // --- trainees ------------------------------------------------------------------------------
  const trainees = el("section", { className: "people-section" });
  trainees.setAttribute("aria-labelledby", `${base}-trainees`);
  trainees.append(el("h3", { id: `${base}-trainees`, textContent: "Trainees" }));
  const traineeList = el("ul", { className: "people-list" });
  for (const trainee of byName(session.trainees)) {
    const row = el("li", {}, el("span", { className: "people-name", textContent: trainee.name }));
    if (can.has("trainees.manage")) {
      const remove = el("button", { type: "button", className: "secondary", textContent: "Remove" });
      remove.setAttribute("aria-label", `Remove ${trainee.name}`);
      remove.addEventListener("click", async () => {
        remove.disabled = true;
        const updated = await act("DELETE", `${sessionPath}/trainees/${encodeURIComponent(trainee.id)}`);
        if (updated) changed(updated, "add-trainee");
        else remove.disabled = false;
      });
      row.append(remove);
    }
    traineeList.append(row);
  }
  trainees.append(traineeList);
  if (!session.trainees?.length) {
    trainees.append(
      el("p", { className: "muted small", textContent: "None listed yet. Find a trainee account below to give them feedback." }),
    );
  }
  if (can.has("trainees.manage")) {
    const picker = traineePicker({
      label: "Add a trainee",
      skip: () => new Set((session.trainees ?? []).map((t) => t.id)),
      pick: async (person) => {
        const updated = await act("POST", `${sessionPath}/trainees`, { trainee_id: person.id });
        if (updated) changed(updated, "add-trainee");
      },
    });
    picker.input.dataset.focus = "add-trainee";
    trainees.append(picker.root);
  }

  // --- invite links --------------------------------------------------------------------------
  const invites = el("section", { className: "people-section" });
  invites.setAttribute("aria-labelledby", `${base}-invites`);
  invites.append(
    el("h3", { id: `${base}-invites`, textContent: "Invitations" }),
    el("p", {
      className: "muted small",
      textContent:
        "Withdrawing a link signs out everyone who came in through it. Denying someone in the lobby withdraws the link they used, so it cannot knock again; people already in keep their place.",
    }),
  );
  const inviteList = el("ul", { className: "people-list" });
  const invitesStatus = el("p", { className: "muted small" });
  invites.append(inviteList, invitesStatus);

  async function loadInvites() {
    invitesStatus.textContent = "Loading…";
    const listed = await act("GET", `${sessionPath}/invites`);
    if (!listed) return;
    inviteList.replaceChildren();
    invitesStatus.textContent = listed.length ? "" : "No invite links yet. Use Invite to make one.";
    for (const invite of [...listed].reverse()) inviteList.append(inviteRow(invite));
  }

  function inviteRow(invite) {
    const name = invite.name || "Someone";
    const row = el("li", { className: "invite-row" });
    const who = el("span", { className: "people-name", textContent: name });
    if (invite.trainee_id) who.append(" ", el("span", { className: "tag", textContent: "account" }));
    const facts = [`Used ${invite.uses} of ${invite.max_uses}`];
    if (invite.state === "open") facts.push(`expires ${when(invite.expires_at)}`);
    else facts.push(INVITE_STATE[invite.state] ?? invite.state);
    row.append(el("span", { className: "people-detail" }, who, el("span", { className: "muted small", textContent: facts.join(" · ") })));
    if (invite.state === "open" && can.has("invites.manage")) {
      const withdraw = confirming("Withdraw", "Confirm withdraw", async () => {
        const done = await act("POST", `${sessionPath}/invites/${encodeURIComponent(invite.id)}/revoke`);
        if (done !== undefined) await loadInvites();
      });
      withdraw.setAttribute("aria-label", `Withdraw the link for ${name}`);
      row.append(withdraw);
    }
    return row;
  }

  // --- guests let in -------------------------------------------------------------------------
  const guests = el("section", { className: "people-section" });
  guests.setAttribute("aria-labelledby", `${base}-guests`);
  guests.append(
    el("h3", { id: `${base}-guests`, textContent: "Guests let in" }),
    el("p", {
      className: "muted small",
      textContent:
        "If a guest has a trainee account, link them to it: the account is added to this session, so your feedback and the record follow the person. They sign in to read feedback.",
    }),
  );
  const guestList = el("ul", { className: "people-list" });
  const guestsStatus = el("p", { className: "muted small" });
  guests.append(guestList, guestsStatus);

  async function loadGuests() {
    guestsStatus.textContent = "Loading…";
    const listed = await act("GET", `${sessionPath}/guests`);
    if (!listed) return;
    guestList.replaceChildren();
    guestsStatus.textContent = listed.length ? "" : "Nobody has come in through an invite link yet.";
    for (const guest of listed) guestList.append(guestRow(guest));
  }

  function guestRow(guest) {
    const row = el("li", { className: "guest-row" });
    const facts = [`let in ${when(guest.admitted_at)}`];
    if (guest.linked_to) facts.push(`linked to ${guest.linked_to.name}'s account`);
    row.append(
      el("span", { className: "people-detail" },
        el("span", { className: "people-name", textContent: guest.name }),
        el("span", { className: "muted small", textContent: facts.join(" · ") }),
      ),
    );
    const link = (traineeId) =>
      act("POST", `${sessionPath}/guests/${encodeURIComponent(guest.id)}/link`, { trainee_id: traineeId });
    if (guest.linked_to) {
      const unlink = el("button", { type: "button", className: "secondary", textContent: "Unlink" });
      unlink.setAttribute("aria-label", `Unlink ${guest.name} from ${guest.linked_to.name}'s account`);
      unlink.addEventListener("click", async () => {
        if (await link(null)) await loadGuests();
      });
      row.append(unlink);
      return row;
    }
    const open = el("button", { type: "button", className: "secondary", textContent: "Link to an account" });
    open.setAttribute("aria-label", `Link ${guest.name} to an account`);
    open.setAttribute("aria-expanded", "false");
    const picker = traineePicker({
      label: `Which trainee account is ${guest.name}?`,
      verb: "Link to",
      pick: async (person) => {
        if (await link(person.id)) {
          const updated = await act("GET", sessionPath);
          if (updated) changed(updated, "guests");
        }
      },
    });
    picker.root.hidden = true;
    picker.root.classList.add("guest-picker");
    open.addEventListener("click", () => {
      const opening = picker.root.hidden;
      picker.root.hidden = !opening;
      open.setAttribute("aria-expanded", String(opening));
      if (opening) picker.input.focus();
    });
    row.append(open, picker.root);
    return row;
  }
  guests.dataset.focus = "guests";
  guests.tabIndex = -1;

  panel.append(error, trainees);
  if (can.has("invites.list")) panel.append(invites);
  if (can.has("guests.manage")) panel.append(guests);

  return {
    panel,
    reloadInvites: loadInvites,
    load() {
      if (can.has("invites.list")) loadInvites();
      if (can.has("guests.manage")) loadGuests();
    },
  };
}
