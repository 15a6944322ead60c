// The record's "Talk time": how long each person spoke in a routed call, from the audio level
// the media peer read in the packets it forwarded (never the audio itself). One balance bar per
// person, with minutes:seconds and share in words for screen readers and small screens; the
// busiest minutes on request. Drawn after "Who was there"; nothing when nobody was heard.

import { el } from "/static/feedback/fields.js";

/** 95_000 ms → "1:35". */
export function minutesSeconds(ms) {
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function stylesheet() {
  if (document.querySelector('link[href="/static/record-talk.css"]')) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/static/record-talk.css";
  document.head.append(link);
}

function spoken(ms) {
  const seconds = Math.round(ms / 1000);
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  const parts = [];
  if (m) parts.push(`${m} minute${m === 1 ? "" : "s"}`);
  if (s || !m) parts.push(`${s} second${s === 1 ? "" : "s"}`);
  return parts.join(" ");
}

function person(p) {
  const percent = Math.round(p.share * 100);
  const item = el("li", "talk-person");
  const line = el("div", "talk-line");
  const figures = el("span", "talk-figures", `${minutesSeconds(p.total_ms)} · ${percent} %`);
  figures.setAttribute("aria-hidden", "true");
  line.append(
    el("span", "talk-name", p.name || "Guest"),
    el("span", "visually-hidden", ` spoke ${spoken(p.total_ms)}, ${percent} % of the talk`),
    figures,
  );
  const bar = el("div", "talk-bar");
  bar.setAttribute("aria-hidden", "true");
  const fill = el("div", "talk-fill");
  fill.style.width = `${Math.max(0, Math.min(100, p.share * 100))}%`;
  bar.append(fill);
  item.append(line, bar);
  if (p.minutes.length) {
    const busiest = [...p.minutes].sort((a, b) => b.ms - a.ms).slice(0, 3);
    const detail = busiest.map((m) => `minute ${m.minute + 1}: ${minutesSeconds(m.ms)}`).join(", ");
    item.append(el("p", "talk-minutes small muted", `Most in ${detail}`));
  }
  return item;
}

/** A "Talk time" card after `after`, or none when `talkTime` is empty. */
export function mountTalkTime(after, talkTime) {
  document.getElementById("talk-card")?.remove();
  if (!talkTime?.length) return null;
  stylesheet();
  const card = el("section", "card talk-card");
  card.id = "talk-card";
  card.setAttribute("aria-labelledby", "talk-title");
  const title = el("h2", "", "Talk time");
  title.id = "talk-title";
  const note = el("p", "small muted", "How long each person spoke, measured by the server from the loudness of their microphone, not from what was said.");
  const list = el("ul", "talk-list");
  list.append(...talkTime.map(person));
  card.append(title, note, list);
  after.after(card);
  return card;
}
