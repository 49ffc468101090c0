//! Retention (issue 15): an organisation's `retention` setting says how long its closed cases
//! are kept — `{ after_days: 730, then: purge | anonymise, fields: [..] }`. A retention run
//! takes every closed case of the organisation last changed more than `after_days` ago,
//! writes it with its history as one JSON line to the export, and only then purges it (the
//! case and every row of it) or anonymises it (the named fields blanked in its data, its
//! history's inputs and effects and its outbox rows; their values also where another input,
//! a subject or a body carried them), each case in its own transaction with
//! an audit entry (and, when anonymised, a `retention:anonymise` history event). Open cases
//! are never touched. A dry run lists the cases and changes nothing.

use std::io::Write;
use std::path::Path;

use chrono::Duration;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{step, Engine};
use crate::audit::kinds;
use crate::error::{Error, Result};
use crate::model::{Decision, Effect, Event, NotificationFilter, TimerPlan};
use crate::store::Tx;

/// The organisation setting that holds its retention rule.
pub const RETENTION_SETTING: &str = "retention";

/// The action of the history event an anonymised case gets.
pub const RETENTION_ACTION: &str = "retention:anonymise";

/// An organisation's retention rule (its `retention` setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRule {
    /// Closed cases last changed this many days ago or more are due.
    pub after_days: i64,
    /// `purge` or `anonymise`.
    pub then: String,
    /// The fields `anonymise` blanks.
    pub fields: Vec<String>,
}

/// Read and check a `retention` setting.
pub(crate) fn rule_of(value: &Value) -> Result<RetentionRule> {
    let bad = |m: &str| Error::validation(format!("settings.{RETENTION_SETTING}"), m.to_owned());
    let Value::Object(m) = value else {
        return Err(bad(
            "`retention` must be a map: { after_days: 730, then: purge | anonymise, fields: [..] }",
        ));
    };
    for k in m.keys() {
        if !["after_days", "then", "fields"].contains(&k.as_str()) {
            return Err(bad(&format!(
                "unknown key `{k}` in `retention` (known: after_days, then, fields)"
            )));
        }
    }
    let after_days = m
        .get("after_days")
        .and_then(Value::as_i64)
        .filter(|d| *d >= 1)
        .ok_or_else(|| bad("`retention.after_days` must be a whole number of days, at least 1"))?;
    let then = match m.get("then").and_then(Value::as_str) {
        Some(t @ ("purge" | "anonymise")) => t.to_owned(),
        _ => return Err(bad("`retention.then` must be `purge` or `anonymise`")),
    };
    let fields: Vec<String> = match m.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("`retention.fields` must be a list of field names"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad("`retention.fields` must be a list of field names")),
    };
    if then == "anonymise" && fields.is_empty() {
        return Err(bad("`retention.then: anonymise` needs `fields` to blank"));
    }
    Ok(RetentionRule {
        after_days,
        then,
        fields,
    })
}

/// One case of a retention run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetainedCase {
    /// The case.
    pub case: i64,
    /// Its workflow.
    pub workflow: String,
    /// Its organisation.
    pub org: String,
    /// `purged`, `anonymised`, or in a dry run `would_purge` / `would_anonymise`.
    pub outcome: String,
}

/// What [`Engine::run_retention`] did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Only said what would change.
    pub dry_run: bool,
    /// Each case due, in organisation and id order.
    pub cases: Vec<RetainedCase>,
}

/// A closed case due for retention, with its organisation's rule.
type Due = (i64, String, String, RetentionRule);

/// Where a retention run writes its export: lines, then made durable before any change.
trait Export: Write {
    fn durable(&mut self) -> Result<()>;
}

/// A caller's writer: durable means flushed.
struct Flushed<'a>(&'a mut dyn Write);

impl Write for Flushed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Export for Flushed<'_> {
    fn durable(&mut self) -> Result<()> {
        self.0
            .flush()
            .map_err(|e| Error::storage(format!("cannot write the retention export: {e}")))
    }
}

/// A new file: durable means flushed, the file synced, and its folder synced (its name).
struct SyncedFile<'a> {
    w: std::io::BufWriter<std::fs::File>,
    path: &'a Path,
}

impl Write for SyncedFile<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.w.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

impl Export for SyncedFile<'_> {
    fn durable(&mut self) -> Result<()> {
        let path = self.path;
        let cannot = |e: std::io::Error| {
            Error::storage(format!(
                "cannot write the retention export `{}`: {e}",
                path.display()
            ))
        };
        self.w.flush().map_err(cannot)?;
        self.w.get_ref().sync_all().map_err(cannot)?;
        sync_dir(path).map_err(cannot)
    }
}

/// Sync the folder holding `path`, so that the file's name survives a crash too.
#[cfg(unix)]
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Windows cannot open a folder to sync it; NTFS journals the name with the file.
#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

