// The stock Yjs client libraries for Node test clients (tests/notes/yclient.mjs). Node resolves
// bare specifiers from the importing file's directory upwards, so importing them here finds
// web/node_modules wherever the caller lives. Not part of the browser bundle.

export * as Y from "yjs";
export { WebsocketProvider } from "y-websocket";
export { default as WebSocket } from "ws";
