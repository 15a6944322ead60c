"""THE access policy: may this principal do this action to this resource, and if not, why
(DESIGN.md §1 "Access is one decision", §5).

Pure: the caller loads the facts (the principal with its admission and assignments, the session,
the form) and asks. Every REST route and every socket message asks here and nowhere else; API
responses list the caller's capabilities from here too, so the browser never re-derives roles.

Refusals say what a person can act on. A resource the principal may not see at all answers 404,
so ids of other people's sessions and forms are not confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

from server.access.principal import Principal
from server.infra.roles import Role
from server.infra.storage import Session, SessionStatus
from session_notes.workflow import RULES, FormState, Party, Step, conflict
from signaling.close_codes import REASON_DIRECT_VIDEO

__all__ = [
    "ALLOW",
    "Action",
    "Decision",
    "FormFacts",
    "NewForm",
    "Relation",
    "RoomEntry",
    "TraineeFacts",
    "capabilities",
    "may",
    "progress_author",
    "relation",
    "room_entry",
]


class Action(StrEnum):
    # The program: accounts, templates, the audit log.
    ACCOUNTS_MANAGE = "accounts.manage"
    AUDIT_READ = "audit.read"
    INSTRUMENTS_READ = "instruments.read"
    INSTRUMENTS_MANAGE = "instruments.manage"
    SESSION_CREATE = "session.create"
    PEOPLE_SEARCH = "people.search"  # find trainee accounts by name (id and name only)
    # One session.
    SESSION_VIEW = "session.view"
    SESSION_END = "session.end"
    INVITES_LIST = "invites.list"
    INVITES_MANAGE = "invites.manage"  # create and withdraw
    TRAINEES_MANAGE = "trainees.manage"  # list a trainee account in the session, or take it off
    GUESTS_MANAGE = "guests.manage"  # see the admitted guests, link one to a trainee account
    ROOM_ENTER = "room.enter"
    ROOM_TALK = "room.talk"  # signal, state, chat, consent, leave, ping
    ROOM_ADMIT = "room.admit"  # admit and deny
    ROOM_RECORD = "room.record"
    MEDIA_PUBLISH = "media.publish"  # send camera and microphone; else a silent observer
    OBSERVERS_CONFIGURE = "observers.configure"  # whether trainees see observers (issue 11)
    OBSERVERS_SEE = "observers.see"  # what a hidden observer said, in the record (issue 11)
    MARK_ADD = "mark.add"
    MARKS_LIST = "marks.list"
    NOTES_READ = "notes.read"
    NOTES_EDIT = "notes.edit"
    RECORD_VIEW = "record.view"
    RECORDING_DELETE = "recording.delete"  # early, before the retention period ends
    FEEDBACK_START = "feedback.start"
    # One feedback form.
    FORM_VIEW = "form.view"
    FORM_EDIT = "form.edit"  # save a draft, submit it
    FORM_ACKNOWLEDGE = "form.acknowledge"
    FORM_COUNTERSIGN = "form.countersign"
    FORM_AMEND = "form.amend"
    FORM_RETURN = "form.return"  # send back to its mentor with a reason
    # One trainee, across sessions; and the review home (my trainees, my countersign queue).
    PROGRESS_VIEW = "progress.view"
    PROGRESS_VIEWERS = "progress.viewers"  # who viewed or exported the trainee's record
    REVIEW_READ = "review.read"
    PROGRAM_READ = "program.read"  # the program's analytics (program leads: admins)


class Relation(Enum):
    """What a principal is to one session."""

    MENTOR = "mentor"  # the session's own mentor
    TRAINEE = "trainee"  # a listed trainee, signed in to their own account
    SUPERVISOR = "supervisor"  # assigned to one of the listed trainees
    ADMIN = "admin"
    ADMITTED_GUEST = "admitted-guest"  # came by invite; a mentor admitted them
    WAITING_GUEST = "waiting-guest"  # came by invite; still in the lobby
    NONE = "none"


class RoomEntry(Enum):
    REFUSED = "refused"
    LOBBY = "lobby"
    DIRECT = "direct"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200
    error: str = ""
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def _refuse(status: int, error: str, reason: str) -> Decision:
    return Decision(False, status, error, reason)


NOT_FOUND = _refuse(404, "not-found", "no such session")
_DIRECT_VIDEO = (
    "this session's video goes directly between its members and never through the server, "
    "so it cannot be observed"
)
NO_FORM = _refuse(404, "not-found", "no such feedback")
NO_TRAINEE = _refuse(404, "not-found", "no such trainee")


@dataclass(frozen=True)
class NewForm:
    """A form about to be started: who fills it (``respondent``) about which trainee."""

    session: Session
    trainee_id: str
    respondent: str  # "mentor" or "trainee"
    instrument: str  # its short name, for the reason


@dataclass(frozen=True)
class FormFacts:
    session: Session
    author_id: str
    trainee_id: str
    status: str  # "draft" or "submitted"
    respondent: str
    countersigned: bool = False
    returned: bool = False  # a supervisor sent it back to its mentor


@dataclass(frozen=True)
class TraineeFacts:
    """A trainee followed across sessions. ``exists``: an account with the trainee role;
    ``mentored``: the principal is the mentor of a session that lists this trainee."""

    trainee_id: str
    exists: bool
    mentored: bool = False


Resource = Session | NewForm | FormFacts | TraineeFacts | None

# What needs no resource: who may, by role (guests never).
_PROGRAM: dict[Action, tuple[Role, ...]] = {
    Action.ACCOUNTS_MANAGE: (Role.ADMIN,),
    Action.AUDIT_READ: (Role.ADMIN,),
    Action.INSTRUMENTS_MANAGE: (Role.ADMIN,),
    Action.SESSION_CREATE: (Role.MENTOR,),
    Action.PEOPLE_SEARCH: (Role.MENTOR, Role.ADMIN),
    Action.INSTRUMENTS_READ: tuple(Role),
    Action.REVIEW_READ: tuple(Role),  # each sees what is theirs: see progress_author, queue
    Action.PROGRAM_READ: (Role.ADMIN,),
}

_SESSION_RULES: dict[Action, frozenset[Relation]] = {
    Action.SESSION_VIEW: frozenset(Relation) - {Relation.NONE},
    Action.SESSION_END: frozenset({Relation.MENTOR}),
    Action.INVITES_LIST: frozenset({Relation.MENTOR}),
    Action.INVITES_MANAGE: frozenset({Relation.MENTOR}),
    Action.TRAINEES_MANAGE: frozenset({Relation.MENTOR}),
    Action.GUESTS_MANAGE: frozenset({Relation.MENTOR}),
    Action.ROOM_ENTER: frozenset(
        {
            Relation.MENTOR,
            Relation.TRAINEE,
            Relation.SUPERVISOR,
            Relation.ADMITTED_GUEST,
            Relation.WAITING_GUEST,
        }
    ),
    Action.ROOM_TALK: frozenset(
        {
            Relation.MENTOR,
            Relation.TRAINEE,
            Relation.SUPERVISOR,
            Relation.ADMITTED_GUEST,
            Relation.WAITING_GUEST,
        }
    ),
    Action.ROOM_ADMIT: frozenset({Relation.MENTOR}),
    # An assigned supervisor observes: receives everything, publishes nothing (issue 11).
    Action.MEDIA_PUBLISH: frozenset(
        {Relation.MENTOR, Relation.TRAINEE, Relation.ADMITTED_GUEST, Relation.WAITING_GUEST}
    ),
    Action.ROOM_RECORD: frozenset({Relation.MENTOR}),
    Action.OBSERVERS_CONFIGURE: frozenset({Relation.MENTOR, Relation.ADMIN}),
    # The mentor's side: those a hidden observer is never hidden from (signaling/roster.py's
    # `sees_hidden` is the same rule in the room).
    Action.OBSERVERS_SEE: frozenset({Relation.MENTOR, Relation.SUPERVISOR, Relation.ADMIN}),
    Action.MARK_ADD: frozenset({Relation.MENTOR}),
    Action.MARKS_LIST: frozenset({Relation.MENTOR, Relation.SUPERVISOR, Relation.ADMIN}),
    Action.NOTES_READ: frozenset(
        {
            Relation.MENTOR,
            Relation.TRAINEE,
            Relation.SUPERVISOR,
            Relation.ADMIN,
            Relation.ADMITTED_GUEST,
        }
    ),
    Action.NOTES_EDIT: frozenset({Relation.MENTOR, Relation.TRAINEE, Relation.ADMITTED_GUEST}),
    Action.RECORD_VIEW: frozenset(
        {
            Relation.MENTOR,
            Relation.TRAINEE,
            Relation.SUPERVISOR,
            Relation.ADMIN,
            Relation.ADMITTED_GUEST,
        }
    ),
    Action.RECORDING_DELETE: frozenset({Relation.ADMIN}),
}

_WHY_NOT: dict[Action, str] = {
    Action.SESSION_END: "only the session's mentor ends it",
    Action.INVITES_LIST: "only the session's mentor manages its invites",
    Action.INVITES_MANAGE: "only the session's mentor manages its invites",
    Action.TRAINEES_MANAGE: "only the session's mentor chooses its trainees",
    Action.GUESTS_MANAGE: "only the session's mentor manages its guests",
    Action.ROOM_ENTER: "you are not a member of this session",
    Action.ROOM_TALK: "you are not a member of this session",
    Action.ROOM_ADMIT: "only the session's mentor admits or denies",
    Action.ROOM_RECORD: "only the session's mentor starts or stops recording",
    Action.MEDIA_PUBLISH: "supervisors observe the session without sending audio or video",
    Action.OBSERVERS_CONFIGURE: "only the session's mentor decides who sees its observers",
    Action.OBSERVERS_SEE: "this session's observers are hidden from trainees and guests",
    Action.MARK_ADD: "only the session's mentor marks moments",
    Action.MARKS_LIST: "marks are the mentor's; you see those cited as evidence",
    Action.NOTES_READ: "wait until the mentor lets you in",
    Action.NOTES_EDIT: "you may read these notes, not change them",
    Action.RECORD_VIEW: "wait until the mentor lets you in",
    Action.RECORDING_DELETE: "only an admin deletes a recording before its retention ends",
}


def relation(principal: Principal, session: Session) -> Relation:
    if principal.is_guest:
        if principal.scope_session_id != session.id:
            return Relation.NONE
        return Relation.ADMITTED_GUEST if principal.admitted else Relation.WAITING_GUEST
    if principal.role is Role.ADMIN:
        return Relation.ADMIN
    if principal.role is Role.MENTOR and session.mentor_id == principal.id:
        return Relation.MENTOR
    if principal.role is Role.TRAINEE and principal.id in session.trainee_ids:
        return Relation.TRAINEE
    if principal.role is Role.SUPERVISOR and principal.follows.intersection(session.trainee_ids):
        return Relation.SUPERVISOR
    return Relation.NONE


def may(principal: Principal, action: Action, resource: Resource = None) -> Decision:
    """The one answer to "may this principal do this?" (``principal`` is already signed in;
    the HTTP boundary answers 401 for anyone else)."""
    if action in _PROGRAM:
        guest_refused = principal.is_guest and action is not Action.INSTRUMENTS_READ
        if guest_refused or principal.role not in _PROGRAM[action]:
            return _refuse(403, "forbidden", "your role does not allow this")
        return ALLOW
    if isinstance(resource, FormFacts):
        return _on_form(principal, action, resource)
    if isinstance(resource, TraineeFacts):
        return _on_trainee(principal, action, resource)
    if isinstance(resource, NewForm):
        return _start_form(principal, resource)
    if isinstance(resource, Session):
        return _on_session(principal, action, resource)
    raise TypeError(f"{action} needs a resource, not {resource!r}")


def _on_session(principal: Principal, action: Action, session: Session) -> Decision:
    rel = relation(principal, session)
    if rel is Relation.NONE:
        return NOT_FOUND
    if rel not in _SESSION_RULES[action]:
        return _refuse(403, "forbidden", _WHY_NOT[action])
    ended = session.status is SessionStatus.ENDED
    if action in (Action.ROOM_ENTER, Action.ROOM_TALK) and ended:
        return _refuse(410, "session-ended", "this session has ended")
    observing = action is Action.ROOM_ENTER and rel is Relation.SUPERVISOR
    if observing and session.media_mode == "direct":
        # Observing needs the server to forward the video; a direct session promised it never would.
        return _refuse(403, REASON_DIRECT_VIDEO, _DIRECT_VIDEO)
    if action in (Action.INVITES_MANAGE, Action.OBSERVERS_CONFIGURE) and ended:
        return _refuse(409, "session-ended", "this session has ended")
    if action is Action.MARK_ADD and (session.status is not SessionStatus.LIVE):
        return _refuse(409, "not-live", "marks are taken while the session is live")
    if action is Action.NOTES_EDIT and ended and rel is not Relation.MENTOR:
        return _refuse(403, "forbidden", "the session has ended: only its mentor edits the notes")
    return ALLOW


def _start_form(principal: Principal, form: NewForm) -> Decision:
    rel = relation(principal, form.session)
    if rel is Relation.NONE:
        return NOT_FOUND
    if form.trainee_id not in form.session.trainee_ids:
        return _refuse(422, "invalid", "trainee_id: not a trainee of this session")
    if form.respondent == "trainee":
        if rel is not Relation.TRAINEE or principal.id != form.trainee_id:
            return _refuse(
                403, "forbidden", f"{form.instrument} is filled by the trainee, signed in"
            )
        return ALLOW
    if rel is not Relation.MENTOR:
        return _refuse(403, "forbidden", f"{form.instrument} is filled by the session's mentor")
    return ALLOW


def _sees_form(principal: Principal, rel: Relation, form: FormFacts) -> bool:
    if rel in (Relation.NONE, Relation.WAITING_GUEST, Relation.ADMITTED_GUEST):
        return False  # an invite grants presence, never a trainee's feedback
    if principal.id == form.author_id or rel in (Relation.ADMIN, Relation.MENTOR):
        return True
    if form.status != "submitted":
        return False  # drafts are their author's (and the session mentor's) alone
    if rel is Relation.TRAINEE:
        return principal.id == form.trainee_id
    return rel is Relation.SUPERVISOR and form.trainee_id in principal.follows


# The workflow's step each action on a form takes, and why someone who is not that step's party
# (session_notes.workflow.RULES) may not take it.
_FORM_STEPS: dict[Action, Step] = {
    Action.FORM_EDIT: Step.EDIT,
    Action.FORM_AMEND: Step.AMEND,
    Action.FORM_ACKNOWLEDGE: Step.ACKNOWLEDGE,
    Action.FORM_COUNTERSIGN: Step.COUNTERSIGN,
    Action.FORM_RETURN: Step.RETURN,
}
_NOT_THE_PARTY: dict[Step, str] = {
    Step.EDIT: "only the form's author edits or submits it",
    Step.AMEND: "only the form's author amends it",
    Step.ACKNOWLEDGE: "only the trainee, signed in, acknowledges",
    Step.COUNTERSIGN: "only a supervisor assigned to this trainee countersigns or returns it",
    Step.RETURN: "only a supervisor assigned to this trainee countersigns or returns it",
}


def _is_party(principal: Principal, rel: Relation, form: FormFacts, party: Party) -> bool:
    match party:
        case Party.AUTHOR:
            return principal.id == form.author_id
        case Party.TRAINEE:
            return rel is Relation.TRAINEE and principal.id == form.trainee_id
        case Party.SUPERVISOR:
            return rel is Relation.SUPERVISOR and form.trainee_id in principal.follows


def _on_form(principal: Principal, action: Action, form: FormFacts) -> Decision:
    rel = relation(principal, form.session)
    if not _sees_form(principal, rel, form):
        return NO_FORM
    if action is Action.FORM_VIEW:
        return ALLOW
    step = _FORM_STEPS.get(action)
    if step is None:
        raise TypeError(f"{action} is not an action on a form")
    if not _is_party(principal, rel, form, RULES[step].party):
        return _refuse(403, "forbidden", _NOT_THE_PARTY[step])
    state = FormState(form.status, form.respondent, form.countersigned, form.returned)
    blocked = conflict(step, state)
    if blocked is not None:
        return _refuse(409, blocked.error, blocked.reason)
    return ALLOW


def _on_trainee(principal: Principal, action: Action, trainee: TraineeFacts) -> Decision:
    if action not in (Action.PROGRESS_VIEW, Action.PROGRESS_VIEWERS):
        raise TypeError(f"{action} is not an action on a trainee")
    if principal.is_guest or not trainee.exists:
        return NO_TRAINEE  # an invite grants presence in one session, never a trainee's record
    own = principal.role is Role.ADMIN or (
        principal.role is Role.TRAINEE and principal.id == trainee.trainee_id
    )
    sees = (
        own
        or (principal.role is Role.SUPERVISOR and trainee.trainee_id in principal.follows)
        or (principal.role is Role.MENTOR and trainee.mentored)
    )
    if not sees:
        return NO_TRAINEE
    if action is Action.PROGRESS_VIEWERS and not own:
        # Who looked at a record is the trainee's to know (and the program's, through admins),
        # not that of the others who look.
        return _refuse(403, "forbidden", "only the trainee and administrators see who viewed this")
    return ALLOW


def progress_author(principal: Principal) -> str | None:
    """Whose forms count in the progress a principal sees: a mentor's own only; everyone else
    whom :data:`Action.PROGRESS_VIEW` allows sees every submitted form about the trainee."""
    return principal.id if principal.role is Role.MENTOR else None


def room_entry(principal: Principal, session: Session) -> RoomEntry:
    """How a principal enters the live room: a guest not yet admitted waits in the lobby; the
    mentor, listed trainees, assigned supervisors and admitted guests go straight in."""
    if not may(principal, Action.ROOM_ENTER, session):
        return RoomEntry.REFUSED
    if relation(principal, session) is Relation.WAITING_GUEST:
        return RoomEntry.LOBBY
    return RoomEntry.DIRECT


_SESSION_CAPABILITIES = (
    Action.SESSION_END,
    Action.INVITES_LIST,
    Action.INVITES_MANAGE,
    Action.TRAINEES_MANAGE,
    Action.GUESTS_MANAGE,
    Action.ROOM_ENTER,
    Action.ROOM_ADMIT,
    Action.ROOM_RECORD,
    Action.MEDIA_PUBLISH,
    Action.OBSERVERS_CONFIGURE,
    Action.MARK_ADD,
    Action.MARKS_LIST,
    Action.NOTES_READ,
    Action.NOTES_EDIT,
    Action.RECORD_VIEW,
)
_FORM_CAPABILITIES = (
    Action.FORM_EDIT,
    Action.FORM_AMEND,
    Action.FORM_ACKNOWLEDGE,
    Action.FORM_COUNTERSIGN,
    Action.FORM_RETURN,
)


def capabilities(principal: Principal, resource: Session | FormFacts) -> list[str]:
    """What the caller may do to ``resource`` now: sent with it so pages need no role logic."""
    actions: Iterable[Action] = (
        _FORM_CAPABILITIES if isinstance(resource, FormFacts) else _SESSION_CAPABILITIES
    )
    return [a.value for a in actions if may(principal, a, resource)]
