//! Reading cases: `show`, `history`, `list`, `view`, `export`.

use mentorflow::{BulkControl, BulkOptions, Case, CaseFilter, Engine, Error};
use serde_json::{json, Value};

use super::{effect_lines, Ctx};
use crate::args::{
    CaseCommand, CaseControl, ExportArgs, ExportFormat, HistoryArgs, ListArgs, ShowArgs, ViewArgs,
};
use crate::output::{self, CliError, Out};

/// `mentorflow case suspend|resume|cancel|repair`: an operator's control on one case.
pub fn control(ctx: &Ctx, c: CaseCommand) -> Result<(), CliError> {
    // controls act on existing cases: never create a database
    let engine = ctx.engine_read()?;
    let (case, verb) = match c {
        CaseCommand::Suspend(a) if a.case.is_none() => {
            return bulk(ctx, &engine, BulkControl::Suspend, a)
        }
        CaseCommand::Resume(a) if a.case.is_none() => {
            return bulk(ctx, &engine, BulkControl::Resume, a)
        }
        CaseCommand::Cancel(a) if a.case.is_none() => {
            return bulk(ctx, &engine, BulkControl::Cancel, a)
        }
        CaseCommand::Suspend(a) => (
            engine.suspend_case(one(&a)?, &a.actor, &a.reason)?,
            "suspended",
        ),
        CaseCommand::Resume(a) => (
            engine.resume_case(one(&a)?, &a.actor, &a.reason)?,
            "resumed",
        ),
        CaseCommand::Cancel(a) => (
            engine.cancel_case(one(&a)?, &a.actor, &a.reason)?,
            "cancelled",
        ),
        CaseCommand::Repair(a) => (
            engine.repair_case(a.case, &a.state, &a.actor, &a.reason)?,
            "repaired",
        ),
        CaseCommand::Reassign(a) => {
            let report = engine.reassign_participant(
                &mentorflow::ReassignOptions {
                    from: a.from,
                    to: a.to,
                    role: a.role,
                    workflow: a.workflow,
                    dry_run: a.dry_run,
                },
                &a.actor,
                &a.reason,
            )?;
            let out = &ctx.out;
            if out.json {
                return out.print_json(&report);
            }
            let to = report
                .to
                .as_deref()
                .map_or_else(|| "removed".to_owned(), |t| format!("to {t}"));
            for c in &report.cases {
                output::line(&format!(
                    "case {} ({}): {} {} as {}{}",
                    c.case,
                    c.workflow,
                    c.outcome.replace('_', " "),
                    to,
                    c.roles.join(", "),
                    c.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ));
            }
            let n = report
                .cases
                .iter()
                .filter(|c| c.outcome != "refused")
                .count();
            output::line(&format!(
                "{n} case(s) of {} {}{}",
                report.from,
                if report.dry_run {
                    "would be reassigned"
                } else {
                    "reassigned"
                },
                if report.dry_run {
                    " (dry run: nothing changed)"
                } else {
                    ""
                }
            ));
            return Ok(());
        }
    };
    super::report_step(ctx, &engine, &case, verb)
}

fn one(a: &CaseControl) -> Result<i64, CliError> {
    a.case
        .ok_or_else(|| CliError::msg("name a case, or choose cases with --view or a filter"))
}

