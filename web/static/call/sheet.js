// The side panel as a bottom sheet on a phone: half height (the video stays in view above it),
// full height, or closed. Dragged by its handle with pointer events (mouse, touch and pen alike),
// or set with the "Half height" / "Full height" / "Close panel" buttons from the keyboard.
// On a desktop the panel sits beside the video and none of this shows.

import { setPanelOpen } from "/static/call/ui.js";

const $ = (id) => document.getElementById(id);
const SIZES = ["half", "full"];

/** Open the sheet at `size` ("half" or "full"), or close it ("closed"). */
export function setSheet(size) {
  if (size === "closed") {
    setPanelOpen(false);
    return;
  }
  document.body.dataset.sheet = size;
  for (const name of SIZES) $(`sheet-${name}`).setAttribute("aria-pressed", String(name === size));
  setPanelOpen(true);
}

/** Where a drag let go, as a share of the room's height → the size it settles at. */
function settle(share) {
  if (share < 0.25) return "closed";
  if (share < 0.75) return "half";
  return "full";
}

export function wireSheet() {
  $("sheet-half").addEventListener("click", () => setSheet("half"));
  $("sheet-full").addEventListener("click", () => setSheet("full"));

  const handle = $("sheet-handle");
  const room = $("screen-room");
  let dragging = null; // {id, bottom, height} while a pointer holds the handle

  const heightAt = (clientY) => Math.min(dragging.height, Math.max(0, dragging.bottom - clientY));

  handle.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    const box = room.getBoundingClientRect();
    dragging = { id: event.pointerId, bottom: box.bottom, height: box.height };
    handle.setPointerCapture(event.pointerId);
    document.body.style.setProperty("--sheet-px", `${heightAt(event.clientY)}px`);
    document.body.classList.add("sheet-dragging");
    event.preventDefault();
  });
  handle.addEventListener("pointermove", (event) => {
    if (dragging?.id !== event.pointerId) return;
    document.body.style.setProperty("--sheet-px", `${heightAt(event.clientY)}px`);
  });
  const release = (event) => {
    if (dragging?.id !== event.pointerId) return;
    const share = heightAt(event.clientY) / dragging.height;
    dragging = null;
    document.body.classList.remove("sheet-dragging");
    setSheet(event.type === "pointercancel" ? document.body.dataset.sheet || "half" : settle(share));
  };
  handle.addEventListener("pointerup", release);
  handle.addEventListener("pointercancel", release);
}
