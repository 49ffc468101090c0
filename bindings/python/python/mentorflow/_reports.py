"""The shapes of the authors' loop reports: :meth:`Engine.replay`, :meth:`Engine.migrate` and
:func:`coverage` return plain dicts shaped like the CLI's ``--json`` output (instants are
timezone-aware datetimes). These ``TypedDict`` classes describe them for type checkers.
"""

from __future__ import annotations

import datetime
from typing import Any, List, Optional, TypedDict

__all__ = [
    "Divergence",
    "CaseReplay",
    "ReplayReport",
    "FieldChange",
    "RoleChange",
    "TimerChange",
    "CaseMigration",
    "MigrationReport",
    "Transition",
    "WorkflowCoverage",
    "CoverageReport",
]

Divergence = TypedDict(
    "Divergence",
    {
        "seq": int,
        "at": datetime.datetime,
        "actor": str,
        "action": str,
        # refused, state, notifications, effects, action, extra_event
        "kind": str,
        "recorded": str,
        "replayed": str,
    },
)

CaseReplay = TypedDict(
    "CaseReplay",
    {
        "case": int,
        "version": int,
        # identical, diverged, not_replayable
        "outcome": str,
        "events": int,
        "matched": int,
        "divergence": Optional[Divergence],
        "reason": Optional[str],
    },
)

ReplayReport = TypedDict(
    "ReplayReport",
    {
        "workflow": str,
        "version": int,
        "cases": List[CaseReplay],
        "identical": int,
        "diverged": int,
        "not_replayable": int,
    },
)

FieldChange = TypedDict(
    "FieldChange",
    {"field": str, "before": Any, "after": Any, "renamed_from": Optional[str]},
)

RoleChange = TypedDict("RoleChange", {"from": str, "to": Optional[str], "people": List[str]})

TimerChange = TypedDict(
    "TimerChange",
    {
        "name": str,
        # dropped, kept, scheduled, already_fired
        "fate": str,
        "due": Optional[datetime.datetime],
        "was_due": Optional[datetime.datetime],
    },
)

CaseMigration = TypedDict(
    "CaseMigration",
    {
        "case": int,
        # migrated, would_migrate, refused
        "outcome": str,
        "from_state": str,
        "to_state": Optional[str],
        "fields": List[FieldChange],
        "roles": List[RoleChange],
        "timers": List[TimerChange],
        "reason": Optional[str],
    },
)

MigrationReport = TypedDict(
    "MigrationReport",
    {
        "plan": str,
        "workflow": str,
        "from": int,
        "to": int,
        "dry_run": bool,
        "at": datetime.datetime,
        "cases": List[CaseMigration],
        "migrated": int,
        "refused": int,
        "closed": int,
    },
)

Transition = TypedDict(
    "Transition",
    {"from": Optional[str], "action": Optional[str], "timer": Optional[str]},
)

WorkflowCoverage = TypedDict(
    "WorkflowCoverage",
    {
        "workflow": str,
        "version": int,
        "actions": List[str],
        "states": List[str],
        "timers": List[str],
        "transitions": List[Transition],
        "covered": int,
        "total": int,
        "transitions_covered": int,
        "transitions_total": int,
        "percent": int,
    },
)

CoverageReport = TypedDict(
    "CoverageReport",
    {
        "passed": int,
        "failed": int,
        "failures": List[str],
        "workflows": List[WorkflowCoverage],
        "min_coverage": Optional[float],
        "below_min_coverage": List[str],
        "ok": bool,
    },
)