/// `case suspend|resume|cancel` with `--view` or filters: every case selected, each in its
/// own transaction (`--dry-run`: only the list).
fn bulk(ctx: &Ctx, engine: &Engine, control: BulkControl, a: CaseControl) -> Result<(), CliError> {
    let options = BulkOptions {
        view: a.view,
        workflow: a.workflow,
        state: a.state,
        org: a.org,
        fields: a
            .field
            .into_iter()
            .map(|(k, v)| {
                let value = serde_json::from_str(&v).unwrap_or(Value::String(v));
                (k, value)
            })
            .collect(),
        dry_run: a.dry_run,
        ..BulkOptions::new(control)
    };
    let report = engine.control_cases(&options, &a.actor, &a.reason)?;
    let out = &ctx.out;
    if out.json {
        return out.print_json(&report);
    }
    for c in &report.cases {
        output::line(&format!(
            "case {} ({}, {}): {}{}",
            c.case,
            c.workflow,
            c.state,
            c.outcome.replace('_', " "),
            c.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    let n = report.changed();
    let verb = match control {
        BulkControl::Suspend => "suspended",
        BulkControl::Resume => "resumed",
        BulkControl::Cancel => "cancelled",
    };
    output::line(&format!(
        "{n} case{} {}{verb}{}",
        output::plural(n),
        if report.dry_run { "would be " } else { "" },
        if report.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    ));
    Ok(())
}

pub fn show(ctx: &Ctx, a: ShowArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let case = engine.get(a.case, a.actor.as_deref())?;
    let timers = engine.timers(case.id)?;
    let actions = match &a.actor {
        Some(p) => Some(engine.actions(case.id, p)?),
        None => None,
    };
    let out = &ctx.out;
    if out.json {
        let mut v = serde_json::to_value(&case)
            .map_err(|e| CliError::msg(format!("cannot write JSON: {e}")))?;
        if let Value::Object(m) = &mut v {
            m.insert(
                "timers".into(),
                Value::Array(
                    timers
                        .iter()
                        .map(|t| json!({ "name": t.name, "state": t.state, "due_at": t.due_at, "action": t.action }))
                        .collect(),
                ),
            );
            if let Some(acts) = &actions {
                m.insert("actions".into(), json!(acts));
            }
        }
        return out.print_json(&v);
    }
    let title = engine
        .definition_of(&case)
        .map(|d| d.title.clone())
        .unwrap_or_default();
    let mut text = format!(
        "{} · {} v{}{}\n",
        out.bold(&format!("Case {}", case.id)),
        case.workflow,
        case.version,
        if title.is_empty() || title == case.workflow {
            String::new()
        } else {
            format!(" ({title})")
        }
    );
    let mut head = vec![
        ("state".to_owned(), out.state(&case)),
        ("org".to_owned(), case.org.clone()),
        ("revision".to_owned(), case.revision.to_string()),
        ("created".to_owned(), output::time(case.created_at)),
        ("updated".to_owned(), output::time(case.updated_at)),
    ];
    if !case.tags.is_empty() {
        head.push(("tags".into(), case.tags.join(", ")));
    }
    if let Some(p) = case.parent {
        head.push(("copied from".into(), format!("case {p}")));
    }
    if let Some(m) = &case.suspended {
        head.push((
            "suspended".into(),
            format!("by {} since {}: {}", m.by, output::time(m.at), m.reason),
        ));
    }
    if let Some(m) = &case.cancelled {
        head.push((
            "cancelled".into(),
            format!("by {} on {}: {}", m.by, output::time(m.at), m.reason),
        ));
    } else if !case.open {
        head.push(("closed".into(), "yes (final state)".into()));
    }
    text.push_str(&output::pairs(&head));
    section(
        &mut text,
        out,
        "fields",
        &case
            .data
            .iter()
            .map(|(k, v)| (k.clone(), output::value(v)))
            .collect::<Vec<_>>(),
    );
    section(
        &mut text,
        out,
        "participants",
        &case
            .participants
            .iter()
            .map(|(r, ids)| (r.clone(), ids.join(", ")))
            .collect::<Vec<_>>(),
    );
    section(
        &mut text,
        out,
        "timers",
        &timers
            .iter()
            .map(|t| (t.name.clone(), format!("due {}", output::time(t.due_at))))
            .collect::<Vec<_>>(),
    );
    let notes = engine.notes(case.id, a.actor.as_deref())?;
    section(
        &mut text,
        out,
        "notes",
        &notes
            .iter()
            .map(|(e, n)| (format!("{} {}", output::time(e.at), e.actor), n.clone()))
            .collect::<Vec<_>>(),
    );
    if let (Some(p), Some(acts)) = (&a.actor, &actions) {
        let list = if acts.is_empty() {
            "none now".to_owned()
        } else {
            acts.join(", ")
        };
        text.push_str(&format!(
            "{}\n  {list}\n",
            out.bold(&format!("actions for {p}"))
        ));
    }
    output::print(&text);
    Ok(())
}

fn section(text: &mut String, out: &Out, name: &str, items: &[(String, String)]) {
    if items.is_empty() {
        return;
    }
    text.push_str(&out.bold(name));
    text.push('\n');
    text.push_str(&output::pairs(items));
}

pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let events = engine.history(a.case, a.actor.as_deref())?;
    let out = &ctx.out;
    if out.json {
        return out.print_json(&events);
    }
    let mut rows = Vec::new();
    let mut details: Vec<Vec<String>> = Vec::new();
    for e in &events {
        let moved = match &e.from_state {
            None => format!("→ {}", e.to_state),
            Some(f) if f == &e.to_state => format!("({f})"),
            Some(f) => format!("{f} → {}", e.to_state),
        };
        rows.push(vec![
            e.seq.to_string(),
            output::time(e.at),
            e.actor.clone(),
            e.action.clone(),
            moved,
        ]);
        let mut d = Vec::new();
        if !e.inputs.is_empty() {
            let inputs: Vec<String> = e
                .inputs
                .iter()
                .map(|(k, v)| format!("{k}={}", output::value(v)))
                .collect();
            d.push(format!("inputs: {}", super::one_line(&inputs.join(" "))));
        }
        d.extend(effect_lines(&engine, e.case_id, &e.effects)?);
        details.push(d);
    }
    // The table, with each event's details under it.
    let table = output::table(&["#", "AT", "ACTOR", "ACTION", "STATE"], &rows, out);
    let mut lines = table.lines();
    let mut text = String::new();
    if let Some(h) = lines.next() {
        text.push_str(h);
        text.push('\n');
    }
    for (line, d) in lines.zip(details) {
        text.push_str(line);
        text.push('\n');
        for x in d {
            text.push_str(&format!("     {}\n", out.dim(&x)));
        }
    }
    output::print(&text);
    Ok(())
}

fn case_table(cases: &[Case], out: &Out, empty: &str) {
    if cases.is_empty() {
        output::line(empty);
        return;
    }
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            vec![
                c.id.to_string(),
                c.workflow.clone(),
                if c.state_label == c.state {
                    c.state.clone()
                } else {
                    format!("{} ({})", c.state_label, c.state)
                },
                c.org.clone(),
                output::time(c.updated_at),
                output::participants(c),
            ]
        })
        .collect();
    output::print(&output::table(
        &["ID", "WORKFLOW", "STATE", "ORG", "UPDATED", "PARTICIPANTS"],
        &rows,
        out,
    ));
}

