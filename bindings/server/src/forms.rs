//! Forms generated from an action's typed inputs, and the typed values read back from a
//! submitted form.
//!
//! | input type | control |
//! |------------|---------|
//! | string | text box (a select when `one_of`) |
//! | text | text area |
//! | int, float | number box |
//! | bool | check box |
//! | date, time | date / time picker |
//! | datetime | date-and-time picker, read in the organisation's time zone |
//! | person | a select of the candidates (`choices:`; see `Engine::candidates`); a text box for an id, suggesting the first ones, when there are more |
//! | list | check boxes when `one_of`, else one item a line |
//! | list of records (`of: { fields }`) | rows of the record's controls (those given, plus blank ones) |
//! | map | JSON text area |
//!
//! Values a browser cannot type wrong (numbers that are not numbers, a date-time without
//! its parts) are refused here, at the field; everything else the engine checks, and its
//! error is shown at the field it names.

use std::collections::BTreeMap;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use mentorflow::definition::{Field, FieldType, OneOf};
use mentorflow::engine::Candidates;
use serde::Serialize;
use serde_json::{Map, Value};

/// One control of a form.
#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub name: String,
    pub label: String,
    pub help: Option<String>,
    /// `text`, `textarea`, `number`, `checkbox`, `date`, `time`, `datetime-local`, `select`,
    /// `checkboxes`, `json`, `records`.
    pub control: &'static str,
    pub required: bool,
    pub step: Option<&'static str>,
    pub max_length: Option<usize>,
    pub options: Vec<Choice>,
    /// The value shown (what was typed, after a refused submit).
    pub value: String,
    pub checked: bool,
    pub error: Option<String>,
    /// For `records`: one row of controls per item (named `NAME.ROW.FIELD`).
    pub rows: Vec<Vec<Control>>,
    /// For `records`: another row may be added (an "Add a row" button: [`MORE`]).
    pub more: bool,
}

/// The submit button of a list of records that asks for one more row (its value: the
/// input's name): the form comes back with what was entered and a blank row; nothing is
/// done. Works without JavaScript.
pub const MORE: &str = "_more";

