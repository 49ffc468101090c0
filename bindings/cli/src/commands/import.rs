//! `mentorflow import FILE`: people and organisations from YAML, or people from CSV.
//!
//! YAML (parsed by `mentorflow::yaml`, the one YAML parser):
//! ```yaml
//! orgs:
//!   ch12: { name: SCORE Chapter 12, timezone: America/New_York, holidays: [2026-11-26] }
//! people:
//!   alice: { org: ch12, name: Alice, roles: [mentor], classification: active }
//! ```
//! Every key of a person other than id, name, email, org and roles is an attribute. Both
//! sections may also be lists of maps with an `id`.
//!
//! CSV: a header row `id,name,email,org,roles,...`; roles separated by `;`; other columns are
//! attributes (read as JSON when the cell parses, else as text; empty cells are left out).
//!
//! Everything is checked before anything is saved; the people are saved in one transaction.

use std::path::Path;

use mentorflow::{Org, Person, Problem};
use serde_json::{json, Map, Value};

use super::{set_value, Ctx};
use crate::args::ImportArgs;
use crate::output::{self, CliError};

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

fn from_yaml(text: &str, file: &str) -> Result<(Vec<Org>, Vec<Person>), CliError> {
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
                format!("unknown key `{k}`; an import file has `orgs` and `people`"),
            );
        }
    }
    let mut orgs = Vec::new();
    match entries(top.get("orgs"), "orgs") {
        Err(m) => problem("orgs", m),
        Ok(list) => {
            for (id, path, mut body) in list {
                body.insert("id".into(), Value::String(id));
                match serde_json::from_value::<Org>(Value::Object(body)) {
                    Ok(o) => match o.calendar() {
                        Ok(_) => orgs.push(o),
                        Err(e) => problem(&format!("{path}.timezone"), e.to_string()),
                    },
                    Err(e) => problem(&path, format!("organisation: {e}")),
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
                    Ok(p) => match p.validate() {
                        Ok(()) => people.push(p),
                        Err(e) => problem(&path, e.to_string()),
                    },
                    Err(m) => problem(&path, m),
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

fn person(id: String, body: Map<String, Value>) -> Result<Person, String> {
    let mut p = Person::new(id);
    for (k, v) in body {
        let text = |v: Value| match v {
            Value::String(s) => Ok(Some(s)),
            Value::Null => Ok(None),
            other => Err(format!("`{k}` must be text, got {other}")),
        };
        match k.as_str() {
            "name" => p.name = text(v)?,
            "email" => p.email = text(v)?,
            "org" => p.org = text(v)?,
            "roles" => {
                p.roles = match v {
                    Value::String(s) => vec![s],
                    Value::Array(items) => items
                        .into_iter()
                        .map(|i| match i {
                            Value::String(s) => Ok(s),
                            other => Err(format!("a role must be text, got {other}")),
                        })
                        .collect::<Result<_, _>>()?,
                    Value::Null => Vec::new(),
                    other => return Err(format!("`roles` must be a list, got {other}")),
                }
            }
            _ => {
                p.attributes.insert(k, v);
            }
        }
    }
    Ok(p)
}

fn from_csv(text: &str, file: &str) -> Result<Vec<Person>, CliError> {
    let records = parse_csv(text).map_err(|(line, m)| {
        invalid(vec![Problem {
            file: file.to_owned(),
            line,
            column: 1,
            path: String::new(),
            message: m,
        }])
    })?;
    let mut problems = Vec::new();
    let mut rows = records.into_iter();
    let Some((_, header)) = rows.next() else {
        return Ok(Vec::new());
    };
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    let Some(id_col) = header.iter().position(|h| h == "id") else {
        problems.push(Problem {
            file: file.to_owned(),
            line: 1,
            column: 1,
            path: String::new(),
            message: "the header row needs an `id` column (id,name,email,org,roles,...)".into(),
        });
        return Err(invalid(problems));
    };
    let mut people = Vec::new();
    for (line, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let id = cells.get(id_col).map(|s| s.trim()).unwrap_or_default();
        let mut p = Person::new(id);
        for (col, cell) in header.iter().zip(cells.iter()) {
            let cell = cell.trim();
            if cell.is_empty() || col == "id" {
                continue;
            }
            match col.as_str() {
                "name" => p.name = Some(cell.to_owned()),
                "email" => p.email = Some(cell.to_owned()),
                "org" => p.org = Some(cell.to_owned()),
                "roles" => {
                    p.roles = cell
                        .split(';')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                other => {
                    p.attributes.insert(other.to_owned(), set_value(cell, None));
                }
            }
        }
        match p.validate() {
            Ok(()) => people.push(p),
            Err(e) => problems.push(Problem {
                file: file.to_owned(),
                line,
                column: 1,
                path: String::new(),
                message: e.to_string(),
            }),
        }
    }
    if problems.is_empty() {
        Ok(people)
    } else {
        Err(invalid(problems))
    }
}

/// A CSV record and the line it starts on.
type Record = (usize, Vec<String>);

/// RFC 4180 records, each with the line it starts on. Quoted cells may hold commas, quotes
/// (doubled) and line breaks.
fn parse_csv(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() => quoted = true,
            ',' => record.push(std::mem::take(&mut cell)),
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut cell));
                records.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
            }
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err((start, "a quoted cell is not closed".into()));
    }
    if !cell.is_empty() || !record.is_empty() {
        record.push(cell);
        records.push((start, record));
    }
    Ok(records)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_may_be_quoted() {
        let r = parse_csv("id,name\r\nalice,\"Smith, \"\"Al\"\"\"\nbob,\"two\nlines\"\n").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].1, vec!["alice", "Smith, \"Al\""]);
        assert_eq!(r[2], (3, vec!["bob".to_owned(), "two\nlines".to_owned()]));
        assert!(parse_csv("id\n\"open").is_err());
    }
}
