"""A mailer callback: every notification is "sent" by appending an e-mail to a file.

The engine never sends e-mail itself. It writes each notification to its outbox in the same
transaction as the change that caused it, then hands it to the registered callbacks. If a
callback raises (the mail server is down), the error is logged on the `mentorflow` logger, the
notification stays undelivered for this callback, and it is retried after a backoff (1 min,
doubling up to 6 h; `engine.deliveries()` lists what waits): nothing is lost. Because a retry
may repeat a delivery, the mailer drops duplicates by notification id.

    python examples/python/mailer_hook.py --outbox outbox.txt
"""

from __future__ import annotations

import argparse
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import mentorflow

ROOT = Path(__file__).resolve().parents[2]


class FileMailer:
    """Appends each notification to a text file, in a mailbox-like format."""

    def __init__(self, engine: mentorflow.Engine, outbox: Path) -> None:
        self.engine = engine
        self.outbox = outbox
        self.sent: set[int] = set()
        self.server_down = False

    def __call__(self, n: mentorflow.Notification) -> None:
        if n.id in self.sent:
            return  # a retried delivery we already handled
        if self.server_down:
            raise ConnectionError("mail server unreachable")
        person = self.engine.people.get(n.to)  # callbacks may use the engine
        address = person.email or f"{person.id}@example.invalid"
        with self.outbox.open("a", encoding="utf-8") as f:
            f.write(f"Message-Id: <notification-{n.id}@mentorflow>\n")
            f.write(f"Date: {n.at.isoformat()}\n")
            f.write(f"To: {person.name or person.id} <{address}>\n")
            f.write(f"Subject: {n.subject}\n\n{n.body.rstrip()}\n\n")
        self.sent.add(n.id)


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Deliver notifications to a file.")
    p.add_argument("--outbox", type=Path, default=Path("outbox.txt"))
    p.add_argument("--workflows", type=Path, default=ROOT / "workflows")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    a.outbox.parent.mkdir(parents=True, exist_ok=True)
    a.outbox.write_text("", encoding="utf-8")

    engine = mentorflow.Engine(
        ":memory:", workflows=a.workflows, now=datetime(2026, 11, 20, 14, tzinfo=timezone.utc)
    )
    mailer = FileMailer(engine, a.outbox)
    engine.on_notification(mailer, name="mailer")  # its delivery state is kept under this name

    engine.orgs.put("ch12", timezone="America/New_York")
    engine.people.put("cody", org="ch12", roles=["coordinator"], name="Cody",
                      email="cody@example.org")
    engine.people.put("alice", org="ch12", roles=["mentor"], classification="active",
                      name="Alice Mentor", email="alice@example.org")
    engine.people.put("pat", org="ch12", name="Pat Client", email="pat@example.org")

    case = engine.start("score_request", actor="pat", data={"client_name": "Pat's Bakery"})
    engine.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})

    # The mail server goes down: the 24 h reminder cannot be sent. The engine logs the
    # callback's exception on the "mentorflow" logger (the ERROR line below) and keeps going.
    print("the mail server goes down; the 24 h reminder is due:")
    mailer.server_down = True
    report = engine.advance("24h")
    print(f"reminder due: fired={report.fired}, delivery failures={report.delivery_failures}")
    pending = [n for n in engine.notifications(case.id) if n.delivered_at is None]
    print(f"undelivered: {[(n.template, n.attempts, n.last_error) for n in pending]}")

    [waiting] = engine.deliveries(consumer="mailer")
    print(f"retried at: {waiting['next_attempt_at'].isoformat()}")

    # ...and comes back: the retry, once due, delivers what was left.
    mailer.server_down = False
    report = engine.advance("1h")
    print(f"after the server is back: delivered={report.delivered}")
    engine.act(case.id, "accept", actor="alice", inputs={"note": "Happy to help, Pat!"})

    notifications = engine.notifications(case.id)
    assert all(n.delivered_at is not None for n in notifications), "a notification was lost"
    text = a.outbox.read_text(encoding="utf-8")
    assert text.count("Message-Id:") == len(notifications) == len(mailer.sent)
    print(f"\n{len(notifications)} e-mails written to {a.outbox}:")
    for line in text.splitlines():
        if line.startswith(("To:", "Subject:")):
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
