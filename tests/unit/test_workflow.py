"""The feedback workflow's rules (session_notes/workflow.py): which step each state of a form
allows, with the code and reason of each refusal, and which party takes each step."""

from __future__ import annotations

import pytest

from session_notes.workflow import RULES, Conflict, FormState, Party, Status, Step, conflict

DRAFT = FormState("draft", "mentor")
SELF_DRAFT = FormState("draft", "trainee")
SUBMITTED = FormState("submitted", "mentor")
SELF_ASSESSMENT = FormState("submitted", "trainee")
COUNTERSIGNED = FormState("submitted", "mentor", countersigned=True)
RETURNED = FormState("submitted", "mentor", returned=True)
STATES = {
    "draft": DRAFT,
    "self-draft": SELF_DRAFT,
    "submitted": SUBMITTED,
    "self-assessment": SELF_ASSESSMENT,
    "countersigned": COUNTERSIGNED,
    "returned": RETURNED,
}

# Which states allow each step; every other state refuses it.
ALLOWED: dict[Step, set[str]] = {
    Step.EDIT: {"draft", "self-draft"},
    Step.AMEND: {"submitted", "self-assessment", "countersigned", "returned"},
    Step.ACKNOWLEDGE: {"submitted", "countersigned", "returned"},
    Step.COUNTERSIGN: {"submitted"},
    Step.RETURN: {"submitted"},
}


@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize("state", list(STATES))
def test_each_state_allows_only_its_steps(step: Step, state: str) -> None:
    found = conflict(step, STATES[state])
    if state in ALLOWED[step]:
        assert found is None
    else:
        assert isinstance(found, Conflict)
        assert found.error in {"submitted", "conflict", "returned"}
        assert found.reason


def test_refusals_say_why() -> None:
    assert conflict(Step.EDIT, SUBMITTED) == Conflict(
        "submitted", "submitted feedback never changes; amend it"
    )
    assert conflict(Step.AMEND, DRAFT) == Conflict("conflict", "only submitted feedback is amended")
    assert conflict(Step.ACKNOWLEDGE, SELF_ASSESSMENT) == Conflict(
        "conflict", "only submitted feedback from a mentor is acknowledged"
    )
    assert conflict(Step.RETURN, DRAFT) == Conflict(
        "conflict", "only submitted feedback from a mentor is returned"
    )
    assert conflict(Step.COUNTERSIGN, SELF_ASSESSMENT) == Conflict(
        "conflict", "only submitted feedback from a mentor is countersigned"
    )
    # Countersigning and returning are one decision, taken once either way.
    for step in (Step.COUNTERSIGN, Step.RETURN):
        assert conflict(step, COUNTERSIGNED) == Conflict(
            "conflict", "this feedback was already countersigned"
        )
        assert conflict(step, RETURNED) == Conflict(
            "returned", "this feedback went back to its mentor; wait for the revision"
        )


def test_who_takes_each_step_and_from_which_status() -> None:
    assert {step: (rule.party, rule.status) for step, rule in RULES.items()} == {
        Step.EDIT: (Party.AUTHOR, Status.DRAFT),
        Step.AMEND: (Party.AUTHOR, Status.SUBMITTED),
        Step.ACKNOWLEDGE: (Party.TRAINEE, Status.SUBMITTED),
        Step.COUNTERSIGN: (Party.SUPERVISOR, Status.SUBMITTED),
        Step.RETURN: (Party.SUPERVISOR, Status.SUBMITTED),
    }
