"""Structured feedback: draft → submit → acknowledge (trainee) → countersign (supervisor).

Submitted forms never change; a correction is an amendment (a new draft that names the form
it amends). Every step records who and when, and is audited.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action, NewForm, capabilities, may
from server.access.principal import Principal
from server.http.endpoints import Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.resources import form_facts, form_for, require, session_for, visible_forms
from server.http.schemas import Answer, FeedbackOut, feedback_out
from server.infra.storage import Session
from server.services import Services, services
from session_notes.instruments import FeedbackForm, FieldError, Template, check_responses
from session_notes.workflow import Status

__all__ = ["endpoints"]

Evidence = dict[
    str, Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=20)]
]


class NewFeedback(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    instrument_id: str
    trainee_id: str
    responses: dict[str, Answer] = {}
    evidence: Evidence = {}
    instrument_version: str | None = None


# Up to JavaScript's largest safe integer: the page counts revisions in a Number.
Revision = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=2**53 - 1,
        description="This save's revision: above the draft's `revision`, or refused (409 stale).",
    ),
]


class DraftChange(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    responses: dict[str, Answer]
    evidence: Evidence = {}
    revision: Revision | None = None
    """This save's revision, above the draft's: a save that is not (it arrived after a newer one)
    is refused with 409 `stale`. None: the one after the stored revision."""


class Countersignature(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    comment: Annotated[str, msgspec.Meta(max_length=5000)] | None = None


class Return(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]


class Acknowledgement(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reply: Annotated[str, msgspec.Meta(max_length=5000)] | None = None
    responses: dict[str, Answer] = {}


def _invalid(errors: list[FieldError]) -> ApiError:
    first = errors[0]
    return ApiError(
        422,
        "invalid",
        f"responses.{first.field}: {first.reason}",
        fields={e.field: e.reason for e in errors},
    )


def _respondent(form: FeedbackForm) -> Literal["mentor", "trainee"]:
    return "trainee" if form.respondent == "trainee" else "mentor"


async def _template_of(svc: Services, form: FeedbackForm) -> Template:
    template = await svc.instruments.get(form.instrument_id, form.instrument_version)
    if template is None:  # templates are never deleted; this is a broken database
        raise ApiError(409, "conflict", f"instrument {form.instrument_id} is missing")
    return template


async def _check_evidence(
    svc: Services, session: Session, template: Template, evidence: dict[str, list[str]]
) -> None:
    if not evidence:
        return
    marks = {m.id for m in await svc.store.marks.for_session(session.id)}
    for item_id, cited in evidence.items():
        if template.item(item_id) is None:
            raise ApiError(422, "invalid", f"evidence.{item_id}: no such item")
        unknown = [m for m in cited if m not in marks]
        if unknown:
            raise ApiError(
                422, "invalid", f"evidence.{item_id}: no mark {unknown[0]!r} in this session"
            )


def _out(principal: Principal, form: FeedbackForm, session: Session) -> FeedbackOut:
    return feedback_out(form, capabilities(principal, form_facts(form, session)))


async def create_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.SESSION_VIEW)
    body = await read_body(request, NewFeedback)
    template = await svc.instruments.get(body.instrument_id, body.instrument_version)
    if template is None:
        raise ApiError(422, "invalid", f"instrument_id: no instrument {body.instrument_id!r}")
    new = NewForm(session, body.trainee_id, template.respondent, template.short_name)
    require(may(principal, Action.FEEDBACK_START, new))
    errors = check_responses(
        template, body.responses, respondent=template.respondent, complete=False
    )
    if errors:
        raise _invalid(errors)
    await _check_evidence(svc, session, template, body.evidence)
    form = await svc.feedback.create(
        session_id=session.id,
        template=template,
        trainee_id=body.trainee_id,
        author_id=principal.id,
        author_name=principal.name,
        respondent=template.respondent,
        responses=dict(body.responses),
        evidence=dict(body.evidence),
    )
    await svc.store.audit.append(
        "feedback.drafted",
        actor_id=principal.id,
        target=form.id,
        detail={"session": session.id, "instrument": template.id},
    )
    return json_response(_out(principal, form, session), status=201)


async def update_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_EDIT)
    body = await read_body(request, DraftChange)
    template = await _template_of(svc, form)
    errors = check_responses(template, body.responses, respondent=_respondent(form), complete=False)
    if errors:
        raise _invalid(errors)
    await _check_evidence(svc, session, template, body.evidence)
    saved = await svc.feedback.update_draft(
        form, dict(body.responses), dict(body.evidence), revision=body.revision
    )
    if saved is None:
        raise await _not_saved(svc, form.id)
    return json_response(_out(principal, saved, session))


async def _not_saved(svc: Services, form_id: str) -> ApiError:
    """Why a save changed nothing: the form was submitted, or holds a newer save already."""
    latest = await svc.feedback.get(form_id)
    if latest is None or latest.status != Status.DRAFT:
        return ApiError(409, "submitted", "submitted feedback never changes; amend it instead")
    return ApiError(
        409,
        "stale",
        f"this draft holds a newer save already (revision {latest.revision}); "
        "this older one was not applied",
    )


async def submit_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_EDIT)
    template = await _template_of(svc, form)
    for _ in range(3):
        errors = check_responses(
            template, form.responses, respondent=_respondent(form), complete=True
        )
        if errors:
            raise _invalid(errors)
        submitted = await svc.feedback.submit(form)
        if submitted is not None:
            break
        latest = await svc.feedback.get(form.id)
        if latest is None or latest.status != Status.DRAFT:
            raise ApiError(409, "submitted", "this feedback was already submitted")
        form = latest  # saved since it was read: check and submit what it holds now
    else:
        raise ApiError(409, "stale", "the draft kept changing while it was submitted; try again")
    await svc.store.audit.append("feedback.submitted", actor_id=principal.id, target=form.id)
    await svc.rooms.feedback_submitted(
        session.id, form_id=submitted.id, trainee_id=submitted.trainee_id
    )
    return json_response(_out(principal, submitted, session))


async def acknowledge_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_ACKNOWLEDGE)
    body = await read_body(request, Acknowledgement)
    template = await _template_of(svc, form)
    errors = check_responses(template, body.responses, respondent="trainee", complete=False)
    if errors:
        raise _invalid(errors)
    done = await svc.feedback.acknowledge(
        form, by=principal.id, reply=body.reply, trainee_responses=dict(body.responses)
    )
    if done is None:
        raise ApiError(409, "conflict", "this feedback was already acknowledged")
    await svc.store.audit.append("feedback.acknowledged", actor_id=principal.id, target=form.id)
    return json_response(_out(principal, done, session))


async def countersign_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_COUNTERSIGN)
    # The body is optional: a countersignature without a comment may send none.
    body = await read_body(request, Countersignature) if await request.body() else None
    comment = (body.comment or "").strip() if body else ""
    done = await svc.feedback.countersign(
        form, by=principal.id, by_name=principal.name, comment=comment or None
    )
    if done is None:
        raise ApiError(409, "conflict", "this feedback was already countersigned or returned")
    await svc.store.audit.append("feedback.countersigned", actor_id=principal.id, target=form.id)
    return json_response(_out(principal, done, session))


async def return_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_RETURN)
    body = await read_body(request, Return)
    if not body.reason.strip():
        raise ApiError(422, "invalid", "reason: say what the mentor should change")
    done = await svc.feedback.return_to_mentor(
        form, by=principal.id, by_name=principal.name, reason=body.reason.strip()
    )
    if done is None:
        raise ApiError(409, "conflict", "this feedback was already countersigned or returned")
    await svc.store.audit.append("feedback.returned", actor_id=principal.id, target=form.id)
    return json_response(_out(principal, done, session))


async def amend_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_AMEND)
    template = await _template_of(svc, form)
    amendment = await svc.feedback.create(
        session_id=session.id,
        template=template,
        trainee_id=form.trainee_id,
        author_id=principal.id,
        author_name=principal.name,
        respondent=form.respondent,
        responses=form.responses,
        evidence=form.evidence,
        amends_id=form.id,
    )
    await svc.store.audit.append(
        "feedback.amended",
        actor_id=principal.id,
        target=form.id,
        detail={"amendment": amendment.id},
    )
    return json_response(_out(principal, amendment, session), status=201)


async def get_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    form, session = await form_for(request, principal, Action.FORM_VIEW)
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"feedback": form.id}
    )
    return json_response(_out(principal, form, session), headers={"Cache-Control": "no-store"})


async def list_feedback(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    forms = await visible_forms(svc, principal, session)
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"part": "feedback"}
    )
    return json_response(
        [_out(principal, f, session) for f in forms], headers={"Cache-Control": "no-store"}
    )


endpoints = [
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/feedback",
        "Start a feedback form (a draft) for a trainee of the session.",
        "feedback",
        create_feedback,
        body=NewFeedback,
        response=FeedbackOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/feedback",
        "The session's forms I may see.",
        "feedback",
        list_feedback,
        response=list[FeedbackOut],
    ),
    Endpoint(
        "GET",
        "/api/feedback/{feedback_id}",
        "One form.",
        "feedback",
        get_feedback,
        response=FeedbackOut,
    ),
    Endpoint(
        "PUT",
        "/api/feedback/{feedback_id}",
        "Save a draft's answers (autosave).",
        "feedback",
        update_feedback,
        body=DraftChange,
        response=FeedbackOut,
    ),
    Endpoint(
        "POST",
        "/api/feedback/{feedback_id}/submit",
        "Submit: checked against the template; afterwards it never changes.",
        "feedback",
        submit_feedback,
        response=FeedbackOut,
    ),
    Endpoint(
        "POST",
        "/api/feedback/{feedback_id}/acknowledge",
        "The trainee has read it (optional reply and trainee items).",
        "feedback",
        acknowledge_feedback,
        body=Acknowledgement,
        response=FeedbackOut,
    ),
    Endpoint(
        "POST",
        "/api/feedback/{feedback_id}/countersign",
        "An assigned supervisor countersigns (optional body: {comment}).",
        "feedback",
        countersign_feedback,
        body=Countersignature,
        response=FeedbackOut,
    ),
    Endpoint(
        "POST",
        "/api/feedback/{feedback_id}/return",
        "An assigned supervisor returns submitted feedback to its mentor with a reason; the "
        "mentor revises it as an amendment.",
        "feedback",
        return_feedback,
        body=Return,
        response=FeedbackOut,
    ),
    Endpoint(
        "POST",
        "/api/feedback/{feedback_id}/amend",
        "Correct submitted feedback: a new draft that names the one it amends.",
        "feedback",
        amend_feedback,
        response=FeedbackOut,
        status=201,
    ),
]
