"""A trainee's progress and the review home through the real server, on SQLite and PostgreSQL:
the series from seeded feedback (amended forms, "not observed"), the CSV, who may look (and the
audit of every look and refusal), bad filters; countersigning with a comment, and returning a
form to its mentor, who revises it as an amendment."""

from __future__ import annotations

import csv
import dataclasses
import io
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server.config import Config
from server.infra.roles import Role, User
from tests.support import RunningServer

DAY = 86_400.0
T0 = 1_790_000_000.0  # 2026-09-21


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    return dataclasses.replace(config, database_url=database_url)


@dataclass
class Cast:
    server: RunningServer
    trainee: User
    mentor: httpx.AsyncClient
    mentor_b: httpx.AsyncClient
    trainee_http: httpx.AsyncClient
    other_trainee: httpx.AsyncClient
    supervisor: httpx.AsyncClient
    other_supervisor: httpx.AsyncClient
    admin: httpx.AsyncClient
    ids: dict[str, str]


async def session_with_form(
    server: RunningServer,
    mentor: httpx.AsyncClient,
    trainee_id: str,
    *,
    day: int,
    responses: dict[str, Any],
    mark: str | None = None,
) -> tuple[str, str]:
    created = await mentor.post(
        "/api/sessions", json={"title": f"Clinic day {day}", "trainee_ids": [trainee_id]}
    )
    sid = created.json()["id"]
    await server.services.store.sessions.mark_live(sid, now=T0 + day * DAY)
    evidence = {}
    if mark:
        made = await mentor.post(
            f"/api/sessions/{sid}/marks", json={"label": mark, "at_ms": 102_000}
        )
        evidence = {"clinical_judgment": [made.json()["id"]]}
    answers = {
        "setting": "inpatient",
        "complexity": "moderate",
        "time_observing_min": 15,
        "time_feedback_min": 5,
        "comments": f"Day {day}: steady.",
        "medical_interviewing": 6,
        "physical_examination": 6,
        "humanistic_professionalism": 6,
        "clinical_judgment": 6,
        "counseling": 6,
        "organization_efficiency": 6,
        "overall_clinical_competence": 6,
        **responses,
    }
    draft = await mentor.post(
        f"/api/sessions/{sid}/feedback",
        json={
            "instrument_id": "mini-cex-abim",
            "trainee_id": trainee_id,
            "responses": answers,
            "evidence": evidence,
        },
    )
    assert draft.status_code == 201, draft.text
    form_id = draft.json()["id"]
    submitted = await mentor.post(f"/api/feedback/{form_id}/submit")
    assert submitted.status_code == 200, submitted.text
    return sid, form_id


@pytest.fixture
async def cast(server: RunningServer) -> Cast:
    trainee = await server.user(Role.TRAINEE)
    other_trainee = await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.store.users.assign(supervisor.id, trainee.id)
    mentor = await server.signed_in(await server.user(Role.MENTOR))
    mentor_b = await server.signed_in(await server.user(Role.MENTOR))
    ids: dict[str, str] = {}
    ids["s1"], ids["f1"] = await session_with_form(
        server,
        mentor,
        trainee.id,
        day=1,
        responses={"clinical_judgment": 3, "comments": "Check red flags first."},
        mark="missed red flag",
    )
    ids["s2"], ids["f2"] = await session_with_form(
        server, mentor, trainee.id, day=8, responses={"clinical_judgment": 5}
    )
    ids["s3"], ids["f3"] = await session_with_form(
        server,
        mentor_b,
        trainee.id,
        day=15,
        responses={"clinical_judgment": 7, "physical_examination": None},
    )
    # Mentor A corrects the second form: the amendment replaces it in the series.
    amended = await mentor.post(f"/api/feedback/{ids['f2']}/amend")
    ids["f2b"] = amended.json()["id"]
    fixed = await mentor.put(
        f"/api/feedback/{ids['f2b']}",
        json={"responses": {**amended.json()["responses"], "clinical_judgment": 4}},
    )
    assert fixed.status_code == 200, fixed.text
    assert (await mentor.post(f"/api/feedback/{ids['f2b']}/submit")).status_code == 200
    return Cast(
        server,
        trainee,
        mentor,
        mentor_b,
        await server.signed_in(trainee),
        await server.signed_in(other_trainee),
        await server.signed_in(supervisor),
        await server.signed_in(await server.user(Role.SUPERVISOR)),
        await server.signed_in(await server.user(Role.ADMIN)),
        ids,
    )