impl Engine {
    /// Run every organisation's retention rule: export each due closed case with its
    /// history as one JSON line to `export` (all of them, flushed, before anything changes),
    /// then purge or anonymise each in its own transaction, with an audit entry by `actor`
    /// (the engine's actor when `None`). With `dry_run`, nothing is written or changed.
    ///
    /// Flushing a writer does not make it durable: to write the export to a file, use
    /// [`Engine::run_retention_to_file`], which syncs it to disk before the first change.
    pub fn run_retention(
        &self,
        dry_run: bool,
        export: &mut dyn Write,
        actor: Option<&str>,
    ) -> Result<RetentionReport> {
        let due = self.retention_due()?;
        self.retain(due, dry_run, &mut Flushed(export), actor)
    }

    /// [`Engine::run_retention`] exporting to a new file at `path` (an existing file is
    /// refused, never overwritten: it may be the only copy of purged cases). The file is
    /// written, flushed and synced to disk, and so is its folder (the new name), before the
    /// first case is changed; if any of that fails, nothing is changed.
    pub fn run_retention_to_file(
        &self,
        path: &Path,
        actor: Option<&str>,
    ) -> Result<RetentionReport> {
        let due = self.retention_due()?;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| {
                Error::storage(format!(
                    "cannot create the retention export `{}`: {e} (retention never overwrites a file)",
                    path.display()
                ))
            })?;
        let mut sink = SyncedFile {
            w: std::io::BufWriter::new(file),
            path,
        };
        self.retain(due, false, &mut sink, actor)
    }

    /// Every closed case due for retention, in organisation and id order.
    fn retention_due(&self) -> Result<Vec<Due>> {
        let now = self.now();
        let workflows: Vec<String> = {
            let mut w: Vec<String> = self.definitions().iter().map(|d| d.id.clone()).collect();
            w.sort();
            w.dedup();
            w
        };
        let mut due = Vec::new();
        for org in self.orgs()? {
            let Some(v) = org.settings.get(RETENTION_SETTING) else {
                continue;
            };
            let rule = rule_of(v)?;
            let before = now - Duration::days(rule.after_days);
            for w in &workflows {
                for id in self.read(|tx| tx.closed_cases_before(w, Some(&org.id), before))? {
                    due.push((id, w.clone(), org.id.clone(), rule.clone()));
                }
            }
        }
        Ok(due)
    }

    /// Export the due cases to `export` and make it durable (or fail, and nothing
    /// changes), then purge or anonymise each in its own transaction.
    fn retain(
        &self,
        due: Vec<Due>,
        dry_run: bool,
        export: &mut dyn Export,
        actor: Option<&str>,
    ) -> Result<RetentionReport> {
        let mut report = RetentionReport {
            dry_run,
            cases: Vec::new(),
        };
        if !dry_run {
            for (id, ..) in &due {
                let (case, history) =
                    self.read(|tx| Ok((step::get(self, tx, *id, None)?, tx.events(*id)?)))?;
                let line = json!({ "case": case, "history": history });
                writeln!(export, "{line}").map_err(|e| {
                    Error::storage(format!("cannot write the retention export: {e}"))
                })?;
            }
            export.durable()?;
        }
        for (id, workflow, org, rule) in due {
            let purge = rule.then == "purge";
            let outcome = match (dry_run, purge) {
                (true, true) => "would_purge",
                (true, false) => "would_anonymise",
                (false, true) => "purged",
                (false, false) => "anonymised",
            };
            if !dry_run {
                self.write(|tx| {
                    if purge {
                        self.purge_one(tx, id, &rule, actor)
                    } else {
                        self.anonymise_one(tx, id, &rule, actor)
                    }
                })?;
            }
            report.cases.push(RetainedCase {
                case: id,
                workflow,
                org,
                outcome: outcome.into(),
            });
        }
        Ok(report)
    }

    fn purge_one(
        &self,
        tx: &dyn Tx,
        id: i64,
        rule: &RetentionRule,
        actor: Option<&str>,
    ) -> Result<()> {
        let Some(row) = tx.load_case(id)? else {
            return Ok(());
        };
        let summary = json!({ "workflow": row.workflow, "org": row.org, "state": row.state });
        tx.purge_case(id)?;
        self.record_audit(
            tx,
            self.now(),
            actor,
            kinds::RETENTION_PURGE,
            format!("case:{id}"),
            summary,
            Value::Null,
            Some(&format!("closed more than {} days", rule.after_days)),
        )
    }

    fn anonymise_one(
        &self,
        tx: &dyn Tx,
        id: i64,
        rule: &RetentionRule,
        actor: Option<&str>,
    ) -> Result<()> {
        let Some(row) = tx.load_case(id)? else {
            return Ok(());
        };
        let now = self.now();
        let def = self.definition_at(tx, &row.workflow, row.version)?;
        let old = step::to_case(&def, row);
        let fields = &rule.fields;
        // the values blanked, as text, to blank in the outbox's subject and body too
        let values: Vec<String> = fields
            .iter()
            .filter_map(|f| old.data.get(f))
            .filter_map(|v| match v {
                Value::String(s) if s.len() >= 3 => Some(s.clone()),
                Value::Null | Value::String(_) => None,
                other => Some(other.to_string()),
            })
            .collect();
        let blank = |s: &str| {
            values
                .iter()
                .fold(s.to_owned(), |s, v| s.replace(v.as_str(), "[removed]"))
        };
        for e in tx.events(id)? {
            let mut inputs = e.inputs.clone();
            for (k, v) in inputs.iter_mut() {
                if fields.contains(k) {
                    *v = Value::Null;
                } else if let Value::String(s) = v {
                    // an input that carried a blanked value under another name
                    *s = blank(s);
                }
            }
            let mut effects = e.effects.clone();
            for eff in &mut effects {
                if let Effect::Set { field, value } = eff {
                    if fields.contains(field) {
                        *value = Value::Null;
                    }
                }
            }
            if inputs != e.inputs {
                tx.set_text(
                    "events",
                    e.id,
                    "inputs",
                    Some(&serde_json::to_string(&inputs)?),
                )?;
            }
            if effects != e.effects {
                tx.set_text(
                    "events",
                    e.id,
                    "effects",
                    Some(&serde_json::to_string(&effects)?),
                )?;
            }
        }
        let filter = NotificationFilter {
            case_id: Some(id),
            ..NotificationFilter::default()
        };
        for n in tx.notifications(&filter)? {
            let mut data = n.data.clone();
            for f in fields {
                if data.contains_key(f) {
                    data.insert(f.clone(), Value::Null);
                }
            }
            let (subject, body) = (blank(&n.subject), blank(&n.body));
            if data != n.data {
                tx.set_text("outbox", n.id, "data", Some(&serde_json::to_string(&data)?))?;
            }
            if subject != n.subject {
                tx.set_text("outbox", n.id, "subject", Some(&subject))?;
            }
            if body != n.body {
                tx.set_text("outbox", n.id, "body", Some(&body))?;
            }
        }
        let mut new = old.clone();
        for f in fields {
            new.data.remove(f);
        }
        new.revision = old.revision + 1;
        new.updated_at = now;
        let mut inputs = Map::new();
        inputs.insert("fields".into(), json!(fields));
        tx.apply(Decision {
            case: new,
            expected_revision: Some(old.revision),
            participants: Vec::new(),
            timers: TimerPlan::default(),
            outbox: Vec::new(),
            copies: Vec::new(),
            event: Event {
                id: 0,
                case_id: id,
                seq: old.revision + 1,
                at: now,
                actor: actor.map_or_else(|| self.actor(), str::to_owned),
                action: RETENTION_ACTION.to_owned(),
                from_state: Some(old.state.clone()),
                to_state: old.state.clone(),
                inputs,
                effects: Vec::new(),
            },
        })?;
        self.record_audit(
            tx,
            now,
            actor,
            kinds::RETENTION_ANONYMISE,
            format!("case:{id}"),
            json!({ "fields": fields }),
            json!({ "fields": fields, "blanked": true }),
            Some(&format!("closed more than {} days", rule.after_days)),
        )
    }
}

