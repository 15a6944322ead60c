"""A stale save never overwrites a newer one: every save of a draft names a revision above the
stored one, and one that does not (it arrived after a newer save: the page left while a save was
on the wire, a request replayed late) is refused with 409 ``stale`` and changes nothing. On
SQLite and on PostgreSQL, through the real server, and the store's compare-and-set beneath it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.config import Config
from server.infra.roles import Role
from server.infra.storage import Store
from server.infra.storage.engine import for_writing
from session_notes.instruments import FeedbackStore, builtin_templates
from tests.feedback.test_workflow_api import MINI_CEX_OK
from tests.support import RunningServer, running_server

OLDER = {"medical_interviewing": 7}
NEWER = {"medical_interviewing": 7, "clinical_judgment": 6, "physical_examination": None}


@pytest.fixture
async def any_server(
    database_url: str, config: Config, tmp_path: Path
) -> AsyncIterator[RunningServer]:
    """The real server on SQLite and on PostgreSQL."""
    async with running_server(replace(config, database_url=database_url)) as running:
        yield running


async def mentor_draft(server: RunningServer) -> tuple[httpx.AsyncClient, str]:
    """A mentor signed in, and their Mini-CEX draft holding OLDER."""
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    http = await server.signed_in(mentor)
    sid = (
        await http.post("/api/sessions", json={"title": "Ward", "trainee_ids": [trainee.id]})
    ).json()["id"]
    created = await http.post(
        f"/api/sessions/{sid}/feedback",
        json={"instrument_id": "mini-cex-abim", "trainee_id": trainee.id, "responses": OLDER},
    )
    assert created.status_code == 201, created.text
    assert created.json()["revision"] == 0
    return http, created.json()["id"]


async def save(
    http: httpx.AsyncClient, form_id: str, responses: dict[str, Any], revision: Any = None
) -> httpx.Response:
    body: dict[str, Any] = {"responses": responses}
    if revision is not None:
        body["revision"] = revision
    return await http.put(f"/api/feedback/{form_id}", json=body)


async def test_a_save_that_arrives_after_a_newer_one_is_refused_and_changes_nothing(
    any_server: RunningServer,
) -> None:
    http, form_id = await mentor_draft(any_server)
    newer = await save(http, form_id, NEWER, revision=2)
    assert newer.status_code == 200, newer.text
    assert newer.json()["revision"] == 2

    # The older save (revision 1) lands late; so does the newer one, replayed.
    for late in ((OLDER, 1), (NEWER, 2)):
        refused = await save(http, form_id, *late)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "stale"
        assert "revision 2" in refused.json()["message"]
    held = (await http.get(f"/api/feedback/{form_id}")).json()
    assert (held["responses"], held["revision"]) == (NEWER, 2)

    # A save without a revision (another client of the API) follows the stored one.
    plain = await save(http, form_id, OLDER)
    assert plain.status_code == 200, plain.text
    assert (plain.json()["responses"], plain.json()["revision"]) == (OLDER, 3)

    for bad in (0, -1, 2**53, "3", 1.5):
        answer = await save(http, form_id, NEWER, revision=bad)
        assert answer.status_code == 422, (bad, answer.text)
        assert "revision" in answer.json()["message"]

    # Submitted, it takes no save, however new: that refusal says so, not "stale".
    complete = await save(http, form_id, MINI_CEX_OK, revision=4)
    assert complete.status_code == 200, complete.text
    submitted = await http.post(f"/api/feedback/{form_id}/submit")
    assert submitted.status_code == 200, submitted.text
    assert (submitted.json()["responses"], submitted.json()["revision"]) == (MINI_CEX_OK, 4)
    after = await save(http, form_id, NEWER, revision=99)
    assert after.status_code == 409, after.text
    assert after.json()["error"] == "submitted"
    await http.aclose()


async def test_racing_saves_leave_the_newest_whichever_lands_first(
    any_server: RunningServer,
) -> None:
    """Two saves on the wire at once (the one in flight and the one sent as the page left),
    sent in both orders: the draft ends with the newer, and the older is told it is stale."""
    http, form_id = await mentor_draft(any_server)
    revision = 0
    for round_ in range(6):
        older, newer = revision + 1, revision + 2
        pair = [(OLDER, older), (NEWER, newer)]
        if round_ % 2:
            pair.reverse()
        answers = await asyncio.gather(*(save(http, form_id, r, v) for r, v in pair))
        by_revision = {v: answer for (_, v), answer in zip(pair, answers, strict=True)}
        assert by_revision[newer].status_code == 200, by_revision[newer].text
        older_answer = by_revision[older]
        assert older_answer.status_code in (200, 409), older_answer.text
        if older_answer.status_code == 409:
            assert older_answer.json()["error"] == "stale"
        held = (await http.get(f"/api/feedback/{form_id}")).json()
        assert (held["responses"], held["revision"]) == (NEWER, newer)
        revision = newer
    await http.aclose()


async def test_the_store_never_lowers_a_revision_nor_submits_what_it_did_not_check(
    store: Store,
) -> None:
    forms = FeedbackStore(store.engine, for_writing(store.engine))
    template = next(t for t in builtin_templates() if t.id == "mini-cex-abim")
    draft = await forms.create(
        session_id="s1",
        template=template,
        trainee_id="t1",
        author_id="m1",
        author_name="Mentor",
        respondent="mentor",
        responses=dict(OLDER),
        evidence={},
    )
    saved = await forms.update_draft(draft, dict(MINI_CEX_OK), {}, revision=5)
    assert saved is not None
    assert saved.revision == 5
    # From a copy read before that save: the older answers are not written.
    assert await forms.update_draft(draft, dict(OLDER), {}, revision=4) is None
    assert await forms.update_draft(draft, dict(OLDER), {}) is None  # would be revision 1
    # A submit of the copy read before the save would submit answers nobody checked.
    assert await forms.submit(draft) is None
    held = await forms.get(draft.id)
    assert held is not None
    assert (held.status, held.responses, held.revision) == ("draft", MINI_CEX_OK, 5)
    done = await forms.submit(held)
    assert done is not None
    assert done.responses == MINI_CEX_OK
