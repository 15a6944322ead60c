// Other people's cursors and selections in the notes editor, from Yjs awareness.
//
// The same wire format as y-codemirror.next's yRemoteSelections (awareness state
// `{user: {name, color, colorLight}, cursor: {anchor, head}}`, positions as Y.RelativePosition
// JSON), so any y-codemirror client interoperates; it also reuses that package's CSS
// (yRemoteSelectionsTheme). It exists because that plugin builds each caret with
// setAttribute("style", …), which the page's CSP (`style-src 'self'`) refuses; here every colour
// goes through the CSSOM (decoration `attributes.style` is applied by CodeMirror as
// `style.cssText`, and the caret widget sets `style.*` itself), which CSP does not govern.

import { Annotation } from "@codemirror/state";
import { Decoration, EditorView, ViewPlugin, WidgetType } from "@codemirror/view";
import { yRemoteSelectionsTheme } from "y-codemirror.next";
import * as Y from "yjs";

const awarenessChanged = Annotation.define();
// A remote caret shows its owner's name while they type or move, then only on hover (the label
// covers a bit of the line above).
const ACTIVE_MS = 2500;

class CaretWidget extends WidgetType {
  constructor(color, name, active) {
    super();
    this.color = color;
    this.name = name;
    this.active = active;
  }

  toDOM() {
    const caret = document.createElement("span");
    caret.className = this.active ? "cm-ySelectionCaret cm-ySelectionCaret-active" : "cm-ySelectionCaret";
    caret.style.backgroundColor = this.color;
    caret.style.borderColor = this.color;
    const dot = document.createElement("div");
    dot.className = "cm-ySelectionCaretDot";
    const info = document.createElement("div");
    info.className = "cm-ySelectionInfo";
    info.textContent = this.name;
    // Word joiners keep the caret from affecting line breaking (as y-codemirror.next does).
    caret.append("\u2060", dot, "\u2060", info, "\u2060");
    return caret;
  }

  eq(other) {
    return other.color === this.color && other.name === this.name && other.active === this.active;
  }

  get estimatedHeight() {
    return -1;
  }

  ignoreEvent() {
    return true;
  }
}

function mark(ranges, from, to, colorLight) {
  if (from >= to) return;
  const tint = { style: `background-color: ${colorLight}` };
  ranges.push(Decoration.mark({ attributes: tint, class: "cm-ySelection" }).range(from, to));
}

const activeTheme = EditorView.baseTheme({
  ".cm-ySelectionCaret-active > .cm-ySelectionInfo": { opacity: 1, transitionDelay: "0s" },
});

/** The extension: publishes our cursor (when we have a local awareness state) and draws others'. */
export function remoteCursors(ytext, awareness) {
  const plugin = ViewPlugin.fromClass(
    class {
      constructor(view) {
        this.view = view;
        this.decorations = Decoration.none;
        this.seen = new Map(); // client id → until when its name shows (ms)
        this.timer = null;
        this.listener = ({ added, updated, removed }) => {
          const others = [...added, ...updated, ...removed].filter((id) => id !== awareness.clientID);
          for (const id of updated) if (id !== awareness.clientID) this.touch(id);
          if (others.length > 0) view.dispatch({ annotations: awarenessChanged.of(true) });
        };
        awareness.on("change", this.listener);
        // Typing at the end of the text leaves the cursor's relative position (and so awareness)
        // unchanged: also count each remote change to the document. This runs before the
        // observers, i.e. before y-codemirror.next dispatches the change to the view.
        this.onChange = (transaction) => {
          transaction.afterState.forEach((clock, client) => {
            if (client !== ytext.doc.clientID && clock !== (transaction.beforeState.get(client) ?? 0)) {
              this.touch(client);
            }
          });
        };
        ytext.doc.on("beforeObserverCalls", this.onChange);
      }

      destroy() {
        awareness.off("change", this.listener);
        ytext.doc.off("beforeObserverCalls", this.onChange);
        clearTimeout(this.timer);
      }

      /** Someone else typed or moved their cursor: show their name for a while. */
      touch(clientId) {
        this.seen.set(clientId, Date.now() + ACTIVE_MS);
      }

      /** Redraw when the earliest active label is due to fade. */
      schedule(now) {
        const due = Math.min(...[...this.seen.values()].filter((until) => until > now));
        clearTimeout(this.timer);
        if (Number.isFinite(due)) {
          const redraw = () => this.view.dispatch({ annotations: awarenessChanged.of(true) });
          this.timer = setTimeout(redraw, due - now + 20);
        }
      }

      update(update) {
        this.publish(update);
        this.decorations = this.draw(update.state);
      }

      publish(update) {
        const local = awareness.getLocalState();
        if (local == null) return; // read-only viewers stay invisible
        const focused = update.view.hasFocus && update.view.dom.ownerDocument.hasFocus();
        if (!focused) return;
        const { anchor, head } = update.state.selection.main;
        const next = {
          anchor: Y.createRelativePositionFromTypeIndex(ytext, anchor),
          head: Y.createRelativePositionFromTypeIndex(ytext, head),
        };
        const current = local.cursor;
        const same =
          current != null &&
          Y.compareRelativePositions(Y.createRelativePositionFromJSON(current.anchor), next.anchor) &&
          Y.compareRelativePositions(Y.createRelativePositionFromJSON(current.head), next.head);
        if (!same) awareness.setLocalStateField("cursor", next);
      }

      draw(state) {
        const doc = ytext.doc;
        const ranges = [];
        const now = Date.now();
        for (const [id, until] of this.seen) if (until <= now) this.seen.delete(id);
        awareness.getStates().forEach((remote, clientId) => {
          if (clientId === awareness.clientID) return;
          const cursor = remote.cursor;
          if (cursor?.anchor == null || cursor?.head == null) return;
          const anchor = Y.createAbsolutePositionFromRelativePosition(cursor.anchor, doc);
          const head = Y.createAbsolutePositionFromRelativePosition(cursor.head, doc);
          if (anchor == null || head == null || anchor.type !== ytext || head.type !== ytext) return;
          const length = state.doc.length;
          if (anchor.index > length || head.index > length) return; // the view lags the Y.Text
          const { color = "#30bced", name = "Someone" } = remote.user ?? {};
          const colorLight = remote.user?.colorLight ?? `${color}33`;
          const from = Math.min(anchor.index, head.index);
          const to = Math.max(anchor.index, head.index);
          if (from < to) {
            const first = state.doc.lineAt(from);
            const last = state.doc.lineAt(to);
            if (first.number === last.number) {
              mark(ranges, from, to, colorLight);
            } else {
              mark(ranges, from, first.to, colorLight);
              for (let n = first.number + 1; n < last.number; n += 1) {
                const line = state.doc.line(n);
                ranges.push(
                  Decoration.line({
                    attributes: { style: `background-color: ${colorLight}`, class: "cm-yLineSelection" },
                  }).range(line.from),
                );
              }
              mark(ranges, last.from, to, colorLight);
            }
          }
          ranges.push(
            Decoration.widget({
              // Our own cursor is drawn outside the remote selection.
              side: head.index - anchor.index > 0 ? -1 : 1,
              widget: new CaretWidget(color, name, now < (this.seen.get(clientId) ?? 0)),
            }).range(head.index),
          );
        });
        this.schedule(now);
        return Decoration.set(ranges, true);
      }
    },
    { decorations: (value) => value.decorations },
  );
  return [yRemoteSelectionsTheme, activeTheme, plugin];
}
