"""The feedback workflow through the real server: draft → submit → acknowledge → countersign,
with marks cited as evidence, every role check, and the FHIR export."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.infra.roles import Role, User
from session_notes.instruments import builtin_templates
from tests.feedback.test_templates import complete_answers
from tests.support import RunningServer

MINI_CEX_OK = {
    "setting": "inpatient",
    "complexity": "moderate",
    "medical_interviewing": 7,
    "physical_examination": None,  # not observed
    "humanistic_professionalism": 8,
    "clinical_judgment": 6,
    "counseling": 5,
    "organization_efficiency": 6,
    "overall_clinical_competence": 7,
    "comments": "Clear history; check red flags earlier.",
    "time_observing_min": 15,
    "time_feedback_min": 5,
}


@dataclass
class Cast:
    mentor: httpx.AsyncClient
    trainee: httpx.AsyncClient
    supervisor: httpx.AsyncClient
    other_supervisor: httpx.AsyncClient
    trainee_user: User
    session_id: str


@pytest.fixture
async def cast(server: RunningServer) -> Cast:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    other = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    mentor_http = await server.signed_in(mentor)
    session = (
        await mentor_http.post("/api/sessions", json={"title": "Ward", "trainee_ids": [trainee.id]})
    ).json()
    return Cast(
        mentor_http,
        await server.signed_in(trainee),
        await server.signed_in(supervisor),
        await server.signed_in(other),
        trainee,
        session["id"],
    )


async def go_live(server: RunningServer, session_id: str) -> None:
    await server.services.store.sessions.mark_live(session_id, now=1_795_300_000.0)


async def test_the_whole_workflow_with_marks_as_evidence(server: RunningServer, cast: Cast) -> None:
    sid = cast.session_id
    # Marks only while live.
    early = await cast.mentor.post(f"/api/sessions/{sid}/marks", json={"label": "too early"})
    assert early.status_code == 409
    await go_live(server, sid)
    mark = await cast.mentor.post(
        f"/api/sessions/{sid}/marks",
        json={"label": "missed red flag", "tags": ["safety", "\u2212"]},
    )
    assert mark.status_code == 201
    mark_id = mark.json()["id"]
    assert (await cast.trainee.post(f"/api/sessions/{sid}/marks", json={})).status_code == 403

    draft = await cast.mentor.post(
        f"/api/sessions/{sid}/feedback",
        json={
            "instrument_id": "mini-cex-abim",
            "trainee_id": cast.trainee_user.id,
            "responses": {"setting": "inpatient"},
        },
    )
    assert draft.status_code == 201
    form = draft.json()
    assert form["status"] == "draft"
    # The trainee does not see a draft.
    assert (await cast.trainee.get(f"/api/feedback/{form['id']}")).status_code == 404

    incomplete = await cast.mentor.post(f"/api/feedback/{form['id']}/submit")
    assert incomplete.status_code == 422
    assert "is required" in incomplete.json()["message"]
    assert "medical_interviewing" in incomplete.json()["fields"]

    saved = await cast.mentor.put(
        f"/api/feedback/{form['id']}",
        json={"responses": MINI_CEX_OK, "evidence": {"clinical_judgment": [mark_id]}},
    )
    assert saved.status_code == 200
    submitted = await cast.mentor.post(f"/api/feedback/{form['id']}/submit")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == "submitted"
    # Submitted feedback is immutable.
    changed = await cast.mentor.put(f"/api/feedback/{form['id']}", json={"responses": {}})
    assert changed.status_code == 409

    # The trainee reads and acknowledges, answering the items that are theirs.
    seen = await cast.trainee.get(f"/api/feedback/{form['id']}")
    assert seen.json()["responses"]["medical_interviewing"] == 7
    not_theirs = await cast.trainee.post(
        f"/api/feedback/{form['id']}/acknowledge", json={"responses": {"counseling": 9}}
    )
    assert not_theirs.status_code == 422
    ack = await cast.trainee.post(
        f"/api/feedback/{form['id']}/acknowledge",
        json={"reply": "Agreed, will screen earlier.", "responses": {"trainee_satisfaction": 8}},
    )
    assert ack.status_code == 200
    assert ack.json()["ack_reply"] == "Agreed, will screen earlier."
    again = await cast.trainee.post(f"/api/feedback/{form['id']}/acknowledge", json={})
    assert again.status_code == 409
    # Only the mentor's trainee acknowledges; only their supervisor countersigns.
    assert (
        await cast.mentor.post(f"/api/feedback/{form['id']}/acknowledge", json={})
    ).status_code == 403
    foreign = await cast.other_supervisor.post(f"/api/feedback/{form['id']}/countersign")
    assert foreign.status_code in (403, 404)
    signed = await cast.supervisor.post(f"/api/feedback/{form['id']}/countersign")
    assert signed.status_code == 200
    assert signed.json()["countersigned_at"] is not None

    # The FHIR export carries it, with its Questionnaire and the cited mark.
    export = await cast.supervisor.get(f"/api/sessions/{sid}/record.fhir.json")
    assert export.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(export.json())
    kinds = [e.resource.__resource_type__ for e in bundle.entry or []]  # type: ignore[union-attr]
    assert kinds == ["Questionnaire", "QuestionnaireResponse"]
    text = export.text
    assert "missed red flag" in text
    assert '"code":"not_observed"' in text
    assert '"valueCoding":{"system"' in text

    actions = [e.action for e in await server.services.store.audit.recent(20)]
    for step in (
        "feedback.drafted",
        "feedback.submitted",
        "feedback.acknowledged",
        "feedback.countersigned",
        "record.exported",
    ):
        assert step in actions

    # A correction is an amendment: a new draft naming the original, which stays as it was.
    amended = await cast.mentor.post(f"/api/feedback/{form['id']}/amend")
    assert amended.status_code == 201
    assert amended.json()["amends_id"] == form["id"]
    original = (await cast.mentor.get(f"/api/feedback/{form['id']}")).json()
    assert original["status"] == "submitted"


async def test_bad_feedback_input_names_the_field(server: RunningServer, cast: Cast) -> None:
    sid = cast.session_id
    url = f"/api/sessions/{sid}/feedback"
    trainee_id = cast.trainee_user.id
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"instrument_id": "nope", "trainee_id": trainee_id}, 422, "instrument_id"),
        ({"instrument_id": "mini-cex-abim", "trainee_id": "someone"}, 422, "trainee_id"),
        (
            {
                "instrument_id": "mini-cex-abim",
                "trainee_id": trainee_id,
                "responses": {"counseling": 12},
            },
            422,
            "responses.counseling",
        ),
        (
            {
                "instrument_id": "mini-cex-abim",
                "trainee_id": trainee_id,
                "responses": {"comments": "x" * 6000},
            },
            422,
            "responses.comments",
        ),
        (
            {
                "instrument_id": "mini-cex-abim",
                "trainee_id": trainee_id,
                "evidence": {"counseling": ["no-such-mark"]},
            },
            422,
            "evidence.counseling",
        ),
    ]
    for body, status, fragment in cases:
        response = await cast.mentor.post(url, json=body)
        assert response.status_code == status, (body, response.text)
        assert fragment in response.json()["message"], response.json()
    # A trainee cannot fill the mentor's form; the mentor cannot fill the self-assessment.
    mentor_form = {"instrument_id": "mini-cex-abim", "trainee_id": trainee_id}
    assert (await cast.trainee.post(url, json=mentor_form)).status_code == 403
    self_form = {"instrument_id": "self-assessment", "trainee_id": trainee_id}
    assert (await cast.mentor.post(url, json=self_form)).status_code == 403
    own = await cast.trainee.post(
        url, json={**self_form, "responses": {"learning_goal": "Red flags"}}
    )
    assert own.status_code == 201
    assert (await cast.trainee.post(f"/api/feedback/{own.json()['id']}/submit")).status_code == 200
    forms = (await cast.mentor.get(url)).json()
    assert [f["instrument_id"] for f in forms] == ["self-assessment"]


async def test_programs_add_templates_as_new_versions(server: RunningServer) -> None:
    admin = await server.signed_in(await server.user(Role.ADMIN))
    template = {
        "id": "handover",
        "name": "Handover observation",
        "short_name": "Handover",
        "template_version": "1.0.0",
        "kind": "assessment_form",
        "description": "I-PASS",
        "provenance": "custom",
        "reference": {"citation": "Our program, 2026"},
        "sections": [{"id": "s", "label": "Handover"}],
        "items": [
            {
                "id": "clarity",
                "label": "Clarity",
                "type": "scale",
                "section": "s",
                "required": True,
                "points": [{"value": 1, "label": "Poor"}, {"value": 2, "label": "Good"}],
            }
        ],
    }
    assert (await admin.post("/api/admin/instruments", json=template)).status_code == 201
    same = await admin.post("/api/admin/instruments", json=template)
    assert same.status_code == 409
    assert "new template_version" in same.json()["message"]
    builtin_clash = await admin.post(
        "/api/admin/instruments",
        json={**template, "id": "mini-cex-abim", "template_version": "0.1.0"},
    )
    assert builtin_clash.status_code == 409
    v2 = {**template, "template_version": "1.1.0", "name": "Handover observation (v2)"}
    assert (await admin.post("/api/admin/instruments", json=v2)).status_code == 201
    latest = (await admin.get("/api/instruments/handover")).json()
    assert latest["template_version"] == "1.1.0"
    first = (await admin.get("/api/instruments/handover", params={"version": "1.0.0"})).json()
    assert first["name"] == "Handover observation"
    broken = await admin.post("/api/admin/instruments", json={**template, "items": []})
    assert broken.status_code == 422
    mentor = await server.signed_in(await server.user(Role.MENTOR))
    assert (await mentor.post("/api/admin/instruments", json=template)).status_code == 403
    listed = {t["id"] for t in (await mentor.get("/api/instruments")).json()}
    assert {"handover", "mini-cex-abim", "self-assessment"} <= listed


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_valid_answers_round_trip_through_the_api_and_fhir(
    server: RunningServer, cast: Cast, data: st.DataObject
) -> None:
    mentor_templates = [t for t in builtin_templates() if t.respondent == "mentor"]
    template = data.draw(st.sampled_from(mentor_templates))
    answers = data.draw(complete_answers(template))
    draft = await cast.mentor.post(
        f"/api/sessions/{cast.session_id}/feedback",
        json={
            "instrument_id": template.id,
            "trainee_id": cast.trainee_user.id,
            "responses": answers,
        },
    )
    assert draft.status_code == 201, draft.text
    assert draft.json()["responses"] == answers
    submitted = await cast.mentor.post(f"/api/feedback/{draft.json()['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    export = await cast.mentor.get(f"/api/sessions/{cast.session_id}/record.fhir.json")
    Bundle.model_validate(export.json())


async def test_the_record_shows_each_person_what_is_theirs(
    server: RunningServer, cast: Cast
) -> None:
    sid = cast.session_id
    await go_live(server, sid)
    cited = (await cast.mentor.post(f"/api/sessions/{sid}/marks", json={"label": "cited"})).json()
    await cast.mentor.post(f"/api/sessions/{sid}/marks", json={"label": "private"})
    form = (
        await cast.mentor.post(
            f"/api/sessions/{sid}/feedback",
            json={
                "instrument_id": "mini-cex-abim",
                "trainee_id": cast.trainee_user.id,
                "responses": MINI_CEX_OK,
                "evidence": {"counseling": [cited["id"]]},
            },
        )
    ).json()
    trainee_view = (await cast.trainee.get(f"/api/sessions/{sid}/record")).json()
    assert trainee_view["feedback"] == []  # a draft is the mentor's alone
    assert trainee_view["marks"] == []
    assert trainee_view["session"]["trainees"] == [
        {"id": cast.trainee_user.id, "name": cast.trainee_user.name}
    ]
    await cast.mentor.post(f"/api/feedback/{form['id']}/submit")
    trainee_view = (await cast.trainee.get(f"/api/sessions/{sid}/record")).json()
    assert [f["id"] for f in trainee_view["feedback"]] == [form["id"]]
    assert [m["label"] for m in trainee_view["marks"]] == ["cited"]
    mentor_view = (await cast.mentor.get(f"/api/sessions/{sid}/record")).json()
    assert sorted(m["label"] for m in mentor_view["marks"]) == ["cited", "private"]
    outsider = await cast.other_supervisor.get(f"/api/sessions/{sid}/record")
    assert outsider.status_code == 404