def judgment(body: dict[str, Any]) -> list[tuple[str, float]]:
    mini = next(i for i in body["instruments"] if i["instrument_id"] == "mini-cex-abim")
    series = next(s for s in mini["series"] if s["key"] == "clinical_judgment")
    return [(p["session_id"], p["value"]) for p in series["points"]]


async def test_the_supervisor_sees_the_series_with_its_evidence(cast: Cast) -> None:
    url = f"/api/trainees/{cast.trainee.id}/progress"
    response = await cast.supervisor.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["trainee"] == {"id": cast.trainee.id, "name": cast.trainee.name}
    assert (body["scope"], body["reliable_after"], body["assessments"]) == ("all", 12, 3)
    ids = cast.ids
    assert judgment(body) == [(ids["s1"], 3), (ids["s2"], 4), (ids["s3"], 7)]
    mini = body["instruments"][0]
    first = mini["series"][3]["points"][0]
    assert first["marks"][0]["label"] == "missed red flag"
    assert first["marks"][0]["at_ms"] == 102_000
    assert first["date"] == T0 + DAY
    # "Not observed" is no point: mentor B's physical examination is missing from its series.
    exam = next(s for s in mini["series"] if s["key"] == "physical_examination")
    assert [p["session_id"] for p in exam["points"]] == [ids["s1"], ids["s2"]]
    assert [c["text"] for c in body["comments"]] == [
        "Check red flags first.",
        "Day 8: steady.",
        "Day 15: steady.",
    ]
    assert len(body["mentor_facets"]) == 2

    # Filters: a mentor, a date range (inclusive of its last day).
    mentor_b_id = next(f["id"] for f in body["mentor_facets"] if f["id"] != first["mentor_id"])
    only_b = (await cast.supervisor.get(url, params={"mentor": mentor_b_id})).json()
    assert judgment(only_b) == [(ids["s3"], 7)]
    window = await cast.supervisor.get(url, params={"from": "2026-09-22", "to": "2026-09-29"})
    assert judgment(window.json()) == [(ids["s1"], 3), (ids["s2"], 4)]

    # The points of the newest assessments only (a trainee with hundreds of sessions): the
    # older ones are counted, and the date filters reach them.
    newest = (await cast.supervisor.get(url, params={"latest": 1})).json()
    assert judgment(newest) == [(ids["s3"], 7)]
    assert (newest["instruments"][0]["assessments"], newest["instruments"][0]["older"]) == (3, 2)
    assert newest["assessments"] == 3
    assert [c["text"] for c in newest["comments"]] == ["Day 15: steady."]
    assert body["instruments"][0]["older"] == 0
    earlier = await cast.supervisor.get(url, params={"latest": 1, "to": "2026-09-29"})
    assert judgment(earlier.json()) == [(ids["s2"], 4)]


