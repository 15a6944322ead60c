"""Speaking time on SQLite and PostgreSQL (issue 11): reports add to a minute's row, a minute
never holds more than a minute, and the rows go with their session."""

from __future__ import annotations

from server.infra.roles import Role
from server.infra.storage import Store
from server.infra.storage.speaking import SpeakingMinute, SpeakingStore, by_person


async def test_reports_add_to_each_minute_and_read_back_by_person(store: Store) -> None:
    mentor = await store.users.create(
        email="m@example.org", name="M", role=Role.MENTOR, password_hash="h"
    )
    session = await store.sessions.create(
        title="Ward", mentor_id=mentor.id, trainee_ids=[], media_mode="routed", scheduled_for=None
    )
    speaking = SpeakingStore(store.engine)
    s = session.id
    await speaking.add([SpeakingMinute(s, "ana", 0, 20_000), SpeakingMinute(s, "ben", 0, 5_000)])
    # The same minute reported again (the next report while it lasts), and twice in one report.
    await speaking.add(
        [
            SpeakingMinute(s, "ana", 0, 15_000),
            SpeakingMinute(s, "ana", 1, 1_000),
            SpeakingMinute(s, "ana", 1, 2_000),
        ]
    )
    await speaking.add([])
    assert await speaking.for_session(s) == [
        SpeakingMinute(s, "ana", 0, 35_000),
        SpeakingMinute(s, "ana", 1, 3_000),
        SpeakingMinute(s, "ben", 0, 5_000),
    ]
    # A minute never holds more than 60 s, however it is reported.
    await speaking.add([SpeakingMinute(s, "ana", 0, 50_000)])
    await speaking.add([SpeakingMinute(s, "ben", 2, 90_000)])
    rows = await speaking.for_session(s)
    assert rows[0] == SpeakingMinute(s, "ana", 0, 60_000)
    assert rows[-1] == SpeakingMinute(s, "ben", 2, 60_000)
    ben, ana = by_person(rows)  # the most talkative first
    assert (ben.subject, ben.total_ms) == ("ben", 65_000)
    assert (ana.subject, ana.total_ms, ana.minutes) == ("ana", 63_000, ((0, 60_000), (1, 3_000)))
    assert abs(ana.share + ben.share - 1.0) < 1e-9
    assert await speaking.for_session("no-such-session") == []


def test_by_person_puts_the_most_talkative_first_and_shares_nothing_of_silence() -> None:
    rows = [SpeakingMinute("s", "ana", 1, 1_000), SpeakingMinute("s", "ben", 0, 3_000)]
    people = by_person(rows)
    assert [p.subject for p in people] == ["ben", "ana"]
    assert [p.share for p in people] == [0.75, 0.25]
    assert by_person([]) == []
    (nobody,) = by_person([SpeakingMinute("s", "ana", 0, 0)])
    assert nobody.share == 0.0
