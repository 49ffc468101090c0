"""Stop a simulation, inspect it read-only, and resume it exactly where it stopped.

Run from anywhere:  python examples/python/resume_simulation.py --db sim.db [--workflows DIR]

Day one runs on a manual clock: a SCORE client request is submitted and assigned. The
engine is closed (a `with` block). A read-only engine then shows what is waiting: the
case's pending timers (what fires when) and its participants with the date each got their
role, and when the last change committed. Day two reopens the file on a manual clock that
starts at `last_committed_at` and lets a week pass: the reminders fire and the request
returns to the queue, as the timers said. The database given with --db is replaced.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

import mentorflow

ROOT = Path(__file__).resolve().parents[2]


def day_one(db: Path, workflows: Path) -> int:
    """Fill the directory and assign one request; the engine closes at the end."""
    start = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)  # a Friday
    with mentorflow.Engine(db, workflows=workflows, now=start) as engine:
        engine.orgs.put("ch12", timezone="America/New_York")
        engine.people.put("cody", org="ch12", roles=["coordinator"])
        engine.people.put("alice", org="ch12", roles=["mentor"], classification="active")
        engine.people.put("pat", org="ch12", name="Pat Client")
        case = engine.start("score_request", actor="pat", data={"client_name": "Pat's Bakery"})
        engine.advance("3h")
        case = engine.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})
        return case.id


def inspect(db: Path, workflows: Path, case_id: int) -> datetime:
    """Look without touching: a read-only engine never writes (and never creates a file)."""
    with mentorflow.Engine(db, workflows=workflows, read_only=True) as engine:
        case = engine.get(case_id)
        print(f"case {case.id}: {case.state_label}")
        timers: list[mentorflow.PendingTimer] = engine.timers(case_id)
        for t in timers:
            fires = t.action if t.action is not None else "a script"
            print(f"  timer {t.name:<16} due {t.due_at:%a %Y-%m-%d %H:%M} UTC, fires {fires}")
        people: list[mentorflow.Participant] = engine.participants(case_id)
        for p in people:
            print(f"  {p.role:<8} {p.person:<6} since {p.since:%Y-%m-%d %H:%M}")
        try:
            engine.act(case_id, "accept", actor="alice", inputs={"note": "Hello"})
        except mentorflow.StorageError as e:
            print(f"  (read-only: {e.message.split(':')[0]})")
        last = engine.last_committed_at
        assert last is not None, "day one committed changes"
        assert all(t.due_at > last for t in timers), "nothing was due yet"
        return last


def day_two(db: Path, workflows: Path, case_id: int, resume_at: datetime) -> None:
    """Resume on a manual clock at the last committed instant and let a week pass."""
    with mentorflow.Engine(db, workflows=workflows, now=resume_at) as engine:
        before = {t.name for t in engine.timers(case_id)}
        report = engine.advance("7 days")
        case = engine.get(case_id)
        print(f"resumed at {resume_at:%Y-%m-%d %H:%M}; a week later: {case.state_label} "
              f"({report.fired} timers fired)")
        assert case.state == "pending_reassignment", case.state
        assert report.fired >= len(before)
        assert engine.participants(case_id, actor="cody")  # the coordinator still sees it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="database file (replaced)")
    parser.add_argument("--workflows", type=Path, default=ROOT / "workflows")
    args = parser.parse_args()
    db: Path = args.db
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    case_id = day_one(db, args.workflows)
    resume_at = inspect(db, args.workflows, case_id)
    day_two(db, args.workflows, case_id, resume_at)


if __name__ == "__main__":
    main()
