// Times as people read them: offsets into a session ("03:07") and moments ("12 Mar 2025, 14:05").

/** Milliseconds since the session started → "mm:ss" ("h:mm:ss" past an hour). */
export function offset(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const mm = String(minutes).padStart(2, "0");
  const ss = String(seconds).padStart(2, "0");
  return hours > 0 ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Seconds since the Unix epoch (the API's unit) → a local date and time, or "". */
export function moment(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** A <time> element for `seconds` since the epoch. */
export function timeElement(seconds) {
  const time = document.createElement("time");
  const date = new Date(seconds * 1000);
  if (!Number.isNaN(date.getTime())) time.dateTime = date.toISOString();
  time.textContent = moment(seconds);
  return time;
}

/** How a mark is named wherever it is cited: "03:07 · Good rapport". */
export function markName(mark) {
  return mark.label ? `${offset(mark.at_ms)} · ${mark.label}` : offset(mark.at_ms);
}
