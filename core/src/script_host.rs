//! Host functions of the sandbox: what effects may do and what any script may ask.
//!
//! [`FUNCTIONS`] lists each one with what it gives back; the language reference
//! (docs/language.md, "Host functions") shows the same table, and a test keeps the two in
//! step. The loader uses it to catch, at load time, a method the result does not have
//! (`open_cases(x).len()`), and the sandbox to explain one at run time.

use std::any::TypeId;

use std::cell::RefCell;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rhai::{Dynamic, EvalAltResult, Map as RMap};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::script::{to_dynamic, to_json, Mode, Op, CTX};
use crate::store::{self, DirectoryReads};

type R<T> = Result<T, Box<EvalAltResult>>;

/// What a host function gives back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gives {
    /// Nothing (`()`): the function is called for what it does.
    Nothing,
    /// A whole number.
    Int,
    /// Text.
    Text,
    /// A list.
    List,
    /// A map, or `()` when there is none.
    MapOrNothing,
}

impl Gives {
    /// The rhai type of the value, when it is always the same.
    pub(crate) fn type_id(self) -> Option<TypeId> {
        match self {
            Gives::Nothing => Some(TypeId::of::<()>()),
            Gives::Int => Some(TypeId::of::<rhai::INT>()),
            Gives::Text => Some(TypeId::of::<rhai::ImmutableString>()),
            Gives::List => Some(TypeId::of::<rhai::Array>()),
            Gives::MapOrNothing => None,
        }
    }

    /// The type in words.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Gives::Nothing => "nothing",
            Gives::Int => "a whole number",
            Gives::Text => "text",
            Gives::List => "a list",
            Gives::MapOrNothing => "a map or nothing",
        }
    }
}

/// One host function as the reference describes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostFunction {
    /// Its name.
    pub(crate) name: &'static str,
    /// How it is called, as the reference writes it (one per form).
    #[allow(dead_code)] // read by the test that keeps docs/language.md in step
    pub(crate) calls: &'static [&'static str],
    /// Where it may be used: `effects` or `any` script.
    #[allow(dead_code)] // read by the test that keeps docs/language.md in step
    pub(crate) used_in: &'static str,
    /// What it gives back.
    pub(crate) gives: Gives,
    /// What the value means (or what the function does, when it gives nothing).
    pub(crate) meaning: &'static str,
}

const fn f(
    name: &'static str,
    calls: &'static [&'static str],
    used_in: &'static str,
    gives: Gives,
    meaning: &'static str,
) -> HostFunction {
    HostFunction {
        name,
        calls,
        used_in,
        gives,
        meaning,
    }
}

