#!/usr/bin/env node
// A scripted y-websocket test client: the stock `yjs` Y.Doc and `y-websocket` WebsocketProvider
// (DESIGN.md §2 "Notes socket", §3b), with `ws` as its WebSocketPolyfill so that it can send the
// session cookie and an Origin header. Resolved from web/node_modules: run `make web` first, then
// from anywhere (usually the repo root):
//
//   node tests/notes/yclient.mjs '<script JSON>'        # or a path to a .json file
//   node tests/notes/yclient.mjs < script.jsonl         # stdin: JSON Lines, see below
//
// With no argument, stdin is JSON Lines: the first line is the script (it may hold "actions"),
// and every further line is one more action, run after the ones before it; end of input ends the
// run. So a test can pipe a whole script at once, or drive the client step by step while it
// reads the events.
//
// The script:
//   {"url": "ws://127.0.0.1:PORT/ws/notes",   the provider's server URL (room appended by it)
//    "room": "<session id>",
//    "cookie": "preceptor_session=…",          optional: sent as the Cookie header
//    "origin": "http://127.0.0.1:PORT",       optional: sent as the Origin header
//    "name": "Sam", "color": "#8e24aa",       optional: awareness {user: {name, color}}
//    "timeout_ms": 15000,                     optional: the default for every wait_* and probe
//    "connect": true,                         optional: false = start offline
//    "actions": [ … ]}
//
// Actions, run in order (each may carry "timeout_ms" where it waits):
//   {"type": "wait_synced"}                          connected and synced with the server
//   {"type": "insert", "text": "hi ", "index": 0}    index omitted or "end": append
//   {"type": "delete", "index": 0, "length": 3}
//   {"type": "type", "text": "abc", "interval_ms": 50, "index": "end"}
//                                                    one character per transaction
//   {"type": "type_for", "duration_ms": 5000, "interval_ms": 50, "text": "abc"}
//                                                    keep typing (appending, cycling through
//                                                    "text", default "x") for the duration
//   {"type": "wait_text_includes", "text": "world"}
//   {"type": "wait_text_equals", "text": "hello world"}
//   {"type": "disconnect"}                           provider.disconnect(): go offline
//   {"type": "connect"}                              provider.connect(); then use wait_synced
//   {"type": "sleep", "ms": 100}
//   {"type": "print"}                                emits a "text" event
//   {"type": "probe", "includes": "abc"}             what the server holds: a fresh Y.Doc syncs
//                                                    on a second connection; emits "probe";
//                                                    with "includes", retries until it does
//   {"type": "wait_closed", "code": 4403}            the server closed a socket with this code
//   {"type": "set_awareness", "state": {…}}          the whole local awareness state (null: none)
//   {"type": "wait_awareness", "name": "Ada"}        another client's awareness user.name
//
// Output: one JSON object per line on stdout, each with "t_ms" (since start):
//   {"event": "status", "status": "connecting"|"connected"|"disconnected"}
//   {"event": "synced", "synced": true|false, "length": N}   (y-websocket has no per-update
//        acknowledgement: "synced" after a (re)connect means both sides exchanged their state)
//   {"event": "close", "code": N|null, "reason": "…"}   a socket closed (null: we closed it)
//   {"event": "closed", "code": N, "reason": "…"}       the server said 44xx: no more retries
//   {"event": "remote", "length": N}                    a server update changed the text
//   {"event": "typed", "n": K, "char": "a", "length": N, "connected": bool, "synced": bool}
//   {"event": "done", "index": I, "type": "…"}          after each action
//   {"event": "text", "text": "…"} / {"event": "probe", "text": "…"}
// and last {"text": "<final text>"} with exit code 0. Any failure (a wait that timed out, a bad
// action) prints {"event": "error", "message": "…", "text": "…"}, the message on stderr too, and
// exits 1.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const deps = new URL("../../web/src/node-client-deps.mjs", import.meta.url);
let Y;
let WebsocketProvider;
let WebSocket;
try {
  ({ Y, WebsocketProvider, WebSocket } = await import(deps.href));
} catch (err) {
  const hint = "cannot load yjs/y-websocket/ws from web/node_modules (run `make web`)";
  process.stderr.write(`yclient: ${hint}: ${err.message}\n`);
  process.exit(2);
}

