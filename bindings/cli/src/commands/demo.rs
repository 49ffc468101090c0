//! `mentorflow demo`: a guided run of the four shipped flows on a fresh database and a
//! simulated clock, printed as a timeline.
//!
//! The story is data ([`ORGS`], [`PEOPLE`], [`STORY`]); a small driver plays it: each step
//! moves the clock (firing the timers that fall due on the way), starts a case or acts on
//! one, and then every history event committed since the previous step is printed with the
//! notifications it queued.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use mentorflow::{CaseFilter, Effect, Engine, Event, ManualClock, NotificationFilter, Org, Person};
use serde_json::{Map, Value};

use super::Ctx;
use crate::args::DemoArgs;
use crate::output::{self, CliError, Out};

/// The database file when `--db` is not given.
const DEFAULT_DEMO_DB: &str = "mentorflow-demo.db";

/// The shipped workflows, built into the binary so the demo runs anywhere.
const SHIPPED: [(&str, &str); 4] = [
    (
        "workflows/score_request.yaml",
        include_str!("../../../../workflows/score_request.yaml"),
    ),
    (
        "workflows/engagement.yaml",
        include_str!("../../../../workflows/engagement.yaml"),
    ),
    (
        "workflows/company_initiative.yaml",
        include_str!("../../../../workflows/company_initiative.yaml"),
    ),
    (
        "workflows/agent_exception.yaml",
        include_str!("../../../../workflows/agent_exception.yaml"),
    ),
];

/// Where the story starts: Friday 2026-11-20 09:00 in New York.
const START: &str = "2026-11-20 09:00";
const START_TZ: &str = "America/New_York";

/// Organisations: id, name, time zone, holidays, settings (JSON). Each names the workflows it
/// uses (the engine's `workflows` setting), so its people are offered only those start actions.
const ORGS: &[(&str, &str, &str, &[&str], &str)] = &[
    (
        "ch12",
        "SCORE Chapter 12",
        "America/New_York",
        &["2026-11-26", "2026-12-25"],
        r#"{"workflows": ["score_request"]}"#,
    ),
    (
        "guild",
        "Mentor Guild",
        "America/New_York",
        &[],
        r#"{"workflows": ["engagement"]}"#,
    ),
    (
        "acme",
        "Acme Corp",
        "Europe/Paris",
        &[],
        r#"{"workflows": ["company_initiative"], "manager_validation": true, "initiative_name": "Acme Mentors"}"#,
    ),
    (
        "northwind",
        "Northwind Contact Center",
        "America/Chicago",
        &[],
        r#"{"workflows": ["agent_exception"]}"#,
    ),
];

/// People: id, name, organisation, directory roles, attributes (JSON).
const PEOPLE: &[(&str, &str, &str, &[&str], &str)] = &[
    ("pat", "Pat Rivera", "ch12", &[], "{}"),
    ("cody", "Cody Nguyen", "ch12", &["coordinator"], "{}"),
    (
        "alice",
        "Alice Moreau",
        "ch12",
        &["mentor"],
        r#"{"classification": "active"}"#,
    ),
    (
        "dan",
        "Dan Okafor",
        "ch12",
        &["mentor"],
        r#"{"classification": "active"}"#,
    ),
    (
        "erin",
        "Erin Walsh",
        "ch12",
        &["mentor"],
        r#"{"classification": "active"}"#,
    ),
    (
        "sam",
        "Sam Lee",
        "ch12",
        &["mentor"],
        r#"{"classification": "sme"}"#,
    ),
    ("kim", "Kim Tanaka", "guild", &[], "{}"),
    ("lou", "Lou Martin", "guild", &[], "{}"),
    ("gus", "Gus Ferreira", "guild", &["coordinator"], "{}"),
    (
        "lena",
        "Lena Park",
        "guild",
        &["mentor"],
        r#"{"classification": "active", "focus_areas": ["marketing", "branding"]}"#,
    ),
    (
        "omar",
        "Omar Haddad",
        "guild",
        &["mentor"],
        r#"{"classification": "active", "focus_areas": ["finance", "marketing"]}"#,
    ),
    (
        "vera",
        "Vera Costa",
        "acme",
        &["employee"],
        r#"{"manager": "max"}"#,
    ),
    ("max", "Max Weber", "acme", &["employee"], "{}"),
    ("cora", "Cora Diallo", "acme", &["coordinator"], "{}"),
    ("ana", "Ana Souza", "northwind", &["agent"], "{}"),
    ("ben", "Ben Carter", "northwind", &["agent"], "{}"),
    ("cam", "Cam Ortiz", "northwind", &["agent"], "{}"),
    ("sue", "Sue Palmer", "northwind", &["supervisor"], "{}"),
];