/// The list of records a submitted form asks one more row for ([`MORE`]), if any.
pub fn more_rows(submitted: &[(String, String)]) -> Option<&str> {
    submitted
        .iter()
        .find(|(k, v)| k == MORE && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Blank rows a list of records offers beyond those given (at least this many rows in all).
pub const BLANK_ROWS: usize = 3;

/// The submitted rows of a list of records: `NAME.ROW.FIELD=value` grouped by row, with the
/// record's own field names.
fn record_rows(
    name: &str,
    submitted: &[(String, String)],
) -> BTreeMap<usize, Vec<(String, String)>> {
    let mut rows: BTreeMap<usize, Vec<(String, String)>> = BTreeMap::new();
    let prefix = format!("{name}.");
    for (k, v) in submitted {
        let Some(rest) = k.strip_prefix(&prefix) else {
            continue;
        };
        let Some((row, field)) = rest.split_once('.') else {
            continue;
        };
        if let Ok(row) = row.parse::<usize>() {
            if row < 1000 {
                rows.entry(row)
                    .or_default()
                    .push((field.to_owned(), v.clone()));
            }
        }
    }
    rows
}

/// A row the person left blank (no text, no box ticked).
fn blank_row(row: &[(String, String)]) -> bool {
    row.iter().all(|(_, v)| v.trim().is_empty())
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn allowed(f: &Field, settings: &Map<String, Value>) -> Option<Vec<Value>> {
    match f.one_of.as_ref()? {
        OneOf::List(l) => Some(l.clone()),
        OneOf::Setting(name) => Some(match settings.get(name) {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        }),
    }
}

/// The people each person picker of a form offers, by the field's name
/// ([`mentorflow::Engine::candidates`], [`mentorflow::Engine::picker_people`]).
pub type Pickers = BTreeMap<String, Candidates>;

/// What a form needs besides the fields: the organisation's settings (for `one_of:
/// settings.x`), the candidates of its person pickers, and its time zone.
#[derive(Debug)]
pub struct Context<'a> {
    pub settings: &'a Map<String, Value>,
    pub pickers: &'a Pickers,
    pub zone: Tz,
}

/// The controls of a form, with what was submitted and the errors by input name.
pub fn controls(
    fields: &[Field],
    ctx: &Context<'_>,
    submitted: &[(String, String)],
    errors: &BTreeMap<String, String>,
) -> Vec<Control> {
    fields
        .iter()
        .filter(|f| !f.computed)
        .map(|f| {
            let given: Vec<&str> = submitted
                .iter()
                .filter(|(k, _)| k == &f.name)
                .map(|(_, v)| v.as_str())
                .collect();
            let default = f.default.as_ref().map(text_of).unwrap_or_default();
            let value = if submitted.is_empty() {
                default
            } else {
                given.first().map(|s| (*s).to_owned()).unwrap_or_default()
            };
            let choices = allowed(f, ctx.settings);
            let label = f.label.clone().unwrap_or_else(|| humanize(&f.name));
            if f.kind == FieldType::List && !f.item_fields.is_empty() {
                // rows as given (a refused submit keeps them), then blank ones
                let given: Vec<Vec<(String, String)>> = record_rows(&f.name, submitted)
                    .into_values()
                    .filter(|r| !blank_row(r))
                    .collect();
                let max = f.max.map_or(usize::MAX, |m| m.max(0.0) as usize);
                let mut total = (given.len() + 1).max(BLANK_ROWS);
                if submitted.iter().any(|(k, v)| k == MORE && v == &f.name) {
                    // "Add a row": the rows the form had (blank ones too), and one more
                    let had = record_rows(&f.name, submitted).len().max(BLANK_ROWS);
                    total = total.max(had + 1);
                }
                let total = total.min(max.max(given.len()));
                let rows = (0..total)
                    .map(|i| {
                        let row = given.get(i).cloned().unwrap_or_default();
                        let mut cs = controls(&f.item_fields, ctx, &row, &BTreeMap::new());
                        if row.is_empty() {
                            // a blank row shows no defaults: it is not an item until filled in
                            for c in &mut cs {
                                c.value.clear();
                                c.checked = false;
                                for o in &mut c.options {
                                    o.selected = false;
                                }
                            }
                        }
                        for c in &mut cs {
                            c.name = format!("{}.{}.{}", f.name, i + 1, c.name);
                            c.required = false;
                        }
                        cs
                    })
                    .collect();
                return Control {
                    error: errors.get(&f.name).map(|m| at_field(&label, m)),
                    more: total < max,
                    name: f.name.clone(),
                    label,
                    help: f.description.clone(),
                    control: "records",
                    required: f.required,
                    step: None,
                    max_length: None,
                    options: Vec::new(),
                    value: String::new(),
                    checked: false,
                    rows,
                };
            }
            let (control, options) = match (f.kind, &choices) {
                (FieldType::List, Some(list)) => ("checkboxes", options(list, &given)),
                (FieldType::Bool, _) => ("checkbox", Vec::new()),
                (_, Some(list)) => ("select", options(list, &[value.as_str()])),
                (FieldType::Person, None) => match ctx.pickers.get(&f.name) {
                    Some(c) => {
                        let mut opts: Vec<Choice> = c
                            .people
                            .iter()
                            .map(|p| Choice {
                                value: p.id.clone(),
                                label: p.name.clone().unwrap_or_else(|| p.id.clone()),
                                selected: p.id == value,
                            })
                            .collect();
                        opts.sort_by(|a, b| a.label.cmp(&b.label));
                        // more people than a list can hold: a text box (an id) suggesting these
                        (if c.more { "person" } else { "select" }, opts)
                    }
                    None => ("person", Vec::new()),
                },
                (FieldType::Text, None) | (FieldType::List, None) => ("textarea", Vec::new()),
                (FieldType::Map, None) => ("json", Vec::new()),
                (FieldType::Int, None) | (FieldType::Float, None) => ("number", Vec::new()),
                (FieldType::Date, None) => ("date", Vec::new()),
                (FieldType::Time, None) => ("time", Vec::new()),
                (FieldType::DateTime, None) => ("datetime-local", Vec::new()),
                (FieldType::String, None) => ("text", Vec::new()),
            };
            Control {
                rows: Vec::new(),
                more: false,
                error: errors.get(&f.name).map(|m| at_field(&label, m)),
                name: f.name.clone(),
                label,
                help: f.description.clone(),
                control,
                required: f.required,
                step: match f.kind {
                    FieldType::Int => Some("1"),
                    FieldType::Float => Some("any"),
                    _ => None,
                },
                max_length: f.max_length,
                options,
                checked: if submitted.is_empty() {
                    f.default == Some(Value::Bool(true))
                } else {
                    given.iter().any(|v| *v == "on" || *v == "true")
                },
                value,
            }
        })
        .collect()
}

fn options(list: &[Value], selected: &[&str]) -> Vec<Choice> {
    list.iter()
        .map(|v| {
            let value = text_of(v);
            Choice {
                selected: selected.contains(&value.as_str()),
                label: value.clone(),
                value,
            }
        })
        .collect()
}

/// `client_email` → `Client email`.
/// An error as shown next to its field: the engine's `input `note` (Note) is required`
/// becomes `Note is required`; the portal's own `must be a number…` gets the label too.
pub fn at_field(label: &str, message: &str) -> String {
    let mut rest = message.trim();
    for word in ["input ", "field ", "setting "] {
        if let Some(r) = rest.strip_prefix(word) {
            rest = r;
            break;
        }
    }
    if let Some(r) = rest.strip_prefix('`') {
        if let Some(end) = r.find('`') {
            rest = r[end + 1..].trim_start();
            if let Some(r) = rest.strip_prefix('(') {
                if let Some(end) = r.find(')') {
                    rest = r[end + 1..].trim_start();
                }
            }
        }
    }
    if rest.is_empty() {
        return message.to_owned();
    }
    if rest.starts_with(|c: char| c.is_lowercase()) {
        format!("{label} {rest}")
    } else {
        rest.to_owned()
    }
}

pub fn humanize(name: &str) -> String {
    let s = name.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// Read a submitted form into typed inputs. Fields the form left empty are not given (the
/// engine then applies defaults and says what is required). Errors are by input name.
pub fn read(
    fields: &[Field],
    ctx: &Context<'_>,
    submitted: &[(String, String)],
) -> Result<Map<String, Value>, BTreeMap<String, String>> {
    let mut out = Map::new();
    let mut errors = BTreeMap::new();
    for f in fields.iter().filter(|f| !f.computed) {
        let given: Vec<&str> = submitted
            .iter()
            .filter(|(k, _)| k == &f.name)
            .map(|(_, v)| v.as_str())
            .collect();
        let first = given.first().copied().unwrap_or("");
        let choices = allowed(f, ctx.settings);
        let value: Result<Option<Value>, String> = match f.kind {
            FieldType::List if !f.item_fields.is_empty() => {
                // each row filled in is an item, read by the record's fields; blank rows are not
                let mut items = Vec::new();
                let mut problem = None;
                for (n, row) in record_rows(&f.name, submitted)
                    .into_values()
                    .filter(|r| !blank_row(r))
                    .enumerate()
                {
                    match read(&f.item_fields, ctx, &row) {
                        Ok(item) => items.push(Value::Object(item)),
                        Err(errs) => {
                            let (field, m) = errs.into_iter().next().unwrap_or_default();
                            let label = f
                                .item_fields
                                .iter()
                                .find(|x| x.name == field)
                                .map(|x| x.label.clone().unwrap_or_else(|| humanize(&x.name)))
                                .unwrap_or(field);
                            problem = Some(format!("row {}: {label} {m}", n + 1));
                            break;
                        }
                    }
                }
                match problem {
                    Some(m) => Err(m),
                    None if items.is_empty() => Ok(None),
                    None => Ok(Some(Value::Array(items))),
                }
            }
            FieldType::Bool => Ok(Some(Value::Bool(
                given.iter().any(|v| *v == "on" || *v == "true"),
            ))),
            FieldType::List => {
                let items: Vec<&str> = if choices.is_some() {
                    given.clone()
                } else {
                    first
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect()
                };
                if items.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(Value::Array(
                        items
                            .iter()
                            .map(|i| typed_choice(i, choices.as_deref()))
                            .collect(),
                    )))
                }
            }
            _ if first.trim().is_empty() => Ok(None),
            FieldType::Int => first
                .trim()
                .parse::<i64>()
                .map(|n| Some(Value::from(n)))
                .map_err(|_| format!("must be a whole number, got \"{first}\"")),
            FieldType::Float => first
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|n| Some(Value::Number(n)))
                .ok_or_else(|| format!("must be a number, got \"{first}\"")),
            FieldType::DateTime => {
                local_instant(first.trim(), ctx.zone).map(|s| Some(Value::String(s)))
            }
            FieldType::Map => serde_json::from_str::<Value>(first)
                .map(Some)
                .map_err(|e| format!("must be JSON (a map of names to values): {e}")),
            _ => Ok(Some(typed_choice(first, choices.as_deref()))),
        };
        match value {
            Ok(Some(v)) => {
                out.insert(f.name.clone(), v);
            }
            Ok(None) => {}
            Err(m) => {
                errors.insert(f.name.clone(), m);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A chosen value back as the definition's value (numbers stay numbers).
fn typed_choice(text: &str, choices: Option<&[Value]>) -> Value {
    choices
        .and_then(|list| list.iter().find(|v| text_of(v) == text).cloned())
        .unwrap_or_else(|| Value::String(text.to_owned()))
}

/// A browser's `datetime-local` (`2026-11-30T09:40`) read in a time zone, as RFC 3339 UTC.
fn local_instant(text: &str, zone: Tz) -> Result<String, String> {
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Ok(text.to_owned());
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| format!("must be a date and time (e.g. 2026-11-30T09:40), got \"{text}\""))?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339())
        .ok_or_else(|| format!("{text} does not exist in {zone} (a clock change)"))
}

/// The input an engine validation error names (`inputs.note` → `note`).
pub fn error_field(e: &mentorflow::Error) -> Option<String> {
    match e {
        mentorflow::Error::Validation { field: Some(f), .. } => Some(
            f.strip_prefix("inputs.")
                .or_else(|| f.strip_prefix("fields."))
                .unwrap_or(f)
                .to_owned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod records {
    use super::*;

    const W: &str = r#"
workflow: r
version: 1
roles: { a: {} }
settings:
  kinds: { default: [video, phone] }
states:
  open: {}
  done: { final: true }
actions:
  go:
    to: open
    by: a
    inputs:
      sessions:
        type: list
        label: Sessions
        max: 5
        of:
          fields:
            date: { type: date, required: true, label: Date }
            minutes: { type: int, required: true, label: Duration }
            kind: { type: string, one_of: settings.kinds, label: Kind }
            online: { type: bool, default: true, label: Online }
  finish: { from: open, to: done, by: a }
"#;

    fn fields() -> Vec<Field> {
        let e = mentorflow::Engine::builder()
            .in_memory()
            .workflow_str("r.yaml", W)
            .build()
            .unwrap();
        e.definition("r")
            .unwrap()
            .action("go")
            .unwrap()
            .inputs
            .clone()
    }

    fn ctx_settings() -> Map<String, Value> {
        serde_json::json!({"kinds": ["video", "phone"]})
            .as_object()
            .unwrap()
            .clone()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_list_of_records_is_rows_of_the_records_controls() {
        let settings = ctx_settings();
        let ctx = Context {
            settings: &settings,
            pickers: &Pickers::new(),
            zone: Tz::UTC,
        };
        let fs = fields();
        let c = &controls(&fs, &ctx, &[], &BTreeMap::new())[0];
        assert_eq!(c.control, "records");
        assert_eq!(c.rows.len(), BLANK_ROWS);
        let names: Vec<&str> = c.rows[1].iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "sessions.2.date",
                "sessions.2.minutes",
                "sessions.2.kind",
                "sessions.2.online"
            ]
        );
        assert_eq!(c.rows[0][2].control, "select");
        assert_eq!(c.rows[0][2].options.len(), 2);
        // blank rows show no defaults (the check box is not ticked)
        assert!(!c.rows[0][3].checked);

        // rows 1 and 3 filled in, row 2 blank: two items, typed
        let form = pairs(&[
            ("sessions.1.date", "2026-12-01"),
            ("sessions.1.minutes", "60"),
            ("sessions.1.kind", "video"),
            ("sessions.1.online", "on"),
            ("sessions.2.date", ""),
            ("sessions.2.minutes", " "),
            ("sessions.2.kind", ""),
            ("sessions.3.date", "2026-12-03"),
            ("sessions.3.minutes", "45"),
            ("sessions.3.kind", "phone"),
        ]);
        let read = read(&fs, &ctx, &form).unwrap();
        assert_eq!(
            read["sessions"],
            serde_json::json!([
                {"date": "2026-12-01", "minutes": 60, "kind": "video", "online": true},
                {"date": "2026-12-03", "minutes": 45, "kind": "phone", "online": false},
            ])
        );
        // after a refused submit the rows come back as typed, blank ones left out, one more blank
        let again = &controls(&fs, &ctx, &form, &BTreeMap::new())[0];
        assert_eq!(again.rows.len(), BLANK_ROWS);
        assert_eq!(again.rows[1][1].value, "45");
        assert_eq!(again.rows[1][1].name, "sessions.2.minutes");
        assert_eq!(again.rows[2][1].value, "");

        // nothing filled in: not given at all
        assert!(!read_ok(&fs, &ctx, &pairs(&[("sessions.1.date", "")])).contains_key("sessions"));
        // a bad number names its row and column
        let bad = pairs(&[
            ("sessions.1.date", "2026-12-01"),
            ("sessions.1.minutes", "an hour"),
        ]);
        let errors = super::read(&fs, &ctx, &bad).unwrap_err();
        assert_eq!(
            errors["sessions"],
            "row 1: Duration must be a whole number, got \"an hour\""
        );
    }

    fn read_ok(fs: &[Field], ctx: &Context<'_>, form: &[(String, String)]) -> Map<String, Value> {
        read(fs, ctx, form).unwrap()
    }

    #[test]
    fn the_rows_render_with_labels_for_every_control() {
        let settings = ctx_settings();
        let ctx = Context {
            settings: &settings,
            pickers: &Pickers::new(),
            zone: Tz::UTC,
        };
        let fs = fields();
        let mut errors = BTreeMap::new();
        errors.insert(
            "sessions".to_owned(),
            "row 1: Duration must be a whole number".to_owned(),
        );
        let controls = controls(&fs, &ctx, &[], &errors);
        let html = crate::render::page(
            "start.html",
            serde_json::json!({"label": "Go", "workflow": "R", "controls": controls, "href": "/start/r/go", "key": "k", "csrf": "c"}),
        )
        .0;
        assert!(html.contains("<legend>Sessions"), "{html}");
        assert!(
            html.contains("<label for=\"start-sessions-2-minutes\">Duration</label>"),
            "{html}"
        );
        assert!(html.contains("<input id=\"start-sessions-2-minutes\" name=\"sessions.2.minutes\" type=\"number\""), "{html}");
        assert!(html.contains("<legend>Row 3</legend>"), "{html}");
        assert!(!html.contains("Row 4"), "{html}");
        assert!(
            html.contains("aria-describedby=\"start-sessions-error\""),
            "{html}"
        );
        assert!(
            html.contains("row 1: Duration must be a whole number"),
            "{html}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::at_field;

    #[test]
    fn errors_at_the_field_read_as_sentences() {
        assert_eq!(
            at_field(
                "Note to the client",
                "input `note` (Note to the client) is required"
            ),
            "Note to the client is required"
        );
        assert_eq!(
            at_field(
                "Client name",
                "field `client_name` (Client name) is required"
            ),
            "Client name is required"
        );
        assert_eq!(
            at_field("Duration", "must be a whole number, got \"x\""),
            "Duration must be a whole number, got \"x\""
        );
        assert_eq!(
            at_field("Mentor", "Only active mentors."),
            "Only active mentors."
        );
        assert_eq!(at_field("X", "input `x`"), "input `x`");
    }
}