const started = performance.now();
const emit = (event) =>
  process.stdout.write(`${JSON.stringify({ ...event, t_ms: Math.round(performance.now() - started) })}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class Failure extends Error {}

function fail(message) {
  throw new Failure(message);
}

async function readScript() {
  const arg = process.argv[2];
  if (arg !== undefined) {
    const script = JSON.parse(arg.trimStart().startsWith("{") ? arg : readFileSync(arg, "utf8"));
    return { script, more: null };
  }
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await lines.next();
    if (done) fail("no script on stdin");
    if (value.trim()) return { script: JSON.parse(value), more: lines };
  }
}

/** A WebSocket class for the provider that always sends our Cookie and Origin headers. */
function socketClass({ cookie, origin }) {
  const headers = {};
  if (cookie) headers.Cookie = cookie;
  if (origin) headers.Origin = origin;
  return class HeaderWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { headers, perMessageDeflate: false });
    }
  };
}

function main({ script }) {
  if (!script.url || !script.room) fail('the script needs "url" and "room"');
  const defaultTimeout = script.timeout_ms ?? 15_000;
  const WS = socketClass(script);
  const doc = new Y.Doc();
  const ytext = doc.getText("notes");
  const closes = [];
  const provider = new WebsocketProvider(script.url, script.room, doc, {
    WebSocketPolyfill: WS,
    disableBc: true,
    connect: false, // below, once the listeners are on
  });
  provider.awareness.setLocalStateField("user", {
    name: script.name ?? "yclient",
    color: script.color ?? "#1565c0",
  });
  provider.on("status", ({ status }) => emit({ event: "status", status }));
  provider.on("sync", (synced) => emit({ event: "synced", synced, length: ytext.length }));
  provider.on("connection-close", (event) => {
    const code = event?.code ?? null;
    if (code !== null) closes.push(code);
    emit({ event: "close", code, reason: event?.reason ?? "" });
  });
  provider.on("closed", ({ code, reason }) => emit({ event: "closed", code, reason }));
  doc.on("update", (_update, origin) => {
    if (origin === provider) emit({ event: "remote", length: ytext.length });
  });
  if (script.connect ?? true) provider.connect();

  const text = () => ytext.toString();
  const waitUntil = async (condition, what, timeout) => {
    const deadline = performance.now() + (timeout ?? defaultTimeout);
    while (!condition()) {
      if (performance.now() > deadline) {
        fail(`timed out after ${timeout ?? defaultTimeout} ms waiting for ${what}`);
      }
      await sleep(10);
    }
  };
  const position = (index) => {
    if (index === undefined || index === "end") return ytext.length;
    if (!Number.isInteger(index) || index < 0 || index > ytext.length) fail(`bad index ${index}`);
    return index;
  };
  const typeOne = (char, index, n) => {
    ytext.insert(position(index), char);
    emit({
      event: "typed",
      n,
      char,
      length: ytext.length,
      connected: provider.wsconnected,
      synced: provider.synced,
    });
  };

  async function probe(action) {
    const deadline = performance.now() + (action.timeout_ms ?? defaultTimeout);
    for (;;) {
      const fresh = new Y.Doc();
      const other = new WebsocketProvider(script.url, script.room, fresh, {
        WebSocketPolyfill: WS,
        disableBc: true,
      });
      other.awareness.setLocalState(null);
      try {
        await waitUntil(() => other.synced, "the probe to sync", deadline - performance.now());
        const seen = fresh.getText("notes").toString();
        if (action.includes === undefined || seen.includes(action.includes)) {
          emit({ event: "probe", text: seen });
          return;
        }
      } finally {
        other.destroy();
        fresh.destroy();
      }
      if (performance.now() > deadline) {
        fail(`timed out: the server's text does not include ${JSON.stringify(action.includes)}`);
      }
      await sleep(100);
    }
  }

  const handlers = {
    wait_synced: (a) =>
      waitUntil(() => provider.wsconnected && provider.synced, "sync with the server", a.timeout_ms),
    insert: (a) => ytext.insert(position(a.index), String(a.text ?? "")),
    delete: (a) => ytext.delete(position(a.index), a.length ?? 1),
    async type(a) {
      let n = 0;
      for (const char of String(a.text ?? "")) {
        typeOne(char, a.index, ++n);
        await sleep(a.interval_ms ?? 50);
      }
    },
    async type_for(a) {
      const chars = [...String(a.text ?? "x")];
      const end = performance.now() + (a.duration_ms ?? 1000);
      let n = 0;
      while (performance.now() < end) {
        typeOne(chars[n % chars.length], "end", n + 1);
        n += 1;
        await sleep(a.interval_ms ?? 50);
      }
    },
    wait_text_includes: (a) =>
      waitUntil(() => text().includes(a.text), `the text to include ${JSON.stringify(a.text)}`, a.timeout_ms),
    wait_text_equals: (a) =>
      waitUntil(() => text() === a.text, `the text to equal ${JSON.stringify(a.text)}`, a.timeout_ms),
    disconnect: () => provider.disconnect(),
    connect: () => provider.connect(),
    sleep: (a) => sleep(a.ms ?? 0),
    print: () => emit({ event: "text", text: text() }),
    probe,
    wait_closed: (a) =>
      waitUntil(() => closes.includes(a.code), `the server to close with ${a.code}`, a.timeout_ms),
    set_awareness: (a) => provider.awareness.setLocalState(a.state ?? null),
    wait_awareness: (a) =>
      waitUntil(
        () =>
          [...provider.awareness.getStates()].some(
            ([client, state]) => client !== doc.clientID && state?.user?.name === a.name,
          ),
        `another client named ${JSON.stringify(a.name)}`,
        a.timeout_ms,
      ),
  };

  let index = 0;
  const run = async (action) => {
    const handler = handlers[action?.type];
    if (!handler) fail(`unknown action ${JSON.stringify(action)}`);
    await handler(action);
    emit({ event: "done", index: index++, type: action.type });
  };
  const finish = async () => {
    const final = text();
    provider.destroy();
    await sleep(50); // let the awareness removal and the close frame go out
    process.stdout.write(`${JSON.stringify({ text: final })}\n`);
  };
  return { run, finish, text };
}

let client = null;
try {
  const { script, more } = await readScript();
  client = main({ script });
  for (const action of script.actions ?? []) await client.run(action);
  if (more) {
    for (;;) {
      const { value, done } = await more.next();
      if (done) break;
      if (value.trim()) await client.run(JSON.parse(value));
    }
  }
  await client.finish();
  process.exit(0);
} catch (err) {
  const message = err instanceof Failure ? err.message : `${err?.name ?? "Error"}: ${err?.message ?? err}`;
  emit({ event: "error", message, text: client?.text() ?? null });
  process.stderr.write(`yclient: ${message}\n`);
  process.exit(1);
}
