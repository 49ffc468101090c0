"""The authors' loop from Python: Engine.replay, Engine.migrate and mentorflow.coverage."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import REQUEST, SCENARIOS, SHIPPED, T0, add_people

import mentorflow

V1 = REQUEST.read_text(encoding="utf-8")
# v2: `pending` is `assigned_pending`, and every request needs a priority.
V2 = (
    V1.replace("version: 1", "version: 2")
    .replace("  pending:\n", "  assigned_pending:\n")
    .replace("to: pending", "to: assigned_pending")
    .replace("from: pending", "from: assigned_pending")
    .replace("[pending]", "[assigned_pending]")
    .replace(
        "  sessions: { type: int, default: 0, min: 0 }\n",
        "  sessions: { type: int, default: 0, min: 0 }\n"
        "  priority: { type: string, required: true, one_of: [low, normal, high] }\n",
    )
)
PLAN = """workflow: request
from: 1
to: 2
states:
  pending: assigned_pending
fields:
  set:
    priority: { expr: 'if fields.client_name == "Urgent" { "high" } else if fields.client_name == "Bad" { "urgent" } else { "normal" }' }
timers:
  keep: [back_to_queue]
"""


def recorded(tmp_path: Path) -> Path:
    """A database with three v1 cases (1 submitted, 2 assigned, 3 "Bad"), and a folder with
    v1 and v2 side by side."""
    assert "assigned_pending" in V2 and "priority" in V2
    db = tmp_path / "cases.db"
    e = mentorflow.Engine(db, workflows=REQUEST, now=T0)
    add_people(e)
    e.start("request", actor="pat", data={"client_name": "A"})
    b = e.start("request", actor="pat", data={"client_name": "Urgent"})
    e.act(b.id, "assign", actor="cody", inputs={"mentor": "alice"})
    e.start("request", actor="pat", data={"client_name": "Bad"})
    e.close()
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "request.yaml").write_text(V1, encoding="utf-8")
    (folder / "request-v2.yaml").write_text(V2, encoding="utf-8")
    (tmp_path / "plan.yaml").write_text(PLAN, encoding="utf-8")
    return db


def test_replay_reports_identical_cases_and_a_planted_divergence(tmp_path: Path) -> None:
    db = recorded(tmp_path)
    e = mentorflow.Engine(db, workflows=tmp_path / "w", now=T0 + timedelta(hours=1))
    same = e.replay("request", 1)
    assert (same["identical"], same["diverged"], same["not_replayable"]) == (3, 0, 0)
    assert [c["outcome"] for c in same["cases"]] == ["identical"] * 3
    assert same["cases"][1]["events"] == 2 and same["cases"][1]["matched"] == 2
    # v2 requires a priority the recorded starts never gave.
    r = e.replay("request", 2, cases=[2])
    assert r["version"] == 2 and r["diverged"] == 1
    d = r["cases"][0]["divergence"]
    assert d is not None
    assert d["kind"] == "refused" and d["seq"] == 1 and d["action"] == "submit"
    assert "priority" in d["replayed"]
    assert isinstance(d["at"], datetime) and d["at"] == T0
    with pytest.raises(mentorflow.NotFound):
        e.replay("request", 7)


def test_migrate_dry_run_then_the_real_run(tmp_path: Path) -> None:
    db = recorded(tmp_path)
    now = T0 + timedelta(hours=2)
    e = mentorflow.Engine(db, workflows=tmp_path / "w", now=now)
    history = e.history(2)
    dry = e.migrate(tmp_path / "plan.yaml", dry_run=True)
    assert dry["dry_run"] is True and dry["at"] == now
    assert (dry["from"], dry["to"], dry["migrated"], dry["refused"]) == (1, 2, 2, 1)
    two = dry["cases"][1]
    assert two["outcome"] == "would_migrate"
    assert (two["from_state"], two["to_state"]) == ("pending", "assigned_pending")
    assert {"field": "priority", "before": None, "after": "high", "renamed_from": None} in two[
        "fields"
    ]
    timers = {t["name"]: t for t in two["timers"]}
    assert timers["back_to_queue"]["fate"] == "kept"
    assert timers["reminder_24h"]["fate"] == "scheduled"
    assert timers["reminder_24h"]["due"] == now + timedelta(hours=24)
    assert timers["reminder_24h"]["was_due"] == T0 + timedelta(hours=24)
    bad = dry["cases"][2]
    assert bad["outcome"] == "refused" and "urgent" in (bad["reason"] or "")
    assert e.history(2) == history and e.get(2).version == 1, "a dry run writes nothing"

    done = e.migrate(str(tmp_path / "plan.yaml"))
    assert done["dry_run"] is False and done["migrated"] == 2 and done["refused"] == 1
    case = e.get(2)
    assert (case.version, case.state, case.data["priority"]) == (2, "assigned_pending", "high")
    last = e.history(2)[-1]
    assert (last.action, last.actor, last.from_state, last.to_state) == (
        "migrate",
        "system",
        "pending",
        "assigned_pending",
    )
    assert e.get(3).version == 1, "the refused case stays on v1"
    with pytest.raises(mentorflow.ValidationError, match="case 2 runs on request v2, not on v1"):
        e.migrate(tmp_path / "plan.yaml", cases=[2])
    again = e.migrate(tmp_path / "plan.yaml")
    assert [(c["case"], c["outcome"]) for c in again["cases"]] == [(3, "refused")]


def test_a_plan_with_problems_raises_with_every_problem_and_changes_nothing(
    tmp_path: Path,
) -> None:
    db = recorded(tmp_path)
    e = mentorflow.Engine(db, workflows=tmp_path / "w", now=T0 + timedelta(hours=2))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "workflow: request\nfrom: 1\nto: 2\nstates:\n  pendng: assigned_pending\n",
        encoding="utf-8",
    )
    with pytest.raises(mentorflow.DefinitionError) as err:
        e.migrate(bad)
    text = str(err.value)
    assert "bad.yaml:5:3" in text and "did you mean `pending`" in text, text
    assert "field `priority` is required in v2" in text, text
    assert e.get(2).version == 1
    with pytest.raises(mentorflow.DefinitionError, match="cannot read the migration plan"):
        e.migrate(tmp_path / "missing.yaml")
    ro = mentorflow.Engine(db, workflows=tmp_path / "w", read_only=True)
    assert ro.migrate(tmp_path / "plan.yaml", dry_run=True)["migrated"] == 2
    with pytest.raises(mentorflow.Error, match="migrate"):
        ro.migrate(tmp_path / "plan.yaml")


def test_coverage_measures_transitions_and_checks_a_minimum(tmp_path: Path) -> None:
    full = mentorflow.coverage(SCENARIOS, workflows=SHIPPED)
    assert full["failed"] == 0 and full["ok"], full["failures"]
    by = {w["workflow"]: w for w in full["workflows"]}
    assert set(by) == {"score_request", "engagement", "company_initiative", "agent_exception"}
    ae = by["agent_exception"]
    assert ae["transitions_covered"] == ae["transitions_total"] and ae["percent"] == 100
    sr = by["score_request"]
    assert 0 < sr["transitions_covered"] < sr["transitions_total"]
    assert sr["transitions"], "the transitions no scenario took are listed"
    assert set(sr["transitions"][0]) == {"from", "action", "timer"}
    strict = mentorflow.coverage(SCENARIOS, workflows=SHIPPED, min_coverage=sr["percent"] + 1)
    assert not strict["ok"]
    assert any(m.startswith("score_request") for m in strict["below_min_coverage"])
    lenient = mentorflow.coverage([SCENARIOS], workflows=SHIPPED, min_coverage=0)
    assert lenient["ok"] and lenient["below_min_coverage"] == []
    with pytest.raises(ValueError, match="between 0 and 100"):
        mentorflow.coverage(SCENARIOS, workflows=SHIPPED, min_coverage=150)
    # A workflow no scenario touches is at 0 %.
    story = tmp_path / "none.yaml"
    story.write_text(
        "name: nothing\nstart: 2026-11-20T10:00:00Z\nsteps: []\n", encoding="utf-8"
    )
    zero = mentorflow.coverage(story, workflows=REQUEST, min_coverage=1)
    assert zero["workflows"][0]["transitions_covered"] == 0
    assert not zero["ok"] and zero["below_min_coverage"][0].startswith("request")


def test_the_coverage_block_of_docs_python_md_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from conftest import ROOT

    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    section = text.split("## The authors' loop: coverage, replay, migrate\n", 1)[1]
    block = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(block, "docs/python.md", "exec"), {"mentorflow": mentorflow})
    out = capsys.readouterr().out
    assert re.search(r"^agent_exception \d+/\d+ 100%$", out, flags=re.M), out
