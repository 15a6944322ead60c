// /review/program: the program's numbers for its leads (admins). Feedback completion, median
// time from a session's end to feedback, the countersign backlog, sessions per trainee and per
// mentor per month (also as CSV), and the entrustment levels given per EPA.

import { api, ApiError, setCsrfToken } from "/static/api.js";
import { pageStates } from "/static/page.js";
import { el } from "/static/feedback/fields.js";
import { hoursText } from "/static/trainee-figures.js";
import { showOfflineCopy } from "/static/offline.js";

const $ = (id) => document.getElementById(id);

const { show, problem } = pageStates("program");

async function load() {
  try {
    const me = await api("GET", "/api/me");
    setCsrfToken(me.csrf_token);
    $("whoami").textContent = me.user.name;
    $("whoami").hidden = false;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      return problem("You are not signed in", "Sign in on the home page, then open this page again.");
    }
    return problem("Could not reach the server", "Check your connection and reload the page.");
  }
  let numbers;
  try {
    numbers = await api("GET", "/api/program");
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      return problem("Only program leads see these numbers", "Ask an administrator if you need them.");
    }
    return problem("The program's numbers can't be shown", err instanceof ApiError ? err.message : "Check your connection and reload the page.");
  }
  render(numbers);
  show("program");
  showOfflineCopy(document.querySelector("main")); // offline: the last visit's copy, read-only
}

function render(numbers) {
  const c = numbers.overall;
  const share = c.feedback_share === null ? "no session has ended" : `${Math.round(c.feedback_share * 100)} %`;
  const figures = [
    ["Sessions held", String(c.sessions)],
    ["Feedback completion", `${c.with_feedback} sessions (${share})`],
    ["Median, session end to feedback", hoursText(c.hours_to_submitted)],
    ["… to acknowledgement", hoursText(c.hours_to_acknowledged)],
    ["… to countersignature", hoursText(c.hours_to_countersigned)],
    ["Countersign backlog", String(c.countersign_backlog)],
    ["Marks per session", c.marks_per_session === null ? "none" : String(c.marks_per_session)],
  ];
  $("overall").replaceChildren(
    ...figures.map(([name, value]) => {
      const row = el("div", "figure");
      row.append(el("dt", "", name), el("dd", "", value));
      return row;
    }),
  );
  $("trainee-months").replaceChildren(monthTable(numbers.months, numbers.trainees, "Trainee"));
  $("mentor-months").replaceChildren(monthTable(numbers.months, numbers.mentors, "Mentor"));
  $("entrustment").replaceChildren(entrustmentTable(numbers.entrustment));
}

function header(names, numeric = () => false) {
  const row = el("tr");
  names.forEach((name, i) => {
    const th = el("th", numeric(i) ? "num" : "", name);
    th.scope = "col";
    row.append(th);
  });
  const head = el("thead");
  head.append(row);
  return head;
}

function monthLabel(month) {
  const [year, number] = month.split("-").map(Number);
  return new Date(Date.UTC(year, number - 1, 1)).toLocaleDateString([], { month: "short", year: "numeric", timeZone: "UTC" });
}

function monthTable(months, rows, who) {
  if (rows.length === 0) return el("p", "muted", "No sessions yet.");
  const table = el("table", "ratings-table program-table");
  table.append(header([who, ...months.map(monthLabel), "Total"], (i) => i > 0));
  const body = el("tbody");
  for (const row of rows) {
    const tr = el("tr");
    const name = el("th", "", row.name || row.id);
    name.scope = "row";
    tr.append(name, ...months.map((m) => el("td", "num", String(row.months[m] ?? 0))), el("td", "num", String(row.total)));
    body.append(tr);
  }
  table.append(body);
  return table;
}

function entrustmentTable(entries) {
  if (entries.length === 0) return el("p", "muted", "No EPA observations yet.");
  const levels = [...new Set(entries.flatMap((e) => Object.keys(e.levels)))].sort((a, b) => Number(a) - Number(b));
  const table = el("table", "ratings-table program-table");
  table.append(header(["EPA", ...levels.map((l) => `Level ${l}`)], (i) => i > 0));
  const body = el("tbody");
  for (const entry of entries) {
    const tr = el("tr");
    const name = el("th", "", entry.label);
    name.scope = "row";
    tr.append(name, ...levels.map((l) => el("td", "num", String(entry.levels[l] ?? 0))));
    body.append(tr);
  }
  table.append(body);
  return table;
}

load();
