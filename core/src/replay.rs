//! Replay: re-run the recorded history of cases against another version of their workflow,
//! on a scratch in-memory engine, and say per case whether that version would have done the
//! same thing (`mentorflow replay`, [`Engine::replay`]).
//!
//! The scratch engine gets the definition to check, a copy of today's directory (people and
//! organisations) and a manual clock. The chosen cases' events are replayed together in the
//! order they were recorded: before each event the clock moves to the event's instant (timers
//! that fall due on the way fire then, in due order, as on the real engine); an event done by
//! a person is repeated as the same command (start with the recorded organisation and fields,
//! or the action with the recorded inputs, as the same actor; an operator's control —
//! suspend, resume, cancel, repair — as the same control); an event done by `system` (a
//! timer) must have been produced by the scratch engine's own timers. Each scratch event is
//! compared with the recorded one: action, actor, target state and effects (fields set, roles
//! given or taken, notes, notifications by recipient and template, signals by kind, copies by
//! state, timers scheduled with their due time or cancelled; outbox and case ids are not
//! compared, since the scratch engine numbers its own). The first difference of a case ends
//! its replay. The real store is only read.
//!
//! What a replay cannot see: the directory is today's, not as it was at each event; cases not
//! replayed are not in the scratch engine (a guard that counts open cases sees only the
//! replayed ones); a case made by `spawn_copy` is checked as part of its original's effects,
//! not replayed on its own.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::model::{CaseFilter, Effect, Event};
use crate::{Engine, Error, ManualClock, Result, Start};

/// What happened to one case in a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayOutcome {
    /// Every recorded event was reproduced.
    Identical,
    /// The version did something else; see [`CaseReplay::divergence`].
    Diverged,
    /// The case cannot be replayed (a copy made by another case, or no history).
    NotReplayable,
}

/// What kind of difference a replay found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DivergenceKind {
    /// The recorded command is refused by the version.
    Refused,
    /// The command or timer led to another state.
    State,
    /// Notifications go to other people or use another template.
    Notifications,
    /// Other effects (fields, roles, notes, signals, timers).
    Effects,
    /// Another action ran (a timer fired another action, or a recorded timer did not fire).
    Action,
    /// A timer fired in the version that did not fire in the recorded history.
    ExtraEvent,
}

/// The first difference of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Divergence {
    /// The recorded event's number in the case (1-based).
    pub seq: u64,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: String,
    /// The recorded action.
    pub action: String,
    /// What differs.
    pub kind: DivergenceKind,
    /// What the recorded history has.
    pub recorded: String,
    /// What the version does.
    pub replayed: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event {} ({} by {} at {}): {}: recorded {}, replayed {}",
            self.seq,
            self.action,
            self.actor,
            self.at.to_rfc3339(),
            match self.kind {
                DivergenceKind::Refused => "refused",
                DivergenceKind::State => "another state",
                DivergenceKind::Notifications => "other notifications",
                DivergenceKind::Effects => "other effects",
                DivergenceKind::Action => "another action",
                DivergenceKind::ExtraEvent => "an extra event",
            },
            self.recorded,
            self.replayed
        )
    }
}

/// One case's replay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseReplay {
    /// The case (its id in the real store).
    pub case: i64,
    /// The version it runs on.
    pub version: u32,
    /// The outcome.
    pub outcome: ReplayOutcome,
    /// Recorded events in its history.
    pub events: usize,
    /// Events reproduced before the first divergence (all of them when identical).
    pub matched: usize,
    /// The first divergence.
    pub divergence: Option<Divergence>,
    /// Why it cannot be replayed.
    pub reason: Option<String>,
}

/// The result of [`Engine::replay`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayReport {
    /// The workflow.
    pub workflow: String,
    /// The version replayed against.
    pub version: u32,
    /// Per case, in id order.
    pub cases: Vec<CaseReplay>,
    /// Cases reproduced exactly.
    pub identical: usize,
    /// Cases with a divergence.
    pub diverged: usize,
    /// Cases that could not be replayed.
    pub not_replayable: usize,
}

/// An effect as compared: without outbox and case ids.
fn comparable(e: &Effect) -> Option<Value> {
    use serde_json::json;
    Some(match e {
        Effect::Notify { to, template, .. } => json!({"notify": {"to": to, "template": template}}),
        Effect::Signal { kind, .. } => json!({"signal": kind}),
        Effect::Spawn { state, .. } => json!({"spawn": state}),
        Effect::CopiedFrom { .. } => return None,
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    })
}

