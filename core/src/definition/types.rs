//! Typed fields and inputs: the value types of the language and how a value is checked and
//! normalised against them.

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// The type of a field, an input or a list item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// One line of text (no control characters but tab).
    String,
    /// Free text, newlines allowed.
    Text,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A time of day, `HH:MM` or `HH:MM:SS`.
    Time,
    /// An instant with a time zone (RFC 3339), stored in UTC.
    DateTime,
    /// The id of a person in the directory.
    Person,
    /// A list (of `of:` items, when given).
    List,
    /// A map of names to values.
    Map,
}

impl FieldType {
    /// Every type name accepted in YAML.
    pub const NAMES: &'static [&'static str] = &[
        "string", "text", "int", "float", "bool", "date", "time", "datetime", "person", "list",
        "map",
    ];

    /// Every way a type may be written in YAML, with the type it means (the aliases
    /// `integer`, `number` and `boolean` too): the one list the loader and the editor schema
    /// read.
    pub const SPELLINGS: &'static [(&'static str, FieldType)] = &[
        ("string", FieldType::String),
        ("text", FieldType::Text),
        ("int", FieldType::Int),
        ("integer", FieldType::Int),
        ("float", FieldType::Float),
        ("number", FieldType::Float),
        ("bool", FieldType::Bool),
        ("boolean", FieldType::Bool),
        ("date", FieldType::Date),
        ("time", FieldType::Time),
        ("datetime", FieldType::DateTime),
        ("person", FieldType::Person),
        ("list", FieldType::List),
        ("map", FieldType::Map),
    ];

    /// Parse a type name as written in YAML.
    pub fn parse(name: &str) -> Option<Self> {
        Self::SPELLINGS
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, t)| *t)
    }

    /// The name as written in YAML.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::Time => "time",
            FieldType::DateTime => "datetime",
            FieldType::Person => "person",
            FieldType::List => "list",
            FieldType::Map => "map",
        }
    }

    /// The type a plain value has, for settings declared by their default.
    pub fn of_value(v: &Value) -> Option<Self> {
        Some(match v {
            Value::Bool(_) => FieldType::Bool,
            Value::Number(n) if n.is_i64() || n.is_u64() => FieldType::Int,
            Value::Number(_) => FieldType::Float,
            Value::String(_) => FieldType::String,
            Value::Array(_) => FieldType::List,
            Value::Object(_) => FieldType::Map,
            Value::Null => return None,
        })
    }

    /// Check `v` against this type and return its normalised form, or a message saying what
    /// is wrong. `Null` is handled by the caller (required / optional).
    pub fn normalize(self, v: &Value, item: Option<FieldType>) -> Result<Value, String> {
        let got = Describe(v);
        match self {
            FieldType::String | FieldType::Person => match v {
                Value::String(s) => {
                    if let Some(c) = s.chars().find(|c| c.is_control() && *c != '\t') {
                        return Err(format!(
                            "must be one line of text without control characters (found U+{:04X}); use type `text` for several lines",
                            c as u32
                        ));
                    }
                    if self == FieldType::Person && s.trim().is_empty() {
                        return Err("must be a person id, got an empty string".into());
                    }
                    Ok(v.clone())
                }
                _ => Err(format!("must be a {}, got {got}", self.name())),
            },
            FieldType::Text => match v {
                Value::String(s) => {
                    if let Some(c) = s
                        .chars()
                        .find(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
                    {
                        return Err(format!(
                            "must not contain control characters (found U+{:04X})",
                            c as u32
                        ));
                    }
                    Ok(v.clone())
                }
                _ => Err(format!("must be text, got {got}")),
            },
            FieldType::Int => match v {
                Value::Number(n) if n.is_i64() => Ok(v.clone()),
                Value::Number(n) => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Value::from(f as i64)),
                    _ => Err(format!("must be a whole number, got {got}")),
                },
                _ => Err(format!("must be a whole number, got {got}")),
            },
            FieldType::Float => match v {
                Value::Number(_) => Ok(v.clone()),
                _ => Err(format!("must be a number, got {got}")),
            },
            FieldType::Bool => match v {
                Value::Bool(_) => Ok(v.clone()),
                _ => Err(format!("must be true or false, got {got}")),
            },
            FieldType::Date => match v {
                Value::String(s) => match NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
                    Ok(d) if in_years(d) => Ok(Value::String(d.format("%Y-%m-%d").to_string())),
                    Ok(_) => Err(format!(
                        "must be a date between 0001-01-01 and 9999-12-31, got \"{s}\""
                    )),
                    Err(_) => Err(format!("must be a date written YYYY-MM-DD, got \"{s}\"")),
                },
                _ => Err(format!("must be a date written YYYY-MM-DD, got {got}")),
            },
            FieldType::Time => match v {
                Value::String(s) => parse_time(s)
                    .map(|t| Value::String(format_time(t)))
                    .ok_or_else(|| format!("must be a time written HH:MM, got \"{s}\"")),
                _ => Err(format!("must be a time written HH:MM, got {got}")),
            },
            FieldType::DateTime => match v {
                Value::String(s) => normalize_datetime(s).map(Value::String),
                _ => Err(format!(
                    "must be a date and time with a time zone (RFC 3339), got {got}"
                )),
            },
            FieldType::List => match v {
                Value::Array(_) if nests_too_deeply(v) => Err(nesting_message()),
                Value::Array(items) => match item {
                    None => Ok(v.clone()),
                    Some(t) => {
                        let mut out = Vec::with_capacity(items.len());
                        for (i, it) in items.iter().enumerate() {
                            if it.is_null() {
                                return Err(format!("item {} is empty", i + 1));
                            }
                            out.push(
                                t.normalize(it, None)
                                    .map_err(|e| format!("item {}: {e}", i + 1))?,
                            );
                        }
                        Ok(Value::Array(out))
                    }
                },
                _ => Err(format!("must be a list, got {got}")),
            },
            FieldType::Map => match v {
                Value::Object(_) if nests_too_deeply(v) => Err(nesting_message()),
                Value::Object(_) => Ok(v.clone()),
                _ => Err(format!("must be a map, got {got}")),
            },
        }
    }
}