/// One step of the story.
#[derive(Debug)]
enum Step {
    /// A new part of the story, told in an organisation's time zone.
    Chapter(&'static str, &'static str),
    /// A line of narration.
    Say(&'static str),
    /// Move the clock to this local time, firing every timer due on the way.
    At(&'static str),
    /// Start a case and remember it under a name.
    Start {
        name: &'static str,
        workflow: &'static str,
        by: &'static str,
        data: &'static str,
    },
    /// Do an action.
    Act {
        case: &'static str,
        action: &'static str,
        by: &'static str,
        inputs: &'static str,
    },
    /// An action the engine must refuse (the refusal is shown).
    Refused {
        case: &'static str,
        action: &'static str,
        by: &'static str,
        inputs: &'static str,
    },
}

use Step::*;

const STORY: &[Step] = &[
    Chapter("1 · SCORE Chapter 12: a client mentoring request (score_request)", "ch12"),
    Start {
        name: "bakery",
        workflow: "score_request",
        by: "pat",
        data: r#"{"client_name": "Pat's Bakery", "business_name": "Pat's Bakery LLC",
                  "request_details": "Opening a second location: loan application and cash-flow planning."}"#,
    },
    At("2026-11-20 09:40"),
    Act { case: "bakery", action: "assign", by: "cody", inputs: r#"{"mentor": "alice"}"# },
    Say("Alice does not answer. She is reminded after 24 h and 48 h; after 5 business days on the chapter's calendar (New York time; the weekend and Thanksgiving do not count) the request goes back to the queue."),
    At("2026-11-30 12:00"),
    At("2026-11-30 13:15"),
    Act { case: "bakery", action: "assign", by: "cody", inputs: r#"{"mentor": "dan"}"# },
    At("2026-11-30 16:00"),
    Say("Dan tries to log a session before accepting:"),
    Refused { case: "bakery", action: "log_session", by: "dan", inputs: "{}" },
    Act {
        case: "bakery",
        action: "accept",
        by: "dan",
        inputs: r#"{"note": "Hi Pat, I'm Dan, your SCORE mentor. I ran a bakery for 12 years; let's meet Thursday at 10:00 about the loan application."}"#,
    },
    At("2026-12-03 11:00"),
    Act {
        case: "bakery",
        action: "log_session",
        by: "dan",
        inputs: r#"{"date": "2026-12-03", "duration": 60, "kind": "in person", "summary": "Reviewed the loan application and the cash-flow forecast."}"#,
    },
    Say("Dan wants help with the lease. Sam is a subject matter expert, not an active mentor:"),
    Refused {
        case: "bakery",
        action: "refer",
        by: "dan",
        inputs: r#"{"mentor": "sam", "reason": "Sam knows commercial leases."}"#,
    },
    Act {
        case: "bakery",
        action: "refer",
        by: "dan",
        inputs: r#"{"mentor": "erin", "reason": "Erin negotiated leases for years; Pat needs help with the new location's lease."}"#,
    },
    At("2026-12-04 08:30"),
    Act { case: "bakery", action: "accept_referral", by: "erin", inputs: "{}" },
    At("2026-12-08 15:00"),
    Act {
        case: "bakery",
        action: "log_session",
        by: "erin",
        inputs: r#"{"date": "2026-12-08", "duration": 90, "kind": "video", "summary": "Went through the lease terms clause by clause."}"#,
    },
    At("2026-12-15 17:00"),
    Act {
        case: "bakery",
        action: "update_status",
        by: "dan",
        inputs: r#"{"status": "complete", "contacted": true, "note": "Loan approved and lease signed."}"#,
    },
    Chapter("2 · Mentor Guild: engagements assigned by a rule (engagement)", "guild"),
    At("2026-12-16 09:00"),
    Start {
        name: "kayak",
        workflow: "engagement",
        by: "kim",
        data: r#"{"client_name": "Kim's Kayak Tours", "focus_areas": ["marketing"]}"#,
    },
    At("2026-12-16 09:30"),
    Say("Lena and Omar both cover marketing; Lena already has an open engagement, so Omar gets the next one."),
    Start {
        name: "logistics",
        workflow: "engagement",
        by: "lou",
        data: r#"{"client_name": "Lou Logistics", "focus_areas": ["marketing", "finance"]}"#,
    },
    At("2026-12-16 14:00"),
    Act { case: "logistics", action: "accept", by: "omar", inputs: "{}" },
    At("2026-12-17 10:00"),
    Act {
        case: "logistics",
        action: "log_session",
        by: "omar",
        inputs: r#"{"summary": "Kick-off: goals for the first quarter."}"#,
    },
    Chapter("3 · Acme Corp: a volunteer mission with manager validation (company_initiative)", "acme"),
    At("2027-01-04 09:00"),
    Start {
        name: "mission",
        workflow: "company_initiative",
        by: "vera",
        data: r#"{"motivation": "I want to help students discover engineering."}"#,
    },
    At("2027-01-04 09:05"),
    Act {
        case: "mission",
        action: "post_message",
        by: "vera",
        inputs: r#"{"text": "Hello! I am an engineer and would love to mentor a high-school student."}"#,
    },
    At("2027-01-04 11:00"),
    Act {
        case: "mission",
        action: "add_task",
        by: "cora",
        inputs: r#"{"title": "Attend the volunteer onboarding session"}"#,
    },
    At("2027-01-06 17:00"),
    Act {
        case: "mission",
        action: "complete_task",
        by: "vera",
        inputs: r#"{"title": "Attend the volunteer onboarding session"}"#,
    },
    At("2027-01-07 09:00"),
    Act { case: "mission", action: "validate", by: "cora", inputs: "{}" },
    Say("A month later Vera gets her monthly reminder, then finds a mentee; Acme asks managers to validate the dates."),
    At("2027-02-08 09:00"),
    Act {
        case: "mission",
        action: "enter_engagement",
        by: "vera",
        inputs: r#"{"mentee": "Jordan, Lycée Voltaire", "start": "2027-02-15", "end": "2027-06-15", "dates": ["2027-02-15"]}"#,
    },
    At("2027-02-09 10:00"),
    Act { case: "mission", action: "manager_approve", by: "max", inputs: "{}" },
    Chapter("4 · Northwind Contact Center: an agent mentoring exception (agent_exception)", "northwind"),
    At("2027-02-10 08:00"),
    Start {
        name: "exception",
        workflow: "agent_exception",
        by: "ana",
        data: r#"{"mentoring_date": "2027-02-12", "exception_type": "Side-by-side", "start_time": "10:00",
                  "end_time": "11:00", "description": "Side-by-side on billing dispute escalations."}"#,
    },
    At("2027-02-10 08:20"),
    Act { case: "exception", action: "accept", by: "ben", inputs: "{}" },
    At("2027-02-10 08:45"),
    Say("Ana rejects Ben's acceptance: the request goes back to the Public Box and a Denied copy stays in Ben's Inbox."),
    Act { case: "exception", action: "reject", by: "ana", inputs: "{}" },
    At("2027-02-10 09:10"),
    Act { case: "exception", action: "accept", by: "cam", inputs: "{}" },
    At("2027-02-10 09:15"),
    Act { case: "exception", action: "confirm", by: "ana", inputs: "{}" },
    At("2027-02-10 10:00"),
    Act {
        case: "exception",
        action: "approve",
        by: "sue",
        inputs: r#"{"note": "Approved; the schedule is adjusted."}"#,
    },
];

fn bad(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::msg(format!("demo data: {what}: {e}"))
}

fn json_object(text: &str) -> Result<Map<String, Value>, CliError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(bad("expected a JSON object", other)),
        Err(e) => Err(bad(text, e)),
    }
}

