//! Loading and validating definitions. Every problem is collected, with its position, before
//! anything is reported.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::Path;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::raw::*;
use super::types::{Field, FieldType, OneOf};
use super::*;
use crate::error::{Error, Problem, Result, ScriptPlace};
use crate::script::{self, Kind, Reference, Scripts};
use crate::yaml::{self, child_path};

/// Keys of `case` in scripts that are not roles.
pub(crate) const CASE_KEYS: &[&str] = &[
    "id",
    "workflow",
    "version",
    "state",
    "state_label",
    "org",
    "revision",
    "created_at",
    "updated_at",
    "parent",
    "participants",
    "fields",
    "tags",
];

/// Load every `*.yaml` / `*.yml` file of a folder (sorted by name). Problems of all files are
/// reported together.
pub fn load_dir(dir: &Path, scripts: &Scripts) -> Result<Vec<Definition>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::definition_one(
            &dir.display().to_string(),
            "",
            format!("cannot read the workflows folder: {e}"),
        )
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml") | Some("yml")
                )
        })
        .collect();
    paths.sort();
    let mut defs = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match load_file(&p, scripts) {
            Ok(d) => defs.push(d),
            Err(Error::Definition { problems: mut ps }) => problems.append(&mut ps),
            Err(e) => return Err(e),
        }
    }
    let mut seen: HashSet<(String, u32)> = HashSet::new();
    for d in &defs {
        if !seen.insert((d.id.clone(), d.version)) {
            problems.push(Problem {
                file: d.file.clone(),
                line: 1,
                column: 1,
                path: "workflow".into(),
                message: format!(
                    "workflow `{}` version {} is defined by more than one file",
                    d.id, d.version
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(defs)
    } else {
        Err(Error::Definition { problems })
    }
}

/// Load one file.
pub fn load_file(path: &Path, scripts: &Scripts) -> Result<Definition> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::definition_one(&file, "", format!("cannot read the file: {e}")))?;
    load_str(&text, &file, scripts)
}

/// Load a definition from YAML text; `file` names it in messages.
pub fn load_str(text: &str, file: &str, scripts: &Scripts) -> Result<Definition> {
    let (root, spans) = yaml::parse(text).map_err(|e| Error::Definition {
        problems: vec![Problem::from_yaml(file, &e)],
    })?;
    let mut l = Loader {
        file: file.to_owned(),
        spans: Arc::new(spans),
        problems: Vec::new(),
        scripts,
        workflow: String::new(),
        version: 0,
        misspelt: HashSet::new(),
    };
    let def = l.definition(&root, text);
    match def {
        Some(d) if l.problems.is_empty() => Ok(d),
        _ => {
            if l.problems.is_empty() {
                l.problem("", "the definition is invalid");
            }
            l.problems.sort_by_key(|p| (p.line, p.column));
            l.problems.dedup();
            Err(Error::Definition {
                problems: l.problems,
            })
        }
    }
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names for "did you mean" hints.
fn hint(name: &str, known: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let known: Vec<String> = known.into_iter().map(|k| k.as_ref().to_owned()).collect();
    let close = crate::suggest::did_you_mean(name, known.iter().map(String::as_str));
    if !close.is_empty() {
        close
    } else if known.is_empty() {
        String::new()
    } else if known.len() <= 12 {
        format!("; known: {}", known.join(", "))
    } else {
        String::new()
    }
}

struct Loader<'a> {
    file: String,
    spans: Arc<Spans>,
    problems: Vec<Problem>,
    scripts: &'a Scripts,
    workflow: String,
    version: u32,
    /// Paths of keys the file meant but misspelt (`actions.finish.from` for `form:`): a
    /// problem that only says such a key is missing is not reported, nor are the graph's
    /// problems when a transition's `from` or `to` is misspelt.
    misspelt: HashSet<String>,
}

impl Loader<'_> {
    fn problem_at(&mut self, path: &str, pos: yaml::Pos, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// A problem with a value.
    fn problem(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.spans.nearest(path);
        self.problem_at(path, pos, message);
    }

    /// A problem with a key (an id).
    fn key_problem(&mut self, path: &str, message: impl Into<String>) {
        let pos = self
            .spans
            .key(path)
            .unwrap_or_else(|| self.spans.nearest(path));
        self.problem_at(path, pos, message);
    }

    /// Whether `name` is written in the file under `section` (`fields`, `actions.x.inputs`)
    /// even though it could not be built: its own problems are reported where it is, so a
    /// reference to it is not reported as unknown too.
    fn declared(&self, section: &str, name: &str) -> bool {
        self.spans.contains(&child_path(section, name))
    }

    /// Deserialize one item (a setting, role, field, check, timer, state, template, action,
    /// view or export) written as a map. Every key `T` does not know is reported at the key,
    /// with "did you mean" for a near miss, and every value of the wrong type at the value;
    /// the item is then built from the rest, so that one typo neither hides the next nor
    /// makes the item's references look broken elsewhere. `None` only when a key the item
    /// cannot do without is missing or broken (that is reported too).
    fn item<T: DeserializeOwned>(&mut self, v: &Value, path: &str, what: &str) -> Option<T> {
        let keys = keys_of::<T>();
        let Value::Object(given) = v else {
            self.problem(
                path,
                format!(
                    "{what} must be a map with the keys {}, got {}",
                    keys.join(", "),
                    describe_value(v)
                ),
            );
            return None;
        };
        let mut m = Map::new();
        for (k, val) in given {
            if keys.contains(&k.as_str()) {
                m.insert(k.clone(), val.clone());
            } else {
                let hint = match crate::suggest::closest(k, keys.iter().copied()) {
                    Some(meant) => {
                        self.misspelt.insert(child_path(path, meant));
                        format!("; did you mean `{meant}`?")
                    }
                    None => format!(" (known keys: {})", keys.join(", ")),
                };
                self.key_problem(
                    &child_path(path, k),
                    format!("unknown key `{k}` in {what}{hint}"),
                );
            }
        }
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let err = match serde_path_to_error::deserialize::<_, T>(Value::Object(m.clone())) {
                Ok(t) => return Some(t),
                Err(e) => e,
            };
            let at = yaml::error_path(path, err.path());
            let key = match err.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            let msg = err.into_inner().to_string();
            if let Some(missing) = msg
                .strip_prefix("missing field `")
                .and_then(|r| r.split('`').next())
            {
                if !dropped.iter().any(|d| d == missing)
                    && !self.misspelt.contains(&child_path(path, missing))
                {
                    self.key_problem(path, format!("{what} needs `{missing}`"));
                }
                return None;
            }
            let name = at
                .rsplit(['.', '['])
                .next()
                .unwrap_or(&at)
                .trim_end_matches(']');
            self.problem(&at, in_words(&msg, name));
            match key {
                Some(k) if m.remove(&k).is_some() => dropped.push(k),
                _ => return None,
            }
        }
    }

    fn entries<'v>(&mut self, v: &'v Value, path: &str, what: &str) -> Vec<(String, &'v Value)> {
        match v {
            Value::Object(m) => {
                let mut out = Vec::new();
                for (k, val) in m {
                    let p = child_path(path, k);
                    if !is_ident(k) {
                        self.key_problem(
                            &p,
                            format!(
                                "`{k}` is not a valid {what} id (use letters, digits and _, starting with a letter)"
                            ),
                        );
                        continue;
                    }
                    out.push((k.clone(), val));
                }
                out
            }
            Value::Null => Vec::new(),
            _ => {
                self.problem(
                    path,
                    format!("expected a map of {what} ids to their definitions"),
                );
                Vec::new()
            }
        }
    }

    fn strings(&mut self, v: &Value, path: &str, what: &str) -> Option<Vec<String>> {
        match v {
            Value::String(s) => Some(vec![s.clone()]),
            Value::Array(items) => {
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    match it {
                        Value::String(s) => out.push(s.clone()),
                        _ => {
                            self.problem(&format!("{path}[{i}]"), format!("expected a {what}"));
                            return None;
                        }
                    }
                }
                Some(out)
            }
            _ => {
                self.problem(path, format!("expected a {what} or a list of them"));
                None
            }
        }
    }

    fn compile(&mut self, src: &str, kind: Kind, path: &str) -> Option<Script> {
        self.compile_with(src, kind, path, &[])
    }

    /// [`compile`](Self::compile) for a script that may also read `names`.
    fn compile_with(
        &mut self,
        src: &str,
        kind: Kind,
        path: &str,
        names: &[String],
    ) -> Option<Script> {
        let pos = self.spans.nearest(path);
        let place = ScriptPlace {
            workflow: self.workflow.clone(),
            version: self.version,
            path: path.to_owned(),
            file: self.file.clone(),
            line: pos.line,
            column: pos.column,
        };
        match self
            .scripts
            .compile(src, kind, place, Arc::clone(&self.spans), names)
        {
            Ok(s) => Some(s),
            Err((line, column, message)) => {
                self.problem_at(
                    path,
                    yaml::Pos { line, column },
                    format!("script does not compile: {message}"),
                );
                None
            }
        }
    }

    fn unknown_type(&mut self, path: &str, t: &str) {
        let hint = match crate::suggest::closest(t, FieldType::NAMES.iter().copied()) {
            Some(meant) => format!("did you mean `{meant}`?"),
            None => format!("use one of {}", FieldType::NAMES.join(", ")),
        };
        self.problem(path, format!("unknown type `{t}`; {hint}"));
    }

    fn span(&mut self, text: &str, path: &str) -> Option<Span> {
        match text.parse::<Span>() {
            Ok(s) => Some(s),
            Err(e) => {
                self.problem(path, e.to_string());
                None
            }
        }
    }

    fn field(&mut self, name: &str, v: &Value, path: &str, what: &str) -> Option<Field> {
        let v = match v {
            Value::String(t) => {
                let mut m = Map::new();
                m.insert("type".into(), Value::String(t.clone()));
                Value::Object(m)
            }
            other => other.clone(),
        };
        let raw: RawField = self.item(&v, path, &format!("{what} `{name}`"))?;
        let Some(kind) = FieldType::parse(&raw.kind) else {
            self.unknown_type(&child_path(path, "type"), &raw.kind);
            return None;
        };
        let mut item_fields = Vec::new();
        let of = match &raw.of {
            None => None,
            Some(Value::String(t)) => match FieldType::parse(t) {
                Some(FieldType::List) | None => {
                    self.problem(
                        &child_path(path, "of"),
                        format!(
                            "`of` must be a simple type, `map` or `{{ fields: … }}`, not `{t}`"
                        ),
                    );
                    None
                }
                Some(t) if kind == FieldType::List => Some(t),
                Some(_) => {
                    self.problem(&child_path(path, "of"), "`of` is only for lists");
                    None
                }
            },
            Some(Value::Object(m)) => {
                let op = child_path(path, "of");
                for k in m.keys().filter(|k| *k != "fields") {
                    self.key_problem(
                        &child_path(&op, k),
                        format!("unknown key `{k}` in `of`{}", hint(k, ["fields"])),
                    );
                }
                match m.get("fields") {
                    Some(_) if kind != FieldType::List => {
                        self.problem(&op, "`of` is only for lists");
                        None
                    }
                    Some(fv) => {
                        let fp = child_path(&op, "fields");
                        for (n, v) in self.entries(fv, &fp, "record field") {
                            let np = child_path(&fp, &n);
                            if let Some(f) = self.field(&n, v, &np, "record field") {
                                item_fields.push(f);
                            }
                        }
                        if item_fields.is_empty() && fv.as_object().is_some_and(Map::is_empty) {
                            self.problem(&fp, "a record needs at least one field");
                        }
                        Some(FieldType::Map)
                    }
                    None => {
                        self.problem(
                            &op,
                            "`of` is a type name, or `{ fields: … }` for a list of records",
                        );
                        None
                    }
                }
            }
            Some(_) => {
                self.problem(
                    &child_path(path, "of"),
                    "`of` is a type name, or `{ fields: … }` for a list of records",
                );
                None
            }
        };
        let one_of = match raw.one_of {
            None => None,
            Some(RawOneOf::List(l)) => Some(OneOf::List(l)),
            Some(RawOneOf::Setting(s)) => match s.strip_prefix("settings.") {
                Some(name) => Some(OneOf::Setting(name.to_owned())),
                None => {
                    self.problem(
                        &child_path(path, "one_of"),
                        format!("`one_of` must be a list or `settings.NAME`, got `{s}`"),
                    );
                    None
                }
            },
        };
        let choices = raw
            .choices
            .as_ref()
            .and_then(|c| self.choices(c, kind, &child_path(path, "choices")));
        let field = Field {
            choices,
            name: name.to_owned(),
            kind,
            of,
            item_fields,
            required: raw.required,
            default: raw.default,
            max_length: raw.max_length,
            min_length: raw.min_length,
            one_of,
            min: raw.min,
            max: raw.max,
            private: raw.private,
            computed: raw.computed,
            label: raw.label,
            description: raw.description,
        };
        Some(field)
    }

    /// `choices:` of a person input: `guard`, or `{ role: ROLE, guard: BOOL }`.
    fn choices(&mut self, v: &Value, kind: FieldType, path: &str) -> Option<Choices> {
        if kind != FieldType::Person {
            self.problem(path, "`choices` is only for inputs of type `person`");
            return None;
        }
        let bad = |got: &str| {
            format!("`choices` must be `guard` or `{{ role: ROLE, guard: true|false }}`, got {got}")
        };
        match v {
            Value::String(s) if s == "guard" => Some(Choices {
                role: None,
                guard: true,
            }),
            Value::Object(m) => {
                let mut c = Choices::default();
                for (k, x) in m {
                    let kp = child_path(path, k);
                    match (k.as_str(), x) {
                        ("role", Value::String(r)) if is_ident(r) => c.role = Some(r.clone()),
                        ("role", other) => self.problem(
                            &kp,
                            format!(
                                "`role` in `choices` must be a directory role's name, got {}",
                                crate::definition::describe_value(other)
                            ),
                        ),
                        ("guard", Value::Bool(b)) => c.guard = *b,
                        ("guard", other) => self.problem(
                            &kp,
                            format!(
                                "`guard` in `choices` must be true or false, got {}",
                                crate::definition::describe_value(other)
                            ),
                        ),
                        (k, _) => self.key_problem(
                            &kp,
                            format!(
                                "unknown key `{k}` in `choices`{}",
                                hint(k, ["role", "guard"])
                            ),
                        ),
                    }
                }
                Some(c)
            }
            other => {
                self.problem(path, bad(&crate::definition::describe_value(other)));
                None
            }
        }
    }

    /// A view's `labels:`: state → a label, or a list of `{ when, label }` rules and labels
    /// (a plain label always holds), tried in order.
    fn view_labels(&mut self, m: &Map<String, Value>, path: &str) -> Vec<(String, Vec<ViewLabel>)> {
        let mut out = Vec::new();
        for (state, v) in m {
            let spath = child_path(path, state);
            let items: Vec<(String, &Value)> = match v {
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| (format!("{spath}[{i}]"), it))
                    .collect(),
                other => vec![(spath.clone(), other)],
            };
            let mut rules = Vec::new();
            for (ipath, item) in items {
                match item {
                    Value::String(label) => rules.push(ViewLabel {
                        when: None,
                        label: label.clone(),
                    }),
                    Value::Object(_) => {
                        let what = format!("label rule for state `{state}`");
                        let Some(raw) = self.item::<RawViewLabel>(item, &ipath, &what) else {
                            continue;
                        };
                        let when = match raw.when.as_deref() {
                            None => None,
                            Some(w) => {
                                match self.compile(w, Kind::Expr, &child_path(&ipath, "when")) {
                                    Some(s) => Some(s),
                                    None => continue,
                                }
                            }
                        };
                        rules.push(ViewLabel {
                            when,
                            label: raw.label,
                        });
                    }
                    _ => self.problem(
                        &ipath,
                        "a view's label is a text, or a list of texts and `{ when, label }` rules",
                    ),
                }
            }
            out.push((state.clone(), rules));
        }
        out
    }

    fn check(&mut self, v: &Value, path: &str, what: &str, default_message: &str) -> Option<Check> {
        let raw = match v {
            Value::String(s) => RawCheck {
                when: s.clone(),
                message: None,
                suggest: Vec::new(),
            },
            other => self.item::<RawCheck>(other, path, what)?,
        };
        let when_path = if v.is_string() {
            path.to_owned()
        } else {
            child_path(path, "when")
        };
        let when = self.compile(&raw.when, Kind::Expr, &when_path)?;
        let read: Vec<String> = script::references(&raw.when)
            .into_iter()
            .filter_map(|r| match r {
                Reference::Member { object, name, .. } if object == "inputs" => Some(name),
                _ => None,
            })
            .collect();
        let uses_inputs = !read.is_empty();
        let sole_input = match read.first() {
            Some(first) if !raw.when.contains("inputs[") && read.iter().all(|n| n == first) => {
                Some(first.clone())
            }
            _ => None,
        };
        let message = raw.message.unwrap_or_else(|| default_message.to_owned());
        let message_script = if message.contains("${") {
            let names = script::top_level_lets(&raw.when);
            let p = child_path(path, "message");
            self.compile_with(&message, Kind::Template, &p, &names)
        } else {
            None
        };
        Some(Check {
            when,
            message,
            message_script,
            suggest: raw.suggest,
            uses_inputs,
            sole_input,
        })
    }

    fn checks(&mut self, v: &Value, path: &str, what: &str, default_message: &str) -> Vec<Check> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| {
                    let what = match what.split_once(' ') {
                        Some((first, rest)) => format!("{first} {} {rest}", i + 1),
                        None => format!("{what} {}", i + 1),
                    };
                    self.check(it, &format!("{path}[{i}]"), &what, default_message)
                })
                .collect(),
            Value::Null => Vec::new(),
            other => self
                .check(other, path, what, default_message)
                .into_iter()
                .collect(),
        }
    }

    fn definition(&mut self, root: &Value, text: &str) -> Option<Definition> {
        let Value::Object(top) = root else {
            self.problem(
                "",
                "a workflow file must be a map with `workflow`, `version`, `states` and `actions`",
            );
            return None;
        };
        let top_keys = keys_of::<super::shape::Document>();
        for k in top.keys() {
            if !top_keys.contains(&k.as_str()) {
                let h = hint(k, top_keys.iter());
                self.key_problem(k, format!("unknown key `{k}`{h}"));
            }
        }
        let id = match top.get("workflow") {
            Some(Value::String(s)) if is_ident(s) => s.clone(),
            Some(_) => {
                self.problem("workflow", "`workflow` must be an id (letters, digits, _)");
                String::new()
            }
            None => {
                self.problem("", "missing `workflow: <id>`");
                String::new()
            }
        };
        let version = match top.get("version") {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v >= 1 && v <= u64::from(u32::MAX) => v as u32,
                _ => {
                    self.problem("version", "`version` must be a whole number from 1");
                    0
                }
            },
            Some(_) => {
                self.problem("version", "`version` must be a whole number from 1");
                0
            }
            None => {
                self.problem("", "missing `version: <number>`");
                0
            }
        };
        self.workflow = id.clone();
        self.version = version;
        for key in ["title", "description"] {
            if let Some(v) = top.get(key).filter(|v| !v.is_string() && !v.is_null()) {
                let got = describe_value(v);
                self.problem(key, format!("`{key}` must be text, got {got}"));
            }
        }
        let title = match top.get("title") {
            Some(Value::String(s)) => s.clone(),
            _ => id.clone(),
        };
        let description = top
            .get("description")
            .and_then(|d| d.as_str())
            .map(str::to_owned);
        let null = Value::Null;
        let section = |k: &str| top.get(k).unwrap_or(&null);

        // settings
        let mut settings = Vec::new();
        for (name, v) in self.entries(section("settings"), "settings", "setting") {
            let path = child_path("settings", &name);
            if name == crate::engine::WORKFLOWS_SETTING {
                self.problem(
                    &path,
                    format!("`{name}` is the engine's own organisation setting (the workflows an organisation uses); give this setting another name"),
                );
                continue;
            }
            if name == crate::engine::INCIDENT_MAX_ATTEMPTS_SETTING {
                self.problem(
                    &path,
                    format!("`{name}` is the engine's own organisation setting (how often a failed timer firing is tried); give this setting another name"),
                );
                continue;
            }
            // the long form has `default` (a map setting without one is its own default; a
            // misspelt `default` still means the long form)
            let is_full = matches!(v, Value::Object(m)
                if m.keys().any(|k| k == "default" || crate::suggest::is_close(k, "default")));
            let (kind, default, one_of, desc) = if is_full {
                let Some(raw) = self.item::<RawSetting>(v, &path, &format!("setting `{name}`"))
                else {
                    continue;
                };
                let kind = match raw.kind.as_deref() {
                    Some(t) => match FieldType::parse(t) {
                        Some(k) => Some(k),
                        None => {
                            self.unknown_type(&child_path(&path, "type"), t);
                            continue;
                        }
                    },
                    None => FieldType::of_value(&raw.default),
                };
                (kind, raw.default, raw.one_of, raw.description)
            } else {
                (FieldType::of_value(v), v.clone(), None, None)
            };
            let Some(kind) = kind else {
                self.problem(
                    &path,
                    format!("setting `{name}` needs a default value (or `{{ type: ..., default: ... }}`)"),
                );
                continue;
            };
            if !default.is_null() {
                if let Err(e) = kind.normalize(&default, None) {
                    self.problem(&path, format!("default of setting `{name}` {e}"));
                }
            }
            settings.push(Setting {
                name,
                kind,
                default,
                one_of,
                description: desc,
            });
        }

        // roles
        let mut roles = Vec::new();
        for (name, v) in self.entries(section("roles"), "roles", "role") {
            let path = child_path("roles", &name);
            let raw: RawRole = if v.is_null() {
                RawRole::default()
            } else {
                self.item(v, &path, &format!("role `{name}`"))
                    .unwrap_or_default()
            };
            if CASE_KEYS.contains(&name.as_str()) || name == "system" || name == "anyone" {
                self.key_problem(
                    &path,
                    format!("`{name}` is a reserved name and cannot be a role"),
                );
            }
            let directory = match &raw.directory {
                None => Vec::new(),
                Some(d) => self
                    .strings(d, &child_path(&path, "directory"), "directory role")
                    .unwrap_or_default(),
            };
            let sees_org = match raw.sees.as_deref() {
                None | Some("participants") => false,
                Some("org") => true,
                Some(other) => {
                    self.problem(
                        &child_path(&path, "sees"),
                        format!("`sees` must be `org` or `participants`, got `{other}`"),
                    );
                    false
                }
            };
            if sees_org && directory.is_empty() {
                self.problem(
                    &child_path(&path, "sees"),
                    "`sees: org` is only for directory roles (add `directory: ...`)",
                );
            }
            if raw.many.is_some() && !directory.is_empty() {
                self.problem(&child_path(&path, "many"), "`many` is only for case roles");
            }
            roles.push(Role {
                name,
                directory,
                sees_org,
                many: raw.many.unwrap_or(false),
                label: raw.label,
                description: raw.description,
            });
        }

        // fields
        let mut fields = Vec::new();
        for (name, v) in self.entries(section("fields"), "fields", "field") {
            let path = child_path("fields", &name);
            if let Some(f) = self.field(&name, v, &path, "field") {
                fields.push(f);
            }
        }

        // templates
        let mut templates = Vec::new();
        for (name, v) in self.entries(section("templates"), "templates", "template") {
            let path = child_path("templates", &name);
            let Some(raw) = self.item::<RawTemplate>(v, &path, &format!("template `{name}`"))
            else {
                continue;
            };
            let subject = self.compile(&raw.subject, Kind::Template, &child_path(&path, "subject"));
            let body = self.compile(&raw.body, Kind::Template, &child_path(&path, "body"));
            if let (Some(subject), Some(body)) = (subject, body) {
                templates.push(Template {
                    name,
                    subject,
                    body,
                    description: raw.description,
                    actions: raw.actions,
                });
            }
        }

        // states
        let mut states = Vec::new();
        for (sid, v) in self.entries(section("states"), "states", "state") {
            let path = child_path("states", &sid);
            let raw: RawState = if v.is_null() {
                RawState::default()
            } else if let Value::String(label) = v {
                RawState {
                    label: Some(label.clone()),
                    ..RawState::default()
                }
            } else {
                // kept even when broken, so that references to it do not look wrong too
                self.item(v, &path, &format!("state `{sid}`"))
                    .unwrap_or_default()
            };
            let on_enter = raw
                .on_enter
                .as_deref()
                .and_then(|s| self.compile(s, Kind::Effect, &child_path(&path, "on_enter")));
            let on_exit = raw
                .on_exit
                .as_deref()
                .and_then(|s| self.compile(s, Kind::Effect, &child_path(&path, "on_exit")));
            let mut timers = Vec::new();
            let mut names = HashSet::new();
            for (i, tv) in raw.timers.iter().enumerate() {
                let tpath = format!("{path}.timers[{i}]");
                let what = match tv.get("name").and_then(Value::as_str) {
                    Some(n) => format!("timer `{n}` of state `{sid}`"),
                    None => format!("timer {} of state `{sid}`", i + 1),
                };
                let Some(rt) = self.item::<RawTimer>(tv, &tpath, &what) else {
                    continue;
                };
                let name = rt
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("timer_{}", i + 1));
                if !names.insert(name.clone()) {
                    self.problem(
                        &child_path(&tpath, "name"),
                        format!("timer `{name}` is declared twice in state `{sid}`"),
                    );
                }
                let count = [rt.after.is_some(), rt.every.is_some(), rt.at.is_some()]
                    .iter()
                    .filter(|b| **b)
                    .count();
                let meant = |l: &Self, keys: &[&str]| {
                    keys.iter()
                        .any(|k| l.misspelt.contains(&child_path(&tpath, k)))
                };
                if count > 1 || (count == 0 && !meant(self, &["after", "every", "at"])) {
                    self.problem(
                        &tpath,
                        "a timer needs exactly one of `after`, `every` or `at`",
                    );
                }
                let schedule = if count != 1 {
                    None
                } else if let Some(a) = &rt.after {
                    self.span(a, &child_path(&tpath, "after"))
                        .map(Schedule::After)
                } else if let Some(e) = &rt.every {
                    self.span(e, &child_path(&tpath, "every"))
                        .map(Schedule::Every)
                } else if let Some(f) = &rt.at {
                    let field = f.strip_prefix("fields.").unwrap_or(f).to_owned();
                    let offset = match &rt.offset {
                        None => Some(None),
                        Some(o) => {
                            let (neg, body) = match o.trim().strip_prefix('-') {
                                Some(rest) => (true, rest.trim()),
                                None => (false, o.trim().trim_start_matches('+').trim()),
                            };
                            self.span(body, &child_path(&tpath, "offset"))
                                .map(|s| Some((neg, s)))
                        }
                    };
                    offset.map(|offset| Schedule::At { field, offset })
                } else {
                    None
                };
                if rt.offset.is_some() && rt.at.is_none() {
                    self.problem(&child_path(&tpath, "offset"), "`offset` goes with `at`");
                }
                if rt.run.is_none() && rt.action.is_none() && !meant(self, &["run", "action"]) {
                    self.problem(
                        &tpath,
                        "a timer needs `run` (a script), `action` (a system action) or both",
                    );
                }
                let run = rt
                    .run
                    .as_deref()
                    .and_then(|s| self.compile(s, Kind::Effect, &child_path(&tpath, "run")));
                let when = rt
                    .when
                    .as_deref()
                    .and_then(|s| self.compile(s, Kind::Expr, &child_path(&tpath, "when")));
                // A timer whose schedule is broken (reported above) is kept with a
                // stand-in, so that its action and `cancel_timer` are still checked; the
                // definition is refused anyway.
                let schedule = schedule.unwrap_or(Schedule::After(Span::Fixed(0)));
                timers.push(Timer {
                    name,
                    schedule,
                    run,
                    action: rt.action,
                    when,
                    description: rt.description,
                });
            }
            states.push(State {
                label: raw.label.unwrap_or_else(|| sid.clone()),
                id: sid,
                is_final: raw.is_final,
                tags: raw.tags,
                description: raw.description,
                on_enter,
                on_exit,
                timers,
            });
        }
        let non_final: Vec<String> = states
            .iter()
            .filter(|s| !s.is_final)
            .map(|s| s.id.clone())
            .collect();

        // actions
        let mut actions = Vec::new();
        for (aid, v) in self.entries(section("actions"), "actions", "action") {
            let path = child_path("actions", &aid);
            let Some(raw) = self.item::<RawAction>(v, &path, &format!("action `{aid}`")) else {
                continue;
            };
            let mut inputs = Vec::new();
            let inputs_path = child_path(&path, "inputs");
            let inputs_v = raw.inputs.clone().unwrap_or(Value::Null);
            for (iname, iv) in self.entries(&inputs_v, &inputs_path, "input") {
                let ipath = child_path(&inputs_path, &iname);
                if let Some(f) = self.field(&iname, iv, &ipath, "input") {
                    inputs.push(f);
                }
            }
            let from = match &raw.from {
                None => None,
                Some(Value::String(s)) if s == "*" => Some(non_final.clone()),
                Some(f) => self.strings(f, &child_path(&path, "from"), "state id"),
            };
            let to = match &raw.to {
                None | Some(Value::Null) => Target::Stay,
                Some(Value::String(s)) => Target::To(s.clone()),
                Some(t) => match self.strings(t, &child_path(&path, "to"), "state id") {
                    Some(v) if v.len() == 1 => Target::To(v[0].clone()),
                    Some(v) => Target::Choice(v),
                    None => Target::Stay,
                },
            };
            let by = match &raw.by {
                None => Vec::new(),
                Some(by) => self
                    .strings(by, &child_path(&path, "by"), "role")
                    .unwrap_or_default(),
            };
            let guards = match &raw.guard {
                None => Vec::new(),
                Some(g) => self.checks(
                    g,
                    &child_path(&path, "guard"),
                    &format!("guard of action `{aid}`"),
                    "This action is not allowed now",
                ),
            };
            for f in &inputs {
                if f.choices.as_ref().is_some_and(|c| c.guard)
                    && !guards.iter().any(|g| g.reads_only_input(&f.name))
                {
                    self.problem(
                        &child_path(&child_path(&inputs_path, &f.name), "choices"),
                        format!(
                            "`choices` filters `{}` by the guard, but no guard of action `{aid}` reads `inputs.{}` (and no other input)",
                            f.name, f.name
                        ),
                    );
                }
            }
            let run = raw
                .run
                .as_deref()
                .and_then(|s| self.compile(s, Kind::Effect, &child_path(&path, "run")));
            let shows = match &raw.shows {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => self
                    .strings(v, &child_path(&path, "shows"), "field name")
                    .unwrap_or_default(),
            };
            actions.push(Action {
                id: aid,
                label: raw.label,
                description: raw.description,
                from,
                to,
                by,
                default: raw.default,
                inputs,
                guards,
                run,
                unavailable: raw.unavailable,
                shows,
            });
        }

        let checks = self.checks(
            section("checks"),
            "checks",
            "check",
            "The case's fields are not consistent",
        );

        // views
        let mut views = Vec::new();
        for (name, v) in self.entries(section("views"), "views", "view") {
            let path = child_path("views", &name);
            let Some(raw) = self.item::<RawView>(v, &path, &format!("view `{name}`")) else {
                continue;
            };
            let viewer = match &raw.viewer {
                None => Vec::new(),
                Some(v) => self
                    .strings(v, &child_path(&path, "viewer"), "role")
                    .unwrap_or_default(),
            };
            let filter = raw
                .filter
                .as_deref()
                .and_then(|s| self.compile(s, Kind::Expr, &child_path(&path, "filter")));
            let sort = match raw.sort.as_deref() {
                None => Sort {
                    key: "updated".into(),
                    descending: true,
                },
                Some(s) => {
                    let (descending, key) = match s.strip_prefix('-') {
                        Some(k) => (true, k),
                        None => (false, s),
                    };
                    Sort {
                        key: key.trim().to_owned(),
                        descending,
                    }
                }
            };
            let labels = match &raw.labels {
                None => Vec::new(),
                Some(m) => self.view_labels(m, &child_path(&path, "labels")),
            };
            views.push(View {
                title: raw.title.unwrap_or_else(|| name.clone()),
                name,
                description: raw.description,
                states: raw.states.unwrap_or_default(),
                viewer,
                filter,
                sort,
                labels,
            });
        }

        // exports
        let mut exports = Vec::new();
        for (name, v) in self.entries(section("exports"), "exports", "export") {
            let path = child_path("exports", &name);
            let what = format!("export `{name}`");
            let Some(raw) = self.item::<RawExport>(v, &path, &what) else {
                continue;
            };
            let cpath = child_path(&path, "columns");
            let mut columns = Vec::new();
            match &raw.columns {
                Some(Value::Object(cols)) => {
                    for (cname, cv) in cols {
                        let p = child_path(&cpath, cname);
                        match cv {
                            Value::String(expr) => {
                                if let Some(s) = self.compile(expr, Kind::Expr, &p) {
                                    columns.push((cname.clone(), s));
                                }
                            }
                            _ => self.problem(
                                &p,
                                "a column is an expression, e.g. `fields.client_name`",
                            ),
                        }
                    }
                }
                None if self.misspelt.contains(&cpath) => {}
                None => self.key_problem(
                    &path,
                    format!("{what} needs `columns`: a map of column names to expressions"),
                ),
                Some(_) => self.problem(
                    &cpath,
                    "`columns` must be a map of column names to expressions",
                ),
            }
            exports.push(Export {
                title: raw.title.unwrap_or_else(|| name.clone()),
                name,
                description: raw.description,
                states: raw.states.unwrap_or_default(),
                each: raw.each,
                columns,
            });
        }

        let mut def = Definition {
            id,
            version,
            title,
            description,
            file: self.file.clone(),
            source: text.to_owned(),
            hash: hex(Sha256::digest(text.as_bytes()).as_slice()),
            settings,
            roles,
            fields,
            checks,
            states,
            actions,
            templates,
            views,
            exports,
            spans: Arc::clone(&self.spans),
            index: Default::default(),
        };
        def.build_index();
        self.cross_check(&def);
        Some(def)
    }

    /// Every reference between parts of the definition, and the shape of the graph.
    fn cross_check(&mut self, d: &Definition) {
        let state_ids: Vec<&str> = d.states.iter().map(|s| s.id.as_str()).collect();
        let role_names: Vec<&str> = d.roles.iter().map(|r| r.name.as_str()).collect();
        let action_ids: Vec<&str> = d.actions.iter().map(|a| a.id.as_str()).collect();

        if d.states.is_empty() {
            self.problem("states", "a workflow needs at least one state");
        }
        // the actions a message invites: actions on a case that people do
        for t in &d.templates {
            for (i, id) in t.actions.iter().enumerate() {
                let path = format!("templates.{}.actions[{i}]", t.name);
                match d.action(id) {
                    None => {
                        let h = hint(id, &action_ids);
                        self.problem(&path, format!("unknown action `{id}` in `actions` of template `{}`{h}", t.name));
                    }
                    Some(a) if a.is_start() || a.system_only() => self.problem(
                        &path,
                        format!(
                            "template `{}` cannot invite `{id}`: only actions that people do on a case can be linked from a message",
                            t.name
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        // fields
        for f in &d.fields {
            let path = format!("fields.{}", f.name);
            self.check_field(d, f, &path);
            if f.private && f.required {
                // fine: private fields may be required
            }
        }
        // actions
        let mut defaults = 0;
        for a in &d.actions {
            let path = format!("actions.{}", a.id);
            if a.is_start() && !a.shows.is_empty() {
                self.problem(
                    &format!("{path}.shows"),
                    format!(
                        "start action `{}` has no case whose fields `shows` could show",
                        a.id
                    ),
                );
            }
            for (i, name) in a.shows.iter().enumerate() {
                if a.is_start() {
                    break;
                }
                // `nearest` falls back to `shows` itself when it is one name, not a list
                let p = format!("{path}.shows[{i}]");
                match d.field(name) {
                    Some(f) if f.private => self.problem(
                        &p,
                        format!(
                            "field `{name}` is private; `shows` would put it in front of everyone who may do action `{}`",
                            a.id
                        ),
                    ),
                    Some(_) => {}
                    None if self.declared("fields", name) => {}
                    None => {
                        let h = hint(name, d.fields.iter().map(|f| f.name.as_str()));
                        self.problem(
                            &p,
                            format!("unknown field `{name}` in `shows` of action `{}`{h}", a.id),
                        );
                    }
                }
            }
            if let Some(from) = &a.from {
                if from.is_empty() && a.from.is_some() {
                    self.problem(&format!("{path}.from"), "`from` lists no state");
                }
                for (i, s) in from.iter().enumerate() {
                    if d.state(s).is_none() {
                        let p = if from.len() == 1 {
                            format!("{path}.from")
                        } else {
                            format!("{path}.from[{i}]")
                        };
                        let h = hint(s, &state_ids);
                        self.problem(
                            &p,
                            format!("unknown state `{s}` in `from` of action `{}`{h}", a.id),
                        );
                    }
                }
            } else {
                if a.default {
                    defaults += 1;
                }
                if a.to == Target::Stay && !self.misspelt.contains(&format!("{path}.to")) {
                    self.problem(
                        &path,
                        format!(
                            "start action `{}` needs `to`: the state a new case starts in",
                            a.id
                        ),
                    );
                }
            }
            if a.default && !a.is_start() {
                self.problem(
                    &format!("{path}.default"),
                    "`default` is only for start actions (actions without `from`)",
                );
            }
            let targets = a.to.states();
            for (i, s) in targets.iter().enumerate() {
                if d.state(s).is_none() {
                    let p = if targets.len() == 1 {
                        format!("{path}.to")
                    } else {
                        format!("{path}.to[{i}]")
                    };
                    let h = hint(s, &state_ids);
                    self.problem(
                        &p,
                        format!("unknown state `{s}` in `to` of action `{}`{h}", a.id),
                    );
                }
            }
            if let Some(from) = &a.from {
                for s in from {
                    if d.is_final(s) && targets.iter().any(|t| t != s) {
                        self.problem(
                            &format!("{path}.from"),
                            format!(
                                "final state `{s}` cannot be left, but action `{}` leads out of it",
                                a.id
                            ),
                        );
                    }
                }
            }
            if a.by.is_empty() && !self.misspelt.contains(&format!("{path}.by")) {
                self.problem(
                    &format!("{path}.by"),
                    format!("action `{}` needs `by`: the roles that may do it", a.id),
                );
            }
            for (i, r) in a.by.iter().enumerate() {
                if r != "system" && r != "anyone" && d.role(r).is_none() {
                    let p = if a.by.len() == 1 {
                        format!("{path}.by")
                    } else {
                        format!("{path}.by[{i}]")
                    };
                    let h = hint(r, &role_names);
                    self.problem(
                        &p,
                        format!("unknown role `{r}` in `by` of action `{}`{h}", a.id),
                    );
                }
            }
            for (i, g) in a.guards.iter().enumerate() {
                for s in &g.suggest {
                    if d.action(s).is_none() && !self.declared("actions", s) {
                        let h = hint(s, &action_ids);
                        self.problem(
                            &format!("{path}.guard[{i}].suggest"),
                            format!("unknown action `{s}` in `suggest`{h}"),
                        );
                    }
                }
            }
            for f in &a.inputs {
                self.check_field(d, f, &format!("{path}.inputs.{}", f.name));
            }
            // inputs that are written but broken count as known (their problems are reported)
            let written = self.spans.children(&format!("{path}.inputs"));
            let input_names: Vec<&str> = written
                .iter()
                .filter_map(|p| p.rsplit('.').next())
                .chain(a.inputs.iter().map(|f| f.name.as_str()))
                .collect();
            for g in &a.guards {
                for s in std::iter::once(&g.when).chain(&g.message_script) {
                    let p = s.place.path.clone();
                    self.check_refs(d, s, Some(&input_names), None, &p);
                }
            }
            if let Some(run) = &a.run {
                let choices = match &a.to {
                    Target::Choice(c) => Some(c.as_slice()),
                    _ => None,
                };
                self.check_refs(
                    d,
                    run,
                    Some(&input_names),
                    Some(choices.unwrap_or(&[])),
                    &format!("{path}.run"),
                );
                if choices.is_some() && !run.source.contains("goto") {
                    self.problem(&format!("{path}.to"), format!("action `{}` lists several targets, so its `run` must pick one with `goto(state)`", a.id));
                }
            } else if matches!(a.to, Target::Choice(_)) {
                self.problem(&format!("{path}.to"), format!("action `{}` lists several targets, so it needs a `run` that picks one with `goto(state)`", a.id));
            }
        }
        if d.start_actions().next().is_none() && self.graph_is_whole(d) {
            self.problem(
                "actions",
                "no start action: at least one action must have no `from` (it creates cases)",
            );
        }
        if defaults > 1 {
            self.problem(
                "actions",
                "more than one start action is marked `default: true`",
            );
        }
        for c in &d.checks {
            for s in std::iter::once(&c.when).chain(&c.message_script) {
                let p = s.place.path.clone();
                self.check_refs(d, s, None, None, &p);
            }
        }
        for t in &d.templates {
            self.check_refs(
                d,
                &t.subject,
                None,
                None,
                &format!("templates.{}.subject", t.name),
            );
            self.check_refs(
                d,
                &t.body,
                None,
                None,
                &format!("templates.{}.body", t.name),
            );
        }
        // states and timers
        for s in &d.states {
            let path = format!("states.{}", s.id);
            if s.is_final && !s.timers.is_empty() {
                self.problem(
                    &format!("{path}.timers"),
                    format!("final state `{}` cannot have timers", s.id),
                );
            }
            for hook in [&s.on_enter, &s.on_exit].into_iter().flatten() {
                let p = hook.place.path.clone();
                self.check_refs(d, hook, None, None, &p);
            }
            for (i, t) in s.timers.iter().enumerate() {
                let tpath = format!("{path}.timers[{i}]");
                if let Some(aid) = &t.action {
                    match d.action(aid) {
                        None if self.declared("actions", aid) => {}
                        None => {
                            let h = hint(aid, &action_ids);
                            self.problem(&format!("{tpath}.action"), format!("unknown action `{aid}`{h}"));
                        }
                        Some(a) if !a.starts_from(&s.id) => self.problem(
                            &format!("{tpath}.action"),
                            format!("timer action `{aid}` does not start from state `{}` (add it to the action's `from`)", s.id),
                        ),
                        Some(_) => {}
                    }
                }
                if let Schedule::At { field, .. } = &t.schedule {
                    match d.field(field) {
                        Some(f) if matches!(f.kind, FieldType::Date | FieldType::DateTime) => {}
                        Some(f) => self.problem(
                            &format!("{tpath}.at"),
                            format!(
                                "`at` needs a date or datetime field; `{field}` is a {}",
                                f.kind.name()
                            ),
                        ),
                        None if self.declared("fields", field) => {}
                        None => {
                            let h = hint(field, d.fields.iter().map(|f| f.name.as_str()));
                            self.problem(
                                &format!("{tpath}.at"),
                                format!("unknown field `{field}`{h}"),
                            );
                        }
                    }
                }
                if let Some(run) = &t.run {
                    let p = run.place.path.clone();
                    self.check_refs(d, run, None, None, &p);
                }
                if let Some(when) = &t.when {
                    let p = when.place.path.clone();
                    self.check_refs(d, when, None, None, &p);
                }
            }
        }
        // views
        for v in &d.views {
            let path = format!("views.{}", v.name);
            self.check_states(&v.states, &format!("{path}.states"), &state_ids);
            if v.viewer.is_empty() && !self.misspelt.contains(&format!("{path}.viewer")) {
                self.problem(
                    &format!("{path}.viewer"),
                    "a view needs `viewer`: the roles that see it",
                );
            }
            for r in &v.viewer {
                if d.role(r).is_none() {
                    let h = hint(r, &role_names);
                    self.problem(
                        &format!("{path}.viewer"),
                        format!("unknown role `{r}` in `viewer`{h}"),
                    );
                }
            }
            let builtin = ["created", "updated", "id"];
            if !builtin.contains(&v.sort.key.as_str())
                && d.field(&v.sort.key).is_none()
                && !self.declared("fields", &v.sort.key)
            {
                self.problem(
                    &format!("{path}.sort"),
                    format!(
                        "cannot sort by `{}`: use created, updated, id or a field name",
                        v.sort.key
                    ),
                );
            }
            if let Some(f) = &v.filter {
                self.check_refs(d, f, None, None, &format!("{path}.filter"));
            }
            for (state, rules) in &v.labels {
                let lpath = format!("{path}.labels.{state}");
                if !state_ids.contains(&state.as_str()) {
                    let h = hint(state, &state_ids);
                    self.problem(&lpath, format!("unknown state `{state}` in `labels`{h}"));
                } else if !v.states.is_empty() && !v.states.contains(state) {
                    self.problem(
                        &lpath,
                        format!(
                            "state `{state}` has a label but the view does not list it in `states`"
                        ),
                    );
                }
                for w in rules.iter().filter_map(|r| r.when.as_ref()) {
                    let p = w.place.path.clone();
                    self.check_refs(d, w, None, None, &p);
                }
            }
        }
        // exports
        for e in &d.exports {
            let path = format!("exports.{}", e.name);
            self.check_states(&e.states, &format!("{path}.states"), &state_ids);
            if let Some(each) = &e.each {
                let name = each.strip_prefix("fields.").unwrap_or(each);
                match d.field(name) {
                    Some(f) if f.kind == FieldType::List => {}
                    Some(_) => self.problem(
                        &format!("{path}.each"),
                        format!("`each` needs a list field; `{name}` is not a list"),
                    ),
                    None if self.declared("fields", name) => {}
                    None => self.problem(
                        &format!("{path}.each"),
                        format!(
                            "unknown field `{name}` in `each`{}",
                            hint(name, d.fields.iter().map(|f| f.name.as_str()))
                        ),
                    ),
                }
            }
            for (c, s) in &e.columns {
                self.check_refs(d, s, None, None, &format!("{path}.columns.{c}"));
            }
        }
        self.check_graph(d);
    }

    fn check_states(&mut self, states: &[String], path: &str, known: &[&str]) {
        for (i, s) in states.iter().enumerate() {
            if !known.contains(&s.as_str()) {
                let h = hint(s, known);
                self.problem(&format!("{path}[{i}]"), format!("unknown state `{s}`{h}"));
            }
        }
    }

    fn check_field(&mut self, d: &Definition, f: &Field, path: &str) {
        if let Some(OneOf::Setting(name)) = &f.one_of {
            match d.setting(name) {
                Some(s) if s.kind == FieldType::List => {}
                Some(_) => self.problem(
                    &format!("{path}.one_of"),
                    format!("setting `{name}` is not a list"),
                ),
                None if self.declared("settings", name) => {}
                None => {
                    let h = hint(name, d.settings.iter().map(|s| s.name.as_str()));
                    self.problem(
                        &format!("{path}.one_of"),
                        format!("unknown setting `{name}`{h}"),
                    );
                }
            }
        }
        if let Some(def) = &f.default {
            if !def.is_null() {
                if let Err(e) = f.check(def, &d.default_settings()) {
                    self.problem(&format!("{path}.default"), format!("default {e}"));
                }
            }
        }
    }

    /// Static checks of what a script names: fields, inputs, settings, roles, templates, states.
    fn check_refs(
        &mut self,
        d: &Definition,
        s: &Script,
        inputs: Option<&[&str]>,
        goto: Option<&[String]>,
        path: &str,
    ) {
        // Reference positions are lexed from the script's own text, so they map directly.
        let at = |line: usize, col: usize| s.spans.script_pos(&s.place.path, line, col);
        for r in script::references(&s.source) {
            match r {
                Reference::Member {
                    object,
                    name,
                    line,
                    column,
                } => {
                    let problem = match object.as_str() {
                        "fields" if d.field(&name).is_none() && !self.declared("fields", &name) => {
                            Some(format!(
                                "unknown field `{name}`{}",
                                hint(&name, d.fields.iter().map(|f| f.name.as_str()))
                            ))
                        }
                        "settings"
                            if d.setting(&name).is_none() && !self.declared("settings", &name) =>
                        {
                            Some(format!(
                                "unknown setting `{name}`{}",
                                hint(&name, d.settings.iter().map(|f| f.name.as_str()))
                            ))
                        }
                        "inputs" => match inputs {
                            Some(known) if !known.contains(&name.as_str()) => {
                                Some(format!("unknown input `{name}`{}", hint(&name, known)))
                            }
                            _ => None,
                        },
                        "case"
                            if !CASE_KEYS.contains(&name.as_str())
                                && d.role(&name).is_none_or(|r| !r.is_case_role()) =>
                        {
                            let extra = if d.field(&name).is_some() {
                                format!("; fields are read as `fields.{name}`")
                            } else {
                                hint(&name, d.roles.iter().map(|r| r.name.as_str()))
                            };
                            Some(format!(
                                "`case.{name}` is neither a case property nor a case role{extra}"
                            ))
                        }
                        _ => None,
                    };
                    if let Some(msg) = problem {
                        let pos = at(line, column);
                        self.problem_at(path, pos, msg);
                    }
                }
                Reference::Method {
                    function,
                    method,
                    property,
                    line,
                    column,
                } => {
                    let Some(f) = crate::script_host::function(&function) else {
                        continue;
                    };
                    let Some(ty) = f.gives.type_id() else {
                        continue;
                    };
                    let (asked, shown) = if property {
                        (format!("get${method}"), format!("`.{method}`"))
                    } else {
                        (method.clone(), format!("`.{method}()`"))
                    };
                    if !self.scripts.has_method(ty, &asked) {
                        let words = f.gives.words();
                        let pos = at(line, column);
                        self.problem_at(
                            path,
                            pos,
                            format!(
                                "`{function}(…)` gives {words} ({}); {words} has no {shown}",
                                f.meaning
                            ),
                        );
                    }
                }
                Reference::Call {
                    name,
                    args,
                    line,
                    column,
                } => {
                    let arg = |i: usize| args.get(i).cloned().flatten();
                    let mut problems = Vec::new();
                    match name.as_str() {
                        "notify" => {
                            if let Some(t) = arg(1) {
                                if d.template(&t).is_none() && !self.declared("templates", &t) {
                                    problems.push(format!("unknown template `{t}`{}", hint(&t, d.templates.iter().map(|t| t.name.as_str()))));
                                }
                            }
                        }
                        "notify_role" | "assign" | "unassign" => {
                            if let Some(r) = arg(0) {
                                match d.role(&r) {
                                    Some(role) if role.is_case_role() => {}
                                    Some(_) if name == "notify_role" => {}
                                    Some(_) => problems.push(format!("`{r}` is a directory role; `{name}` takes a case role")),
                                    None => problems.push(format!("unknown role `{r}`{}", hint(&r, d.roles.iter().map(|r| r.name.as_str())))),
                                }
                            }
                            if name == "notify_role" {
                                if let Some(t) = arg(1) {
                                    if d.template(&t).is_none() && !self.declared("templates", &t) {
                                        problems.push(format!("unknown template `{t}`{}", hint(&t, d.templates.iter().map(|t| t.name.as_str()))));
                                    }
                                }
                            }
                        }
                        "goto" => match goto {
                            None => problems.push("`goto` is only for the `run` of an action whose `to` lists several states".to_owned()),
                            Some(choices) => {
                                if let Some(st) = arg(0) {
                                    if !choices.contains(&st) {
                                        problems.push(format!("`goto(\"{st}\")`: `{st}` is not one of this action's `to` states ({})", choices.join(", ")));
                                    }
                                }
                            }
                        },
                        "cancel_timer" => {
                            if let Some(t) = arg(0) {
                                if !d.states.iter().any(|s| s.timers.iter().any(|x| x.name == t)) {
                                    problems.push(format!("unknown timer `{t}`"));
                                }
                            }
                        }
                        _ => {}
                    }
                    for msg in problems {
                        let pos = at(line, column);
                        self.problem_at(path, pos, msg);
                    }
                }
            }
        }
        for (key, value, line, column) in script::map_literal_strings(&s.source, "spawn_copy") {
            if key == "state" && d.state(&value).is_none() {
                let pos = at(line, column);
                self.problem_at(path, pos, format!("unknown state `{value}` in spawn_copy"));
            }
        }
    }

    /// Whether every action of the file was built with its `from` and `to` as meant: only
    /// then do "cannot be reached", "no way out" and "no start action" say something true.
    fn graph_is_whole(&self, d: &Definition) -> bool {
        self.spans.children("actions").len() == d.actions.len()
            && !d.actions.iter().any(|a| {
                ["from", "to"]
                    .iter()
                    .any(|k| self.misspelt.contains(&format!("actions.{}.{k}", a.id)))
            })
    }

    fn check_graph(&mut self, d: &Definition) {
        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        for a in d.start_actions() {
            for s in a.to.states() {
                if reached.insert(s) {
                    queue.push_back(s);
                }
            }
        }
        for s in d.actions.iter().filter_map(|a| a.run.as_ref()).chain(
            d.states
                .iter()
                .flat_map(|s| s.on_enter.iter().chain(s.on_exit.iter())),
        ) {
            for (k, v, _, _) in script::map_literal_strings(&s.source, "spawn_copy") {
                if k == "state" {
                    if let Some(st) = d.state(&v) {
                        if reached.insert(st.id.as_str()) {
                            queue.push_back(st.id.as_str());
                        }
                    }
                }
            }
        }
        while let Some(s) = queue.pop_front() {
            for a in &d.actions {
                if a.starts_from(s) {
                    for t in a.to.states() {
                        if d.state(t).is_some() && reached.insert(t) {
                            queue.push_back(t);
                        }
                    }
                }
            }
        }
        if d.start_actions().next().is_none() || !self.graph_is_whole(d) {
            return;
        }
        for s in &d.states {
            let path = format!("states.{}", s.id);
            if !reached.contains(s.id.as_str()) {
                self.key_problem(
                    &path,
                    format!(
                        "state `{}` cannot be reached: no action leads to it from a start action",
                        s.id
                    ),
                );
            }
            if !s.is_final {
                let leaves = d
                    .actions
                    .iter()
                    .any(|a| a.starts_from(&s.id) && a.to.states().iter().any(|t| *t != s.id));
                if !leaves {
                    self.key_problem(&path, format!("state `{}` is not final but no action leads out of it (mark it `final: true` or add an action)", s.id));
                }
            }
        }
    }
}

/// serde's "invalid type: string \"maybe\", expected a boolean" as "`final` must be true or
/// false, got the text \"maybe\"".
fn in_words(msg: &str, key: &str) -> String {
    let Some((got, expected)) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
        .and_then(|r| r.rsplit_once(", expected "))
    else {
        return msg.to_owned();
    };
    let expected = match expected {
        "a boolean" => "true or false",
        "a string" => "text",
        "a sequence" => "a list",
        "usize" | "u32" | "u64" => "a whole number of 0 or more",
        "f64" => "a number",
        e if e.starts_with("struct ") || e == "a map" => "a map",
        e => e,
    };
    let unquote = |s: &str| s.trim_matches('`').to_owned();
    let got = if let Some(text) = got.strip_prefix("string ") {
        format!("the text {text}")
    } else if let Some(n) = got
        .strip_prefix("integer ")
        .or_else(|| got.strip_prefix("floating point "))
    {
        format!("the number {}", unquote(n))
    } else if let Some(b) = got.strip_prefix("boolean ") {
        unquote(b)
    } else {
        match got {
            "sequence" => "a list".to_owned(),
            "map" => "a map".to_owned(),
            "unit value" | "null" => "nothing".to_owned(),
            other => other.to_owned(),
        }
    };
    format!("`{key}` must be {expected}, got {got}")
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn serde_messages_in_words() {
        assert_eq!(
            in_words(
                "invalid type: string \"maybe\", expected a boolean",
                "final"
            ),
            "`final` must be true or false, got the text \"maybe\""
        );
        assert_eq!(
            in_words("invalid type: integer `3`, expected a string", "label"),
            "`label` must be text, got the number 3"
        );
        assert_eq!(
            in_words("invalid value: integer `-1`, expected usize", "max_length"),
            "`max_length` must be a whole number of 0 or more, got the number -1"
        );
        assert_eq!(in_words("something else", "x"), "something else");
    }

    #[test]
    fn ids() {
        assert!(is_ident("need_action"));
        assert!(!is_ident("need-action"));
        assert!(!is_ident("1x"));
    }
}
