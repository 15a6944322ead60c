"""A room's chat tail (server/live/rooms/chat_tail.py): the history a member's welcome is
followed by, from memory, the same as a read of the stored chat would give (issue 8)."""

from __future__ import annotations

from server.infra.storage import ChatMessage
from server.live.rooms.chat_tail import ChatTail
from signaling import MAX_CHAT_HISTORY, MAX_CHAT_HISTORY_BYTES, ConnectionId, serialize
from signaling.messages import MAX_CHAT, ChatAudience

EVERYONE: tuple[ChatAudience, ...] = ("everyone",)
MENTORS_VIEW: tuple[ChatAudience, ...] = ("everyone", "mentors")


def _said(n: int, audience: ChatAudience = "everyone", text: str = "hello") -> ChatMessage:
    return ChatMessage(f"c{n}", "s1", "p1", "u1", "Sam", text, 1.7e9 + n, n, audience)


def _ids(tail: ChatTail, audiences: tuple[ChatAudience, ...]) -> list[str]:
    return [m.id for m in tail.history(audiences).messages]


def _read(stored: list[ChatMessage], audiences: tuple[ChatAudience, ...]) -> list[ChatMessage]:
    """What a read of the stored chat for ``audiences`` gives (ChatStore.recent)."""
    return [m for m in stored if m.audience in audiences][-MAX_CHAT_HISTORY:]


def _loaded(stored: list[ChatMessage]) -> ChatTail:
    tail = ChatTail()
    tail.load(_read(stored, EVERYONE), _read(stored, MENTORS_VIEW))
    return tail


def test_each_view_gets_what_a_read_would_give() -> None:
    # Hidden observers said more than a history holds after the last lines everyone may read.
    stored = [_said(n) for n in range(30)]
    stored += [_said(n, "mentors") for n in range(30, 30 + MAX_CHAT_HISTORY + 10)]
    tail = _loaded(stored)
    assert _ids(tail, EVERYONE) == [f"c{n}" for n in range(30)]
    # A mentor's view: the newest of everything, which here is all for mentors only.
    assert _ids(tail, MENTORS_VIEW) == [f"c{n}" for n in range(40, 40 + MAX_CHAT_HISTORY)]


def test_what_is_stored_after_the_load_is_added_and_what_before_is_left_to_it() -> None:
    tail = ChatTail()
    tail.storing()
    tail.stored(_said(1))  # stored before the load: the load's read has it
    assert not tail.loaded
    tail.load([_said(1)], [_said(1)])
    tail.storing()
    assert not tail.settled
    tail.stored(_said(2))
    tail.storing()
    tail.stored(None)  # could not be stored: never relayed, never in a history
    assert tail.settled
    assert _ids(tail, EVERYONE) == ["c1", "c2"]


def test_it_stays_within_what_the_two_views_can_send() -> None:
    tail = _loaded([])
    for n in range(10):
        tail.storing()
        tail.stored(_said(n))
    for n in range(10, 10 + 5 * MAX_CHAT_HISTORY):
        tail.storing()
        tail.stored(_said(n, "mentors"))
    assert _ids(tail, EVERYONE) == [f"c{n}" for n in range(10)]
    assert len(_ids(tail, MENTORS_VIEW)) == MAX_CHAT_HISTORY
    assert tail.history(MENTORS_VIEW).messages[-1].id == f"c{9 + 5 * MAX_CHAT_HISTORY}"
    assert tail.kept <= 2 * MAX_CHAT_HISTORY + 10
    # Long lines: bounded by the history's size too, and still the newest.
    for n in range(1000, 1000 + 3 * MAX_CHAT_HISTORY):
        tail.storing()
        tail.stored(_said(n, text="x" * MAX_CHAT))
    # The newest run of them that fits a history's bytes.
    end = 1000 + 3 * MAX_CHAT_HISTORY
    kept = _ids(tail, EVERYONE)
    assert 0 < len(kept) < MAX_CHAT_HISTORY
    assert kept == [f"c{n}" for n in range(end - len(kept), end)]
    assert len(serialize(tail.history(EVERYONE))) <= MAX_CHAT_HISTORY_BYTES


def test_those_who_asked_before_the_load_get_it_once() -> None:
    tail = ChatTail()
    assert tail.wait(ConnectionId("a"), EVERYONE)
    assert not tail.wait(ConnectionId("b"), MENTORS_VIEW)
    assert tail.load([], []) == [(ConnectionId("a"), EVERYONE), (ConnectionId("b"), MENTORS_VIEW)]
    assert tail.load([], []) == []
    tail = ChatTail()
    tail.wait(ConnectionId("a"), EVERYONE)
    tail.failed()
    assert tail.wait(ConnectionId("b"), EVERYONE)  # the next welcome tries again


def test_a_line_stored_late_by_the_rooms_previous_node_is_added_once() -> None:
    # Loaded on the new owner before the old one stored line 2, which comes late over the bus.
    tail = _loaded([_said(1)])
    tail.storing()
    tail.stored(_said(3))  # said here meanwhile
    tail.late(_said(2))
    tail.late(_said(2))  # told twice: kept once
    tail.late(_said(3))  # already here
    assert _ids(tail, EVERYONE) == ["c1", "c3", "c2"]
    # A hidden observer's line keeps its audience.
    tail.late(_said(4, "mentors"))
    assert _ids(tail, EVERYONE) == ["c1", "c3", "c2"]
    assert _ids(tail, MENTORS_VIEW) == ["c1", "c3", "c2", "c4"]


def test_a_late_line_heard_before_the_load_joins_it_unless_the_load_read_it() -> None:
    tail = ChatTail()
    tail.late(_said(2))
    tail.late(_said(3))
    assert not tail.loaded
    # The load's read already found line 3 (stored before it), not line 2.
    tail.load([_said(1), _said(3)], [_said(1), _said(3)])
    assert _ids(tail, EVERYONE) == ["c1", "c3", "c2"]