/// Every host function, in the reference's order.
pub(crate) const FUNCTIONS: &[HostFunction] = &[
    f("assign", &["assign(role, person)"], "effects", Gives::Nothing, "gives a person a case role (replaces the holder unless the role is `many`)"),
    f("unassign", &["unassign(role)", "unassign(role, person)"], "effects", Gives::Nothing, "removes everyone, or one person, from the role"),
    f("add_note", &["add_note(text)"], "effects", Gives::Nothing, "adds a note to the case's history"),
    f("notify", &["notify(to, template)", "notify(to, template, data)"], "effects", Gives::Nothing, "queues a notification to a person id or list of ids (`()` is skipped)"),
    f("notify_role", &["notify_role(role, template[, data])"], "effects", Gives::Nothing, "to everyone holding a case role, or a directory role in the case's organisation"),
    f("goto", &["goto(state)"], "action `run`", Gives::Nothing, "chooses the target when `to` is a list"),
    f("spawn_copy", &["spawn_copy(#{ state: \"denied\", fields: #{...} })"], "effects", Gives::Nothing, "creates a linked copy of the case (its `parent` is this case) in that state"),
    f("emit", &["emit(kind, data)"], "effects", Gives::Nothing, "a typed signal for hosts (`schedule_exception`), delivered like notifications"),
    f("cancel_timer", &["cancel_timer(name)"], "effects", Gives::Nothing, "cancels a pending timer of this case"),
    f("fail", &["fail(message)", "fail(message, suggest)"], "effects", Gives::Nothing, "refuses the action with a message for the person (the script stops here)"),
    f("person", &["person(id)"], "any", Gives::MapOrNothing, "the person as a map (`id`, `name`, `email`, `org`, `roles` and their attributes), or `()` when there is no such person"),
    f("people", &["people(#{ role: \"mentor\", classification: \"active\" })"], "any", Gives::List, "the people (maps, as `person`) of the case's organisation with that directory role and attribute values (a list value matches when it shares an item), sorted by id"),
    f("open_cases", &["open_cases(person)", "open_cases(person, role)"], "any", Gives::Int, "how many cases of this workflow that are not in a final state the person holds a case role in (that role)"),
    f("assignments_since", &["assignments_since(person, role, instant)"], "any", Gives::Int, "how many times the person was given the role in cases of this workflow since the instant"),
    f("today", &["today()"], "any", Gives::Text, "today's date in the organisation's time zone, `YYYY-MM-DD`"),
    f("add_span", &["add_span(instant, span)"], "any", Gives::Text, "the instant (RFC 3339, UTC) plus a duration on the organisation's calendar (`\"-7 days\"` goes back)"),
    f("days_between", &["days_between(a, b)"], "any", Gives::Int, "whole days from date a to date b (negative when b is earlier)"),
];

/// A host function by name.
pub(crate) fn function(name: &str) -> Option<&'static HostFunction> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

thread_local! {
    static PENDING: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// An error a host function wants reported as itself (a storage failure), not as a script error.
pub(crate) fn take_pending_error() -> Option<Error> {
    PENDING.with(|p| p.borrow_mut().take())
}

fn pending(e: Error) -> Box<EvalAltResult> {
    let msg = e.to_string();
    PENDING.with(|p| *p.borrow_mut() = Some(e));
    msg.into()
}

fn record(name: &str, op: Op) -> R<()> {
    if !CTX.is_set() {
        return Err(format!("`{name}` is not available here").into());
    }
    CTX.with(|c| {
        let mut c = c.borrow_mut();
        if c.mode != Mode::Effect {
            return Err(format!(
                "`{name}` changes the case and cannot be used in a guard, check, filter or template; move it to `run`"
            )
            .into());
        }
        c.ops.push(op);
        Ok(())
    })
}

fn map_arg(d: &RMap) -> R<Map<String, Value>> {
    match to_json(&Dynamic::from_map(d.clone())) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(e.into()),
    }
}

fn ids(d: &Dynamic) -> R<Vec<String>> {
    if d.is_unit() {
        return Ok(Vec::new());
    }
    if d.is_string() {
        return Ok(vec![d.to_string()]);
    }
    if d.is_array() {
        let mut out = Vec::new();
        if let Some(a) = d.read_lock::<rhai::Array>() {
            for item in a.iter() {
                out.extend(ids(item)?);
            }
        }
        return Ok(out);
    }
    Err(format!(
        "a recipient must be a person id, a list of ids or (), got a {}",
        d.type_name()
    )
    .into())
}

/// Read the directory through the store, inside the running command's transaction.
fn with_db<T>(f: impl FnOnce(&dyn DirectoryReads) -> Result<T, Error>) -> R<T> {
    match store::with_directory(f) {
        Some(r) => r.map_err(pending),
        None => Err("the directory is not available here".into()),
    }
}

fn ctx_info() -> R<(
    String,
    String,
    DateTime<Utc>,
    std::sync::Arc<crate::time::BusinessCalendar>,
)> {
    if !CTX.is_set() {
        return Err("no case context".into());
    }
    Ok(CTX.with(|c| {
        let c = c.borrow();
        (c.org.clone(), c.workflow.clone(), c.now, c.calendar.clone())
    }))
}

