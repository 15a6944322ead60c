"""The record's timeline is paged, not cut at the oldest 2,000 events (issue 8, item 7), and the
participants still come from every join and leave."""

from __future__ import annotations

from server.infra.storage.audit import NewAuditEvent
from tests.support import RunningServer, make_scene


async def test_the_timeline_pages_back_to_the_first_event(server: RunningServer) -> None:
    scene = await make_scene(server)
    sid = scene.session_id
    audit = server.services.store.audit
    mentor = scene.mentor.id
    # An early join (and a leave) by someone who never comes back, then a long session.
    await audit.append_many(
        [
            NewAuditEvent("room.join", actor_id="early-bird", target=sid, detail={"role": "x"}),
            NewAuditEvent("room.leave", actor_id="early-bird", target=sid),
        ]
    )
    # Views interleaved with the room's life must not crowd the pages.
    for start in range(0, 2500, 500):
        await audit.append_many(
            [
                NewAuditEvent(
                    "room.recording" if i % 2 else "record.viewed",
                    actor_id=mentor,
                    target=sid,
                    detail={"i": str(i)},
                )
                for i in range(start, start + 500)
            ]
        )
    await audit.append("room.join", actor_id=mentor, target=sid, detail={"role": "mentor"})

    record = await scene.mentor_http.get(f"/api/sessions/{sid}/record")
    assert record.status_code == 200, record.text
    body = record.json()
    assert {p["id"] for p in body["participants"]} == {"early-bird", mentor}
    newest = body["timeline"]
    assert newest[-1]["action"] == "room.join"
    assert all(e["action"] != "record.viewed" for e in newest)
    assert [e["seq"] for e in newest] == sorted(e["seq"] for e in newest)

    # Page back to the very first event: all 1,254 timeline events, each once, in order.
    seen = list(newest)
    cursor = body["timeline_next"]
    pages = 0
    while cursor is not None:
        page = await scene.mentor_http.get(
            f"/api/sessions/{sid}/timeline", params={"before": cursor, "limit": 300}
        )
        assert page.status_code == 200, page.text
        assert page.headers["cache-control"] == "no-store"
        assert len(page.json()["events"]) <= 300
        seen = page.json()["events"] + seen
        cursor = page.json()["next"]
        pages += 1
    assert pages >= 4
    assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})
    assert [e["action"] for e in seen[:3]] == ["session.created", "room.join", "room.leave"]
    assert len(seen) == 1 + 2 + 1250 + 1

    # Each page is a view of the record, and is audited as one.
    views = await audit.recent(5, action="record.viewed")
    assert any(v.detail.get("part") == "timeline" and v.target == sid for v in views)


async def test_timeline_pages_ask_the_policy_and_check_their_input(
    server: RunningServer,
) -> None:
    scene = await make_scene(server)
    sid = scene.session_id
    url = f"/api/sessions/{sid}/timeline"
    # The guest was not admitted: not theirs to read.
    assert (await scene.guest_http.get(url)).status_code in (403, 404)
    async with server.client() as anonymous:
        assert (await anonymous.get(url)).status_code == 401
    for bad in ({"limit": "0"}, {"limit": "5000"}, {"before": "x"}, {"before": "-1"}):
        answer = await scene.mentor_http.get(url, params=bad)
        assert answer.status_code == 422, bad
    only = (await scene.mentor_http.get(url)).json()
    assert [e["action"] for e in only["events"]] == ["session.created"]
    assert only["next"] is None
