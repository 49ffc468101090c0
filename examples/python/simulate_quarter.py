"""Simulate a quarter of a SCORE chapter on the shipped `score_request` workflow.

Clients submit requests through the quarter; twice a business day the Client Intake
Coordinator assigns the queue to the least busy active mentor who still has capacity; each
assigned mentor accepts, declines or ignores the request with the given probabilities (an
ignored request is reminded after 24 h and 48 h and returns to the queue after 5 business
days, by the workflow's own timers). Accepted requests get a few sessions and most are completed.

Everything runs on the engine's manual clock, with a seeded random generator, so a run is
reproducible. At the end the script prints the median time to acceptance, the share of
requests that went back to the queue, the load per mentor, and writes the cases to CSV.

    python examples/python/simulate_quarter.py --requests 300 --seed 7 --csv quarter.csv
"""

from __future__ import annotations

import argparse
import functools
import heapq
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

import mentorflow

ROOT = Path(__file__).resolve().parents[2]
# The chapter works on New York time; the quarter is in winter (UTC-5 throughout).
NEW_YORK_WINTER = timezone(timedelta(hours=-5))
QUARTER_START = datetime(2026, 1, 5, 8, 0, tzinfo=NEW_YORK_WINTER)  # a Monday
QUARTER_DAYS = 91
HOLIDAYS = [date(2026, 1, 19), date(2026, 2, 16)]  # MLK Day, Presidents' Day
COORDINATOR_HOURS = (10, 15)


@dataclass(order=True)
class Job:
    """Something that happens at a time: a submission, a coordinator round, an answer."""

    at: datetime
    seq: int
    run: Callable[[], None] = field(compare=False)


@dataclass
class Options:
    requests: int
    mentors: int
    p_accept: float
    p_decline: float
    seed: int
    workflows: Path
    csv: Path


