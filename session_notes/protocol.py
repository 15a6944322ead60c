"""The y-websocket wire protocol (y-protocols ``sync`` and ``awareness``), sans I/O.

A frame is ``varUint messageType`` followed by its body:
- ``0`` sync: ``varUint syncType`` (0 step 1, 1 step 2, 2 update) and a ``varUint8Array``
  (a state vector for step 1, an update otherwise);
- ``1`` awareness: a ``varUint8Array`` holding ``varUint n`` entries of
  ``varUint clientID, varUint clock, varString stateJSON``;
- ``3`` query awareness (no body). ``2`` (auth) is server-to-client only.

Every read is bounds-checked: a truncated or garbled frame raises :class:`NotesProtocolError`
and nothing else (pycrdt's own decoder indexes past the end instead).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

__all__ = [
    "AwarenessEntry",
    "AwarenessUpdate",
    "NotesMessage",
    "NotesProtocolError",
    "QueryAwareness",
    "SyncStep1",
    "SyncStep2",
    "SyncUpdate",
    "awareness_frame",
    "encode_awareness",
    "parse_awareness",
    "parse_frame",
    "sync_step1_frame",
    "sync_step2_frame",
    "update_frame",
]

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_QUERY_AWARENESS = 3
SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

# One client's awareness state (its cursor and name), in UTF-8 bytes of JSON.
MAX_AWARENESS_STATE = 4096
MAX_AWARENESS_ENTRIES = 64
# lib0 numbers are JavaScript numbers: client ids and clocks stay below 2**53.
MAX_NUMBER = 2**53 - 1


class NotesProtocolError(Exception):
    """A frame that is not valid y-websocket; ``code`` is short and stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True)
class SyncStep2:
    update: bytes


@dataclass(frozen=True)
class SyncUpdate:
    update: bytes


@dataclass(frozen=True)
class AwarenessUpdate:
    payload: bytes
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True)
class QueryAwareness:
    pass


@dataclass(frozen=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # JSON text; "null" when the client went away


NotesMessage = SyncStep1 | SyncStep2 | SyncUpdate | AwarenessUpdate | QueryAwareness


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def var_uint(self) -> int:
        value = 0
        shift = 0
        while True:
            if self.pos >= len(self.data):
                raise NotesProtocolError("truncated", "frame ends inside a number")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                if value > MAX_NUMBER:
                    raise NotesProtocolError("invalid", "number too large")
                return value
            shift += 7
            if shift > 53:  # lib0 numbers are at most 53 bits
                raise NotesProtocolError("invalid", "number too large")

    def bytes_(self) -> bytes:
        length = self.var_uint()
        end = self.pos + length
        if end > len(self.data):
            raise NotesProtocolError("truncated", "frame ends inside a byte array")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def string(self, what: str, max_bytes: int) -> str:
        chunk = self.bytes_()
        if len(chunk) > max_bytes:
            raise NotesProtocolError("too-big", f"{what} is at most {max_bytes} bytes")
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            raise NotesProtocolError("invalid", "a string is not UTF-8") from None

    def done(self) -> None:
        if self.pos != len(self.data):
            raise NotesProtocolError("invalid", "unexpected bytes after the message")


def parse_frame(data: bytes) -> NotesMessage:
    reader = _Reader(data)
    kind = reader.var_uint()
    if kind == MESSAGE_SYNC:
        sync_type = reader.var_uint()
        payload = reader.bytes_()
        reader.done()
        if sync_type == SYNC_STEP1:
            return SyncStep1(payload)
        if sync_type == SYNC_STEP2:
            return SyncStep2(payload)
        if sync_type == SYNC_UPDATE:
            return SyncUpdate(payload)
        raise NotesProtocolError("unknown-type", f"unknown sync message {sync_type}")
    if kind == MESSAGE_AWARENESS:
        payload = reader.bytes_()
        reader.done()
        return AwarenessUpdate(payload, parse_awareness(payload))
    if kind == MESSAGE_QUERY_AWARENESS:
        reader.done()
        return QueryAwareness()
    raise NotesProtocolError("unknown-type", f"unknown message type {kind}")


def parse_awareness(payload: bytes) -> tuple[AwarenessEntry, ...]:
    reader = _Reader(payload)
    count = reader.var_uint()
    if count > MAX_AWARENESS_ENTRIES:
        raise NotesProtocolError("invalid", "too many awareness entries")
    entries = []
    for _ in range(count):
        client_id = reader.var_uint()
        clock = reader.var_uint()
        state = reader.string("an awareness state", MAX_AWARENESS_STATE)
        try:
            json.loads(state)
        except ValueError:
            raise NotesProtocolError("invalid", "awareness state is not JSON") from None
        entries.append(AwarenessEntry(client_id, clock, state))
    reader.done()
    return tuple(entries)


def _var_uint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def _bytes(chunk: bytes) -> bytes:
    return _var_uint(len(chunk)) + chunk


def sync_step1_frame(state_vector: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_STEP1]) + _bytes(state_vector)


def sync_step2_frame(update: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_STEP2]) + _bytes(update)


def update_frame(update: bytes) -> bytes:
    return bytes([MESSAGE_SYNC, SYNC_UPDATE]) + _bytes(update)


def encode_awareness(entries: tuple[AwarenessEntry, ...] | list[AwarenessEntry]) -> bytes:
    body = _var_uint(len(entries))
    for entry in entries:
        body += _var_uint(entry.client_id) + _var_uint(entry.clock)
        body += _bytes(entry.state.encode("utf-8"))
    return body


def awareness_frame(payload: bytes) -> bytes:
    return bytes([MESSAGE_AWARENESS]) + _bytes(payload)
