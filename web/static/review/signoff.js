// A supervisor's sign-off of one feedback form, used on the session record and in the review
// queue: countersign with an optional comment, or return the form to its mentor with a reason
// (the mentor revises it as an amendment, which comes back to the queue).

import { api, ApiError } from "/static/api.js";
import { el, newPrefix } from "/static/feedback/fields.js";

function failure(err) {
  return err instanceof ApiError ? err.message : "Could not reach the server. Check your connection and try again.";
}

function labelled(prefix, name, text, rows) {
  const label = el("label", "", text);
  const box = document.createElement("textarea");
  box.id = `${prefix}-${name}`;
  box.rows = rows;
  box.maxLength = 5000;
  label.htmlFor = box.id;
  return [label, box];
}

/**
 * @param {object} form the API's feedback form (with `can`)
 * @param {object} o
 * @param {(form: object, done: "countersigned" | "returned") => void} o.onDone
 * @param {string} [o.describedBy] the id of the form's title, so each button says which form
 */
export function signOffBox(form, { onDone, describedBy }) {
  const can = form.can ?? [];
  const box = el("div", "signoff");
  if (!can.includes("form.countersign") && !can.includes("form.return")) return box;
  const prefix = newPrefix();
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;

  const [commentLabel, comment] = labelled(prefix, "comment", "Comment (optional)", 2);
  const sign = el("button", "wide", "Countersign");
  sign.type = "button";
  if (describedBy) sign.setAttribute("aria-describedby", describedBy);

  const toggle = el("button", "secondary", "Return to the mentor…");
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  const back = el("div", "signoff-return");
  back.id = `${prefix}-return`;
  back.hidden = true;
  toggle.setAttribute("aria-controls", back.id);
  const [reasonLabel, reason] = labelled(prefix, "reason", "What should the mentor change?", 3);
  const send = el("button", "danger secondary", "Return to mentor");
  send.type = "button";
  back.append(reasonLabel, reason, send);
  toggle.addEventListener("click", () => {
    const open = back.hidden;
    back.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    if (open) reason.focus();
  });

  const act = async (button, path, body, done) => {
    error.hidden = true;
    button.disabled = true;
    try {
      onDone(await api("POST", `/api/feedback/${encodeURIComponent(form.id)}/${path}`, body), done);
    } catch (err) {
      error.textContent = failure(err);
      error.hidden = false;
      button.disabled = false;
    }
  };
  sign.addEventListener("click", () => {
    const text = comment.value.trim();
    act(sign, "countersign", text ? { comment: text } : {}, "countersigned");
  });
  send.addEventListener("click", () => {
    if (!reason.value.trim()) {
      error.textContent = "Say what the mentor should change, then return the form.";
      error.hidden = false;
      reason.focus();
      return;
    }
    act(send, "return", { reason: reason.value.trim() }, "returned");
  });

  box.append(error);
  if (can.includes("form.countersign")) box.append(commentLabel, comment, sign);
  if (can.includes("form.return")) box.append(toggle, back);
  return box;
}
