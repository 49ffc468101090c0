//! `mentorflow import FILE`: people and organisations from YAML, or people from CSV.
//!
//! YAML (parsed by `mentorflow::yaml`, the one YAML parser):
//! ```yaml
//! orgs:
//!   ch12: { name: SCORE Chapter 12, timezone: America/New_York, holidays: [2026-11-26] }
//! people:
//!   alice: { org: ch12, name: Alice, roles: [mentor], classification: active }
//! ```
//! Every key of a person other than id, name, email, org and roles is an attribute (a key
//! that looks like a misspelt built-in one is refused). Both sections may also be lists of
//! maps with an `id`.
//!
//! CSV (read with the `csv` crate): a header row of `id`, `name`, `email`, `org`, `roles`
//! and `attr.NAME` columns; roles separated by `;`; attribute cells read as JSON when they
//! parse, else as text. Any other header, a row with more or fewer cells than the header, a
//! bad value or a repeated id is a problem with its line; empty cells are left out.
//!
//! Like `people put` and `orgs put`, an import merges: what a record gives replaces the
//! stored values, the rest is kept. Every problem of the file is reported, and nothing is
//! imported from a file with problems: the whole import is one transaction.

use std::collections::HashSet;
use std::path::Path;

use mentorflow::{OrgPatch, Person, PersonPatch, Problem};
use serde_json::{json, Map, Value};

use super::{set_value, Ctx};
use crate::args::ImportArgs;
use crate::output::{self, CliError};

/// The columns of a CSV file other than attributes, and the built-in keys of a person.
const PERSON_KEYS: [&str; 5] = ["id", "name", "email", "org", "roles"];
/// The keys of an organisation.
const ORG_KEYS: [&str; 5] = ["name", "timezone", "weekend", "holidays", "settings"];
/// How an attribute column of a CSV file starts.
const ATTR_PREFIX: &str = "attr.";

pub fn run(ctx: &Ctx, a: ImportArgs) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&a.file)
        .map_err(|e| CliError::coded("io", format!("cannot read `{}`: {e}", a.file.display())))?;
    let file = a.file.display().to_string();
    let is_csv = a
        .file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (orgs, people) = if is_csv {
        (Vec::new(), from_csv(&text, &file)?)
    } else {
        from_yaml(&text, &file)?
    };
    let engine = ctx.engine()?;
    engine.put_directory(&orgs, &people)?;
    if ctx.out.json {
        return ctx.out.print_json(&json!({
            "orgs": orgs.iter().map(|o| &o.id).collect::<Vec<_>>(),
            "people": people.iter().map(|p| &p.id).collect::<Vec<_>>(),
        }));
    }
    output::line(&format!(
        "imported {} organisation{} and {} {} from {}",
        orgs.len(),
        output::plural(orgs.len()),
        people.len(),
        if people.len() == 1 {
            "person"
        } else {
            "people"
        },
        Path::new(&file).display()
    ));
    Ok(())
}

fn invalid(problems: Vec<Problem>) -> CliError {
    let n = problems.len();
    let mut e = CliError::coded(
        "validation",
        format!(
            "{n} problem{} in the import file; nothing was imported",
            output::plural(n)
        ),
    );
    e.problems = problems;
    e
}

/// One entry of a section: its id, its path in the file and its keys.
type Entry = (String, String, Map<String, Value>);

/// Entries of a section written as a map of ids or as a list of maps with `id`.
fn entries(v: Option<&Value>, section: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (id, body) in m {
                let path = format!("{section}.{id}");
                let body = match body {
                    Value::Object(b) => b.clone(),
                    Value::Null => Map::new(),
                    _ => return Err(format!("`{path}` must be a map")),
                };
                out.push((id.clone(), path, body));
            }
        }
        Some(Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                let path = format!("{section}[{i}]");
                let Value::Object(b) = it else {
                    return Err(format!("`{path}` must be a map with an `id`"));
                };
                let mut b = b.clone();
                let Some(Value::String(id)) = b.remove("id") else {
                    return Err(format!("`{path}` needs an `id`"));
                };
                out.push((id, path, b));
            }
        }
        Some(_) => return Err(format!("`{section}` must be a map of ids or a list")),
    }
    Ok(out)
}

