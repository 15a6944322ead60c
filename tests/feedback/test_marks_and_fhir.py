"""Marks take a bounded offset (issue 8, item 8), and the FHIR export's Bundle is consistent
(issue 8, item 10): each ``fullUrl`` names its resource, and an amendment is the same
QuestionnaireResponse, ``amended``, carrying the latest answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from server.config import Config
from server.infra.roles import Role
from tests.feedback.test_workflow_api import MINI_CEX_OK
from tests.support import RunningServer, running_server


@pytest.fixture
async def any_server(
    database_url: str, config: Config, tmp_path: Path
) -> AsyncIterator[RunningServer]:
    """The real server on SQLite and on PostgreSQL."""
    async with running_server(replace(config, database_url=database_url)) as running:
        yield running


async def test_a_mark_offset_past_a_day_is_refused_with_a_reason(
    any_server: RunningServer,
) -> None:
    server = any_server
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    sid = (await http.post("/api/sessions", json={"title": "Ward"})).json()["id"]
    await server.services.store.sessions.mark_live(sid, now=1_795_300_000.0)
    url = f"/api/sessions/{sid}/marks"
    for huge in (2**64 - 1, 2**63, 24 * 3600 * 1000 + 1):
        answer = await http.post(url, json={"label": "x", "at_ms": huge})
        assert answer.status_code == 422, (huge, answer.text)
        assert "at_ms" in answer.text
    fine = await http.post(url, json={"label": "a day in", "at_ms": 24 * 3600 * 1000})
    assert fine.status_code == 201, fine.text
    assert fine.json()["at_ms"] == 24 * 3600 * 1000


async def test_an_amendment_is_the_same_response_amended(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    http = await server.signed_in(mentor)
    sid = (
        await http.post("/api/sessions", json={"title": "Ward", "trainee_ids": [trainee.id]})
    ).json()["id"]
    form = (
        await http.post(
            f"/api/sessions/{sid}/feedback",
            json={
                "instrument_id": "mini-cex-abim",
                "trainee_id": trainee.id,
                "responses": MINI_CEX_OK,
            },
        )
    ).json()
    assert (await http.post(f"/api/feedback/{form['id']}/submit")).status_code == 200
    # Amended twice: the export is one response, with the original's id and the last answers.
    latest = form
    for score in (8, 9):
        amendment = (await http.post(f"/api/feedback/{latest['id']}/amend")).json()
        changed = {**MINI_CEX_OK, "counseling": score}
        saved = await http.put(f"/api/feedback/{amendment['id']}", json={"responses": changed})
        assert saved.status_code == 200, saved.text
        assert (await http.post(f"/api/feedback/{amendment['id']}/submit")).status_code == 200
        latest = amendment

    export = await http.get(f"/api/sessions/{sid}/record.fhir.json")
    assert export.status_code == 200, export.text
    document = export.json()
    Bundle.model_validate(document)  # the R4 (R4B) models accept it
    entries = document["entry"]
    for entry in entries:
        resource = entry["resource"]
        assert entry["fullUrl"] == (
            f"{server.config.public_url}/fhir/{resource['resourceType']}/{resource['id']}"
        )
    responses = [e["resource"] for e in entries if e["resource"]["resourceType"] != "Questionnaire"]
    assert len(responses) == 1
    (response,) = responses
    assert response["id"] == form["id"]
    assert response["status"] == "amended"
    answers = {
        item["linkId"]: item["answer"] for group in response["item"] for item in group["item"]
    }
    assert answers["counseling"][0]["valueCoding"]["code"] == "9"
    assert len({e["fullUrl"] for e in entries}) == len(entries)