/// How deeply lists and maps may nest in one value (a field, an input, a setting, a person's
/// attribute, the data of a notification). Stored JSON is read back with serde_json's
/// recursion limit (128), so a deeper value could be written but never read again.
pub(crate) const MAX_NESTING: usize = 32;

/// Whether a value nests lists and maps more than [`MAX_NESTING`] levels deep (checked
/// without recursion, so a hostile value cannot exhaust the stack here).
pub(crate) fn nests_too_deeply(v: &Value) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            Value::Object(m) => m.values().collect(),
            _ => continue,
        };
        if depth >= MAX_NESTING {
            return true;
        }
        stack.extend(children.into_iter().map(|c| (c, depth + 1)));
    }
    false
}

fn nesting_message() -> String {
    format!("nests lists and maps more than {MAX_NESTING} levels deep")
}

/// Dates and instants are kept to the years 0001–9999: four-digit ISO 8601 years, which
/// every binding (Python's `datetime` among them) can represent.
fn in_years(d: NaiveDate) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&d.year())
}

/// Parse `HH:MM` or `HH:MM:SS`.
pub(crate) fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
}

fn format_time(t: NaiveTime) -> String {
    use chrono::Timelike;
    if t.second() == 0 {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// Normalise an RFC 3339 instant to UTC with a `Z`; naive times are refused.
pub(crate) fn normalize_datetime(s: &str) -> Result<String, String> {
    match DateTime::parse_from_rfc3339(s.trim()) {
        Ok(t) if in_years(t.with_timezone(&Utc).date_naive()) => Ok(t
            .with_timezone(&Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Ok(_) => Err(format!(
            "must be an instant between the years 0001 and 9999 (in UTC), got \"{s}\""
        )),
        Err(_) => {
            if chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S").is_ok()
                || chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").is_ok()
                || chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M").is_ok()
            {
                Err(format!(
                    "\"{s}\" has no time zone; write it with an offset, e.g. \"{}Z\"",
                    s.trim()
                ))
            } else {
                Err(format!(
                    "must be a date and time with a time zone (RFC 3339, e.g. 2026-11-20T10:00:00Z), got \"{s}\""
                ))
            }
        }
    }
}

/// Describes a value only when a message is actually formatted.
struct Describe<'a>(&'a Value);

impl std::fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(self.0))
    }
}

