// A hidden observer's standing reminder beside the chat's message box: trainees and guests do
// not see what they write (issue 11). The page reads the setting with the session when it joins;
// when the mentor changes it during the call, the room tells the observers (`observers-hidden`).

import { setChatHint } from "/static/call/ui.js";

const HINT = "You are hidden from the trainee: only the mentor (and supervisors) see your messages.";

let observer = false; // set once, by the page of an observer

const inRoom = () => document.body.dataset.screen === "room";

/** For an observer's page only: the hint is about what an observer writes. */
export function enableObserverHint() {
  observer = true;
}

/** The session's observer setting: from the session read on joining, or `observers-hidden`. */
export function showObserversHidden(hidden) {
  setChatHint(observer && hidden && inRoom() ? HINT : null);
}

/** The call is over (left, ended, taken over): no hint until the room welcomes us again. */
export function hideHint() {
  setChatHint(null);
}
