// One save at a time per feedback form on this page (DESIGN.md §4: "feedback drafts autosave").
//
// A form can be closed and opened again (another instrument picked, and back) while its save is
// still on the wire. The closed form's last save and the next form's saves wait their turn behind
// it: two requests on the wire at once may reach the server in either order, and it would keep an
// older edit over a newer one. The lane also remembers the draft the server created for this form
// on this page, so a form opened with a list of drafts read before that draft was stored updates
// it instead of creating a second one.
//
// A request that must leave at once (the page going away while a save is on the wire) cannot wait
// its turn, so each save also names a revision, above every one this page has sent or seen for the
// form: the server refuses a save whose revision is not above the one it holds (409 "stale"), so
// an older save that lands after a newer one changes nothing.

const lanes = new Map(); // storage key → {tail: Promise|null, formId: string|null, revision: number}

function laneOf(key) {
  let lane = lanes.get(key);
  if (!lane) {
    lane = { tail: null, formId: null, revision: 0 };
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
    if (form?.id && lanes.get(key) === lane) {
      lane.formId = form.id;
      lane.revision = Math.max(lane.revision, form.revision ?? 0);
    }
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

/** The revision for a save of this form's answers as they stand now. */
export function nextRevision(key) {
  const lane = laneOf(key);
  lane.revision += 1;
  return lane.revision;
}

/** The server holds `revision` of this form (read outside the lane, or when the form opened). */
export function seenRevision(key, revision) {
  const lane = laneOf(key);
  lane.revision = Math.max(lane.revision, revision ?? 0);
}

/** The form was submitted (or discarded): the next one for this key starts a new draft. */
export function forget(key) {
  lanes.delete(key);
}
