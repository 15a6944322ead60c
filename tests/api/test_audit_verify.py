"""Verifying the audit log streams it in bounded chunks and hashes off the event loop (issue 8,
item 7), and still finds a tampered row among thousands."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from server.infra.storage import Store
from server.infra.storage.audit import NewAuditEvent
from server.infra.storage.schema import audit_events

_EVENTS = 3000


async def _fill(store: Store, count: int) -> None:
    for start in range(0, count, 500):
        await store.audit.append_many(
            [
                NewAuditEvent("test.event", actor_id="a", target="t", detail={"i": str(i)})
                for i in range(start, min(count, start + 500))
            ]
        )


async def test_verify_reads_in_bounded_chunks_and_finds_a_tampered_row(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _fill(store, _EVENTS)
    # Count the rows each SELECT of audit_events brings back.
    fetched: list[int] = []
    loop_thread = threading.get_ident()
    hashed_on: set[int] = set()
    real_execute = AsyncConnection.execute

    async def counting(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await real_execute(self, statement, *args, **kwargs)
        if isinstance(statement, sa.Select) and audit_events in statement.get_final_froms():
            rows = list(result.all())
            fetched.append(len(rows))
            return _Rows(rows)
        return result

    import server.infra.audit_chain as module

    real_hash = getattr(module, "event_hash")  # noqa: B009 - the name walk() calls

    def spying_hash(*args: Any, **kwargs: Any) -> str:
        hashed_on.add(threading.get_ident())
        digest: str = real_hash(*args, **kwargs)
        return digest

    monkeypatch.setattr(AsyncConnection, "execute", counting)
    monkeypatch.setattr(module, "event_hash", spying_hash)

    assert await store.audit.verify() == (_EVENTS, None)
    assert hashed_on  # every link was checked...
    assert loop_thread not in hashed_on  # ...in worker threads, not on the event loop
    assert sum(fetched) == _EVENTS
    assert max(fetched) <= 1000
    fetched.clear()
    assert await store.audit.verify(chunk=250) == (_EVENTS, None)
    assert sum(fetched) == _EVENTS
    assert max(fetched) <= 250

    async with store.engine.begin() as connection:
        await connection.execute(
            audit_events.update().where(audit_events.c.seq == 2345).values(actor_id="mallory")
        )
    fetched.clear()
    checked, broken = await store.audit.verify(chunk=250)
    assert checked == _EVENTS
    assert broken is not None
    assert broken.seq == 2345
    assert max(fetched) <= 250


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def all(self) -> list[Any]:
        return self._rows


async def test_verify_notices_events_cut_off_the_end(store: Store) -> None:
    await _fill(store, 1200)
    async with store.engine.begin() as connection:
        await connection.execute(audit_events.delete().where(audit_events.c.seq > 1100))
    assert await store.audit.verify(chunk=100) == (1100, _break(1101))


def _break(seq: int) -> Any:
    from server.infra.audit_chain import ChainBreak

    return ChainBreak(seq, "events after this point were removed")
