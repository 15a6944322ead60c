// The session's shared notes in the browser: a Yjs document kept in IndexedDB (offline edits
// survive a reload), synced with the server over the standard y-websocket protocol
// (y-protocols sync step 1/2 + update, awareness; DESIGN.md §2 "Notes socket", §3b), and edited
// in CodeMirror 6 bound to the document's Y.Text "notes" (remote cursors and names come from
// awareness). Bundled by web/build.mjs into /static/dist/notes.js; web/static/call/notes.js
// mounts it into the call page.

import { EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import { remoteCursors } from "./remote-cursors.js";
import { IndexeddbPersistence } from "y-indexeddb";
import { WebsocketProvider } from "y-websocket";
import * as Y from "yjs";

// White name labels on each pass WCAG AA; distinct from each other (caret, label, selection tint).
const COLORS = ["#0b6e69", "#8e24aa", "#c2185b", "#1565c0", "#b45309", "#2e7d32", "#6d4c41", "#5e35b1"];

/** A stable colour for a name, so the same person keeps one colour across reloads. */
export function colorFor(name) {
  let hash = 0x811c9dc5; // FNV-1a
  for (const char of name ?? "") hash = Math.imul(hash ^ char.codePointAt(0), 0x01000193) >>> 0;
  return COLORS[hash % COLORS.length];
}

function defaultServerUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/notes`;
}

// The page's CSP is `style-src 'self'`: CodeMirror's style-mod cannot add a <style> element to the
// document, but it adopts a constructed stylesheet into a shadow root (CSSOM, which CSP does not
// govern). So the editor lives in a shadow root, themed here rather than in app.css.
const theme = EditorView.theme({
  "&": {
    height: "100%",
    fontSize: "1rem",
    color: "#14202b",
    backgroundColor: "#fff",
  },
  "&.cm-focused": { outline: "none" },
  ".cm-scroller": {
    fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    lineHeight: "1.5",
    overflow: "auto",
  },
  ".cm-content": { padding: "12px 14px", caretColor: "#0b6e69" },
  ".cm-line": { padding: "0" },
  ".cm-placeholder": { color: "#5b6875" },
  "&.cm-focused .cm-cursor": { borderLeftColor: "#0b6e69", borderLeftWidth: "2px" },
  ".cm-ySelectionInfo": { fontFamily: "inherit", fontSize: "0.75rem", top: "-1.15em", borderRadius: "3px" },
});

/** Host element → shadow root holding the editor (see the CSP note above). */
function shadowHost(element) {
  const root = element.shadowRoot ?? element.attachShadow({ mode: "open" });
  root.replaceChildren();
  const holder = document.createElement("div");
  holder.className = "notes-editor-root";
  holder.style.height = "100%";
  root.append(holder);
  return { root, holder };
}

/**
 * Mount the shared notes editor in `element`.
 *
 * - `sessionId` is the room; `userId` (optional) names the IndexedDB copy with the session;
 *   `userName` and `color` are what others see at our cursor.
 * - `readOnly`: the view cannot be edited, no IndexedDB copy is kept (a stale local copy would be
 *   pushed to the server in the sync step 2 answer), the provider never sends our own updates, and
 *   we publish no awareness state (others' cursors are still shown).
 * - `onStatus("online" | "offline" | "syncing")`: online = socket open and synced with the server;
 *   syncing = connecting for the first time, or connected but not yet synced; offline = otherwise
 *   (edits are kept in memory and IndexedDB and merge when the socket is back).
 * - `onClosed({code, reason})`: the server closed with a 44xx code (4401, 4403, 4404); y-websocket
 *   stops reconnecting after these.
 *
 * Returns `{doc, provider, persistence, view, readOnly, text(), status(), storedText(), destroy()}`,
 * also exposed for tests as `window.__preceptor.notes`.
 */
export function mountNotes(
  element,
  {
    sessionId,
    userId,
    userName,
    color,
    readOnly = false,
    onStatus = () => {},
    onClosed = () => {},
    serverUrl,
  } = {},
) {
  const doc = new Y.Doc();
  const ytext = doc.getText("notes");
  // One copy per session and person: on a shared computer, someone else's unsent edits must not
  // be sent (and attributed) as mine.
  const storeName = ["preceptor-notes", sessionId, userId].filter(Boolean).join(":");
  const persistence = readOnly ? null : new IndexeddbPersistence(storeName, doc);
  // BroadcastChannel sync between tabs is off: IndexedDB and the server already carry every edit,
  // and a read-only tab must not relay anything.
  const provider = new WebsocketProvider(serverUrl ?? defaultServerUrl(), sessionId, doc, {
    disableBc: true,
    connect: false, // below, once read-only mode and the listeners are in place
  });
  if (readOnly) {
    // Never send our own updates (y-websocket forwards every doc update not applied by itself).
    doc.off("update", provider._updateHandler);
    provider.awareness.setLocalState(null);
  } else {
    const userColor = color ?? colorFor(userName);
    provider.awareness.setLocalStateField("user", {
      name: userName ?? "Someone",
      color: userColor,
      colorLight: `${userColor}33`,
    });
  }

  // --- status -----------------------------------------------------------------------------------
  let status = null;
  let failed = false; // a connection attempt failed or dropped since the last success
  const report = () => {
    let next;
    if (provider.wsconnected) next = provider.synced ? "online" : "syncing";
    else next = failed || !navigator.onLine ? "offline" : "syncing";
    if (next !== status) {
      status = next;
      onStatus(next);
    }
  };
  provider.on("status", ({ status: s }) => {
    if (s === "connected") {
      failed = false;
      // Our goodbye on disconnect carried our awareness clock, and peers refuse a state with a
      // clock they have seen (y-protocols awareness), so re-announce ourselves with a new one;
      // otherwise our cursor stays hidden until the 15 s awareness renewal.
      const local = provider.awareness.getLocalState();
      if (local !== null) provider.awareness.setLocalState(local);
    }
    if (s === "disconnected") failed = true;
    report();
  });
  provider.on("sync", report);
  provider.on("connection-close", () => {
    failed = true;
    report();
  });
  provider.on("closed", ({ code, reason }) => onClosed({ code, reason }));
  window.addEventListener("online", report);
  window.addEventListener("offline", report);
  provider.connect();
  report();

  // --- the editor -------------------------------------------------------------------------------
  const { root, holder } = shadowHost(element);
  const extensions = [
    theme,
    EditorView.lineWrapping,
    EditorView.contentAttributes.of({
      "aria-label": "Session notes",
      spellcheck: "true",
      autocapitalize: "sentences",
      ...(readOnly ? { "aria-readonly": "true" } : {}),
    }),
    // Text sync and undo from y-codemirror.next; cursors from ./remote-cursors.js (CSP-safe).
    yCollab(ytext, null, readOnly ? { undoManager: false } : {}),
    remoteCursors(ytext, provider.awareness),
  ];
  if (readOnly) {
    extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
  } else {
    extensions.push(
      // Typing, Enter, Backspace and the arrows are the browser's own contenteditable editing, which
      // CodeMirror reads back; @codemirror/commands would add ~60 KB (it pulls in the language
      // and parser packages) for code-editing keys that notes do not need.
      keymap.of(yUndoManagerKeymap),
      placeholder("Shared notes for this session. Everyone in the call sees what you type."),
    );
  }
  const view = new EditorView({
    state: EditorState.create({ doc: ytext.toString(), extensions }),
    parent: holder,
    root,
  });

  const handle = {
    doc,
    provider,
    persistence,
    view,
    readOnly,
    text: () => ytext.toString(),
    status: () => status,
    /** For tests: the text of this browser's IndexedDB copy, as a fresh document loads it. */
    async storedText() {
      if (!persistence) return null;
      const copy = new Y.Doc();
      const reader = new IndexeddbPersistence(storeName, copy);
      await reader.whenSynced;
      const stored = copy.getText("notes").toString();
      await reader.destroy();
      copy.destroy();
      return stored;
    },
    destroy() {
      window.removeEventListener("online", report);
      window.removeEventListener("offline", report);
      view.destroy();
      provider.destroy();
      persistence?.destroy();
      doc.destroy();
      if (window.__preceptor?.notes === handle) delete window.__preceptor.notes;
    },
  };
  // A debug and test hook, beside the call page's own (web/static/call/main.js).
  window.__preceptor ??= {};
  window.__preceptor.notes = handle;
  return handle;
}
