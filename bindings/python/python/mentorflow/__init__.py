"""mentorflow: an embeddable workflow runtime for mentoring programmes.

Organisations describe their flows in YAML (states, who may do what, guards and effects as
small scripts, reminders and deadlines on business-day calendars); the engine runs every case
durably in one SQLite file. From Python you start and move cases, simulate months of a
programme on a manual clock, and pull cases, histories and exports into your own tools::

    from datetime import datetime, timezone
    import mentorflow

    engine = mentorflow.Engine(":memory:", workflows="workflows",
                               now=datetime(2026, 11, 20, 10, tzinfo=timezone.utc))
    engine.people.put("cody", org="ch12", roles=["coordinator"])
    engine.people.put("pat", org="ch12", name="Pat Client")
    case = engine.start("score_request", actor="pat", data={"client_name": "Pat"})
    print(case.state_label)                         # Submitted

See docs/python.md for the whole API.
"""

from ._errors import (
    Conflict,
    DefinitionError,
    Error,
    GuardRejected,
    NotFound,
    NotPermitted,
    ScriptError,
    StorageError,
    ValidationError,
)
from ._mentorflow import (
    Case,
    Engine,
    Event,
    Notification,
    Org,
    Orgs,
    Participant,
    PendingTimer,
    People,
    Person,
    ScenarioReport,
    Signal,
    TickReport,
    __version__,
    coverage,
    run_scenario,
)
from ._reports import CoverageReport, MigrationReport, ReplayReport
from ._results import CaseList, EventList, NotificationList, Rows

__all__ = [
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
    "ReplayReport",
    "MigrationReport",
    "CoverageReport",
    "CaseList",
    "EventList",
    "NotificationList",
    "Rows",
    "Error",
    "DefinitionError",
    "ValidationError",
    "GuardRejected",
    "NotPermitted",
    "NotFound",
    "Conflict",
    "ScriptError",
    "StorageError",
    "__version__",
]