fn parse_when(s: &str) -> R<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(format!("`{s}` is not a date or an RFC 3339 instant").into())
}

fn json_dyn(v: &Value) -> R<Dynamic> {
    to_dynamic(v).map_err(|e| e.into())
}

/// Register every host function on the engine.
pub(crate) fn register(engine: &mut rhai::Engine) {
    engine.register_fn("assign", |role: &str, person: &str| -> R<()> {
        record(
            "assign",
            Op::Assign {
                role: role.to_owned(),
                person: person.to_owned(),
            },
        )
    });
    engine.register_fn("assign", |_role: &str, _person: ()| -> R<()> {
        Err("assign: the person is empty (())".into())
    });
    engine.register_fn("unassign", |role: &str| -> R<()> {
        record(
            "unassign",
            Op::Unassign {
                role: role.to_owned(),
                person: None,
            },
        )
    });
    engine.register_fn("unassign", |role: &str, person: &str| -> R<()> {
        record(
            "unassign",
            Op::Unassign {
                role: role.to_owned(),
                person: Some(person.to_owned()),
            },
        )
    });
    engine.register_fn("add_note", |text: &str| -> R<()> {
        record(
            "add_note",
            Op::Note {
                text: text.to_owned(),
            },
        )
    });
    fn notify(to: Dynamic, template: &str, data: Map<String, Value>) -> R<()> {
        let to = ids(&to)?;
        record(
            "notify",
            Op::Notify {
                to,
                template: template.to_owned(),
                data,
            },
        )
    }
    engine.register_fn("notify", |to: Dynamic, template: &str| -> R<()> {
        notify(to, template, Map::new())
    });
    engine.register_fn(
        "notify",
        |to: Dynamic, template: &str, data: RMap| -> R<()> {
            notify(to, template, map_arg(&data)?)
        },
    );
    engine.register_fn("notify_role", |role: &str, template: &str| -> R<()> {
        record(
            "notify_role",
            Op::NotifyRole {
                role: role.to_owned(),
                template: template.to_owned(),
                data: Map::new(),
            },
        )
    });
    engine.register_fn(
        "notify_role",
        |role: &str, template: &str, data: RMap| -> R<()> {
            record(
                "notify_role",
                Op::NotifyRole {
                    role: role.to_owned(),
                    template: template.to_owned(),
                    data: map_arg(&data)?,
                },
            )
        },
    );
    engine.register_fn("goto", |state: &str| -> R<()> {
        record(
            "goto",
            Op::Goto {
                state: state.to_owned(),
            },
        )
    });
    engine.register_fn("spawn_copy", |spec: RMap| -> R<()> {
        let spec = map_arg(&spec)?;
        let state = match spec.get("state") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err("spawn_copy needs #{ state: \"...\" }".into()),
        };
        let fields = match spec.get("fields") {
            Some(Value::Object(m)) => m.clone(),
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err("spawn_copy: `fields` must be a map".into()),
        };
        record("spawn_copy", Op::Spawn { state, fields })
    });
    engine.register_fn("emit", |kind: &str, data: RMap| -> R<()> {
        record(
            "emit",
            Op::Emit {
                kind: kind.to_owned(),
                data: map_arg(&data)?,
            },
        )
    });
    engine.register_fn("cancel_timer", |name: &str| -> R<()> {
        record(
            "cancel_timer",
            Op::CancelTimer {
                name: name.to_owned(),
            },
        )
    });
    fn fail(message: &str, suggest: Vec<String>) -> R<()> {
        if CTX.is_set() {
            CTX.with(|c| c.borrow_mut().fail = Some((message.to_owned(), suggest)));
        }
        Err(message.to_owned().into())
    }
    engine.register_fn("fail", |message: &str| -> R<()> {
        fail(message, Vec::new())
    });
    engine.register_fn("fail", |message: &str, suggest: rhai::Array| -> R<()> {
        fail(message, suggest.iter().map(|s| s.to_string()).collect())
    });

    engine.register_fn("person", |id: &str| -> R<Dynamic> {
        let cache = CTX
            .is_set()
            .then(|| CTX.with(|c| c.borrow().engine.clone()));
        let p = with_db(|db| {
            let p = match cache.flatten() {
                Some(engine) => engine.stored_person(db, id)?,
                None => db.person(id)?,
            };
            Ok(p.map(|p| crate::script::person_dynamic(&p)))
        })?;
        match p {
            Some(m) => Ok(Dynamic::from_map(m?)),
            None => Ok(Dynamic::UNIT),
        }
    });
    engine.register_fn("person", |_id: ()| -> R<Dynamic> { Ok(Dynamic::UNIT) });
    engine.register_fn("people", |filter: RMap| -> R<rhai::Array> {
        let filter = map_arg(&filter)?;
        let (org, _, _, _) = ctx_info()?;
        let found = with_db(|db| store::people_matching(db, &org, &filter))?;
        let mut out = rhai::Array::with_capacity(found.len());
        for p in found {
            out.push(json_dyn(&Value::Object(p))?);
        }
        Ok(out)
    });
    engine.register_fn("open_cases", |person: &str| -> R<i64> {
        let (_, wf, _, _) = ctx_info()?;
        with_db(|db| db.open_cases(&wf, person, None))
    });
    engine.register_fn("open_cases", |person: &str, role: &str| -> R<i64> {
        let (_, wf, _, _) = ctx_info()?;
        with_db(|db| db.open_cases(&wf, person, Some(role)))
    });
    engine.register_fn(
        "assignments_since",
        |person: &str, role: &str, since: &str| -> R<i64> {
            let (_, wf, _, _) = ctx_info()?;
            let since = parse_when(since)?;
            with_db(|db| db.assignments_since(&wf, person, role, since))
        },
    );
    engine.register_fn("today", || -> R<String> {
        let (_, _, now, cal) = ctx_info()?;
        Ok(now
            .with_timezone(&cal.tz)
            .date_naive()
            .format("%Y-%m-%d")
            .to_string())
    });
    engine.register_fn("add_span", |when: &str, span: &str| -> R<String> {
        let (_, _, _, cal) = ctx_info()?;
        let t = parse_when(when)?;
        let (negative, text) = match span.trim().strip_prefix('-') {
            Some(rest) => (true, rest.trim()),
            None => (false, span.trim()),
        };
        let span: crate::time::Span = text
            .parse()
            .map_err(|e: crate::time::SpanError| e.to_string())?;
        let t = if negative {
            cal.sub(t, span)
        } else {
            cal.add(t, span)
        };
        Ok(t.to_rfc3339_opts(SecondsFormat::Secs, true))
    });
    engine.register_fn("days_between", |a: &str, b: &str| -> R<i64> {
        let a = parse_when(a)?;
        let b = parse_when(b)?;
        Ok(b.date_naive()
            .signed_duration_since(a.date_naive())
            .num_days())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's table of host functions, as docs/language.md must show it.
    fn reference_rows() -> Vec<String> {
        FUNCTIONS
            .iter()
            .map(|f| {
                let calls: Vec<String> = f.calls.iter().map(|c| format!("`{c}`")).collect();
                format!(
                    "| {} | {} | {} | {} |",
                    calls.join(", "),
                    f.used_in,
                    f.gives.words(),
                    f.meaning
                )
            })
            .collect()
    }

    #[test]
    fn the_language_reference_lists_every_host_function_with_what_it_gives() {
        let doc = include_str!("../../docs/language.md");
        let table: Vec<&str> = doc
            .split_once("| function | in | gives | meaning |")
            .expect("docs/language.md has the host function table")
            .1
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .collect();
        assert_eq!(table, reference_rows());
    }
}
