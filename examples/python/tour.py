"""A quick tour of mentorflow from Python, on the shipped `score_request` workflow.

Run from anywhere:  python examples/python/tour.py [--workflows DIR]

It builds an in-memory engine on a manual clock, fills the directory, moves a SCORE client
request through assignment, a refused action, acceptance and sessions, lets the clock run so
that a second request is reminded and returned to the queue, and reads views, history,
notifications and an export.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timezone
from pathlib import Path

import mentorflow

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=Path, default=ROOT / "workflows")
    args = parser.parse_args()

    # 1. An engine: ":memory:" (or a file), the workflow folder, and a manual clock.
    #    2026-11-20 is a Friday.
    engine = mentorflow.Engine(
        ":memory:",
        workflows=args.workflows,
        now=datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc),
    )
    print(engine)

    # 2. The directory: a chapter with its holidays, a coordinator, mentors and clients.
    engine.orgs.put(
        "ch12",
        name="SCORE Chapter 12",
        timezone="America/New_York",
        holidays=[date(2026, 11, 26)],  # Thanksgiving: not a business day
    )
    engine.people.put("cody", org="ch12", roles=["coordinator"], name="Cody Coordinator",
                      email="cody@example.org")
    engine.people.put("alice", org="ch12", roles=["mentor"], name="Alice Mentor",
                      classification="active", email="alice@example.org")
    engine.people.put("sam", org="ch12", roles=["mentor"], name="Sam Provisional",
                      classification="provisional")
    engine.people.put("pat", org="ch12", name="Pat Client", email="pat@example.org")
    engine.people.put("quinn", org="ch12", name="Quinn Client")
    print("people:", [p.id for p in engine.people.list(org="ch12")])

    # 3. A client submits a request (the workflow's default start action).
    case = engine.start("score_request", actor="pat", data={"client_name": "Pat's Bakery"})
    print(f"\nstarted {case}")
    print("  in the intake queue:", [c.id for c in engine.view("intake_queue", viewer="cody")])

    # 4. Refusals are ordinary answers: a message for the person, and what would help.
    try:
        engine.act(case.id, "assign", actor="cody", inputs={"mentor": "sam"})
    except mentorflow.GuardRejected as e:
        print(f"  assign sam -> refused: {e.message}")

    case = engine.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})
    print(f"  assigned: state={case.state_label!r}, mentor={case.participant('mentor')}")
    print("  alice may:", engine.actions(case.id, actor="alice"))
    try:
        engine.act(case.id, "log_session", actor="alice")
    except mentorflow.GuardRejected as e:
        print(f"  log_session -> refused: {e.message.strip()} (suggest: {e.suggest})")

    case = engine.act(case.id, "accept", actor="alice",
                      inputs={"note": "Happy to help! Shall we meet on Tuesday?"})
    case = engine.act(case.id, "log_session", actor="alice",
                      inputs={"date": date(2026, 11, 20), "duration": 45, "kind": "phone",
                              "summary": "Pricing and cash flow."})
    print(f"  accepted and one session logged: {case.state_label}, data={case.data}")

    # 5. A second request that nobody answers: reminders after 24 h and 48 h, then back to
    #    the queue after 5 business days (weekend and Thanksgiving excluded).
    other = engine.start("score_request", actor="quinn", data={"client_name": "Quinn's Garage"})
    engine.act(other.id, "assign", actor="cody", inputs={"mentor": "alice"})
    report = engine.advance("2 days")
    reminders = [n.template for n in engine.notifications(other.id, to="alice")
                 if "reminder" in n.template]
    print(f"\nafter 2 days: {report.fired} timers fired: {reminders}")
    engine.advance("6 days")  # Saturday 28 Nov: Thanksgiving pushed the deadline to Monday
    print(f"after 8 days: {engine.get(other.id).state_label}")
    engine.advance("2 days")  # Monday 30 Nov, 9:00 in New York
    other = engine.get(other.id)
    print(f"after 10 days: {other.state_label}; mentor: {other.participant('mentor')}; "
          f"the client was told: {[n.template for n in engine.notifications(other.id, to='quinn')]}")

    # 6. History, notifications, views and exports.
    print("\nhistory of the first request:")
    for event in engine.history(case.id):
        print(f"  {event.seq}. {event.at:%a %d %b %H:%M} {event.actor:>6} {event.action:<12}"
              f" {event.from_state} -> {event.to_state}")
    print("notifications to cody:", [n.subject for n in engine.notifications(to="cody")][:3])
    print("alice's requests:", [c.id for c in engine.view("my_requests", viewer="alice")])
    rows = engine.export("client_requests")
    print("export columns:", rows.columns)
    print(engine.export("client_requests", format="csv"))

    # 7. Results convert to pandas when it is installed (it is not a dependency).
    try:
        print(engine.cases().to_pandas()[["id", "state", "data.client_name"]])
    except ImportError as e:
        print(e)


if __name__ == "__main__":
    main()