fn effects_of(e: &Event) -> Vec<Value> {
    e.effects.iter().filter_map(comparable).collect()
}

fn notifications(e: &Event) -> Vec<String> {
    e.effects
        .iter()
        .filter_map(|x| match x {
            Effect::Notify { to, template, .. } => Some(format!("{template} to {to}")),
            _ => None,
        })
        .collect()
}

fn show_list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

fn show_effects(v: &[Value]) -> String {
    let parts: Vec<String> = v.iter().map(Value::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Compare a recorded event with the scratch engine's.
fn compare(recorded: &Event, replayed: &Event) -> Option<(DivergenceKind, String, String)> {
    if recorded.action != replayed.action || recorded.actor != replayed.actor {
        return Some((
            DivergenceKind::Action,
            format!("`{}` by {}", recorded.action, recorded.actor),
            format!("`{}` by {}", replayed.action, replayed.actor),
        ));
    }
    if recorded.to_state != replayed.to_state {
        return Some((
            DivergenceKind::State,
            format!("state `{}`", recorded.to_state),
            format!("state `{}`", replayed.to_state),
        ));
    }
    let (rn, pn) = (notifications(recorded), notifications(replayed));
    if rn != pn {
        return Some((
            DivergenceKind::Notifications,
            show_list(&rn),
            show_list(&pn),
        ));
    }
    let (re, pe) = (effects_of(recorded), effects_of(replayed));
    if re != pe {
        return Some((
            DivergenceKind::Effects,
            show_effects(&re),
            show_effects(&pe),
        ));
    }
    None
}

/// The fields a start set, as recorded: its `set` effects (the start's own data and what its
/// script set; both are given again as the start's data), except the fields the workflow
/// keeps itself (`computed`: nobody may give them, the version sets them on its own and the
/// comparison of effects sees any difference).
fn start_data(first: &Event, computed: &[String]) -> Map<String, Value> {
    let mut data = Map::new();
    for e in &first.effects {
        if let Effect::Set { field, value } = e {
            if computed.contains(field) {
                continue;
            }
            if value.is_null() {
                data.remove(field);
            } else {
                data.insert(field.clone(), value.clone());
            }
        }
    }
    data
}

struct Track {
    case: i64,
    version: u32,
    org: String,
    events: Vec<Event>,
    /// The case in the scratch engine.
    scratch: Option<i64>,
    /// Recorded events matched so far.
    matched: usize,
    /// Scratch events consumed so far.
    consumed: usize,
    done: Option<CaseReplay>,
}

impl Track {
    fn finish(&mut self, outcome: ReplayOutcome, divergence: Option<Divergence>) {
        if self.done.is_none() {
            self.done = Some(CaseReplay {
                case: self.case,
                version: self.version,
                outcome,
                events: self.events.len(),
                matched: self.matched,
                divergence,
                reason: None,
            });
        }
    }

    fn diverge(&mut self, e: &Event, kind: DivergenceKind, recorded: String, replayed: String) {
        let d = Divergence {
            seq: e.seq,
            at: e.at,
            actor: e.actor.clone(),
            action: e.action.clone(),
            kind,
            recorded,
            replayed,
        };
        self.finish(ReplayOutcome::Diverged, Some(d));
    }
}

fn refusal(e: &Error) -> String {
    format!("refused ({}): {e}", e.code())
}

/// A case's recorded history brought from elsewhere (a scenario file keeps one, exported by
/// `mentorflow history CASE --json`), for [`Engine::replay_recorded`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCase {
    /// Its id where it was recorded (reports name it).
    pub case: i64,
    /// The version it ran on there.
    pub version: u32,
    /// Its organisation (a person's start is repeated in it).
    pub org: String,
    /// Its events, oldest first.
    pub events: Vec<Event>,
}

/// One event as `mentorflow history --json` (and `Engine::history`) writes it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn {
    #[serde(default)]
    id: i64,
    #[serde(default)]
    case_id: i64,
    seq: u64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    #[serde(default)]
    from_state: Option<String>,
    to_state: String,
    #[serde(default)]
    inputs: Map<String, Value>,
    #[serde(default)]
    effects: Vec<Effect>,
}