async def test_the_csv_opens_in_a_spreadsheet(cast: Cast) -> None:
    response = await cast.supervisor.get(f"/api/trainees/{cast.trainee.id}/progress.csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    judged = [r["value"] for r in rows if r["item_id"] == "clinical_judgment"]
    assert judged == ["3", "4", "7"]
    assert {r["form_id"] for r in rows} == {cast.ids["f1"], cast.ids["f2b"], cast.ids["f3"]}
    cited = next(r for r in rows if r["item_id"] == "clinical_judgment")["cited_marks"]
    assert cited == "at +01:42 missed red flag"


async def test_who_may_see_a_trainee_and_every_look_is_audited(cast: Cast) -> None:
    url = f"/api/trainees/{cast.trainee.id}/progress"
    assert (await cast.trainee_http.get(url)).status_code == 200
    assert (await cast.admin.get(url)).status_code == 200
    for stranger in (cast.other_trainee, cast.other_supervisor):
        refused = await stranger.get(url)
        assert refused.status_code == 404
        assert refused.json()["message"] == "no such trainee"
        assert (await stranger.get(url + ".csv")).status_code == 404
    guessed = await cast.supervisor.get("/api/trainees/no-such-trainee/progress")
    assert guessed.status_code == 404
    # A mentor sees only what they wrote.
    mine = (await cast.mentor_b.get(url)).json()
    assert mine["scope"] == "mine"
    assert judgment(mine) == [(cast.ids["s3"], 7)]

    audit = cast.server.services.store.audit
    events = await audit.about(cast.trainee.id, prefixes=("progress.",))
    actions = [e.action for e in events]
    assert actions.count("progress.viewed") == 3
    assert actions.count("progress.refused") == 4
    assert actions.count("progress.exported") == 0


async def test_bad_filters_answer_422_with_a_reason(cast: Cast) -> None:
    url = f"/api/trainees/{cast.trainee.id}/progress"
    cases = [
        ({"from": "yesterday"}, "from must be a date written like 2026-03-01"),
        ({"to": "2026-13-40"}, "to must be a date written like 2026-03-01"),
        ({"from": "2026-10-02", "to": "2026-10-01"}, "from is after to: swap the two dates"),
        ({"mentor": "x" * 65}, "mentor must be an id of at most 64 characters"),
        ({"latest": "0"}, "latest must be a whole number from 1 to 1000"),
    ]
    for params, message in cases:
        response = await cast.supervisor.get(url, params=params)
        assert response.status_code == 422, params
        assert response.json()["message"] == message
    # A stranger's malformed filter is still a 404: the trainee is not confirmed.
    assert (await cast.other_supervisor.get(url, params={"from": "x"})).status_code == 404


async def test_countersign_with_a_comment_from_the_queue(cast: Cast) -> None:
    home = (await cast.supervisor.get("/api/review")).json()
    assert [t["id"] for t in home["trainees"]] == [cast.trainee.id]
    summary = home["trainees"][0]
    assert (summary["sessions"], summary["awaiting_me"]) == (3, 3)
    queue = [q["form_id"] for q in home["queue"]]
    # The amended form is replaced by its amendment; oldest submission first.
    assert queue == [cast.ids["f1"], cast.ids["f3"], cast.ids["f2b"]]

    signed = await cast.supervisor.post(
        f"/api/feedback/{queue[0]}/countersign", json={"comment": "  Agree; see me re red flags. "}
    )
    assert signed.status_code == 200, signed.text
    form = signed.json()
    assert form["countersign_comment"] == "Agree; see me re red flags."
    assert form["countersigned_by_name"] == "Test Supervisor"
    assert "form.countersign" not in form["can"]
    again = await cast.supervisor.post(f"/api/feedback/{queue[0]}/countersign")
    assert again.status_code == 409
    record = (await cast.trainee_http.get(f"/api/sessions/{cast.ids['s1']}/record")).json()
    shown = next(f for f in record["feedback"] if f["id"] == queue[0])
    assert shown["countersign_comment"] == "Agree; see me re red flags."
    home = (await cast.supervisor.get("/api/review")).json()
    assert [q["form_id"] for q in home["queue"]] == queue[1:]
    # Nothing to countersign for the others: a trainee's home lists only themselves.
    mine = (await cast.trainee_http.get("/api/review")).json()
    assert [t["id"] for t in mine["trainees"]] == [cast.trainee.id]
    assert mine["queue"] == []


async def test_a_returned_form_goes_back_to_its_mentor_who_resubmits(cast: Cast) -> None:
    form_id = cast.ids["f3"]
    blank = await cast.supervisor.post(f"/api/feedback/{form_id}/return", json={"reason": "  "})
    assert blank.status_code == 422
    assert (
        await cast.other_supervisor.post(f"/api/feedback/{form_id}/return", json={"reason": "x"})
    ).status_code == 404
    returned = await cast.supervisor.post(
        f"/api/feedback/{form_id}/return", json={"reason": "Rate the examination: you saw it."}
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["return_reason"] == "Rate the examination: you saw it."
    assert returned.json()["returned_by_name"] == "Test Supervisor"
    refused = await cast.supervisor.post(f"/api/feedback/{form_id}/countersign")
    assert refused.status_code == 409
    assert "went back to its mentor" in refused.json()["message"]
    home = (await cast.supervisor.get("/api/review")).json()
    assert form_id not in [q["form_id"] for q in home["queue"]]

    # The mentor sees the reason and resubmits: an amendment, which joins the queue.
    seen = (await cast.mentor_b.get(f"/api/feedback/{form_id}")).json()
    assert seen["return_reason"] == "Rate the examination: you saw it."
    assert "form.amend" in seen["can"]
    revision = (await cast.mentor_b.post(f"/api/feedback/{form_id}/amend")).json()
    responses = {**revision["responses"], "physical_examination": 6}
    await cast.mentor_b.put(f"/api/feedback/{revision['id']}", json={"responses": responses})
    assert (await cast.mentor_b.post(f"/api/feedback/{revision['id']}/submit")).status_code == 200
    home = (await cast.supervisor.get("/api/review")).json()
    assert revision["id"] in [q["form_id"] for q in home["queue"]]
    audit = await cast.server.services.store.audit.recent(30)
    assert "feedback.returned" in [e.action for e in audit]


async def test_an_acknowledgement_read_before_a_countersignature_keeps_it(cast: Cast) -> None:
    store = cast.server.services.feedback
    read_by_trainee = await store.get(cast.ids["f1"])
    assert read_by_trainee is not None
    signed = await store.countersign(read_by_trainee, by="sup", by_name="Sup", comment="ok")
    assert signed is not None
    done = await store.acknowledge(read_by_trainee, by="t", reply="thanks", trainee_responses={})
    assert done is not None
    stored = await store.get(cast.ids["f1"])
    assert stored is not None
    assert stored.countersigned_at is not None
    assert stored.countersign_comment == "ok"
    assert stored.ack_reply == "thanks"


async def test_coaching_figures_and_the_program_page_numbers(cast: Cast) -> None:
    store = cast.server.services.store.sessions
    for key in ("s1", "s2", "s3"):
        await store.end(cast.ids[key], now=time.time())
    body = (await cast.supervisor.get(f"/api/trainees/{cast.trainee.id}/progress")).json()
    figures = body["coaching"]
    assert (figures["sessions"], figures["with_feedback"]) == (3, 3)
    assert figures["feedback_share"] == 1.0
    assert figures["hours_to_submitted"] == 0.0  # submitted before the session was ended
    assert figures["hours_to_countersigned"] is None
    assert figures["marks_per_session"] == round(1 / 3, 2)
    assert figures["countersign_backlog"] == 3

    assert (await cast.supervisor.get("/api/program")).status_code == 403
    numbers = await cast.admin.get("/api/program")
    assert numbers.status_code == 200, numbers.text
    program = numbers.json()
    assert [t["total"] for t in program["trainees"]] == [3]
    assert sorted(m["total"] for m in program["mentors"]) == [1, 2]
    assert program["overall"]["countersign_backlog"] == 3
    exported = await cast.admin.get("/api/program.csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r["kind"] for r in rows} == {"trainee", "mentor"}
    assert sum(int(r["sessions"]) for r in rows if r["kind"] == "trainee") == 3
    audit = await cast.server.services.store.audit.recent(10)
    assert {"program.viewed", "program.exported"} <= {e.action for e in audit}


async def test_the_trainee_sees_who_viewed_their_record(cast: Cast) -> None:
    trainee_id = cast.trainee.id
    views_url = f"/api/trainees/{trainee_id}/views"
    assert (await cast.trainee_http.get(views_url)).json() == {"views": [], "next": None}
    # The supervisor opens the progress page twice (one visit) and downloads the CSV; mentor B
    # reads a session's record (several parts: one visit); the trainee looks at their own.
    for _ in range(2):
        await cast.supervisor.get(f"/api/trainees/{trainee_id}/progress")
    await cast.supervisor.get(f"/api/trainees/{trainee_id}/progress.csv")
    await cast.mentor_b.get(f"/api/sessions/{cast.ids['s3']}/record")
    await cast.mentor_b.get(f"/api/sessions/{cast.ids['s3']}/timeline")
    await cast.trainee_http.get(f"/api/trainees/{trainee_id}/progress")

    response = await cast.trainee_http.get(views_url)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    rows = response.json()["views"]
    shown = [
        (
            r["viewer"]["role"],
            r["what"],
            r["exported"],
            r["format"],
            r["session"] and r["session"]["title"],
            r["looks"],
        )
        for r in rows
    ]
    assert shown == [
        ("mentor", "record", False, None, "Clinic day 15", 2),
        ("supervisor", "progress", True, "csv", None, 1),
        ("supervisor", "progress", False, None, None, 2),
    ]
    assert rows[0]["viewer"]["name"] == "Test Mentor"
    assert rows[0]["at"] >= rows[1]["at"] >= rows[2]["at"]

    # Paged, newest first: a page of one look, then the next from where it stopped.
    first = (await cast.admin.get(views_url, params={"limit": 1})).json()
    assert [r["what"] for r in first["views"]] == ["record"]
    older = (await cast.admin.get(views_url, params={"before": first["next"], "limit": 1})).json()
    assert [r["what"] for r in older["views"]] == ["record"]
    assert older["next"] < first["next"]

    # Only the trainee and admins: the trainee's supervisor is told why, strangers see nothing.
    refused = await cast.supervisor.get(views_url)
    assert refused.status_code == 403
    assert refused.json()["message"] == "only the trainee and administrators see who viewed this"
    assert (await cast.mentor_b.get(views_url)).status_code == 403
    for stranger in (cast.other_trainee, cast.other_supervisor):
        assert (await stranger.get(views_url)).status_code == 404
    bad = await cast.trainee_http.get(views_url, params={"limit": 0})
    assert bad.status_code == 422
    assert bad.json()["message"] == "limit must be a whole number from 1 to 200"
    # Reading the list (the trainee's or the admin's reads above) is not itself a look.
    assert (await cast.trainee_http.get(views_url)).json()["views"] == rows