/// When a worker (`mentorflow run`, `mentorflow serve`) runs retention on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionSchedule {
    /// Once a day at this time of day, in this time zone (the machine's local time when
    /// `None`). A time a daylight-saving change skips runs at the first instant after it.
    Daily {
        /// The time of day.
        at: chrono::NaiveTime,
        /// The time zone of `at`.
        zone: Option<chrono_tz::Tz>,
    },
    /// At the worker's start, then every this many seconds (at least 60).
    Every(i64),
}

impl RetentionSchedule {
    /// A schedule from the configuration's words: `at` (`"03:00"`) or `every` (a duration
    /// such as `"6h"` or `"1 day"`, at least a minute), not both; `time_zone` (an IANA name)
    /// only with `at`. The error names the key.
    pub fn parse(
        at: Option<&str>,
        every: Option<&str>,
        time_zone: Option<&str>,
    ) -> std::result::Result<RetentionSchedule, String> {
        match (at, every) {
            (Some(_), Some(_)) => Err("retention: give `at` or `every`, not both".into()),
            (None, None) => Err(
                "retention: say when it runs: `at = \"03:00\"` (once a day) or `every = \"6h\"`"
                    .into(),
            ),
            (Some(at), None) => {
                let t = chrono::NaiveTime::parse_from_str(at.trim(), "%H:%M").map_err(|_| {
                    format!("retention.at: `{at}` is not a time of day such as \"03:00\"")
                })?;
                let zone = time_zone
                    .map(|z| {
                        z.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                            format!(
                                "retention.time_zone: unknown time zone `{z}` (an IANA name such as \"Europe/Paris\")"
                            )
                        })
                    })
                    .transpose()?;
                Ok(RetentionSchedule::Daily { at: t, zone })
            }
            (None, Some(every)) => {
                if time_zone.is_some() {
                    return Err("retention.time_zone: only with `at`".into());
                }
                let secs = match every.parse::<crate::time::Span>() {
                    Ok(crate::time::Span::Fixed(s)) => s,
                    Ok(crate::time::Span::Days(d)) => i64::from(d) * 86_400,
                    Ok(_) => {
                        return Err(format!(
                            "retention.every: `{every}` is not a fixed length (use hours or days: \"6h\", \"1 day\")"
                        ))
                    }
                    Err(e) => return Err(format!("retention.every: {e}")),
                };
                if secs < 60 {
                    return Err(format!(
                        "retention.every: `{every}` is shorter than a minute"
                    ));
                }
                Ok(RetentionSchedule::Every(secs))
            }
        }
    }

    /// The first run strictly after `t`.
    pub fn next_after(&self, t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
        match *self {
            RetentionSchedule::Every(secs) => t + Duration::seconds(secs),
            RetentionSchedule::Daily { at, zone: Some(z) } => next_daily(&z, at, t),
            RetentionSchedule::Daily { at, zone: None } => next_daily(&chrono::Local, at, t),
        }
    }
}