/// Read a recorded history — a list of events as `mentorflow history CASE --json` prints it —
/// checking that it is one case's, complete and in order: numbered 1, 2, 3… (`seq`), never
/// going back in time, the first one a start (no `from_state`) and each next one starting
/// where the previous one ended. `what` names the history in messages.
pub fn read_history(history: &Value, what: &str) -> Result<Vec<Event>> {
    let bad = |msg: String| Error::validation(what, msg);
    let Value::Array(items) = history else {
        return Err(bad(
            "a recorded history is a list of events (as `mentorflow history CASE --json` prints it)"
                .to_owned(),
        ));
    };
    if items.is_empty() {
        return Err(bad("the recorded history has no events".to_owned()));
    }
    let mut out: Vec<Event> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let e: EventIn = serde_path_to_error::deserialize(item)
            .map_err(|err| bad(format!("event {}: {err}", i + 1)))?;
        let n = i as u64 + 1;
        if e.seq != n {
            return Err(bad(format!(
                "event {n} has seq {}; a history is numbered 1, 2, 3… without gaps",
                e.seq
            )));
        }
        if let Some(prev) = out.last() {
            if e.case_id != prev.case_id {
                return Err(bad(format!(
                    "event {n} is of case {}, the ones before of case {}; one history is one case's",
                    e.case_id, prev.case_id
                )));
            }
            if e.at < prev.at {
                return Err(bad(format!(
                    "event {n} ({}) is earlier than event {} ({})",
                    e.at.to_rfc3339(),
                    n - 1,
                    prev.at.to_rfc3339()
                )));
            }
            if e.from_state.as_deref() != Some(prev.to_state.as_str()) {
                return Err(bad(format!(
                    "event {n} starts from {}, but event {} ended in `{}`",
                    e.from_state
                        .as_deref()
                        .map_or_else(|| "nothing (a start)".to_owned(), |s| format!("`{s}`")),
                    n - 1,
                    prev.to_state
                )));
            }
        } else if let Some(f) = &e.from_state {
            return Err(bad(format!(
                "event 1 starts from `{f}`; the first event of a history is the case's start"
            )));
        }
        out.push(Event {
            id: e.id,
            case_id: e.case_id,
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            from_state: e.from_state,
            to_state: e.to_state,
            inputs: e.inputs,
            effects: e.effects,
        });
    }
    Ok(out)
}