class Chapter:
    """The simulated chapter: a clock-ordered job queue driving one engine."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.engine = mentorflow.Engine(":memory:", workflows=opts.workflows, now=QUARTER_START)
        self.jobs: list[Job] = []
        self.seq = 0
        self.refused_by: dict[int, set[str]] = {}  # case -> mentors who declined or ignored it
        self.mentors: list[str] = []

    # ---- set-up ----------------------------------------------------------------------------

    def populate(self) -> None:
        e = self.engine
        e.orgs.put("ch12", name="SCORE Chapter 12", timezone="America/New_York",
                   holidays=HOLIDAYS, settings={"max_requests_per_week": 4})
        e.people.put("cody", org="ch12", roles=["coordinator"], name="Cody Coordinator")
        for i in range(self.opts.mentors):
            mentor = f"mentor{i + 1:02d}"
            e.people.put(mentor, org="ch12", roles=["mentor"], name=f"Mentor {i + 1}",
                         classification="active")
            self.mentors.append(mentor)
        # Provisional mentors and subject matter experts exist but are never assigned.
        e.people.put("prov01", org="ch12", roles=["mentor"], classification="provisional")
        e.people.put("sme01", org="ch12", roles=["mentor"], classification="sme")

    def schedule(self, at: datetime, run: Callable[[], None]) -> None:
        self.seq += 1
        heapq.heappush(self.jobs, Job(at, self.seq, run))

    def business_days(self) -> list[date]:
        days = [QUARTER_START.date() + timedelta(days=d) for d in range(QUARTER_DAYS)]
        return [d for d in days if d.weekday() < 5 and d not in HOLIDAYS]

    def plan(self) -> None:
        days = self.business_days()
        for n in range(self.opts.requests):
            day = self.rng.choice(days[:-5])  # leave the last week for answers
            at = datetime(day.year, day.month, day.day, 8, tzinfo=NEW_YORK_WINTER) + timedelta(
                minutes=self.rng.randrange(9 * 60)
            )
            self.schedule(at, functools.partial(self.submit, n))
        for day in days:
            for hour in COORDINATOR_HOURS:
                at = datetime(day.year, day.month, day.day, hour, tzinfo=NEW_YORK_WINTER)
                self.schedule(at, self.coordinator_round)

    # ---- what people do ----------------------------------------------------------------------

    def submit(self, n: int) -> None:
        client = f"client{n + 1:04d}"
        self.engine.people.put(client, org="ch12", name=f"Client {n + 1}")
        self.engine.start("score_request", actor=client,
                          data={"client_name": f"Business {n + 1}"})

    def coordinator_round(self) -> None:
        for case in sorted(self.engine.view("intake_queue", viewer="cody"), key=lambda c: c.id):
            self.assign(case)

    def load(self) -> Counter[str]:
        open_cases = self.engine.cases("score_request", "assigned_pending") + self.engine.cases(
            "score_request", "in_progress"
        )
        return Counter(m for c in open_cases if (m := c.participant("mentor")) is not None)

    def assign(self, case: mentorflow.Case) -> None:
        load = self.load()
        refused = self.refused_by.get(case.id, set())
        candidates = [m for m in self.mentors if m not in refused] or self.mentors
        for mentor in sorted(candidates, key=lambda m: (load[m], self.rng.random())):
            try:
                self.engine.act(case.id, "assign", actor="cody", inputs={"mentor": mentor})
            except mentorflow.GuardRejected:
                continue  # this mentor reached their weekly capacity; try the next one
            self.decide(case.id, mentor)
            return
        # Nobody has capacity this round: the request waits for the next round.

    def decide(self, case_id: int, mentor: str) -> None:
        roll = self.rng.random()
        now = self.engine.now
        if roll < self.opts.p_accept:
            later = now + timedelta(hours=self.rng.uniform(1, 60))
            self.schedule(later, lambda: self.answer(case_id, mentor, "accept"))
        elif roll < self.opts.p_accept + self.opts.p_decline:
            later = now + timedelta(hours=self.rng.uniform(1, 30))
            self.schedule(later, lambda: self.answer(case_id, mentor, "decline"))
        else:
            self.refused_by.setdefault(case_id, set()).add(mentor)  # ignores it

    def answer(self, case_id: int, mentor: str, how: str) -> None:
        case = self.engine.get(case_id)
        if case.state != "assigned_pending" or case.participant("mentor") != mentor:
            return  # too late: the request already went back to the queue
        if how == "accept":
            self.engine.act(case_id, "accept", actor=mentor,
                            inputs={"note": "Hello, I will be your SCORE mentor."})
            sessions = self.rng.randint(1, 3)
            for k in range(sessions):
                at = self.engine.now + timedelta(days=3 + 7 * k)
                self.schedule(at, lambda: self.session(case_id, mentor))
            if self.rng.random() < 0.7:  # most relationships end within the quarter
                at = self.engine.now + timedelta(days=7 * sessions + 5)
                self.schedule(at, lambda: self.complete(case_id, mentor))
        else:
            self.refused_by.setdefault(case_id, set()).add(mentor)
            self.engine.act(case_id, "decline", actor=mentor,
                            inputs={"reason": "My calendar is full this month."})

    def session(self, case_id: int, mentor: str) -> None:
        case = self.engine.get(case_id)
        if case.state == "in_progress":
            self.engine.act(case_id, "log_session", actor=mentor,
                            inputs={"duration": 60, "kind": "video",
                                    "summary": "Worked on the business plan."})

    def complete(self, case_id: int, mentor: str) -> None:
        if self.engine.get(case_id).state == "in_progress":
            self.engine.act(case_id, "update_status", actor=mentor,
                            inputs={"status": "complete", "contacted": True})

    # ---- the run -----------------------------------------------------------------------------

    def run(self) -> None:
        end = QUARTER_START + timedelta(days=QUARTER_DAYS)
        while self.jobs and self.jobs[0].at <= end:
            job = heapq.heappop(self.jobs)
            if job.at > self.engine.now:
                self.engine.advance_to(job.at)  # fires reminders and returns on the way
            job.run()
        self.engine.advance_to(end)


def hours(d: timedelta) -> float:
    return d.total_seconds() / 3600


def report(chapter: Chapter) -> dict[str, object]:
    e = chapter.engine
    cases = e.cases("score_request")
    to_accept: list[float] = []
    returned = declined = timed_out = 0
    assignments: Counter[str] = Counter()
    for case in cases:
        history = e.history(case.id)
        accepted: Optional[mentorflow.Event] = next(
            (ev for ev in history if ev.action == "accept"), None
        )
        if accepted is not None:
            to_accept.append(hours(accepted.at - case.created_at))
        back = [ev for ev in history if ev.to_state == "pending_reassignment"]
        returned += bool(back)
        declined += sum(ev.action == "decline" for ev in back)
        timed_out += sum(ev.action == "return_to_queue" for ev in back)
        assignments.update(ev.inputs["mentor"] for ev in history if ev.action == "assign")
    leads = Counter(m for c in cases if (m := c.participant("mentor")) is not None)
    states = Counter(c.state_label for c in cases)

    print(f"requests: {len(cases)}   by state: {dict(states)}")
    if to_accept:
        print(f"median time to acceptance: {statistics.median(to_accept):.1f} h "
              f"({len(to_accept)} accepted)")
    share = returned / len(cases) if cases else 0.0
    print(f"returned to the queue at least once: {returned} ({share:.0%}); "
          f"declines: {declined}, no answer within 5 business days: {timed_out}")
    print("load per mentor (assignments received / requests led now):")
    for mentor in chapter.mentors:
        print(f"  {mentor}: {assignments[mentor]:3d} / {leads[mentor]:3d}")
    print(f"notifications sent: {len(e.notifications())}")

    csv_text = e.export("client_requests", format="csv")
    chapter.opts.csv.parent.mkdir(parents=True, exist_ok=True)
    chapter.opts.csv.write_text(csv_text, encoding="utf-8")
    print(f"wrote {len(cases)} cases to {chapter.opts.csv}")
    return {
        "cases": len(cases),
        "accepted": len(to_accept),
        "returned": returned,
        "assignments": sum(assignments.values()),
    }


def main(argv: Optional[list[str]] = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description="Simulate a quarter of a SCORE chapter.")
    p.add_argument("--requests", type=int, default=300, help="requests in the quarter")
    p.add_argument("--mentors", type=int, default=12, help="active mentors in the chapter")
    p.add_argument("--p-accept", type=float, default=0.6, help="chance a mentor accepts")
    p.add_argument("--p-decline", type=float, default=0.25, help="chance a mentor declines")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workflows", type=Path, default=ROOT / "workflows")
    p.add_argument("--csv", type=Path, default=Path("quarter_cases.csv"))
    a = p.parse_args(argv)
    if a.p_accept < 0 or a.p_decline < 0 or a.p_accept + a.p_decline > 1:
        p.error("probabilities must be >= 0 and add up to at most 1 (the rest is ignoring)")
    opts = Options(a.requests, a.mentors, a.p_accept, a.p_decline, a.seed, a.workflows, a.csv)
    chapter = Chapter(opts)
    chapter.populate()
    chapter.plan()
    chapter.run()
    return report(chapter)


if __name__ == "__main__":
    main()
