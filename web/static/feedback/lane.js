// One save at a time per feedback form on this page (DESIGN.md §4: "feedback drafts autosave").
//
// A form can be closed and opened again (another instrument picked, and back) while its save is
// still on the wire. The closed form's last save and the next form's saves wait their turn behind
// it: two requests on the wire at once may reach the server in either order, and it would keep an
// older edit over a newer one. The lane also remembers the draft the server created for this form
// on this page, so a form opened with a list of drafts read before that draft was stored updates
// it instead of creating a second one.

const lanes = new Map(); // storage key → {tail: Promise|null, formId: string|null}

function laneOf(key) {
  let lane = lanes.get(key);
  if (!lane) {
    lane = { tail: null, formId: null };
    lanes.set(key, lane);
  }
  return lane;
}

/**
 * Run `send(formId)` once every earlier request in this form's lane has answered (at once, in the
 * same task, when none is waiting). `formId`: the draft the server created for this form on this
 * page, or null. Resolves or rejects as `send`'s request does.
 * @param {string} key the form's storage key
 * @param {(formId: string|null) => Promise<object>} send
 */
export function inTurn(key, send) {
  const lane = laneOf(key);
  const request = lane.tail ? lane.tail.then(() => send(lane.formId)) : send(lane.formId);
  const answered = request.then((form) => {
    if (form?.id && lanes.get(key) === lane) lane.formId = form.id;
    return form;
  });
  // A request that failed does not hold up the next one: that one carries the newer answers.
  const tail = answered.catch(() => {});
  lane.tail = tail;
  tail.then(() => {
    if (lane.tail === tail) lane.tail = null;
  });
  return answered;
}

/** Whether a request of this form is on the wire or waiting for its turn. */
export function busy(key) {
  return Boolean(lanes.get(key)?.tail);
}

/** The form was submitted (or discarded): the next one for this key starts a new draft. */
export function forget(key) {
  lanes.delete(key);
}