/// How a value is described in messages (`the text "…"`, `the number 3`, `a list`).
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("{b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                format!("the text \"{short}…\"")
            } else {
                format!("the text \"{s}\"")
            }
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a map".into(),
    }
}

/// Where the allowed values of a field come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum OneOf {
    /// A fixed list in the definition.
    List(Vec<Value>),
    /// A setting holding the list (`one_of: settings.exception_types`).
    Setting(String),
}

/// A typed field of a case, or an input of an action.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// The field's name.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Item type for lists.
    pub of: Option<FieldType>,
    /// For a list of records (`of: { fields: … }`): the fields of each item, checked like a
    /// case's fields (an unknown key, a missing required field or a wrong value is refused).
    #[serde(rename = "fields", skip_serializing_if = "Vec::is_empty")]
    pub item_fields: Vec<Field>,
    /// A value must be present (after the start action, for fields; when acting, for inputs).
    pub required: bool,
    /// Value used when none is given.
    pub default: Option<Value>,
    /// Longest text allowed, in characters.
    pub max_length: Option<usize>,
    /// Shortest text allowed, in characters.
    pub min_length: Option<usize>,
    /// Allowed values.
    pub one_of: Option<OneOf>,
    /// Smallest number (or list length for lists).
    pub min: Option<f64>,
    /// Largest number (or list length for lists).
    pub max: Option<f64>,
    /// Kept out of notifications and exports unless named explicitly.
    pub private: bool,
    /// Set only by the workflow's own scripts: start data may not give it (bookkeeping such
    /// as counters, flags and maps the effects maintain).
    pub computed: bool,
    /// Label for people.
    pub label: Option<String>,
    /// Description for people.
    pub description: Option<String>,
    /// For a person input: whom a front end's picker offers (`choices:`); the engine's
    /// checks at the action stay what they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Choices>,
}

/// Whom a person input's picker offers (`choices:` on an input of type `person`), for
/// front ends ([`crate::Engine::candidates`]): never a check, the action's guards still
/// decide.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Choices {
    /// Only the holders of this directory role in the case's organisation (else all its
    /// people).
    pub role: Option<String>,
    /// Only those for whom every guard of the action that reads this input (and no other
    /// input) passes with them as the input (`choices: guard`, or `guard: true`).
    pub guard: bool,
}

