//! `mentorflow audit [list|export]`: the audit log (who deployed, changed the directory or
//! used an operator control, when, before and after).

use std::io::Write;

use mentorflow::{AuditEntry, AuditFilter};

use super::Ctx;
use crate::args::{AuditArgs, AuditCommand, AuditQuery};
use crate::output::{self, CliError};

fn filter(q: &AuditQuery) -> AuditFilter {
    AuditFilter {
        since: q.since,
        kind: q.kind.clone(),
        actor: q.by.clone(),
        subject: q.subject.clone(),
        limit: None,
    }
}

pub fn run(ctx: &Ctx, a: AuditArgs) -> Result<(), CliError> {
    // the audit log lives in an existing database: never create one
    let engine = ctx.engine_read()?;
    let out = &ctx.out;
    match a.command.unwrap_or(AuditCommand::List(a.query)) {
        AuditCommand::List(q) => {
            let list = engine.audit(&filter(&q))?;
            if out.json {
                return out.print_json(&list);
            }
            if list.is_empty() {
                output::line("no audit entries");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|e| {
                    vec![
                        e.id.to_string(),
                        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        e.actor.clone(),
                        e.kind.clone(),
                        e.subject.clone(),
                        super::one_line(&what(e)),
                    ]
                })
                .collect();
            output::print(&output::table(
                &["ID", "AT", "BY", "KIND", "SUBJECT", "WHAT"],
                &rows,
                out,
            ));
            Ok(())
        }
        AuditCommand::Export(x) => {
            let list = engine.audit(&filter(&x.query))?;
            let mut text = String::new();
            for e in &list {
                text.push_str(&serde_json::to_string(e).map_err(|e| CliError::msg(e.to_string()))?);
                text.push('\n');
            }
            match &x.output {
                Some(path) => {
                    std::fs::write(path, text).map_err(|e| {
                        CliError::msg(format!("cannot write `{}`: {e}", path.display()))
                    })?;
                    if out.json {
                        out.print_json(&serde_json::json!({
                            "entries": list.len(),
                            "file": path.display().to_string(),
                        }))?;
                    } else {
                        output::line(&format!(
                            "wrote {} audit entr{} to {}",
                            list.len(),
                            if list.len() == 1 { "y" } else { "ies" },
                            path.display()
                        ));
                    }
                }
                None => {
                    std::io::stdout()
                        .write_all(text.as_bytes())
                        .map_err(|e| CliError::msg(format!("cannot write to stdout: {e}")))?;
                }
            }
            Ok(())
        }
    }
}

/// One line saying what an entry changed: its reason, or the fields that differ.
fn what(e: &AuditEntry) -> String {
    let mut parts = Vec::new();
    match (&e.before, &e.after) {
        (serde_json::Value::Null, serde_json::Value::Null) => {}
        (serde_json::Value::Null, serde_json::Value::Object(a)) => {
            let given: Vec<String> = a
                .iter()
                .filter(|(_, v)| !is_empty(v))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            parts.push(format!("added: {}", given.join(", ")));
        }
        (serde_json::Value::Null, _) => parts.push("added".to_owned()),
        (_, serde_json::Value::Null) => parts.push("removed".to_owned()),
        (serde_json::Value::Object(b), serde_json::Value::Object(a)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            let changed: Vec<String> = keys
                .into_iter()
                .filter(|k| a.get(*k) != b.get(*k))
                .map(|k| {
                    format!(
                        "{k}: {} → {}",
                        b.get(k).map_or("-".into(), |v| v.to_string()),
                        a.get(k).map_or("-".into(), |v| v.to_string())
                    )
                })
                .collect();
            parts.extend(changed);
        }
        _ => {}
    }
    if let Some(r) = &e.reason {
        parts.push(format!("reason: {r}"));
    }
    parts.join("; ")
}

/// Null, or an empty text, list or map.
fn is_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::String(s) => s.is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
