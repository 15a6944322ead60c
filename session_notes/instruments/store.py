"""Storage of programs' own templates and of feedback forms (tables: :mod:`session_notes.schema`).

Each step of the workflow is a compare-and-set from the status :data:`session_notes.workflow.RULES`
says the step starts from."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from session_notes.instruments.template import Template, load_template
from session_notes.schema import feedback, instrument_templates
from session_notes.workflow import RULES, Status, Step

__all__ = ["DuplicateVersion", "FeedbackForm", "FeedbackStore", "TemplateStore"]


class DuplicateVersion(Exception):
    """That template id and version exist already: make a new version instead."""


class TemplateStore:
    def __init__(self, engine: AsyncEngine, writer: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer

    async def add(self, template: Template, *, created_by: str) -> None:
        try:
            async with self._writer.begin() as connection:
                await connection.execute(
                    instrument_templates.insert().values(
                        id=template.id,
                        version=template.template_version,
                        body=msgspec.json.encode(template).decode(),
                        created_by=created_by,
                        created_at=time.time(),
                    )
                )
        except IntegrityError:
            raise DuplicateVersion(f"{template.id} {template.template_version}") from None

    async def all(self) -> list[Template]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(instrument_templates.c.body).order_by(
                        instrument_templates.c.id, instrument_templates.c.created_at
                    )
                )
            ).all()
        return [load_template(row[0].encode()) for row in rows]


@dataclass(frozen=True)
class FeedbackForm:
    id: str
    session_id: str
    instrument_id: str
    instrument_version: str
    trainee_id: str
    author_id: str
    author_name: str
    respondent: str
    status: str
    responses: dict[str, Any]
    evidence: dict[str, list[str]]
    trainee_responses: dict[str, Any]
    amends_id: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None = None
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    ack_reply: str | None = None
    countersigned_at: float | None = None
    countersigned_by: str | None = None
    countersigned_by_name: str | None = None
    countersign_comment: str | None = None
    returned_at: float | None = None
    returned_by: str | None = None
    returned_by_name: str | None = None
    return_reason: str | None = None
    revision: int = 0  # raised by every save of the draft (0: never saved since it was made)


_decode = msgspec.json.Decoder()  # several times faster than json.loads on a trainee's forms


# Rows are read by position in the dataclass's field order (no row mapping per form: a
# trainee's progress reads every form they have).
_FIELDS = [f.name for f in fields(FeedbackForm)]
_COLUMNS = [feedback.c[name] for name in _FIELDS]
_JSON = tuple(_FIELDS.index(n) for n in ("responses", "evidence", "trainee_responses"))


def _form(row: Sequence[Any]) -> FeedbackForm:
    values = list(row)
    for i in _JSON:  # three columns to decode, rather than a test on each of thirty
        values[i] = _decode.decode(values[i])
    return FeedbackForm(*values)


class FeedbackStore:
    def __init__(self, engine: AsyncEngine, writer: AsyncEngine) -> None:
        self._engine = engine
        self._writer = writer

    async def create(
        self,
        *,
        session_id: str,
        template: Template,
        trainee_id: str,
        author_id: str,
        author_name: str,
        respondent: str,
        responses: dict[str, Any],
        evidence: dict[str, list[str]],
        amends_id: str | None = None,
    ) -> FeedbackForm:
        now = time.time()
        form = FeedbackForm(
            id=uuid.uuid4().hex,
            session_id=session_id,
            instrument_id=template.id,
            instrument_version=template.template_version,
            trainee_id=trainee_id,
            author_id=author_id,
            author_name=author_name,
            respondent=respondent,
            status=Status.DRAFT.value,
            responses=responses,
            evidence=evidence,
            trainee_responses={},
            amends_id=amends_id,
            created_at=now,
            updated_at=now,
        )
        async with self._writer.begin() as connection:
            await connection.execute(feedback.insert().values(**_row(form)))
        return form

    async def get(self, form_id: str) -> FeedbackForm | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*_COLUMNS).where(feedback.c.id == form_id))
            ).first()
        return None if row is None else _form(row)

    async def for_session(self, session_id: str) -> list[FeedbackForm]:
        return await self._where(feedback.c.session_id == session_id)

    async def for_trainee(self, trainee_id: str) -> list[FeedbackForm]:
        return await self._where(feedback.c.trainee_id == trainee_id)

    async def submitted(self) -> list[FeedbackForm]:
        """Every submitted form of the program (its analytics)."""
        return await self._where(feedback.c.status == Status.SUBMITTED.value)

    async def _where(self, condition: sa.ColumnElement[bool]) -> list[FeedbackForm]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(*_COLUMNS).where(condition).order_by(feedback.c.created_at)
                )
            ).all()
        return [_form(r) for r in rows]

    async def update_draft(
        self,
        form: FeedbackForm,
        responses: dict[str, Any],
        evidence: dict[str, list[str]],
        *,
        revision: int | None = None,
    ) -> FeedbackForm | None:
        """Save a draft's answers as ``revision`` (None: the one after ``form``'s); None when it
        is no longer a draft (it was submitted) or holds that revision or a later one already."""
        revision = form.revision + 1 if revision is None else revision
        updated = replace(
            form, responses=responses, evidence=evidence, revision=revision, updated_at=time.time()
        )
        # The answers are written even when they equal ``form``'s: an older save may have
        # landed since ``form`` was read.
        return await self._transition(
            form,
            Step.EDIT,
            updated,
            where=feedback.c.revision < revision,
            always=("responses", "evidence"),
        )

    async def submit(self, form: FeedbackForm) -> FeedbackForm | None:
        """None when it was submitted, or saved since ``form`` was read: what is submitted is
        what was checked."""
        now = time.time()
        return await self._transition(
            form,
            Step.EDIT,
            replace(form, status=Status.SUBMITTED.value, submitted_at=now, updated_at=now),
            where=feedback.c.revision == form.revision,
        )

    async def acknowledge(
        self, form: FeedbackForm, *, by: str, reply: str | None, trainee_responses: dict[str, Any]
    ) -> FeedbackForm | None:
        now = time.time()
        done = replace(
            form,
            acknowledged_at=now,
            acknowledged_by=by,
            ack_reply=reply,
            trainee_responses=trainee_responses,
            updated_at=now,
        )
        return await self._transition(form, Step.ACKNOWLEDGE, done, unset="acknowledged_at")

    async def countersign(
        self, form: FeedbackForm, *, by: str, by_name: str = "", comment: str | None = None
    ) -> FeedbackForm | None:
        now = time.time()
        done = replace(
            form,
            countersigned_at=now,
            countersigned_by=by,
            countersigned_by_name=by_name,
            countersign_comment=comment,
            updated_at=now,
        )
        return await self._transition(
            form, Step.COUNTERSIGN, done, unset=("countersigned_at", "returned_at")
        )

    async def return_to_mentor(
        self, form: FeedbackForm, *, by: str, by_name: str, reason: str
    ) -> FeedbackForm | None:
        """A supervisor sends submitted feedback back to its mentor with a reason; None when it
        was countersigned or returned meanwhile. The form itself stays as submitted: the
        mentor's revision is an amendment that replaces it."""
        now = time.time()
        done = replace(
            form,
            returned_at=now,
            returned_by=by,
            returned_by_name=by_name,
            return_reason=reason,
            updated_at=now,
        )
        return await self._transition(
            form, Step.RETURN, done, unset=("countersigned_at", "returned_at")
        )

    async def _transition(
        self,
        old: FeedbackForm,
        step: Step,
        new: FeedbackForm,
        unset: str | tuple[str, ...] = (),
        where: sa.ColumnElement[bool] | None = None,
        always: tuple[str, ...] = (),
    ) -> FeedbackForm | None:
        # Compare-and-set on the status (and on the step not being done yet): two racing
        # submits or acknowledgements cannot both win, and a submitted form never changes.
        conditions = [feedback.c.id == old.id, feedback.c.status == RULES[step].status.value]
        if where is not None:
            conditions.append(where)
        for column in (unset,) if isinstance(unset, str) else unset:
            conditions.append(feedback.c[column].is_(None))
        # Only the columns this step changes: an acknowledgement written from a copy read
        # before a countersignature must not blank the countersignature.
        before = _row(old)
        values = {k: v for k, v in _row(new).items() if before[k] != v or k in always}
        async with self._writer.begin() as connection:
            result = await connection.execute(feedback.update().where(*conditions).values(**values))
        return new if result.rowcount == 1 else None


def _row(form: FeedbackForm) -> dict[str, Any]:
    values = dict(vars(form))
    for key in ("responses", "evidence", "trainee_responses"):
        values[key] = json.dumps(values[key], sort_keys=True)
    return values