fn tz(name: &str) -> Result<Tz, CliError> {
    name.parse::<Tz>().map_err(|e| bad(name, e))
}

/// Every `YYYY-MM-DD` date in a story's JSON text moved by `shift` (whole days).
fn shift_dates(text: &str, shift: chrono::Duration) -> String {
    if shift.is_zero() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let date = rest
            .get(..10)
            .filter(|d| d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-')
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        match date {
            Some(d) => {
                out.push_str(&(d + shift).format("%Y-%m-%d").to_string());
                rest = &rest[10..];
            }
            None => {
                let c = rest.chars().next().unwrap_or_default();
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// When the story's last step happens (UTC), unmoved.
fn story_end() -> Result<DateTime<Utc>, CliError> {
    let mut zone = tz(START_TZ)?;
    let mut end = local(START, zone)?;
    for step in STORY {
        match step {
            Chapter(_, org) => {
                if let Some((.., z, _, _)) = ORGS.iter().find(|o| o.0 == *org) {
                    zone = tz(z)?;
                }
            }
            At(text) => end = end.max(local(text, zone)?),
            _ => {}
        }
    }
    Ok(end)
}

/// The whole weeks that move the story to end within the week before `now` (weekdays, and so
/// business days, stay as the story has them).
fn weeks_to(now: DateTime<Utc>) -> Result<chrono::Duration, CliError> {
    let end = story_end()?;
    let weeks = (now - end).num_seconds().div_euclid(7 * 86_400);
    Ok(chrono::Duration::weeks(weeks))
}

fn local(text: &str, zone: Tz) -> Result<DateTime<Utc>, CliError> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_err(|e| bad(text, e))?;
    zone.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad(text, "not a single local time"))
}

/// What the driver keeps between steps.
struct Driver<'a> {
    engine: Engine,
    out: &'a Out,
    names: HashMap<String, String>,
    zones: HashMap<String, Tz>,
    zone: Tz,
    cases: HashMap<&'static str, i64>,
    last_event: i64,
    notifications: usize,
    quiet: bool,
    /// Whole weeks the story is moved by (`serve --demo` plays it to end in the last week).
    shift: chrono::Duration,
}

impl Driver<'_> {
    /// A line of the story (nothing when quiet: `serve --demo` plays it to fill a database).
    fn line(&self, text: &str) {
        if !self.quiet {
            output::line(text);
        }
    }

    fn name(&self, id: &str) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    fn case(&self, name: &str) -> Result<i64, CliError> {
        self.cases
            .get(name)
            .copied()
            .ok_or_else(|| bad("unknown case name", name))
    }

    fn play(&mut self, step: &Step) -> Result<(), CliError> {
        match step {
            Chapter(title, org) => {
                self.zone = self.zones.get(*org).copied().unwrap_or(Tz::UTC);
                self.line("");
                self.line(&self.out.bold(title));
                self.line(&self.out.dim(&"─".repeat(title.chars().count())));
            }
            Say(text) => {
                for l in wrap(text, 92) {
                    self.line(&self.out.dim(&format!("  {l}")));
                }
            }
            At(text) => {
                let t = local(text, self.zone)? + self.shift;
                self.engine.advance_to(t)?;
            }
            Start {
                name,
                workflow,
                by,
                data,
            } => {
                let case = self.engine.start_with(mentorflow::Start {
                    workflow: (*workflow).to_owned(),
                    actor: (*by).to_owned(),
                    data: json_object(&shift_dates(data, self.shift))?,
                    ..mentorflow::Start::default()
                })?;
                self.cases.insert(name, case.id);
            }
            Act {
                case,
                action,
                by,
                inputs,
            } => {
                let id = self.case(case)?;
                let inputs = json_object(&shift_dates(inputs, self.shift))?;
                self.engine.act(id, action, by, Value::Object(inputs))?;
            }
            Refused {
                case,
                action,
                by,
                inputs,
            } => {
                let id = self.case(case)?;
                let inputs = json_object(&shift_dates(inputs, self.shift))?;
                match self.engine.act(id, action, by, Value::Object(inputs)) {
                    Ok(_) => {
                        return Err(CliError::msg(format!(
                            "demo: `{action}` by {by} should have been refused"
                        )))
                    }
                    Err(e) => {
                        let mut msg = match &e {
                            mentorflow::Error::GuardRejected { message, .. } => message.clone(),
                            other => other.to_string(),
                        };
                        if let mentorflow::Error::GuardRejected { suggest, .. } = &e {
                            if !suggest.is_empty() {
                                msg.push_str(&format!(" (suggests: {})", suggest.join(", ")));
                            }
                        }
                        let who = self.name(by);
                        let when = self.when(self.engine.now(), self.zone);
                        self.line(&format!(
                            "{when}  {:<14} {}",
                            who,
                            self.out.red(&format!("✗ {action} refused"))
                        ));
                        for l in wrap(&msg, 80) {
                            self.line(&format!("{:36}{}", "", self.out.red(&l)));
                        }
                    }
                }
            }
        }
        self.print_new_events()
    }

    fn when(&self, t: DateTime<Utc>, zone: Tz) -> String {
        t.with_timezone(&zone)
            .format("%a %Y-%m-%d %H:%M")
            .to_string()
    }

    /// Print every event committed since the last call, oldest first.
    fn print_new_events(&mut self) -> Result<(), CliError> {
        let mut events: Vec<(Event, String, String)> = Vec::new();
        for c in self.engine.cases(&CaseFilter::default())? {
            for e in self.engine.history(c.id, None)? {
                if e.id > self.last_event {
                    events.push((e, c.workflow.clone(), c.org.clone()));
                }
            }
        }
        events.sort_by_key(|(e, _, _)| e.id);
        for (e, workflow, org) in events {
            self.last_event = self.last_event.max(e.id);
            // A linked copy is told by the `⧉` line of the case it was copied from.
            if e.effects
                .iter()
                .any(|f| matches!(f, Effect::CopiedFrom { .. }))
            {
                continue;
            }
            self.print_event(&e, &workflow, &org)?;
        }
        Ok(())
    }

    fn print_event(&mut self, e: &Event, workflow: &str, org: &str) -> Result<(), CliError> {
        let out = self.out;
        let zone = self.zones.get(org).copied().unwrap_or(self.zone);
        let def = self.engine.definition(workflow).ok();
        let label = |s: &str| {
            def.as_ref()
                .map_or_else(|| s.to_owned(), |d| d.state_label(s).to_owned())
        };
        let who = if e.actor == "system" {
            "⏱ system".to_owned()
        } else {
            self.name(&e.actor)
        };
        let what = match e.action.strip_prefix("timer:") {
            Some(t) => format!("timer {t}"),
            None => e.action.clone(),
        };
        let moved = match &e.from_state {
            None => format!("→ {}", label(&e.to_state)),
            Some(f) if f == &e.to_state => out.dim(&format!("({})", label(f))),
            Some(f) => format!("{} → {}", label(f), label(&e.to_state)),
        };
        let what = format!("{what} #{}", e.case_id);
        self.line(&format!(
            "{}  {:<14} {}  {moved}",
            self.when(e.at, zone),
            truncate(&who, 14),
            out.cyan(&format!("{what:<25}"))
        ));
        let pad = " ".repeat(36);
        let subjects = self.engine.notifications(&NotificationFilter {
            case_id: Some(e.case_id),
            ..NotificationFilter::default()
        })?;
        for eff in &e.effects {
            let line = match eff {
                Effect::Notify { id, to, .. } => {
                    self.notifications += 1;
                    let subject = subjects
                        .iter()
                        .find(|n| n.id == *id)
                        .map(|n| n.subject.clone())
                        .unwrap_or_default();
                    format!("✉ {}: {}", self.name(to), truncate(&subject, 70))
                }
                Effect::Note { text } => format!("✎ note: {}", truncate(&flat(text), 76)),
                Effect::Assign { role, person } => format!("+ {} as {role}", self.name(person)),
                Effect::Unassign { role, person } => format!("− {} as {role}", self.name(person)),
                Effect::Spawn { case, state } => {
                    format!("⧉ copy #{case} created in {}", label(state))
                }
                Effect::Signal { id, kind } => {
                    let data = self
                        .engine
                        .signals(Some(e.case_id))?
                        .into_iter()
                        .find(|s| s.id == *id)
                        .map(|s| {
                            s.data
                                .iter()
                                .map(|(k, v)| {
                                    format!("{k}={}", output::value(v).replace(", ", ","))
                                })
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    format!("⚡ signal {kind} for the host: {}", truncate(&data, 70))
                }
                _ => continue,
            };
            self.line(&format!("{pad}{line}"));
        }
        Ok(())
    }
}

fn flat(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(n - 1).collect();
        format!("{cut}…")
    }
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(w);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Refuse to replace a database that holds data the demo did not write: cases of other
/// workflows, or people or organisations other than the demo's.
fn refuse_foreign(path: &Path) -> Result<(), CliError> {
    if !path.exists() {
        return Ok(());
    }
    let refuse = |what: String| {
        CliError::coded(
            "validation",
            format!(
                "`{}` {what}; the demo replaces its database, so it leaves this one alone: \
                 run `mentorflow demo --db :memory:` (writes nothing), choose another file with \
                 `--db`, or pass --force to replace this one",
                path.display()
            ),
        )
    };
    let engine = Engine::builder()
        .database(path)
        .open_existing()
        .build()
        .map_err(|e| refuse(format!("cannot be read as a mentorflow database ({e})")))?;
    // An earlier demo's database has the demo's people and organisations exactly, and cases
    // of the shipped workflows only.
    let (orgs, people) = directory()?;
    let workflows: Vec<&str> = SHIPPED
        .iter()
        .filter_map(|(f, _)| Path::new(f).file_stem().and_then(|s| s.to_str()))
        .collect();
    let cases = engine.cases(&CaseFilter::default())?;
    let foreign_cases = cases
        .iter()
        .filter(|c| !workflows.contains(&c.workflow.as_str()))
        .count();
    let stored_people = engine.people(None)?;
    let foreign_people = stored_people.iter().filter(|p| !people.contains(p)).count();
    let stored_orgs = engine.orgs()?;
    let foreign_orgs = stored_orgs.iter().filter(|o| !orgs.contains(o)).count();
    let demo_like = stored_people.len() == people.len() && stored_orgs.len() == orgs.len();
    if cases.is_empty() && stored_people.is_empty() && stored_orgs.is_empty()
        || demo_like && foreign_cases + foreign_people + foreign_orgs == 0
    {
        // empty, or written by an earlier demo
        return Ok(());
    }
    Err(refuse(format!(
        "holds {} case{}, {} {} and {} organisation{} that an earlier demo did not write",
        cases.len(),
        output::plural(cases.len()),
        stored_people.len(),
        if stored_people.len() == 1 {
            "person"
        } else {
            "people"
        },
        stored_orgs.len(),
        output::plural(stored_orgs.len())
    )))
}

/// Delete a database file and its WAL companions.
fn remove_db(path: &Path) -> Result<(), CliError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| {
                CliError::coded("io", format!("cannot replace `{}`: {e}", p.display()))
            })?;
        }
    }
    Ok(())
}