fn from_yaml(text: &str, file: &str) -> Result<(Vec<OrgPatch>, Vec<PersonPatch>), CliError> {
    let (root, spans) =
        mentorflow::yaml::parse(text).map_err(|e| invalid(vec![Problem::from_yaml(file, &e)]))?;
    let mut problems = Vec::new();
    let mut problem = |path: &str, message: String| {
        let pos = spans.nearest(path);
        problems.push(Problem {
            file: file.to_owned(),
            line: pos.line,
            column: pos.column,
            path: path.to_owned(),
            message,
        });
    };
    let Value::Object(top) = &root else {
        problem(
            "",
            "an import file is a map with `orgs` and/or `people`".into(),
        );
        return Err(invalid(problems));
    };
    for k in top.keys() {
        if k != "orgs" && k != "people" {
            problem(
                k,
                format!(
                    "unknown key `{k}`{}; an import file has `orgs` and `people`",
                    mentorflow::suggest::did_you_mean(k, ["orgs", "people"])
                ),
            );
        }
    }
    let mut orgs = Vec::new();
    match entries(top.get("orgs"), "orgs") {
        Err(m) => problem("orgs", m),
        Ok(list) => {
            for (id, path, body) in list {
                match org(id, body) {
                    Ok(o) => match o.apply(None).calendar() {
                        Ok(_) => orgs.push(o),
                        Err(e) => problem(&format!("{path}.timezone"), e.to_string()),
                    },
                    Err((key, m)) => problem(&join(&path, key.as_deref()), m),
                }
            }
        }
    }
    let mut people = Vec::new();
    match entries(top.get("people"), "people") {
        Err(m) => problem("people", m),
        Ok(list) => {
            for (id, path, body) in list {
                match person(id, body) {
                    Ok(p) => match p.apply(None).validate() {
                        Ok(()) => people.push(p),
                        Err(e) => problem(&path, e.to_string()),
                    },
                    Err((key, m)) => problem(&join(&path, key.as_deref()), m),
                }
            }
        }
    }
    if problems.is_empty() {
        Ok((orgs, people))
    } else {
        Err(invalid(problems))
    }
}

fn join(path: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("{path}.{k}"),
        None => path.to_owned(),
    }
}

/// A problem with a record: the key it is about (if one) and what is wrong.
type KeyProblem = (Option<String>, String);

fn text(k: &str, v: Value) -> Result<Option<String>, KeyProblem> {
    match v {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        other => Err((
            Some(k.to_owned()),
            format!("`{k}` must be text, got {other}"),
        )),
    }
}

fn texts(k: &str, v: Value) -> Result<Vec<String>, KeyProblem> {
    match v {
        Value::String(s) => Ok(vec![s]),
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                other => Err((
                    Some(k.to_owned()),
                    format!("each of `{k}` must be text, got {other}"),
                )),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err((
            Some(k.to_owned()),
            format!("`{k}` must be a list, got {other}"),
        )),
    }
}