/// The first instant after `t` whose local time in `zone` is `at` (or, on a day a
/// daylight-saving change skips `at`, the hour after).
fn next_daily<Z: chrono::TimeZone>(
    zone: &Z,
    at: chrono::NaiveTime,
    t: chrono::DateTime<chrono::Utc>,
) -> chrono::DateTime<chrono::Utc> {
    let mut day = t.with_timezone(zone).date_naive();
    loop {
        let local = day.and_time(at);
        let instant = zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(local + Duration::hours(1)))
                    .earliest()
            })
            .map(|d| d.with_timezone(&chrono::Utc));
        if let Some(i) = instant.filter(|i| *i > t) {
            return i;
        }
        day = day.succ_opt().unwrap_or(day);
    }
}

/// A worker's scheduled retention: the schedule, the folder its exports go to, and the next
/// run. The worker asks [`RetentionTimer::due`] with the engine's clock on each round and
/// calls [`RetentionTimer::run`] when it says so: the schedule is tested without waiting.
#[derive(Debug, Clone)]
pub struct RetentionTimer {
    schedule: RetentionSchedule,
    dir: std::path::PathBuf,
    next: Option<chrono::DateTime<chrono::Utc>>,
}

impl RetentionTimer {
    /// A timer that writes its exports into `dir` (`retention-YYYYMMDDTHHMMSSZ.jsonl`).
    pub fn new(schedule: RetentionSchedule, dir: impl Into<std::path::PathBuf>) -> Self {
        RetentionTimer {
            schedule,
            dir: dir.into(),
            next: None,
        }
    }

    /// The schedule.
    pub fn schedule(&self) -> RetentionSchedule {
        self.schedule
    }

    /// The folder the exports go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The next run, once [`RetentionTimer::due`] was asked.
    pub fn next(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.next
    }

    /// Whether a run is due at `now`; when it is, the next run moves to the schedule's next
    /// time after `now` (runs missed while the worker was down or busy are one run). The
    /// first call fixes the first run: at once for `Every`, the next `at` for `Daily`.
    pub fn due(&mut self, now: chrono::DateTime<chrono::Utc>) -> bool {
        match self.next {
            None => {
                self.next = Some(self.schedule.next_after(now));
                matches!(self.schedule, RetentionSchedule::Every(_))
            }
            Some(next) if now >= next => {
                self.next = Some(self.schedule.next_after(now));
                true
            }
            Some(_) => false,
        }
    }

    /// One scheduled run by `actor`: when no case is due, nothing (and no file); else the
    /// export written and synced to a new file in the folder, then each case purged or
    /// anonymised ([`Engine::run_retention_to_file`]). Returns the file and the report.
    pub fn run(
        &self,
        engine: &Engine,
        actor: Option<&str>,
    ) -> Result<Option<(std::path::PathBuf, RetentionReport)>> {
        if engine.retention_due()?.is_empty() {
            return Ok(None);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            Error::storage(format!(
                "cannot create the retention folder `{}`: {e}",
                self.dir.display()
            ))
        })?;
        let name = format!("retention-{}.jsonl", engine.now().format("%Y%m%dT%H%M%SZ"));
        let path = self.dir.join(name);
        let report = engine.run_retention_to_file(&path, actor)?;
        Ok(Some((path, report)))
    }
}