pub fn list(ctx: &Ctx, a: ListArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let filter = CaseFilter {
        workflow: a.workflow,
        state: a.state,
        org: a.org,
        limit: a.limit,
    };
    let cases = engine.cases(&filter)?;
    if cases.is_empty() {
        unknown_filter(&engine, &filter)?;
    }
    if ctx.out.json {
        return ctx.out.print_json(&cases);
    }
    case_table(&cases, &ctx.out, "no cases");
    Ok(())
}

/// An empty list because a filter names something that does not exist is an error with a
/// "did you mean": a workflow or a state no loaded workflow has, an organisation the directory
/// does not know.
fn unknown_filter(engine: &Engine, f: &CaseFilter) -> Result<(), CliError> {
    let defs = engine.definitions();
    if let Some(w) = &f.workflow {
        if !defs.iter().any(|d| &d.id == w) && !defs.is_empty() {
            return Err(
                Error::not_found_among("workflow", w, defs.iter().map(|d| d.id.as_str())).into(),
            );
        }
    }
    if let Some(s) = &f.state {
        let states: Vec<&str> = defs
            .iter()
            .filter(|d| f.workflow.as_ref().is_none_or(|w| &d.id == w))
            .flat_map(|d| d.states.iter().map(|st| st.id.as_str()))
            .collect();
        if !states.is_empty() && !states.contains(&s.as_str()) {
            let mut known = states.clone();
            known.sort_unstable();
            known.dedup();
            return Err(Error::not_found_among("state", s, known).into());
        }
    }
    if let Some(o) = &f.org {
        let mut known: Vec<String> = engine.orgs()?.into_iter().map(|o| o.id).collect();
        known.extend(engine.people(None)?.into_iter().filter_map(|p| p.org));
        known.sort();
        known.dedup();
        if !known.contains(o) {
            return Err(Error::not_found_among(
                "organisation",
                o,
                known.iter().map(String::as_str),
            )
            .into());
        }
    }
    Ok(())
}

pub fn view(ctx: &Ctx, a: ViewArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let cases = engine.view(&a.name, &a.actor)?;
    if ctx.out.json {
        return ctx.out.print_json(&cases);
    }
    case_table(
        &cases,
        &ctx.out,
        &format!("no cases in view `{}` for {}", a.name, a.actor),
    );
    Ok(())
}

pub fn export(ctx: &Ctx, a: ExportArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let table = engine.export(&a.name, a.actor.as_deref())?;
    let format = a.format.unwrap_or(if ctx.out.json {
        ExportFormat::Json
    } else {
        ExportFormat::Csv
    });
    let text = match format {
        ExportFormat::Csv => table.to_csv(),
        ExportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&table.rows)
                .map_err(|e| CliError::msg(format!("cannot write JSON: {e}")))?;
            s.push('\n');
            s
        }
    };
    match &a.output {
        None => output::print(&text),
        Some(path) => {
            std::fs::write(path, text).map_err(|e| {
                CliError::coded("io", format!("cannot write `{}`: {e}", path.display()))
            })?;
            if !ctx.out.json {
                output::line(&format!(
                    "wrote {} row{} to {}",
                    table.rows.len(),
                    output::plural(table.rows.len()),
                    path.display()
                ));
            }
        }
    }
    Ok(())
}