impl Field {
    /// Each item of a list of records against the record's fields, normalised, defaults
    /// filled in. Messages name the item (1-based) and the field.
    fn check_records(&self, v: Value, settings: &Map<String, Value>) -> Result<Value, String> {
        let Value::Array(items) = v else {
            return Ok(v);
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let n = i + 1;
            let Value::Object(m) = item else {
                return Err(format!("item {n} is {}, not a record", describe(&item)));
            };
            if let Some(k) = m
                .keys()
                .find(|k| !self.item_fields.iter().any(|f| &f.name == *k))
            {
                let names: Vec<&str> = self.item_fields.iter().map(|f| f.name.as_str()).collect();
                let close = crate::suggest::did_you_mean(k, names.iter().copied());
                return Err(format!(
                    "item {n} has an unknown key `{k}`{}",
                    if close.is_empty() {
                        format!(" (a record has {})", names.join(", "))
                    } else {
                        close
                    }
                ));
            }
            let mut record = Map::new();
            for f in &self.item_fields {
                match m.get(&f.name).filter(|x| !x.is_null()) {
                    Some(x) => {
                        let x = f
                            .check(x, settings)
                            .map_err(|e| format!("item {n}: `{}` {e}", f.name))?;
                        record.insert(f.name.clone(), x);
                    }
                    None => match &f.default {
                        Some(d) => {
                            record.insert(f.name.clone(), d.clone());
                        }
                        None if f.required => {
                            return Err(format!("item {n}: `{}` is required", f.name));
                        }
                        None => {}
                    },
                }
            }
            out.push(Value::Object(record));
        }
        Ok(Value::Array(out))
    }

    /// Check one present (non-null) value and return it normalised. `settings` resolves
    /// `one_of: settings.x`.
    pub fn check(&self, v: &Value, settings: &Map<String, Value>) -> Result<Value, String> {
        let v = self.kind.normalize(v, self.of)?;
        let v = if self.item_fields.is_empty() {
            v
        } else {
            self.check_records(v, settings)?
        };
        if let Value::String(s) = &v {
            let n = s.chars().count();
            if let Some(max) = self.max_length {
                if n > max {
                    return Err(format!("is {n} characters long; at most {max} are allowed"));
                }
            }
            if let Some(min) = self.min_length {
                if n < min {
                    return Err(format!("is {n} characters long; at least {min} are needed"));
                }
            }
        }
        let measure = match &v {
            Value::Number(n) => n.as_f64(),
            Value::Array(a) => Some(a.len() as f64),
            _ => None,
        };
        if let Some(x) = measure {
            let what = if v.is_array() { "items" } else { "" };
            if let Some(min) = self.min {
                if x < min {
                    return Err(if what.is_empty() {
                        format!("must be at least {min}, got {x}")
                    } else {
                        format!("needs at least {min} {what}, got {x}")
                    });
                }
            }
            if let Some(max) = self.max {
                if x > max {
                    return Err(if what.is_empty() {
                        format!("must be at most {max}, got {x}")
                    } else {
                        format!("allows at most {max} {what}, got {x}")
                    });
                }
            }
        }
        if let Some(one_of) = &self.one_of {
            let allowed: Vec<Value> = match one_of {
                OneOf::List(l) => l.clone(),
                OneOf::Setting(name) => match settings.get(name) {
                    Some(Value::Array(a)) => a.clone(),
                    _ => Vec::new(),
                },
            };
            let ok = match &v {
                Value::Array(items) => items.iter().all(|i| allowed.contains(i)),
                other => allowed.contains(other),
            };
            if !ok {
                let list: Vec<String> = allowed
                    .iter()
                    .map(|a| match a {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                return Err(format!(
                    "{} is not one of the allowed values: {}",
                    describe(&v),
                    list.join(", ")
                ));
            }
        }
        Ok(v)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn time_normalises() {
        assert_eq!(
            FieldType::Time.normalize(&json!("9:05"), None),
            Ok(json!("09:05"))
        );
        assert!(FieldType::Time.normalize(&json!("25:00"), None).is_err());
    }

    #[test]
    fn naive_datetime_is_refused_with_a_hint() {
        let e = match FieldType::DateTime.normalize(&json!("2026-11-20T10:00:00"), None) {
            Err(e) => e,
            Ok(v) => panic!("accepted a naive datetime: {v}"),
        };
        assert!(e.contains("no time zone"), "{e}");
    }

    #[test]
    fn string_refuses_newlines_text_allows_them() {
        assert!(FieldType::String.normalize(&json!("a\nb"), None).is_err());
        assert!(FieldType::Text.normalize(&json!("a\nb"), None).is_ok());
    }
}
