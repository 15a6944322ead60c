// The session's recordings on its record page (issue 12): one player per participant's file,
// with the session's marks as chapters — a strip of buttons on the video's timeline and a WebVTT
// chapters track — so a click on a mark, in the list or cited in feedback, seeks there.
// Playback streams from /api/recordings/{id}/media with HTTP Range (the browser seeks by itself).

import { api } from "/static/api.js";
import { offset } from "/static/clock.js";
import { el } from "/static/feedback/fields.js";

const players = []; // { recording, video, start_ms, end_ms }

function vttTime(ms) {
  const total = Math.max(0, Math.round(ms));
  const h = String(Math.floor(total / 3_600_000)).padStart(2, "0");
  const m = String(Math.floor((total % 3_600_000) / 60_000)).padStart(2, "0");
  const s = String(Math.floor((total % 60_000) / 1000)).padStart(2, "0");
  return `${h}:${m}:${s}.${String(total % 1000).padStart(3, "0")}`;
}

/** WebVTT chapters: each mark runs until the next one (or the end of the recording). */
function chapters(inside, durationMs) {
  const cues = inside.map(({ mark, at }, i) => {
    const end = i + 1 < inside.length ? inside[i + 1].at : durationMs;
    const label = (mark.label || "Mark").replace(/-->/g, "→").replace(/\n/g, " ");
    return `${vttTime(at)} --> ${vttTime(Math.max(end, at + 1))}\n+${offset(mark.at_ms)} ${label}`;
  });
  return URL.createObjectURL(new Blob([`WEBVTT\n\n${cues.join("\n\n")}\n`], { type: "text/vtt" }));
}

function seek(player, ms) {
  const go = () => {
    player.video.currentTime = ms / 1000;
  };
  if (player.video.readyState >= 1) go();
  else player.video.addEventListener("loadedmetadata", go, { once: true });
  player.video.closest(".rec-player")?.scrollIntoView({ block: "center", behavior: "smooth" });
  player.video.focus({ preventScroll: true });
}

/** Seek the recording that covers a mark to it; false if no recording does. */
export function seekToMark(mark) {
  const player = players.find((p) => mark.at_ms >= p.start_ms && mark.at_ms <= p.end_ms);
  if (!player) return false;
  seek(player, mark.at_ms - player.start_ms);
  return true;
}

export function hasRecordings() {
  return players.length > 0;
}

function describe(recording, index, count) {
  const parts = [count > 1 ? `Recording ${index + 1} of ${count}` : "Recording"];
  if (recording.segment > 1) parts.push(`part ${recording.segment}`);
  parts.push(`starts at +${offset(recording.offset_ms)}`);
  if (recording.duration_s) parts.push(`${offset(recording.duration_s * 1000)} long`);
  return parts.join(" · ");
}

function playerFor(recording, index, count, marks) {
  const box = el("figure", "rec-player");
  const video = document.createElement("video");
  video.controls = true;
  video.playsInline = true; // iOS: play in the page, not full screen
  video.preload = "metadata";
  video.src = recording.media_url;
  video.setAttribute("aria-label", describe(recording, index, count));
  const durationMs = (recording.duration_s ?? 0) * 1000;
  const start = recording.offset_ms;
  const inside = marks
    .map((mark) => ({ mark, at: mark.at_ms - start }))
    .filter(({ at }) => at >= 0 && at <= durationMs)
    .sort((a, b) => a.at - b.at);
  if (inside.length) {
    const track = document.createElement("track");
    track.kind = "chapters";
    track.label = "Marks";
    track.srclang = "en";
    track.default = true;
    track.src = chapters(inside, durationMs);
    video.append(track);
  }
  const player = { recording, video, start_ms: start, end_ms: start + durationMs };
  players.push(player);
  box.append(video);
  if (inside.length) {
    // The marks on the recording's own timeline: a button at each one's place.
    const strip = el("div", "rec-chapters");
    strip.setAttribute("role", "group");
    strip.setAttribute("aria-label", "Marks in this recording");
    for (const { mark, at } of inside) {
      const button = el("button", "rec-chapter");
      button.type = "button";
      button.style.left = `${durationMs ? (at / durationMs) * 100 : 0}%`;
      const name = `+${offset(mark.at_ms)}${mark.label ? ` ${mark.label}` : ""}`;
      button.setAttribute("aria-label", `Play from mark ${name}`);
      button.title = name;
      button.dataset.mark = mark.id;
      button.addEventListener("click", () => seek(player, at));
      strip.append(button);
    }
    box.append(strip);
  }
  const caption = el("figcaption", "small muted", describe(recording, index, count));
  if (recording.state === "incomplete") {
    caption.append(
      el("span", "rec-incomplete", " · Cut short when the server stopped: the last second or so may be missing."),
    );
  }
  box.append(caption);
  return box;
}

/** Draw the session's recordings into `container` (hidden when there are none). */
export async function mountRecordings(container, list, base, marks) {
  let recordings = [];
  try {
    recordings = await api("GET", `${base}/recordings`);
  } catch {
    recordings = [];
  }
  const playable = recordings.filter((r) => r.media_url);
  container.hidden = playable.length === 0;
  list.replaceChildren(...playable.map((r, i) => playerFor(r, i, playable.length, marks)));
}
