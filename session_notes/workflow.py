"""The feedback workflow's rules: draft → submit → acknowledge (trainee) → countersign or return
(supervisor), and amendments (DESIGN.md §2). Pure: which step a form's state allows, and which
party of the form takes it.

Who a principal is to a form (its author, its trainee signed in, a supervisor assigned to that
trainee) is for the access policy to decide (``server/access/policy.py``); this module says only
what the form itself allows. The store's compare-and-set transitions start from the same
statuses (:data:`RULES`), so a race the policy could not see still ends in one winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum

__all__ = [
    "RULES",
    "Conflict",
    "FormState",
    "Party",
    "Rule",
    "Status",
    "Step",
    "conflict",
]


class Status(StrEnum):
    DRAFT = "draft"  # its author's alone, saved as it is typed
    SUBMITTED = "submitted"  # never changes again; a correction is an amendment


class Step(StrEnum):
    EDIT = "edit"  # save a draft's answers, or submit it
    AMEND = "amend"  # start a new draft that names the submitted form it corrects
    ACKNOWLEDGE = "acknowledge"
    COUNTERSIGN = "countersign"
    RETURN = "return"  # send back to its mentor with a reason


class Party(Enum):
    """Who, of the people a form concerns, takes a step."""

    AUTHOR = "author"
    TRAINEE = "trainee"  # the trainee the form is about
    SUPERVISOR = "supervisor"  # one assigned to that trainee


@dataclass(frozen=True)
class Rule:
    party: Party
    status: Status  # the status the form must be in
    mentor_form: bool = False  # only a form a mentor filled in (not a self-assessment)
    decision: bool = False  # the supervisor's decision on the form: taken once, either way


RULES: dict[Step, Rule] = {
    Step.EDIT: Rule(Party.AUTHOR, Status.DRAFT),
    Step.AMEND: Rule(Party.AUTHOR, Status.SUBMITTED),
    Step.ACKNOWLEDGE: Rule(Party.TRAINEE, Status.SUBMITTED, mentor_form=True),
    Step.COUNTERSIGN: Rule(Party.SUPERVISOR, Status.SUBMITTED, mentor_form=True, decision=True),
    Step.RETURN: Rule(Party.SUPERVISOR, Status.SUBMITTED, mentor_form=True, decision=True),
}


@dataclass(frozen=True)
class FormState:
    status: str  # a :class:`Status` value
    respondent: str  # "mentor" or "trainee": who fills the form in
    countersigned: bool = False
    returned: bool = False  # a supervisor sent it back to its mentor


@dataclass(frozen=True)
class Conflict:
    """Why the form's state does not allow a step: ``error`` is the API's code for it."""

    error: str
    reason: str


# Why a form that is not in the step's status (or not a mentor's, when the step needs one)
# cannot take it.
_NOT_NOW: dict[Step, Conflict] = {
    Step.EDIT: Conflict("submitted", "submitted feedback never changes; amend it"),
    Step.AMEND: Conflict("conflict", "only submitted feedback is amended"),
    Step.ACKNOWLEDGE: Conflict("conflict", "only submitted feedback from a mentor is acknowledged"),
    Step.COUNTERSIGN: Conflict(
        "conflict", "only submitted feedback from a mentor is countersigned"
    ),
    Step.RETURN: Conflict("conflict", "only submitted feedback from a mentor is returned"),
}
_COUNTERSIGNED = Conflict("conflict", "this feedback was already countersigned")
_RETURNED = Conflict("returned", "this feedback went back to its mentor; wait for the revision")


def conflict(step: Step, form: FormState) -> Conflict | None:
    """Why ``form`` cannot take ``step`` now; None when it can."""
    rule = RULES[step]
    if form.status != rule.status or (rule.mentor_form and form.respondent != "mentor"):
        return _NOT_NOW[step]
    if rule.decision and form.countersigned:
        return _COUNTERSIGNED
    if rule.decision and form.returned:
        return _RETURNED
    return None