impl Engine {
    /// Replay the recorded history of cases of `workflow` against its definition `version`
    /// (a loaded file or a stored text) on a scratch in-memory engine, and report per case
    /// whether it is reproduced or where it first diverges. `cases` chooses cases by id;
    /// `None` replays every case of the workflow. Nothing in this engine's store changes.
    pub fn replay(
        &self,
        workflow: &str,
        version: u32,
        cases: Option<&[i64]>,
    ) -> Result<ReplayReport> {
        let mut chosen = match cases {
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    let c = self.get(*id, None)?;
                    if c.workflow != workflow {
                        return Err(Error::validation(
                            "cases",
                            format!(
                                "case {id} is a case of `{}`, not of `{workflow}`",
                                c.workflow
                            ),
                        ));
                    }
                    out.push(c);
                }
                out
            }
            None => self.cases(&CaseFilter {
                workflow: Some(workflow.to_owned()),
                ..CaseFilter::default()
            })?,
        };
        chosen.sort_by_key(|c| c.id);
        chosen.dedup_by_key(|c| c.id);
        let mut recorded = Vec::with_capacity(chosen.len());
        for c in &chosen {
            recorded.push(RecordedCase {
                case: c.id,
                version: c.version,
                org: c.org.clone(),
                events: self.history(c.id, None)?,
            });
        }
        self.replay_recorded(workflow, version, recorded)
    }

    /// Replay histories recorded elsewhere (see [`read_history`]) against version `version`
    /// of `workflow` as this engine knows it, exactly as [`Engine::replay`] does with its own
    /// cases: on a scratch in-memory engine with a copy of this engine's directory, the cases
    /// together in the order their events were recorded. Nothing in this engine's store
    /// changes. Scenario files' `replay:` steps use it.
    pub fn replay_recorded(
        &self,
        workflow: &str,
        version: u32,
        cases: Vec<RecordedCase>,
    ) -> Result<ReplayReport> {
        let def = self.read(|db| self.definition_at(db, workflow, version))?;
        let mut tracks = Vec::with_capacity(cases.len());
        for c in cases {
            let mut t = Track {
                case: c.case,
                version: c.version,
                org: c.org,
                events: c.events,
                scratch: None,
                matched: 0,
                consumed: 0,
                done: None,
            };
            let copied = t.events.first().is_some_and(|e| {
                e.effects
                    .iter()
                    .any(|x| matches!(x, Effect::CopiedFrom { .. }))
            });
            let migrated = t.events.iter().find(|e| {
                e.effects
                    .iter()
                    .any(|x| matches!(x, Effect::Migrated { .. }))
            });
            if let Some(m) = migrated {
                let reason = format!(
                    "moved to v{} by a migration plan at event {} (its history spans two versions)",
                    t.version, m.seq
                );
                t.done = Some(CaseReplay {
                    case: t.case,
                    version: t.version,
                    outcome: ReplayOutcome::NotReplayable,
                    events: t.events.len(),
                    matched: 0,
                    divergence: None,
                    reason: Some(reason),
                });
            } else if t.events.is_empty() || copied || t.events[0].actor == "system" {
                t.done = Some(CaseReplay {
                    case: t.case,
                    version: t.version,
                    outcome: ReplayOutcome::NotReplayable,
                    events: t.events.len(),
                    matched: 0,
                    divergence: None,
                    reason: Some(if copied {
                        "a copy made by another case's `spawn_copy` (checked with that case)"
                            .to_owned()
                    } else if t.events.is_empty() {
                        "it has no history".to_owned()
                    } else {
                        "it was not started by a person".to_owned()
                    }),
                });
            }
            tracks.push(t);
        }
        // Every recorded event of the cases still to replay, in recording order.
        let mut order: Vec<(usize, usize)> = Vec::new();
        for (ti, t) in tracks.iter().enumerate() {
            if t.done.is_none() {
                order.extend((0..t.events.len()).map(|ei| (ti, ei)));
            }
        }
        order.sort_by_key(|(ti, ei)| {
            let e = &tracks[*ti].events[*ei];
            (e.at, e.id, *ti, *ei)
        });
        if let Some(&(ti, ei)) = order.first() {
            let clock = ManualClock::at(tracks[ti].events[ei].at);
            let scratch = Engine::builder()
                .in_memory()
                .workflow_str(def.file.clone(), def.source.clone())
                .limits(self.scripts().limits())
                .operator_roles(self.operator_roles().to_vec())
                .clock(clock)
                .build()?;
            for org in self.orgs()? {
                scratch.replace_org(&org)?;
            }
            for p in self.people(None)? {
                scratch.replace_person(&p)?;
            }
            let computed: Vec<String> = def
                .fields
                .iter()
                .filter(|f| f.computed)
                .map(|f| f.name.clone())
                .collect();
            for (ti, ei) in order {
                step(&scratch, workflow, &computed, &mut tracks, ti, ei)?;
            }
            // Timers the version fired after a case's last recorded event but before the
            // last instant replayed are extra.
            for t in tracks.iter_mut() {
                if t.done.is_none() {
                    check_extra(&scratch, t)?;
                }
            }
        }
        let mut out = Vec::with_capacity(tracks.len());
        for mut t in tracks {
            t.finish(ReplayOutcome::Identical, None);
            if let Some(d) = t.done {
                out.push(d);
            }
        }
        let count = |o: ReplayOutcome| out.iter().filter(|c| c.outcome == o).count();
        Ok(ReplayReport {
            workflow: workflow.to_owned(),
            version,
            identical: count(ReplayOutcome::Identical),
            diverged: count(ReplayOutcome::Diverged),
            not_replayable: count(ReplayOutcome::NotReplayable),
            cases: out,
        })
    }
}

/// The scratch events of a track's case not yet consumed.
fn fresh(scratch: &Engine, t: &Track) -> Result<Vec<Event>> {
    let Some(id) = t.scratch else {
        return Ok(Vec::new());
    };
    let all = scratch.history(id, None)?;
    Ok(all.into_iter().skip(t.consumed).collect())
}

fn check_extra(scratch: &Engine, t: &mut Track) -> Result<()> {
    if let Some(x) = fresh(scratch, t)?.into_iter().next() {
        let last = t.events.last().cloned();
        if let Some(last) = last {
            t.diverge(
                &last,
                DivergenceKind::ExtraEvent,
                "nothing more".to_owned(),
                format!(
                    "`{}` by {} at {} (state `{}`)",
                    x.action,
                    x.actor,
                    x.at.to_rfc3339(),
                    x.to_state
                ),
            );
        }
    }
    Ok(())
}

