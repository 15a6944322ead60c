"""Room audit events are never silently lost (issue 8, item 7): a write that fails is retried in
order, and a node whose records cannot keep up refuses new joins (1013) instead of running
rooms unaudited."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from server.infra.audit_chain import AuditEvent
from server.infra.storage import Store
from server.infra.storage.audit import NewAuditEvent
from server.infra.storage.schema import audit_events
from server.live.rooms.records import RoomRecords
from signaling import Join, Welcome
from tests.rooms.client import signaling
from tests.support import RunningServer, make_scene


class _FlakyAudit:
    """The real audit log, whose next ``failures`` writes fail as if the database were away."""

    def __init__(self, real: Any, failures: int) -> None:
        self._real = real
        self.failures = failures
        self.calls = 0

    async def append_many(self, entries: Sequence[NewAuditEvent]) -> list[AuditEvent]:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database went away")
        result: list[AuditEvent] = await self._real.append_many(entries)
        return result


class _FlakyStore:
    def __init__(self, real: Store, failures: int) -> None:
        self.audit = _FlakyAudit(real.audit, failures)
        self.marks = real.marks
        self.sessions = real.sessions
        self.login_sessions = real.login_sessions


async def _actions(store: Store, prefix: str) -> list[str]:
    async with store.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(audit_events.c.action)
            .where(audit_events.c.action.startswith(prefix))
            .order_by(audit_events.c.seq)
        )
        return [str(r.action) for r in rows]


async def test_a_failing_store_loses_no_room_event(store: Store) -> None:
    flaky = _FlakyStore(store, failures=4)
    records = RoomRecords(cast(Store, flaky))
    await records.start()
    try:
        for i in range(30):
            records.audit(f"e{i:02d}", session_id="s1", actor_id="a", detail={"i": str(i)})
        async with asyncio.timeout(10):
            await records.flush()
        # More fail while some are already written: still every one, still in order.
        flaky.audit.failures = 3
        for i in range(30, 60):
            records.audit(f"e{i:02d}", session_id="s1", actor_id="a", detail={"i": str(i)})
        async with asyncio.timeout(10):
            await records.flush()
    finally:
        await records.close()
    assert await _actions(store, "room.e") == [f"room.e{i:02d}" for i in range(60)]
    assert flaky.audit.calls > 2
    assert await store.audit.verify() == (60, None)


async def test_a_full_record_queue_refuses_joins_and_then_recovers(
    server: RunningServer,
) -> None:
    scene = await make_scene(server)
    svc = server.services
    audit = svc.store.audit
    real = audit.append_many
    gate = asyncio.Event()

    async def held(entries: Sequence[NewAuditEvent]) -> list[AuditEvent]:
        await gate.wait()  # the database is stalled
        return await real(entries)

    audit.append_many = held  # type: ignore[method-assign]
    try:
        for i in range(10_000):
            svc.records.audit("filler", session_id="other", actor_id=None, detail={"i": str(i)})
        async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
            await mentor.send(Join())
            assert await mentor.closed() == 1013
    finally:
        gate.set()
        audit.append_many = real  # type: ignore[method-assign]
    async with asyncio.timeout(30):
        await svc.records.flush()
    # Nothing was dropped, and once the record caught up the room opens again.
    assert len(await _actions(svc.store, "room.filler")) == 10_000
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