/// The demo's organisations and people, as it stores them.
fn directory() -> Result<(Vec<Org>, Vec<Person>), CliError> {
    let mut orgs = Vec::new();
    for (id, name, zone, holidays, settings) in ORGS {
        let mut org = Org::new(*id).name(*name).timezone(*zone);
        for h in *holidays {
            org = org.holiday(NaiveDate::parse_from_str(h, "%Y-%m-%d").map_err(|e| bad(h, e))?);
        }
        org.settings = json_object(settings)?;
        orgs.push(org);
    }
    let mut people = Vec::new();
    for (id, name, org, roles, attrs) in PEOPLE {
        let mut p = Person::new(*id).name(*name).org(*org);
        p.email = Some(format!("{id}@{org}.example.org"));
        p.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        p.attributes = json_object(attrs)?;
        people.push(p);
    }
    Ok((orgs, people))
}

fn setup(engine: &Engine) -> Result<HashMap<String, String>, CliError> {
    let (orgs, people) = directory()?;
    for org in &orgs {
        engine.replace_org(org)?;
    }
    for p in &people {
        engine.replace_person(p)?;
    }
    Ok(PEOPLE
        .iter()
        .map(|(id, name, ..)| ((*id).to_owned(), (*name).to_owned()))
        .collect())
}

