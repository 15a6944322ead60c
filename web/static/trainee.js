// /review/trainees/{id}: one trainee's progress (the trainee sees their own). Per instrument, the
// count of assessments against the ~12 a reliable judgement needs, and a chart per domain (an
// EPA's entrustment level, a Mini-CEX domain, …) of the rating over time; each point is a link
// to its session record, at the mark its answer cites. The same data as a table, the narrative
// comments in order, filters by instrument, mentor and dates (kept in the address), and a CSV.
// The trainee (and an admin) also sees who viewed or exported the record. Offline, the page shows
// the service worker's copy of the last visit, read-only (offline.js).

import { api, ApiError, setCsrfToken } from "/static/api.js";
import { failure, pageStates } from "/static/page.js";
import { moment, offset } from "/static/clock.js";
import { el } from "/static/feedback/fields.js";
import { hoursText } from "/static/trainee-figures.js";
import { forgetOfflineCopies, isOfflineCopy, registerWorker, showOfflineCopy } from "/static/offline.js";

const $ = (id) => document.getElementById(id);
const traineeId = decodeURIComponent(location.pathname.split("/")[3] ?? "");
const base = `/api/trainees/${encodeURIComponent(traineeId)}`;
const FILTERS = ["instrument", "mentor", "from", "to"];

let progress = null;
let me = null;
let charts = null; // the bundled chart module, once loaded
let drawnWidth = 0;

const { show, problem } = pageStates("progress");

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

function day(seconds) {
  return new Date(seconds * 1000).toLocaleDateString([], { dateStyle: "medium" });
}

function query() {
  const params = new URLSearchParams(location.search);
  const kept = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) kept.set(name, params.get(name));
  return kept;
}

async function load() {
  try {
    me = await api("GET", "/api/me");
    setCsrfToken(me.csrf_token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      forgetOfflineCopies().catch(() => {});
      return problem("You are not signed in", "Sign in on the home page, then open this page again.");
    }
    if (err instanceof ApiError && err.code === "offline") return problem("You are offline", err.message);
    return problem("Could not reach the server", "Check your connection and reload the page.");
  }
  $("whoami").textContent = me.user.name;
  $("whoami").hidden = false;
  charts = await import("/static/dist/charts.js").catch(() => null);
  await fetchProgress();
}

