// The three states of a record or review page: loading, a problem a person can act on, or the page
// itself. Each page has sections with the ids "loading", "problem" (with "problem-title" and
// "problem-detail") and its own.
import { ApiError } from "/static/api.js";

const $ = (id) => document.getElementById(id);

export function pageStates(main) {
  const show = (id) => {
    for (const section of ["loading", "problem", main]) $(section).hidden = section !== id;
  };
  const problem = (title, detail) => {
    $("problem-title").textContent = title;
    $("problem-detail").textContent = detail;
    show("problem");
  };
  return { show, problem };
}

/** What to tell a person when a request failed: the server's sentence, or the network's. */
export function failure(err) {
  return err instanceof ApiError ? err.message : "Could not reach the server. Check your connection and try again.";
}
