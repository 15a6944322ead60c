// Instrument templates from the API, fetched once per page (a version never changes).

import { api } from "/static/api.js";

const templates = new Map(); // "id@version" → Promise<template>
let summaries = null;

/** The instrument summaries (latest versions): `GET /api/instruments`. */
export function instruments() {
  summaries ??= api("GET", "/api/instruments").catch((err) => {
    summaries = null;
    throw err;
  });
  return summaries;
}

/** One template; `version` for the one a form was made with (templates are versioned). */
export function template(id, version = null) {
  const key = `${id}@${version ?? ""}`;
  if (!templates.has(key)) {
    const query = version ? `?version=${encodeURIComponent(version)}` : "";
    const pending = api("GET", `/api/instruments/${encodeURIComponent(id)}${query}`);
    pending.catch(() => templates.delete(key));
    templates.set(key, pending);
  }
  return templates.get(key);
}

/** Mentor instruments, the Mini-CEX first (the one most programs ask for), then as listed. */
export function mentorInstruments(list) {
  const mentor = list.filter((i) => i.respondent !== "trainee");
  const first = (i) => (i.short_name === "Mini-CEX" || i.id.startsWith("mini-cex") ? 0 : 1);
  // Array.prototype.sort is stable: the rest keep the server's order.
  return [...mentor].sort((a, b) => first(a) - first(b));
}