fn org(id: String, body: Map<String, Value>) -> Result<OrgPatch, KeyProblem> {
    let mut o = OrgPatch::new(id);
    for (k, v) in body {
        match k.as_str() {
            "name" => o.name = Some(text(&k, v)?),
            "timezone" => o.timezone = text(&k, v)?,
            "weekend" => {
                o.weekend = Some(
                    texts(&k, v)?
                        .iter()
                        .map(|d| {
                            d.parse::<chrono::Weekday>().map_err(|_| {
                                (
                                    Some(k.clone()),
                                    format!("`{d}` is not a weekday (Sat, Sunday…)"),
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            "holidays" => {
                o.holidays = Some(
                    texts(&k, v)?
                        .iter()
                        .map(|d| {
                            d.parse::<chrono::NaiveDate>().map_err(|_| {
                                (Some(k.clone()), format!("`{d}` is not a date (YYYY-MM-DD)"))
                            })
                        })
                        .collect::<Result<_, _>>()?,
                );
            }
            "settings" => match v {
                Value::Object(m) => o.settings = m,
                Value::Null => {}
                other => return Err((Some(k), format!("`settings` must be a map, got {other}"))),
            },
            _ => {
                let hint = mentorflow::suggest::did_you_mean(&k, ORG_KEYS);
                return Err((
                    Some(k.clone()),
                    format!(
                        "unknown key `{k}` of an organisation{hint} (keys: {})",
                        ORG_KEYS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(o)
}

fn person(id: String, body: Map<String, Value>) -> Result<PersonPatch, KeyProblem> {
    let mut p = PersonPatch::new(id);
    for (k, v) in body {
        match k.as_str() {
            "name" => p.name = Some(text(&k, v)?),
            "email" => p.email = Some(text(&k, v)?),
            "org" => p.org = Some(text(&k, v)?),
            "roles" => p.roles = Some(texts(&k, v)?),
            _ => {
                if let Some(builtin) = mentorflow::suggest::closest(&k, PERSON_KEYS) {
                    return Err((
                        Some(k.clone()),
                        format!("unknown key `{k}`; did you mean `{builtin}`? (other keys are attributes)"),
                    ));
                }
                p.attributes.insert(k, v);
            }
        }
    }
    Ok(p)
}

fn from_csv(text: &str, file: &str) -> Result<Vec<PersonPatch>, CliError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let problem = |line: u64, message: String| Problem {
        file: file.to_owned(),
        line: usize::try_from(line).unwrap_or(usize::MAX),
        column: 1,
        path: String::new(),
        message,
    };
    let mut problems = Vec::new();
    let header = reader
        .headers()
        .map_err(|e| invalid(vec![problem(csv_line(&e), csv_message(&e))]))?
        .clone();
    // What each column sets: a built-in property or an attribute.
    let mut columns = Vec::new();
    for h in &header {
        if PERSON_KEYS.contains(&h) {
            columns.push(h.to_owned());
        } else if let Some(a) = h.strip_prefix(ATTR_PREFIX).filter(|a| !a.trim().is_empty()) {
            columns.push(format!("{ATTR_PREFIX}{}", a.trim()));
        } else {
            let hint = match mentorflow::suggest::closest(h, PERSON_KEYS) {
                Some(c) => format!("did you mean `{c}`? "),
                None => String::new(),
            };
            problems.push(problem(
                1,
                format!(
                    "unknown column `{h}`; {hint}the columns are {} and attributes written `{ATTR_PREFIX}NAME` (e.g. `{ATTR_PREFIX}{h}`)",
                    PERSON_KEYS.join(", ")
                ),
            ));
            columns.push(String::new());
        }
    }
    if !columns.iter().any(|c| c == "id") {
        problems.push(problem(
            1,
            "the header row needs an `id` column (id,name,email,org,roles,attr.NAME...)".into(),
        ));
    }
    let mut seen = HashSet::new();
    for (i, c) in columns.iter().enumerate() {
        if !c.is_empty() && !seen.insert(c.clone()) {
            problems.push(problem(1, format!("column `{}` appears twice", &header[i])));
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let mut people = Vec::new();
    let mut ids = HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(problem(csv_line(&e), csv_message(&e)));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != columns.len() {
            problems.push(problem(
                line,
                format!(
                    "{} cells, but the header has {} columns ({})",
                    record.len(),
                    columns.len(),
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            ));
            continue;
        }
        let mut p = PersonPatch::default();
        for (col, cell) in columns.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            match col.as_str() {
                "id" => p.id = cell.to_owned(),
                "name" => p.name = Some(Some(cell.to_owned())),
                "email" => p.email = Some(Some(cell.to_owned())),
                "org" => p.org = Some(Some(cell.to_owned())),
                "roles" => {
                    p.roles = Some(
                        cell.split(';')
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned)
                            .collect(),
                    );
                }
                attr => {
                    let name = attr.strip_prefix(ATTR_PREFIX).unwrap_or(attr);
                    p.attributes.insert(name.to_owned(), set_value(cell, None));
                }
            }
        }
        if p.id.is_empty() {
            problems.push(problem(line, "the `id` cell is empty".into()));
            continue;
        }
        if !ids.insert(p.id.clone()) {
            problems.push(problem(
                line,
                format!("person `{}` appears twice in the file", p.id),
            ));
            continue;
        }
        match validate(&p) {
            Ok(()) => people.push(p),
            Err(e) => problems.push(problem(line, e.to_string())),
        }
    }
    if problems.is_empty() {
        Ok(people)
    } else {
        Err(invalid(problems))
    }
}

/// Check a person change as a new person would be checked.
fn validate(p: &PersonPatch) -> Result<(), mentorflow::Error> {
    let person: Person = p.apply(None);
    person.validate()
}

fn csv_line(e: &csv::Error) -> u64 {
    e.position().map_or(1, csv::Position::line)
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the file is not UTF-8 text".into(),
        _ => format!("not valid CSV: {e}"),
    }
}