async function fetchProgress() {
  const params = query();
  const error = $("filter-error");
  error.hidden = true;
  try {
    progress = await api("GET", `${base}/progress${params.size ? `?${params}` : ""}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      return problem("No such trainee", "This trainee does not exist, or their progress is not yours to see.");
    }
    if (err instanceof ApiError && err.status === 422 && progress) {
      error.textContent = `${err.message[0].toUpperCase()}${err.message.slice(1)}.`;
      error.hidden = false;
      return;
    }
    if (err instanceof ApiError && err.code === "offline") return problem("You are offline", err.message);
    return problem("Progress can't be shown", failure(err));
  }
  $("csv-link").href = `${base}/progress.csv${params.size ? `?${params}` : ""}`;
  render(params);
}

function render(params) {
  const { trainee } = progress;
  document.title = `${trainee.name} · Progress · Preceptor`;
  $("trainee-title").textContent = trainee.name;
  $("trainee-meta").textContent =
    progress.assessments === 0
      ? "No submitted feedback matches yet."
      : `${plural(progress.assessments, "assessment")} in ${plural(progress.sessions, "session")}`;
  $("scope-note").hidden = progress.scope !== "mine";
  fillSelect($("f-instrument"), progress.instrument_facets, params.get("instrument"));
  fillSelect($("f-mentor"), progress.mentor_facets, params.get("mentor"));
  $("f-from").value = params.get("from") ?? "";
  $("f-to").value = params.get("to") ?? "";
  $("filters-summary").textContent = filterWords(params);
  if (params.size) $("filters-box").open = true;
  show("progress");
  renderCoaching(progress.coaching);
  drawInstruments();
  renderComments();
  if (!viewsLoaded) loadViews(); // the filters do not apply to it: loaded once
  readOnlyIfCopy();
}

/** Offline, the page is the copy of the last visit: said at the top, nothing to change or fetch. */
function readOnlyIfCopy() {
  if (!isOfflineCopy()) return;
  $("csv-link").parentElement.hidden = true; // a download needs the server
  showOfflineCopy(document.querySelector("main"));
}

/** The filters in force, in words (shown on the closed "Filters" disclosure). */
function filterWords(params) {
  if (!params.size) return "All instruments, mentors and dates";
  const name = (facets, id) => facets.find((f) => f.id === id)?.name ?? id;
  const words = [];
  if (params.get("instrument")) words.push(name(progress.instrument_facets, params.get("instrument")));
  if (params.get("mentor")) words.push(name(progress.mentor_facets, params.get("mentor")));
  if (params.get("from")) words.push(`from ${params.get("from")}`);
  if (params.get("to")) words.push(`to ${params.get("to")}`);
  return words.join(" · ");
}

function fillSelect(select, facets, chosen) {
  const first = select.options[0];
  select.replaceChildren(first, ...facets.map((f) => new Option(f.name, f.id)));
  select.value = chosen ?? "";
}

// --- coaching figures -------------------------------------------------------------------------------

function renderCoaching(c) {
  const share = c.feedback_share === null ? "no session has ended" : `${Math.round(c.feedback_share * 100)} %`;
  const figures = [
    ["Sessions held", String(c.sessions)],
    ["Sessions with feedback", `${c.with_feedback} (${share})`],
    ["Session end to feedback submitted", hoursText(c.hours_to_submitted)],
    ["… acknowledged by the trainee", hoursText(c.hours_to_acknowledged)],
    ["… countersigned", hoursText(c.hours_to_countersigned)],
    ["Marks per session", c.marks_per_session === null ? "none" : String(c.marks_per_session)],
    ["Awaiting countersignature", String(c.countersign_backlog)],
  ];
  $("coaching").replaceChildren(
    ...figures.map(([name, value]) => {
      const row = el("div", "figure");
      row.append(el("dt", "", name), el("dd", "", value));
      return row;
    }),
  );
}

// --- instruments and their charts ------------------------------------------------------------------

function drawInstruments() {
  const list = progress.instruments;
  $("progress-status").textContent = list.length ? "" : "No ratings to show for these filters.";
  const host = $("instruments");
  drawnWidth = host.clientWidth;
  host.replaceChildren(...list.map(instrumentCard));
}

function pointHref(point) {
  const record = `/review/sessions/${encodeURIComponent(point.session_id)}`;
  const mark = point.marks[0];
  return mark ? `${record}#mark-${encodeURIComponent(mark.id)}` : `${record}#form-${encodeURIComponent(point.form_id)}`;
}

function markWords(point) {
  return point.marks.map((m) => `+${offset(m.at_ms)}${m.label ? ` ${m.label}` : ""}`).join("; ");
}

/** A rating as its form words it ("4 (satisfactory)"), from the series' scale. */
function valueText(series, value) {
  return series.scale.find((p) => p.value === value)?.label ?? String(value);
}

function pointName(series, point) {
  const cites = point.marks.length ? `, cites ${markWords(point)}` : "";
  return `${series.label}: ${valueText(series, point.value)} on ${day(point.date)} by ${point.mentor_name}${cites}. Open the session record.`;
}

function instrumentCard(instrument) {
  const card = el("section", "card instrument");
  const titleId = `inst-${instrument.instrument_id}`;
  card.setAttribute("aria-labelledby", titleId);
  const title = el("h2", "", instrument.short_name);
  title.id = titleId;
  const need = progress.reliable_after;
  const n = instrument.assessments;
  const reliability = el(
    "p",
    "reliability small",
    n >= need
      ? `${plural(n, "assessment")}: enough for a reliable judgement (about ${need} are needed).`
      : `${n} of the about ${need} assessments a reliable judgement needs.`,
  );
  const meter = document.createElement("meter");
  meter.min = 0;
  meter.max = need;
  meter.value = Math.min(n, need);
  meter.setAttribute("aria-label", `${n} of ${need} assessments`);
  reliability.append(meter);
  card.append(title, reliability);
  if (instrument.older > 0) {
    // The API sends the points of the newest assessments only; the date filters reach the rest.
    const shown = n - instrument.older;
    card.append(el("p", "small muted", `The charts show the latest ${shown} of ${n} assessments. To see older ones, choose dates in Filters.`));
  }
  if (instrument.series.length === 0) {
    card.append(el("p", "muted small", "This instrument has no rating scale: its comments are below."));
    return card;
  }
  for (const series of instrument.series) card.append(chartFigure(instrument, series));
  card.append(tableView(instrument));
  return card;
}

function chartFigure(instrument, series) {
  const figure = el("figure", "chart");
  const heading = el("h3", "", series.label);
  const last = series.points.at(-1);
  const latest = el(
    "p",
    "chart-latest small muted",
    `${plural(series.points.length, "rating")}; latest ${last.value} of ${series.high} on ${day(last.date)}.`,
  );
  figure.append(heading, latest);
  if (!charts) return figure; // the table below has the same data
  const need = progress.reliable_after;
  const count = instrument.assessments;
  const note = count < need ? `${count} of ~${need} needed for a reliable judgement` : "";
  const width = Math.max(260, Math.min(drawnWidth - 40, 700));
  const dates = instrument.series.flatMap((s) => s.points.map((p) => p.date));
  try {
    figure.append(
      charts.ratingChart(series, {
        width,
        href: pointHref,
        name: (p) => pointName(series, p),
        note,
        span: [Math.min(...dates), Math.max(...dates)],
      }),
    );
  } catch {
    figure.append(el("p", "small muted", "The chart could not be drawn; the table below has the same ratings."));
  }
  return figure;
}

function tableView(instrument) {
  const details = el("details", "table-view");
  details.append(el("summary", "", `${instrument.short_name} ratings as a table`));
  const scroll = el("div", "table-scroll");
  const table = el("table", "ratings-table");
  const head = el("tr");
  for (const name of ["Date", "Item", "Rating", "Mentor", "Evidence"]) {
    const th = el("th", "", name);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  const rows = instrument.series
    .flatMap((s) => s.points.map((p) => ({ s, p })))
    .sort((a, b) => a.p.date - b.p.date || a.s.label.localeCompare(b.s.label));
  for (const { s, p } of rows) {
    const tr = el("tr");
    const link = el("a", "", p.marks.length ? markWords(p) : "Session record");
    link.href = pointHref(p);
    const evidence = el("td");
    evidence.append(link);
    tr.append(el("td", "", day(p.date)), el("td", "", s.label), el("td", "num", valueText(s, p.value)), el("td", "", p.mentor_name), evidence);
    body.append(tr);
  }
  table.append(thead, body);
  scroll.append(table);
  details.append(scroll);
  return details;
}

function renderComments() {
  const comments = progress.comments;
  const some = progress.instruments.some((i) => i.older > 0);
  $("comments-status").textContent = comments.length
    ? some
      ? "Oldest first, from the assessments the charts show."
      : "Oldest first."
    : "No comments for these filters.";
  $("comment-list").replaceChildren(
    ...comments.map((c) => {
      const item = el("li");
      const about = el("p", "small muted", `${day(c.date)} · ${c.instrument} · ${c.item_label} · ${c.author_name} · `);
      const link = el("a", "", "record");
      link.href = `/review/sessions/${encodeURIComponent(c.session_id)}#form-${encodeURIComponent(c.form_id)}`;
      link.setAttribute("aria-label", `Session record of ${day(c.date)}`);
      about.append(link);
      item.append(about, el("p", "", c.text));
      return item;
    }),
  );
}

// --- who viewed the record (the trainee's own page, and admins) -----------------------------------

/** What a row says was done, around the session's title: ["opened the record of", ""]. */
function viewWords(view) {
  if (view.what === "progress") return [view.exported ? "downloaded the progress as CSV" : "viewed the progress page", ""];
  if (view.what === "recording") return ["watched the recording of", ""];
  if (!view.exported) return ["opened the record of", ""];
  if (view.format === "notes.md") return ["downloaded the notes of", ""];
  return ["exported the record of", view.format === "fhir" ? " (FHIR)" : ""];
}

let viewsNext = null;
let viewsLoaded = false;

async function loadViews(before = null) {
  const card = $("views-card");
  viewsLoaded = true;
  card.hidden = !progress.can.includes("progress.viewers");
  if (card.hidden) return;
  if (before === null) {
    const own = progress.trainee.id === me?.user.id;
    $("views-title").textContent = own ? "Who viewed your record" : `Who viewed ${progress.trainee.name}'s record`;
    $("view-list").replaceChildren();
  }
  const status = $("views-status");
  const older = $("views-older");
  older.disabled = true;
  let page;
  try {
    page = await api("GET", `${base}/views${before ? `?before=${before}` : ""}`);
  } catch (err) {
    status.textContent = `Who viewed the record can't be shown: ${failure(err)}`;
    older.disabled = false;
    return;
  }
  viewsNext = page.next;
  $("view-list").append(...page.views.map(viewItem));
  const own = progress.trainee.id === me?.user.id;
  const whose = own ? "your progress or your session records" : `${progress.trainee.name}'s progress or session records`;
  status.textContent = $("view-list").children.length
    ? `Everyone who opened or downloaded ${whose}, newest first. ${own ? "Your" : "Their"} own visits are not listed.`
    : `Nobody else has opened ${whose} yet.`;
  older.hidden = viewsNext === null;
  older.disabled = false;
  readOnlyIfCopy();
}

function viewItem(view) {
  const item = el("li");
  const line = el("p");
  const [before, after] = viewWords(view);
  const role = view.viewer.role ? ` (${view.viewer.role})` : "";
  line.append(el("strong", "", view.viewer.name), document.createTextNode(`${role} ${before}`));
  if (view.session) {
    const link = el("a", "", view.session.title || "a session");
    link.href = `/review/sessions/${encodeURIComponent(view.session.id)}`;
    line.append(" ", link);
  }
  if (after) line.append(after);
  item.append(line, el("p", "small muted", moment(view.at)));
  return item;
}

$("views-older").addEventListener("click", () => loadViews(viewsNext));

// --- filters ----------------------------------------------------------------------------------------

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  const values = {
    instrument: $("f-instrument").value,
    mentor: $("f-mentor").value,
    from: $("f-from").value,
    to: $("f-to").value,
  };
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  history.replaceState(null, "", `${location.pathname}${params.size ? `?${params}` : ""}`);
  fetchProgress();
});

$("f-clear").addEventListener("click", () => {
  history.replaceState(null, "", location.pathname);
  fetchProgress();
});

// Charts are drawn for the width they have; redraw when it changes (a phone turned sideways).
let resizing = 0;
addEventListener("resize", () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    if (progress && Math.abs($("instruments").clientWidth - drawnWidth) > 24) drawInstruments();
  }, 200);
});

registerWorker();
load();
