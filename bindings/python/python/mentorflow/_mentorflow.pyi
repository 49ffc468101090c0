"""The native part of mentorflow (a Rust extension). Import from ``mentorflow`` instead."""

import datetime
import os
from types import TracebackType
from typing import (
    Any,
    Callable,
    Literal,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    Union,
    final,
    overload,
)

from mentorflow._reports import CoverageReport, MigrationReport, ReplayReport
from mentorflow._results import CaseList, EventList, NotificationList, Rows

__all__ = [
    "__version__",
    "Engine",
    "People",
    "Orgs",
    "Case",
    "Event",
    "Notification",
    "Signal",
    "Person",
    "Org",
    "TickReport",
    "PendingTimer",
    "Participant",
    "ScenarioReport",
    "run_scenario",
    "coverage",
]

__version__: str

_PathLike = Union[str, os.PathLike[str]]
_F = TypeVar("_F", bound=Callable[..., Any])

@final
class Engine:
    """The mentorflow runtime over one SQLite database (or memory).

    ``Engine(path, *, workflows, now=None)``:

    - ``path``: a SQLite file (created when missing) or ``":memory:"``.
    - ``workflows``: a folder of ``*.yaml`` definitions, one file, or a list of folders and
      files. Every definition is checked when it loads; problems raise
      :class:`mentorflow.DefinitionError` listing each one with file, line and column.
    - ``now``: a timezone-aware ``datetime`` gives the engine a manual clock starting there
      (for tests and simulations: :meth:`advance` moves it). Without it the engine reads
      the system clock.
    - ``limits``: sandbox limits to change from their defaults, by name: ``max_operations``,
      ``max_call_levels``, ``max_expr_depth``, ``max_function_expr_depth``,
      ``max_string_size``, ``max_array_size``, ``max_map_size`` (whole numbers) and
      ``max_run_time`` (seconds or a ``timedelta``; 0 for none).
    - ``actor``: who deploys and directory changes are recorded as in the audit log
      (default ``system``; see :attr:`actor`).
    - ``read_only``: open an existing file for reading only. A missing file raises
      :class:`mentorflow.NotFound` (nothing is created); every call that would write
      (``start``, ``act``, ``tick``, ``advance``, ``ack``, directory ``put``/``remove``)
      raises :class:`mentorflow.StorageError`.

    ``with mentorflow.Engine(...) as engine:`` closes the engine at the end of the block;
    after :meth:`close`, every call raises :class:`mentorflow.Error` with code ``closed``.

    Every call that runs scripts or touches the database releases the GIL; one engine may be
    shared by many Python threads (writes are serialised, never lost).
    """

    def __new__(
        cls,
        path: _PathLike,
        *,
        workflows: Union[_PathLike, Sequence[_PathLike]],
        now: Optional[datetime.datetime] = None,
        limits: Optional[Mapping[str, Union[int, float, datetime.timedelta]]] = None,
        read_only: bool = False,
        actor: Optional[str] = None,
    ) -> "Engine": ...
    def close(self) -> None:
        """Close the engine: the database is released (once calls still running in other
        threads finish) and every later call raises :class:`mentorflow.Error` with code
        ``closed``. Closing twice is allowed."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the engine's ``with`` block ended)."""
    def __enter__(self) -> "Engine":
        """``with mentorflow.Engine(...) as engine:`` gives the engine itself."""
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
        /,
    ) -> Literal[False]:
        """The end of the ``with`` block closes the engine (exceptions propagate)."""
    @property
    def read_only(self) -> bool:
        """Whether the engine was opened with ``read_only=True``."""
    @property
    def last_committed_at(self) -> Optional[datetime.datetime]:
        """The instant of the latest committed history event in the database (aware, UTC),
        or ``None`` when no case ever changed. A simulation resumes exactly there:
        ``Engine(path, workflows=..., now=old.last_committed_at)`` (an earlier ``now=`` is
        refused with :class:`mentorflow.ValidationError`)."""
    def timers(self, case_id: int) -> list["PendingTimer"]:
        """The pending timers of a case, soonest first: name, state, due time and what fires
        (administrative: no access check). NotFound for an unknown case."""
    def participants(self, case_id: int, *, actor: Optional[str] = None) -> list["Participant"]:
        """The participants of a case, each with role, person and since when. With
        ``actor``, only if that person may see the case (else NotFound)."""
    @property
    def now(self) -> datetime.datetime:
        """The current time on the engine's clock (timezone-aware, UTC)."""
    @property
    def manual_clock(self) -> bool:
        """Whether the engine runs on a manual clock (it was built with ``now=``)."""
    @property
    def path(self) -> Optional[str]:
        """The database file, or ``None`` for an in-memory engine."""
    @property
    def limits(self) -> dict[str, Union[int, float]]:
        """The sandbox limits in force (``max_run_time`` in seconds)."""
    @property
    def workflows(self) -> list[str]:
        """The ids of the loaded workflows, in load order."""
    @property
    def people(self) -> "People":
        """The people of the directory (``engine.people.put(...)``)."""
    @property
    def orgs(self) -> "Orgs":
        """The organisations of the directory (``engine.orgs.put(...)``)."""
    def start(
        self,
        workflow: str,
        *,
        actor: str,
        data: Optional[dict[str, Any]] = None,
        inputs: Optional[dict[str, Any]] = None,
        org: Optional[str] = None,
        action: Optional[str] = None,
    ) -> "Case":
        """Start a case of ``workflow`` as ``actor``.

        ``data`` sets the case's fields, ``inputs`` the start action's inputs. ``org``
        defaults to the actor's organisation. ``action=None`` picks the workflow's only start
        action, or the one it marks as default.

        Raises ValidationError, GuardRejected, NotPermitted, NotFound, ScriptError.
        """
    def act(
        self,
        case_id: int,
        action: str,
        *,
        actor: str,
        inputs: Optional[dict[str, Any]] = None,
        revision: Optional[int] = None,
    ) -> "Case":
        """Do ``action`` on a case as ``actor`` and return the case after it.

        With ``revision``, the action happens only if the case is still at that revision
        (optimistic concurrency); otherwise :class:`mentorflow.Conflict`.

        Raises GuardRejected (``.message``, ``.suggest``), NotPermitted, ValidationError,
        NotFound, Conflict, ScriptError.
        """
    def actions(self, case_id: int, *, actor: str) -> list[str]:
        """The actions ``actor`` may do on the case now (role, state and the guards that do
        not depend on inputs are checked)."""
    def get(self, case_id: int, *, actor: Optional[str] = None) -> "Case":
        """A case. With ``actor``, only if that person may see it (else NotFound)."""
    def replay(
        self, workflow: str, version: int, *, cases: Optional[Sequence[int]] = None
    ) -> ReplayReport:
        """Re-run the recorded history of the workflow's cases (or of ``cases``) against its
        definition ``version`` (a loaded file or a stored version) on a scratch in-memory
        engine, and report per case ``identical`` or the first divergence (``refused``,
        ``state``, ``notifications``, ``effects``, ``action``, ``extra_event``). The shape is
        ``mentorflow --json replay``'s. Nothing in the database changes.

        Raises NotFound for an unknown workflow, version or case.
        """
    def migrate(
        self,
        plan: _PathLike,
        *,
        dry_run: bool = False,
        cases: Optional[Sequence[int]] = None,
    ) -> MigrationReport:
        """Move the open cases of a migration plan's ``from`` version to its ``to`` version
        (the plan file's format is in docs/authoring.md), each case in its own transaction
        with a ``migrate`` history event; with ``dry_run=True`` only report what would change
        (states, fields, roles, timers dropped, kept or scheduled) and write nothing. The
        shape is ``mentorflow --json migrate``'s; a case that cannot move is ``refused`` with
        its ``reason`` and stays untouched.

        Raises DefinitionError when the plan has problems (each with file, line, column;
        nothing changes), ValidationError when ``cases`` names a case of another version.
        """
    def history(self, case_id: int, *, actor: Optional[str] = None) -> EventList:
        """The case's history, oldest first. With ``actor``, only if that person may see it."""
    def notifications(
        self, case_id: Optional[int] = None, *, to: Optional[str] = None, pending: bool = False
    ) -> NotificationList:
        """Notifications from the outbox, oldest first: of one case, to one person, or only
        those not acknowledged yet (``pending=True``)."""
    def signals(self, case_id: Optional[int] = None) -> list["Signal"]:
        """Signals (typed events for hosts, e.g. ``schedule_exception``), oldest first."""
    def ack(self, notification_id: int) -> None:
        """Mark a notification handled (for hosts that pull notifications)."""
    def cases(
        self,
        workflow: Optional[str] = None,
        state: Optional[str] = None,
        org: Optional[str] = None,
        *,
        limit: Optional[int] = None,
    ) -> CaseList:
        """Cases matching the filters, newest first (administrative: no access check)."""
    def view(self, name: str, *, viewer: str) -> CaseList:
        """A named view for a viewer. ``name`` is ``view`` or ``workflow.view`` when two
        workflows share the name."""
    @overload
    def export(
        self, name: str, *, format: Literal["rows"] = "rows", actor: Optional[str] = None
    ) -> Rows:
        """A named export (``export`` or ``workflow.export``): ``format="rows"`` gives a list of
        dicts whose ``.columns`` keeps the column order; ``"csv"`` the CSV text; ``"json"`` the
        rows as JSON text. With ``actor``, only the cases that person may see."""
    @overload
    def export(
        self, name: str, *, format: Literal["csv", "json"], actor: Optional[str] = None
    ) -> str: ...
    def tick(self) -> "TickReport":
        """Fire every timer due now, then deliver pending notifications (and retry failed
        deliveries)."""
    def advance(self, by: Union[datetime.timedelta, str]) -> "TickReport":
        """Move the manual clock forward by a ``timedelta`` or a duration such as ``"24h"``,
        ``"5 business days"`` or ``"1 month"`` (business days on the UTC Monday–Friday
        calendar), firing every timer that falls due on the way, in due order.

        Raises ValidationError when the engine has no manual clock or the duration is invalid.
        """
    def advance_to(self, when: datetime.datetime) -> "TickReport":
        """Move the manual clock to an aware datetime, firing what falls due on the way."""
    def on_notification(self, callback: _F, *, name: Optional[str] = None) -> _F:
        """Call ``callback(notification)`` for every notification, after the change that
        caused it commits. Returns ``callback`` (usable as a decorator).

        Each callback is a delivery *consumer* with its own state in the database, under
        ``name`` (keep it the same from run to run, e.g. ``"mailer"``) or, without one, a
        positional name (``hook-1``, ``hook-2``… in registration order). A name already
        taken raises ValidationError.

        A callback that raises is logged on the ``mentorflow`` logger; the notification stays
        undelivered for that callback alone and is retried after a backoff (1 min, doubling,
        up to 6 h; a dead letter after 16 attempts, see :meth:`deliveries`). Other callbacks
        are not offered it again. The engine is not affected.
        """
    def on_signal(self, callback: _F, *, name: Optional[str] = None) -> _F:
        """Call ``callback(signal)`` for every signal after it commits (same rules as
        :meth:`on_notification`)."""
    def on_event(self, callback: _F, *, name: Optional[str] = None) -> _F:
        """Call ``callback(event)`` for every history event, in commit order. A callback that
        raises is logged and the same events are offered to it again later (other callbacks
        go on)."""
    def consumers(self) -> list[str]:
        """The consumer names of the registered callbacks, in registration order."""
    def deliveries(
        self,
        status: Optional[Literal["retry", "dead", "dropped", "delivered"]] = None,
        *,
        consumer: Optional[str] = None,
        case_id: Optional[int] = None,
        outbox_id: Optional[int] = None,
        all: bool = False,
        limit: Optional[int] = None,
    ) -> list[dict[str, Any]]:
        """Delivery records (one outbox row to one consumer, written when the consumer first
        failed on it), oldest row first: by default those being retried and the dead letters.
        Each is a dict with ``outbox_id``, ``consumer``, ``kind``, ``case_id``, ``to``,
        ``template``, ``status``, ``attempts``, ``last_error``, ``first_failed_at``,
        ``last_attempt_at``, ``next_attempt_at`` and ``delivered_at``."""
    def retry_delivery(self, outbox_id: int, consumer: Optional[str] = None) -> int:
        """Retry an outbox row's failed, dead or dropped deliveries now (of one consumer, or
        all), each with a fresh budget of attempts; returns how many were put back. Raises
        NotFound for an unknown row or consumer, ValidationError when there is nothing to
        retry."""
    def drop_delivery(self, outbox_id: int, consumer: Optional[str] = None) -> int:
        """Give up an outbox row's deliveries that are not done (of one consumer, or all);
        the row is kept and leaves the backlog. Returns how many were dropped."""
    def incidents(
        self,
        status: Optional[Literal["open", "resolved"]] = None,
        *,
        case_id: Optional[int] = None,
        all: bool = False,
        limit: Optional[int] = None,
    ) -> list[dict[str, Any]]:
        """Timer firings that failed (incidents), oldest first: by default the open ones
        (retried by the engine while ``next_attempt_at`` is set, else waiting for a person).
        Each is a dict with ``id``, ``case_id``, ``kind``, ``state``, ``timer``, ``code``,
        ``error`` (with its place in the definition), ``attempts``, ``status``, ``first_at``,
        ``last_at``, ``next_attempt_at``, ``resolved_at``, ``resolved_by`` and ``note``."""
    def retry_incident(
        self, incident_id: int, *, operator: Optional[str] = None
    ) -> dict[str, Any]:
        """Fire an open incident's timer again now, against the case as it is (its current
        definition version); returns the incident afterwards: resolved, or still open with
        the new error (the firing rolled back). With ``operator``, that person must hold an
        operator role (else NotPermitted) and is recorded. Raises NotFound for an unknown
        incident, ValidationError for a resolved one."""
    @property
    def actor(self) -> str:
        """Who deploys and directory changes (``people``/``orgs`` ``put``/``remove``) are
        recorded as in the audit log; assign to change it. Operator controls record their
        ``operator``."""
    @actor.setter
    def actor(self, actor: str) -> None:
        """Record later deploys and directory changes as ``actor``."""
    def audit(
        self,
        *,
        since: Optional[datetime.datetime] = None,
        kind: Optional[str] = None,
        by: Optional[str] = None,
        subject: Optional[str] = None,
        limit: Optional[int] = None,
    ) -> list[dict[str, Any]]:
        """The audit log, oldest first: dicts with ``id``, ``at``, ``actor``, ``kind``
        (``definition.deploy``, ``org.put``, ``person.put``, ``case.suspend``, ...),
        ``subject`` (``person:alice``, ``org:ch1``, ``case:12``), ``before`` and ``after``
        (the record, ``None`` when added or removed) and ``reason``. ``kind`` names one kind
        or a family (``"org"``)."""
    def forget_person(
        self, person_id: str, *, operator: str, reason: str, dry_run: bool = False
    ) -> dict[str, Any]:
        """Forget a person (operator control; ``reason`` required): every place their data
        lives (``places``: dicts with ``place``, ``id``, ``case``, ``columns``) and the
        ``cases`` touched; unless ``dry_run``, their id, name and e-mail become
        ``pseudonym`` (``forgotten-N``) everywhere, in one transaction."""
    def run_retention(
        self, *, export: Optional[_PathLike] = None, dry_run: bool = False
    ) -> dict[str, Any]:
        """Retention: every closed case older than its organisation's ``retention`` setting
        is written with its history as a JSON line to ``export`` (a new file), then purged
        or anonymised. ``dry_run=True`` only lists them (``cases``: dicts with ``case``,
        ``workflow``, ``org``, ``outcome``)."""
    def resolve_incident(
        self, incident_id: int, note: str, *, operator: Optional[str] = None
    ) -> dict[str, Any]:
        """Resolve an open incident without firing, with a note saying why (required);
        returns the incident afterwards."""
    def suspend_case(self, case_id: int, *, operator: str, reason: str) -> Case:
        """Suspend an open case (operator control; ``reason`` required): it refuses every
        action (an Error with code ``suspended``) and its timers wait. Returns the case."""
    def resume_case(self, case_id: int, *, operator: str, reason: str) -> Case:
        """Resume a suspended case: timers that fell due meanwhile fire at the next tick,
        once."""
    def cancel_case(self, case_id: int, *, operator: str, reason: str) -> Case:
        """Cancel an open case: it ends in its state (no longer open), its timers dropped;
        later actions fail with code ``cancelled``."""
    def repair_case(self, case_id: int, state: str, *, operator: str, reason: str) -> Case:
        """Move a case to ``state`` of its definition outside the flow's actions, with that
        state's timers (NotFound with a suggestion for an unknown state)."""
    def control_cases(
        self,
        control: Literal["suspend", "resume", "cancel"],
        *,
        operator: str,
        reason: str,
        view: str | None = None,
        workflow: str | None = None,
        state: str | None = None,
        org: str | None = None,
        fields: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Suspend, resume or cancel every case a view (as ``operator`` sees it) and/or a
        filter selects, each case its own transaction with its history event; ``dry_run``
        changes nothing. A selection naming nothing is refused. Returns ``dry_run``,
        ``control`` and ``cases`` (each ``case``, ``workflow``, ``state``, ``outcome``:
        ``suspended``/``would_suspend``…/``refused``, ``reason``)."""
    def reassign(
        self,
        from_person: str,
        to: str | None = None,
        *,
        operator: str,
        reason: str,
        role: str | None = None,
        workflow: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Move every open case role ``from_person`` holds to ``to`` (or only remove them),
        each case its own transaction; ``dry_run`` changes nothing. ``to`` must hold the
        directory role named like the case role where the organisation's holders have it
        (ValidationError otherwise, nothing changed). Returns ``dry_run``, ``from``, ``to``
        and ``cases`` (each ``case``, ``workflow``, ``roles``, ``outcome``, ``reason``)."""
    def metrics(self) -> dict[str, Any]:
        """Counters (``commands``, ``step_latency``, ``timers_fired``, ``timers_failed``,
        ``deliveries``, ``delivery_failures``) and gauges (``timers_due``,
        ``timers_overdue``, ``outbox_backlog``, ``outbox_failed``, ``dead_letters``,
        ``open_incidents``) as a plain dict."""
    def register_function(self, name: str, callable: Callable[..., Any]) -> None:
        """Make ``callable`` available to the workflows' scripts as ``name(...)``.

        Arguments arrive as plain Python values (dates as ``YYYY-MM-DD`` strings); the result
        must be convertible (str, int, float, bool, None, list, dict, date, time, aware
        datetime). The number of arguments comes from the callable's signature. An exception
        becomes a script error: the action is rolled back and :class:`mentorflow.ScriptError`
        names the script.
        """

@final
class People:
    """The people of the directory: ``engine.people``."""

    def put(
        self,
        id: str,
        *,
        org: Optional[str] = None,
        roles: Optional[Sequence[str]] = None,
        name: Optional[str] = None,
        email: Optional[str] = None,
        replace: bool = False,
        **attributes: Any,
    ) -> "Person":
        """Add a person, or change the properties given of a stored one: what is given
        replaces the stored value, everything else is kept. Other keyword arguments are
        attributes (``classification="active"``, ``manager="mia"``, ``focus_areas=[...]``),
        merged one by one; an attribute given as ``None`` is removed. ``replace=True`` stores
        exactly what is given (roles and attributes not given are gone)."""
    def get(self, id: str) -> "Person":
        """A person (NotFound if unknown)."""
    def list(self, org: Optional[str] = None) -> list["Person"]:
        """Every person, or those of one organisation."""
    def remove(self, id: str) -> bool:
        """Remove a person; returns whether they existed."""

@final
class Orgs:
    """The organisations of the directory: ``engine.orgs``."""

    def put(
        self,
        id: str,
        *,
        name: Optional[str] = None,
        timezone: Optional[str] = None,
        holidays: Optional[Sequence[datetime.date]] = None,
        weekend: Optional[Sequence[str]] = None,
        settings: Optional[dict[str, Any]] = None,
        replace: bool = False,
    ) -> "Org":
        """Add an organisation, or change the properties given of a stored one (the rest is
        kept): IANA ``timezone`` (a new organisation: ``"UTC"``), ``holidays`` (dates that
        are not business days), ``weekend`` days (a new organisation: ``["Sat", "Sun"]``) and
        ``settings`` that override the workflows' defaults (each checked against the loaded
        workflows; merged one by one, ``None`` removes one). ``replace=True`` stores exactly
        what is given."""
    def get(self, id: str) -> "Org":
        """An organisation (NotFound if unknown)."""
    def list(self) -> list["Org"]:
        """Every organisation."""
    def remove(self, id: str) -> bool:
        """Remove an organisation; returns whether it existed."""

@final
class Case:
    """One running instance of a workflow, as a snapshot (it does not change when the case
    does: call ``engine.get(case.id)`` again). Equal when every attribute is equal."""

    @property
    def id(self) -> int:
        """Unique id."""
    @property
    def workflow(self) -> str:
        """Workflow id."""
    @property
    def version(self) -> int:
        """Workflow version, pinned when the case started."""
    @property
    def org(self) -> str:
        """Organisation id."""
    @property
    def state(self) -> str:
        """Current state id."""
    @property
    def state_label(self) -> str:
        """The state's label."""
    @property
    def tags(self) -> list[str]:
        """The state's tags (report flags)."""
    @property
    def open(self) -> bool:
        """Whether the state is not final."""
    @property
    def data(self) -> dict[str, Any]:
        """Field values (a fresh dict). ``date``, ``time`` and ``datetime`` fields are
        ``datetime.date``, ``datetime.time`` and aware ``datetime.datetime`` objects."""
    @property
    def participants(self) -> dict[str, list[str]]:
        """Case role → person ids (a fresh dict)."""
    @property
    def revision(self) -> int:
        """Bumped by every change; equals the number of history events."""
    @property
    def created_at(self) -> datetime.datetime:
        """When the case started (aware, UTC)."""
    @property
    def updated_at(self) -> datetime.datetime:
        """When it last changed (aware, UTC)."""
    @property
    def parent(self) -> Optional[int]:
        """The case this one was copied from, if any."""
    @property
    def suspended(self) -> Optional[dict[str, Any]]:
        """Set while an operator has suspended the case: ``by``, ``at``, ``reason``."""
    @property
    def cancelled(self) -> Optional[dict[str, Any]]:
        """Set when an operator cancelled the case: ``by``, ``at``, ``reason``."""
    def participant(self, role: str) -> Optional[str]:
        """The first person holding a case role, or ``None``."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Event:
    """One entry of a case's history (append-only)."""

    @property
    def id(self) -> int:
        """Global, increasing id (a cursor)."""
    @property
    def case_id(self) -> int:
        """The case."""
    @property
    def seq(self) -> int:
        """1, 2, 3… within the case; equals the case's revision after the event."""
    @property
    def at(self) -> datetime.datetime:
        """When it happened (aware, UTC)."""
    @property
    def actor(self) -> str:
        """Who did it (``system`` for timers)."""
    @property
    def action(self) -> str:
        """The action (``timer:NAME`` for a timer that only ran a script)."""
    @property
    def from_state(self) -> Optional[str]:
        """State before (``None`` for the first event)."""
    @property
    def to_state(self) -> str:
        """State after."""
    @property
    def inputs(self) -> dict[str, Any]:
        """The validated inputs."""
    @property
    def effects(self) -> list[dict[str, Any]]:
        """What changed: dicts with a ``type`` (``set``, ``assign``, ``unassign``, ``note``,
        ``notify``, ``signal``, ``spawn``, ``copied_from``, ``timer_scheduled``,
        ``timer_cancelled``) and its details."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Notification:
    """A message to a person, rendered from a template, as stored in the outbox."""

    @property
    def id(self) -> int:
        """Outbox id; also the idempotency key to drop duplicate deliveries."""
    @property
    def case_id(self) -> Optional[int]:
        """The case, if any."""
    @property
    def to(self) -> str:
        """Recipient person id."""
    @property
    def template(self) -> str:
        """Template name."""
    @property
    def subject(self) -> str:
        """Rendered subject."""
    @property
    def body(self) -> str:
        """Rendered body."""
    @property
    def data(self) -> dict[str, Any]:
        """Data passed by the effect."""
    @property
    def at(self) -> datetime.datetime:
        """When it was queued (aware, UTC)."""
    @property
    def delivered_at(self) -> Optional[datetime.datetime]:
        """When callbacks and hooks accepted it (``None`` while undelivered)."""
    @property
    def acked_at(self) -> Optional[datetime.datetime]:
        """When a host acknowledged it."""
    @property
    def attempts(self) -> int:
        """Delivery attempts so far."""
    @property
    def last_error(self) -> Optional[str]:
        """The last delivery error."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Signal:
    """A typed event for hosts that is not a message to a person."""

    @property
    def id(self) -> int:
        """Outbox id (idempotency key)."""
    @property
    def case_id(self) -> Optional[int]:
        """The case, if any."""
    @property
    def kind(self) -> str:
        """What kind of signal (e.g. ``schedule_exception``)."""
    @property
    def data(self) -> dict[str, Any]:
        """Its data."""
    @property
    def at(self) -> datetime.datetime:
        """When it was emitted (aware, UTC)."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Person:
    """A person of the directory. Attributes are also readable as properties:
    ``person.classification`` is ``person.attributes["classification"]``."""

    @property
    def id(self) -> str:
        """Unique id."""
    @property
    def name(self) -> Optional[str]:
        """Display name."""
    @property
    def email(self) -> Optional[str]:
        """Email address."""
    @property
    def org(self) -> Optional[str]:
        """Organisation id."""
    @property
    def roles(self) -> list[str]:
        """Directory roles (``coordinator``, ``mentor``, …)."""
    @property
    def attributes(self) -> dict[str, Any]:
        """Free attributes (``classification``, ``manager``, ``focus_areas``, …)."""
    def __getattr__(self, name: str) -> Any:
        """An attribute by name (AttributeError if the person has none of that name)."""
    def to_dict(self) -> dict[str, Any]:
        """Every property as a plain dict (free attributes under ``attributes``)."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Org:
    """An organisation: time zone, weekend, holidays and settings."""

    @property
    def id(self) -> str:
        """Unique id."""
    @property
    def name(self) -> Optional[str]:
        """Display name."""
    @property
    def timezone(self) -> str:
        """IANA time zone, e.g. ``Europe/Paris``."""
    @property
    def weekend(self) -> list[str]:
        """Weekend days as three-letter English names (``Sat``, ``Sun``)."""
    @property
    def holidays(self) -> list[datetime.date]:
        """Holidays (not business days)."""
    @property
    def settings(self) -> dict[str, Any]:
        """Settings overriding the workflows' defaults."""
    def to_dict(self) -> dict[str, Any]:
        """Every property as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class TickReport:
    """What a :meth:`Engine.tick` or :meth:`Engine.advance` did."""

    @property
    def fired(self) -> int:
        """Timers fired."""
    @property
    def failed(self) -> list[str]:
        """Timer firings that failed (rolled back; each is an incident, see
        :meth:`Engine.incidents`); each message says which and why."""
    @property
    def delivered(self) -> int:
        """Notifications and signals delivered to callbacks and hooks."""
    @property
    def delivery_failures(self) -> int:
        """Deliveries (of one row to one callback) that failed."""
    @property
    def dead_letters(self) -> int:
        """Of those, deliveries that failed for the last time allowed (now dead letters)."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class PendingTimer:
    """A pending timer of a case (:meth:`Engine.timers`): when it is due and what it does."""

    @property
    def name(self) -> str:
        """Its name in the state."""
    @property
    def state(self) -> str:
        """The state that scheduled it (leaving the state cancels it)."""
    @property
    def due_at(self) -> datetime.datetime:
        """When it is due (aware, UTC)."""
    @property
    def action(self) -> Optional[str]:
        """The system action it fires, if any."""
    @property
    def script(self) -> bool:
        """Whether it runs a script when it fires."""
    @property
    def recurring(self) -> bool:
        """Whether it fires again every period while the case stays in the state (``every``)."""
    @property
    def fired(self) -> int:
        """How many times a recurring timer has fired so far."""
    @property
    def description(self) -> Optional[str]:
        """The timer's description in the definition, if any."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Participant:
    """A person holding a case role, and since when (:meth:`Engine.participants`)."""

    @property
    def role(self) -> str:
        """The case role (``mentor``, ``team``, …)."""
    @property
    def person(self) -> str:
        """The person's id."""
    @property
    def since(self) -> datetime.datetime:
        """When the person was given the role (aware, UTC; the latest time if they lost it in
        between)."""
    def to_dict(self) -> dict[str, Any]:
        """Every attribute as a plain dict."""
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class ScenarioReport:
    """The outcome of one scenario file (truthy when it passed)."""

    @property
    def file(self) -> str:
        """The file, as given."""
    @property
    def name(self) -> str:
        """The scenario's ``name``."""
    @property
    def passed(self) -> bool:
        """Whether every step and expectation held."""
    @property
    def steps_run(self) -> int:
        """Steps started (the failing one included)."""
    @property
    def steps_total(self) -> int:
        """Steps in the file."""
    @property
    def failure(self) -> Optional[str]:
        """The first failure as text, ``FILE:LINE: step N (LABEL): expected …, got …``, or
        ``None`` when the scenario passed."""
    @property
    def failure_details(self) -> Optional[dict[str, Any]]:
        """The first failure's parts: ``file``, ``step``, ``line``, ``label``, ``expected``,
        ``actual``; ``None`` when the scenario passed."""
    def __bool__(self) -> bool: ...

def coverage(
    paths: Union[_PathLike, Sequence[_PathLike]],
    *,
    workflows: Optional[_PathLike] = None,
    min_coverage: Optional[float] = None,
) -> CoverageReport:
    """Run scenario files (files or folders of ``*.yaml``) and measure the transition
    coverage of the workflows in ``workflows`` (a folder or a file; default ``workflows``):
    per workflow the transitions taken (``transitions_covered`` of ``transitions_total``,
    ``percent``) and those no scenario took. With ``min_coverage`` (0–100),
    ``below_min_coverage`` names each workflow below it, as ``mentorflow test
    --min-coverage`` does. ``ok`` is whether every scenario passed and no workflow is below
    the minimum; a failing scenario or a low coverage never raises.

    Raises ValueError for a ``min_coverage`` outside 0–100, DefinitionError when the
    workflows do not load.
    """
def run_scenario(path: _PathLike, *, workflows: Optional[_PathLike] = None) -> ScenarioReport:
    """Run one scenario file (see tests/scenarios/README.md for the format) on a fresh
    database and a manual clock, and report the outcome. Relative ``workflows:`` paths in the
    file are resolved against its folder; without one, ``workflows`` is used (default
    ``"workflows"``, relative to the current directory). A failing scenario does not raise:
    the report says which step failed, what was expected and what happened."""
