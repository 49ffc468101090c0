//! Host functions of the sandbox: what effects may do and what any script may ask.
//!
//! | function | in | does |
//! |----------|----|------|
//! | `assign(role, person)` | effects | adds `person` to the case role (replaces the holder unless the role is `many`) |
//! | `unassign(role)` / `unassign(role, person)` | effects | removes everyone / one person from the role |
//! | `add_note(text)` | effects | adds a note to the case's history |
//! | `notify(to, template)` / `notify(to, template, data)` | effects | queues a notification to a person id or a list of ids (`()` is ignored) |
//! | `notify_role(role, template[, data])` | effects | queues a notification to everyone in a case role |
//! | `goto(state)` | effects | picks the target of an action whose `to` is a list |
//! | `spawn_copy(#{ state: "...", fields: #{...} })` | effects | creates a linked copy of the case in that state |
//! | `emit(kind, data)` | effects | sends a typed event (not a message) to the host's hooks |
//! | `cancel_timer(name)` | effects | cancels a pending timer of this case |
//! | `fail(message)` / `fail(message, suggest)` | effects | refuses the action with a message for the person |
//! | `person(id)` | any | a person as a map, or `()` |
//! | `people(filter)` | any | people of the case's organisation matching a map of `role`, `org` and attribute values |
//! | `open_cases(person)` / `open_cases(person, role)` | any | cases of this workflow not in a final state where the person holds a role |
//! | `assignments_since(person, role, instant)` | any | how many cases of this workflow gave the person that role since the instant |
//! | `today()` | any | today's date in the organisation's time zone |
//! | `add_span(instant, span)` | any | an instant plus a duration (`"2 days"`, `"5 business days"`, or `"-7 days"` to go back) on the organisation's calendar |
//! | `days_between(a, b)` | any | whole days from date `a` to date `b` |

use std::cell::RefCell;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rhai::{Dynamic, EvalAltResult, Map as RMap};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::script::{to_dynamic, to_json, Mode, Op, CTX, DB};

type R<T> = Result<T, Box<EvalAltResult>>;

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

fn with_db<T>(f: impl FnOnce(&rusqlite::Connection) -> Result<T, Error>) -> R<T> {
    if !DB.is_set() {
        return Err("the directory is not available here".into());
    }
    DB.with(|db| f(db)).map_err(pending)
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
        let p = with_db(|db| crate::directory::script_person(db, id))?;
        match p {
            Some(m) => json_dyn(&Value::Object(m)),
            None => Ok(Dynamic::UNIT),
        }
    });
    engine.register_fn("person", |_id: ()| -> R<Dynamic> { Ok(Dynamic::UNIT) });
    engine.register_fn("people", |filter: RMap| -> R<rhai::Array> {
        let filter = map_arg(&filter)?;
        let (org, _, _, _) = ctx_info()?;
        let found = with_db(|db| crate::directory::script_people(db, &org, &filter))?;
        let mut out = rhai::Array::with_capacity(found.len());
        for p in found {
            out.push(json_dyn(&Value::Object(p))?);
        }
        Ok(out)
    });
    engine.register_fn("open_cases", |person: &str| -> R<i64> {
        let (_, wf, _, _) = ctx_info()?;
        with_db(|db| crate::store::open_cases(db, &wf, person, None))
    });
    engine.register_fn("open_cases", |person: &str, role: &str| -> R<i64> {
        let (_, wf, _, _) = ctx_info()?;
        with_db(|db| crate::store::open_cases(db, &wf, person, Some(role)))
    });
    engine.register_fn(
        "assignments_since",
        |person: &str, role: &str, since: &str| -> R<i64> {
            let (_, wf, _, _) = ctx_info()?;
            let since = parse_when(since)?;
            with_db(|db| crate::store::assignments_since(db, &wf, person, role, since))
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
