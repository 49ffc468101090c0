"""`people.put` and `orgs.put` merge what is given; `replace=True` stores the whole record
(the same rule as `mentorflow people put` / `orgs put` and Rust's `Engine::put_person`)."""

import mentorflow


def test_people_put_merges_and_replace_replaces(engine: mentorflow.Engine) -> None:
    engine.people.put("mia", org="ch1", name="Mia", roles=["mentor"], classification="active", manager="ravi")
    p = engine.people.put("mia", email="mia@new.example")
    assert (p.name, p.org, p.email, p.roles) == ("Mia", "ch1", "mia@new.example", ["mentor"])
    assert p.attributes == {"classification": "active", "manager": "ravi"}
    p = engine.people.put("mia", manager=None, roles=[])
    assert p.attributes == {"classification": "active"}
    assert p.roles == []
    assert engine.people.get("mia") == p
    p = engine.people.put("mia", org="ch2", replace=True)
    assert (p.name, p.email, p.org, p.roles, p.attributes) == (None, None, "ch2", [], {})


def test_orgs_put_merges_and_replace_replaces(engine: mentorflow.Engine) -> None:
    engine.orgs.put("ch9", name="Chapter 9", timezone="Europe/Paris", weekend=["Fri", "Sat"])
    o = engine.orgs.put("ch9", name="Chapter Nine")
    assert (o.name, o.timezone, o.weekend) == ("Chapter Nine", "Europe/Paris", ["Fri", "Sat"])
    o = engine.orgs.put("ch9", replace=True)
    assert (o.name, o.timezone, o.weekend) == (None, "UTC", ["Sat", "Sun"])