fn step(
    scratch: &Engine,
    workflow: &str,
    computed: &[String],
    tracks: &mut [Track],
    ti: usize,
    ei: usize,
) -> Result<()> {
    if tracks[ti].done.is_some() {
        return Ok(());
    }
    let e = tracks[ti].events[ei].clone();
    // Timers due up to this instant fire first, for every case.
    if e.at > scratch.now() {
        scratch.advance_to(e.at)?;
    }
    let t = &mut tracks[ti];
    if e.actor == "system" {
        let mut next = fresh(scratch, t)?.into_iter().next();
        if next.is_none() {
            // a timer held by a suspension fires at the first sweep after the resume,
            // which may be at the resume's own instant
            scratch.tick()?;
            next = fresh(scratch, t)?.into_iter().next();
        }
        let Some(x) = next else {
            t.diverge(
                &e,
                DivergenceKind::Action,
                format!("`{}` by system (a timer)", e.action),
                "no timer fired".to_owned(),
            );
            return Ok(());
        };
        t.consumed += 1;
        match compare(&e, &x) {
            Some((kind, r, p)) => t.diverge(&e, kind, r, p),
            None => t.matched += 1,
        }
        return Ok(());
    }
    // A person's command: first, nothing the version fired by itself may be pending.
    if let Some(x) = fresh(scratch, t)?.into_iter().next() {
        t.diverge(
            &e,
            DivergenceKind::ExtraEvent,
            format!("`{}` by {} next", e.action, e.actor),
            format!(
                "`{}` by {} first (state `{}`)",
                x.action, x.actor, x.to_state
            ),
        );
        return Ok(());
    }
    let result = match (e.from_state.as_ref(), t.scratch) {
        (None, _) => scratch
            .start_with(Start {
                workflow: workflow.to_owned(),
                action: Some(e.action.clone()),
                actor: e.actor.clone(),
                org: Some(t.org.clone()),
                data: start_data(&e, computed),
                inputs: e.inputs.clone(),
                idempotency_key: None,
            })
            .map(|c| {
                t.scratch = Some(c.id);
            }),
        (Some(_), Some(id)) => {
            let reason = e.inputs.get("reason").and_then(Value::as_str).unwrap_or("");
            // an operator's control is repeated as the same control
            match e.action.as_str() {
                crate::SUSPEND_ACTION => scratch.suspend_case(id, &e.actor, reason),
                crate::RESUME_ACTION => scratch.resume_case(id, &e.actor, reason),
                crate::CANCEL_ACTION => scratch.cancel_case(id, &e.actor, reason),
                crate::REPAIR_ACTION => scratch.repair_case(id, &e.to_state, &e.actor, reason),
                crate::REASSIGN_ACTION => {
                    let text = |k: &str| e.inputs.get(k).and_then(Value::as_str).map(str::to_owned);
                    let o = crate::ReassignOptions {
                        from: text("from").unwrap_or_default(),
                        to: text("to"),
                        role: text("role"),
                        workflow: None,
                        dry_run: false,
                    };
                    scratch
                        .write(|db| scratch.reassign_case(db, id, &o, &e.actor, reason, true))
                        .and_then(|r| match r.reason {
                            Some(why) => Err(Error::validation("case", why)),
                            None => scratch.get(id, None),
                        })
                }
                _ => scratch.act(id, &e.action, &e.actor, Value::Object(e.inputs.clone())),
            }
            .map(|_| ())
        }
        (Some(_), None) => {
            t.diverge(
                &e,
                DivergenceKind::Refused,
                format!("`{}`", e.action),
                "no case to act on".to_owned(),
            );
            return Ok(());
        }
    };
    if let Err(err) = result {
        if matches!(err, Error::Storage { .. }) {
            return Err(err);
        }
        t.diverge(
            &e,
            DivergenceKind::Refused,
            format!("`{}` accepted", e.action),
            refusal(&err),
        );
        return Ok(());
    }
    let Some(x) = fresh(scratch, t)?.into_iter().next() else {
        t.diverge(
            &e,
            DivergenceKind::Action,
            format!("`{}`", e.action),
            "no event".to_owned(),
        );
        return Ok(());
    };
    t.consumed += 1;
    match compare(&e, &x) {
        Some((kind, r, p)) => t.diverge(&e, kind, r, p),
        None => t.matched += 1,
    }
    Ok(())
}