/// The demo's database path (`--db`, else mentorflow-demo.db), emptied for a fresh start:
/// refused when it holds data an earlier demo did not write, unless `force`.
pub fn fresh_db(ctx: &Ctx, force: bool) -> Result<PathBuf, CliError> {
    let path = ctx
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DB));
    if !force {
        refuse_foreign(&path)?;
    }
    remove_db(&path)?;
    Ok(path)
}

/// An engine builder on a database with the demo's workflows (the shipped ones, built in,
/// or those of `workflows`).
pub fn builder(path: &Path, workflows: Option<&Path>) -> mentorflow::EngineBuilder {
    let mut b = Engine::builder().database(path);
    match workflows {
        Some(dir) => b = b.workflows_dir(dir),
        None => {
            for (file, text) in SHIPPED {
                b = b.workflow_str(file, text);
            }
        }
    }
    b
}

/// The demo's story mails were sent in the story (as `mentorflow demo` prints them): a hook
/// that takes them, so that only mail from what people do in the portal is delivered.
#[derive(Debug)]
struct StoryMail;

impl mentorflow::Hook for StoryMail {
    /// The portal's mailer's name: its delivery state starts after the story.
    fn name(&self) -> &str {
        mentorflow_server::mail::HOOK_NAME
    }
}

/// Fill a fresh database with the demo's organisations, people and story (quietly), on a
/// manual clock, the story moved by whole weeks to end within the week before `now` (its
/// times, and the dates in its inputs, move with it; weekdays and so business days stay):
/// `serve --demo` then opens it on the system clock, with the story's pending timers still
/// ahead. Returns the people (id, name, organisation, roles).
pub fn seed(
    path: &Path,
    workflows: Option<&Path>,
    settings: &[(&str, serde_json::Value)],
    now: DateTime<Utc>,
) -> Result<Vec<(String, String, String, String)>, CliError> {
    let shift = weeks_to(now)?;
    let start = local(START, tz(START_TZ)?)? + shift;
    let mut b = builder(path, workflows)
        .clock(ManualClock::at(start))
        .hook(StoryMail);
    for (name, value) in settings {
        b = b.setting_default(*name, value.clone());
    }
    let engine = b.build()?;
    let names = setup(&engine)?;
    let mut zones = HashMap::new();
    for (id, _, zone, _, _) in ORGS {
        zones.insert((*id).to_owned(), tz(zone)?);
    }
    let out = Out::new(false);
    let mut d = Driver {
        engine,
        out: &out,
        names,
        zones,
        zone: tz(START_TZ)?,
        cases: HashMap::new(),
        last_event: 0,
        notifications: 0,
        quiet: true,
        shift,
    };
    for step in STORY {
        d.play(step)?;
    }
    Ok(PEOPLE
        .iter()
        .map(|(id, name, org, roles, _)| {
            (
                (*id).to_owned(),
                (*name).to_owned(),
                (*org).to_owned(),
                roles.join(", "),
            )
        })
        .collect())
}

