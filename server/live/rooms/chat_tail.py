"""A room's recent chat, kept in memory where the room runs, so that a member's welcome is
followed by its `chat-history` without a read of the database per join (issue 8: a burst of
joins spent a read each on it, most often to learn that nothing had been said).

The tail is loaded once when the room opens on this node (what was stored before, here or by
the room's previous owner), then every message is added as it is stored. The room's hub queues
the load as a read in the room's records, after every write queued before it, so a message is
either in what the load read or added after it, never both, never neither. A message said on
the room's previous node and stored there only after the room moved comes late, over the bus
(``late``): it is added unless the load or an earlier word of it already has it.

It keeps what either view of the history could send: the last `MAX_CHAT_HISTORY` messages (at
most `MAX_CHAT_HISTORY_BYTES`) that everyone may read, and the same of every message (a mentor's
view: the two audiences together). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from server.infra.storage import ChatMessage
from signaling import (
    MAX_CHAT_HISTORY,
    MAX_CHAT_HISTORY_BYTES,
    ChatHistory,
    ChatPosted,
    ConnectionId,
    PeerId,
    serialize,
)
from signaling.messages import ChatAudience

__all__ = ["ChatTail"]

_Kept = tuple[ChatPosted, int]  # the message as sent, and its size in a history


def _posted(message: ChatMessage) -> _Kept:
    posted = ChatPosted(
        from_=PeerId(message.peer),
        text=message.text,
        at=round(message.at * 1000),
        name=message.author_name,
        id=message.id,
        audience=message.audience,
    )
    return posted, len(serialize(posted).encode())


def _newest(kept: Sequence[_Kept], audiences: Collection[ChatAudience]) -> list[_Kept]:
    """What a history for ``audiences`` sends of ``kept`` (oldest first): its newest messages
    for them, as many as fit in `MAX_CHAT_HISTORY` and `MAX_CHAT_HISTORY_BYTES`; oldest first."""
    chosen: list[_Kept] = []
    size = 0
    for item in reversed(kept):
        if item[0].audience not in audiences:
            continue
        size += item[1]
        if len(chosen) == MAX_CHAT_HISTORY or size > MAX_CHAT_HISTORY_BYTES:
            break
        chosen.append(item)
    chosen.reverse()
    return chosen


_EVERYONE: tuple[ChatAudience] = ("everyone",)
_EVERY_AUDIENCE: tuple[ChatAudience, ...] = ("everyone", "mentors")


class ChatTail:
    def __init__(self) -> None:
        self._kept: list[_Kept] | None = None  # oldest first; None until loaded
        self._late: list[ChatMessage] = []  # heard of before the load: added to it
        self._size = 0
        self._storing = 0
        self._waiting: list[tuple[ConnectionId, tuple[ChatAudience, ...]]] = []

    @property
    def kept(self) -> int:
        """How many messages it holds."""
        return len(self._kept or ())

    @property
    def loaded(self) -> bool:
        return self._kept is not None

    @property
    def settled(self) -> bool:
        """Loaded, and no message on its way to the store. A message on its way was relayed to
        the members the room had when it was said: one who joined since hears it only in a
        history sent once it is stored."""
        return self._kept is not None and self._storing == 0

    def wait(self, to: ConnectionId, audiences: tuple[ChatAudience, ...]) -> bool:
        """``to`` is owed the history for ``audiences`` once loaded; True for the first to
        wait, who is to start the load."""
        self._waiting.append((to, audiences))
        return len(self._waiting) == 1

    def history(self, audiences: Collection[ChatAudience]) -> ChatHistory:
        assert self._kept is not None
        return ChatHistory(messages=tuple(posted for posted, _ in _newest(self._kept, audiences)))

    def load(
        self, everyone: Sequence[ChatMessage], every_audience: Sequence[ChatMessage]
    ) -> list[tuple[ConnectionId, tuple[ChatAudience, ...]]]:
        """The stored chat, read together (oldest first): the last `MAX_CHAT_HISTORY` messages
        everyone may read, and the same of all. Returns those owed a history."""
        # What the first holds beyond the second is older than all of the second.
        newer = {m.id for m in every_audience}
        merged = [m for m in everyone if m.id not in newer] + list(every_audience)
        read = {m.id for m in merged}
        late, self._late = self._late, []
        merged += [m for m in late if m.id not in read]
        self._kept = [_posted(m) for m in merged]
        self._size = sum(size for _, size in self._kept)
        self._trim()
        waiting, self._waiting = self._waiting, []
        return waiting

    def failed(self) -> None:
        """The load could not be read: those waiting keep what their page shows; the next
        member's welcome tries again."""
        self._waiting = []

    def storing(self) -> None:
        """A message is on its way to the store."""
        self._storing += 1

    def stored(self, message: ChatMessage | None) -> None:
        """The message on its way is stored (None: it could not be). Before the load it is left
        out: the load's read has it."""
        self._storing -= 1
        if self._kept is None or message is None:
            return
        self._add(_posted(message))

    def late(self, message: ChatMessage) -> ChatPosted | None:
        """A message stored by the room's previous node after the room moved here; kept in the
        order heard, once, whether or not the load's read found it. Returns it as sent when it
        is news to the tail (the members here have not had it in a history)."""
        if self._kept is None:
            # The load is yet to come: whoever waits for it gets the message in its history.
            if all(m.id != message.id for m in self._late):
                self._late.append(message)
            return None
        if any(posted.id == message.id for posted, _ in self._kept):
            return None
        item = _posted(message)
        self._add(item)
        return item[0]

    def _add(self, item: _Kept) -> None:
        assert self._kept is not None
        self._kept.append(item)
        self._size += item[1]
        if len(self._kept) > 2 * MAX_CHAT_HISTORY or self._size > 2 * MAX_CHAT_HISTORY_BYTES:
            self._trim()

    def _trim(self) -> None:
        """Keep only what one of the two views could still send."""
        assert self._kept is not None
        needed = {id(item) for item in _newest(self._kept, _EVERYONE)}
        needed |= {id(item) for item in _newest(self._kept, _EVERY_AUDIENCE)}
        self._kept = [item for item in self._kept if id(item) in needed]
        self._size = sum(size for _, size in self._kept)