pub fn run(ctx: &Ctx, a: &DemoArgs) -> Result<(), CliError> {
    // `--db` only: MENTORFLOW_DB names the user's own database, which the demo never touches
    let path = ctx
        .db
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DEMO_DB));
    let in_memory = path.as_os_str() == ":memory:";
    if !in_memory {
        if !a.force {
            refuse_foreign(&path)?;
        }
        remove_db(&path)?;
    }
    let start = local(START, tz(START_TZ)?)?;
    let mut b = Engine::builder()
        .database(&path)
        .clock(ManualClock::at(start));
    match &ctx.workflows {
        Some(dir) => b = b.workflows_dir(dir),
        None => {
            for (file, text) in SHIPPED {
                b = b.workflow_str(file, text);
            }
        }
    }
    let engine = b.build()?;
    let names = setup(&engine)?;
    let mut zones = HashMap::new();
    for (id, _, zone, _, _) in ORGS {
        zones.insert((*id).to_owned(), tz(zone)?);
    }
    let out = &ctx.out;
    output::line(&out.bold("mentorflow demo: the four shipped workflows on a simulated clock"));
    output::line(&out.dim(&format!(
        "A fresh database ({}), {} organisations, {} people; the clock starts on Friday 2026-11-20 09:00 in New York.",
        path.display(),
        ORGS.len(),
        PEOPLE.len()
    )));
    let mut d = Driver {
        engine,
        out,
        names,
        zones,
        zone: tz(START_TZ)?,
        cases: HashMap::new(),
        last_event: 0,
        notifications: 0,
        quiet: false,
        shift: chrono::Duration::zero(),
    };
    for step in STORY {
        d.play(step)?;
    }
    let cases = d.engine.cases(&CaseFilter::default())?;
    let mut by_workflow: BTreeMap<String, usize> = BTreeMap::new();
    for c in &cases {
        *by_workflow.entry(c.workflow.clone()).or_default() += 1;
    }
    output::line("");
    output::line(&out.bold("Done."));
    output::line(&format!(
        "{} cases ({}), {} events, {} notifications, all in {}.",
        cases.len(),
        by_workflow
            .iter()
            .map(|(w, n)| format!("{n} {w}"))
            .collect::<Vec<_>>()
            .join(", "),
        d.last_event,
        d.notifications,
        path.display()
    ));
    if in_memory {
        output::line("It was kept in memory: nothing was written. `mentorflow demo` keeps a database to explore.");
        return Ok(());
    }
    let bakery = d.case("bakery")?;
    let db = path.display();
    output::line("Explore it:");
    let explore = [
        ("list".to_owned(), "every case"),
        (
            format!("show {bakery}"),
            "Pat's request: state, fields, people",
        ),
        (
            format!("history {bakery}"),
            "everything that happened to it",
        ),
        (
            format!("notifications --case {bakery}"),
            "the e-mails it sent",
        ),
        (
            format!("graph score_request --case {bakery}"),
            "its path on the diagram (Mermaid; run where workflows/ is)",
        ),
        (
            "view intake_queue --as cody".to_owned(),
            "the chapter's Client Intake Queue",
        ),
        ("export client_requests".to_owned(), "a CSV report"),
    ];
    let width = explore
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0);
    for (cmd, what) in explore {
        let cmd = format!("mentorflow --db {db} {cmd:<width$}");
        output::line(&format!(
            "  {}  {}",
            out.cyan(&cmd),
            out.dim(&format!("# {what}"))
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn dates_in_the_story_move_by_whole_days() {
        let text =
            r#"{"date": "2026-12-03", "n": 2026, "s": "from 2026-11-30 on", "x": "2026-13-40"}"#;
        assert_eq!(
            shift_dates(text, Duration::weeks(-2)),
            r#"{"date": "2026-11-19", "n": 2026, "s": "from 2026-11-16 on", "x": "2026-13-40"}"#
        );
        assert_eq!(shift_dates(text, Duration::zero()), text);
    }

    /// `serve --demo` plays the story to end within the week before now, and it plays the
    /// same way whichever week that is.
    #[test]
    fn the_served_demo_ends_in_the_week_before_now() {
        let dir = tempfile::tempdir().unwrap();
        let end = story_end().unwrap();
        let mut outcomes = Vec::new();
        for (i, now) in [
            end,
            end + Duration::days(3) + Duration::hours(2),
            end - Duration::weeks(5) + Duration::hours(30),
            end + Duration::weeks(60) + Duration::days(6),
        ]
        .into_iter()
        .enumerate()
        {
            let path = dir.path().join(format!("demo{i}.db"));
            seed(&path, None, &[], now).unwrap();
            let shift = weeks_to(now).unwrap();
            assert!(
                end + shift <= now && now < end + shift + Duration::weeks(1),
                "{now}"
            );
            assert_eq!(shift.num_days() % 7, 0);
            let engine = builder(&path, None).build().unwrap();
            let cases = engine.cases(&CaseFilter::default()).unwrap();
            assert!(!cases.is_empty());
            for c in &cases {
                assert!(c.created_at >= local(START, tz(START_TZ).unwrap()).unwrap() + shift);
                assert!(
                    c.updated_at <= end + shift && c.updated_at <= now,
                    "case {}",
                    c.id
                );
            }
            // the dates in the story's inputs moved too (sessions are never in the future)
            let rows = engine
                .export("score_request.session_activity", None)
                .unwrap();
            assert!(!rows.rows.is_empty());
            let today = now.date_naive();
            for r in &rows.rows {
                let d = r["date"].as_str().unwrap();
                let d = NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
                assert!(d <= today, "{d} after {today}");
            }
            outcomes.push(
                cases
                    .iter()
                    .map(|c| (c.workflow.clone(), c.state.clone(), c.revision))
                    .collect::<Vec<_>>(),
            );
        }
        assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "{outcomes:?}");
    }
}
