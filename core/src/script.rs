//! The rhai sandbox: one engine per runtime, limits, scripts compiled once at load with their
//! place in the workflow file, and the host functions that effects call.
//!
//! Scripts see these variables (all read-only snapshots taken before the script runs, except
//! `fields` in effects, whose changes are written back to the case):
//!
//! | variable   | what it holds |
//! |------------|---------------|
//! | `case`     | `id`, `workflow`, `version`, `state`, `org`, `revision`, `created_at`, `updated_at`, `parent`, `participants` (role → list of person ids), `fields`, and one key per case role holding its first person id (`case.mentor`) |
//! | `fields`   | the case's typed fields (every declared field is present; unset ones are `()`) |
//! | `actor`    | the acting person: `id`, `name`, `email`, `org`, `roles`, and their attributes (`classification`, `manager`, `focus_areas`, …); `system` for timers |
//! | `inputs`   | the action's inputs (every declared input is present) |
//! | `settings` | the organisation's settings over the workflow's defaults |
//! | `now`      | the current instant, RFC 3339 in UTC |
//! | `recipient`, `data` | in templates: the person notified and the data passed to `notify` |
//! | `item`     | in exports with `each:`: the list item of this row |
//! | `viewer`   | in view filters: the person looking |
//!
//! The sandbox has no file, network, process or clock access (`import`, `eval` and
//! `timestamp` do not exist), variables must be declared, and the limits in [`Limits`] apply.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rhai::{Dynamic, EvalAltResult, Map as RMap, Position, Scope, AST};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, ScriptPlace};
use crate::yaml::Spans;

/// Sandbox limits. Every one is enforced while a script runs; exceeding one fails the script
/// and rolls the whole command back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Most operations (roughly, evaluated expressions) one script run may take.
    pub max_operations: u64,
    /// Deepest function call nesting.
    pub max_call_levels: usize,
    /// Deepest expression nesting at global level.
    pub max_expr_depth: usize,
    /// Deepest expression nesting inside functions.
    pub max_function_expr_depth: usize,
    /// Longest string, in bytes.
    pub max_string_size: usize,
    /// Largest array.
    pub max_array_size: usize,
    /// Largest map.
    pub max_map_size: usize,
    /// Longest wall-clock time one script run may take, checked every 256 operations
    /// ([`Duration::ZERO`] for none). Operations alone do not bound time: one operation may
    /// copy a list or map as large as the size limits allow. Host functions called by the
    /// script count too.
    pub max_run_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 200_000,
            max_call_levels: 32,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 256 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_run_time: Duration::from_secs(5),
        }
    }
}

/// One limit's value, as [`Limits::get`] gives and [`Limits::set`] takes it by name (for
/// bindings and command lines that name limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    /// A count: operations, levels, bytes, items or entries.
    Count(u64),
    /// A duration: `max_run_time`.
    Time(Duration),
}

impl Limits {
    /// Every limit's name, in the order of the fields.
    pub const NAMES: [&'static str; 8] = [
        "max_operations",
        "max_call_levels",
        "max_expr_depth",
        "max_function_expr_depth",
        "max_string_size",
        "max_array_size",
        "max_map_size",
        "max_run_time",
    ];

    fn count_mut(&mut self, name: &str) -> Option<&mut usize> {
        Some(match name {
            "max_call_levels" => &mut self.max_call_levels,
            "max_expr_depth" => &mut self.max_expr_depth,
            "max_function_expr_depth" => &mut self.max_function_expr_depth,
            "max_string_size" => &mut self.max_string_size,
            "max_array_size" => &mut self.max_array_size,
            "max_map_size" => &mut self.max_map_size,
            _ => return None,
        })
    }

    /// A limit by name (`None` for an unknown name).
    pub fn get(&self, name: &str) -> Option<LimitValue> {
        match name {
            "max_operations" => Some(LimitValue::Count(self.max_operations)),
            "max_run_time" => Some(LimitValue::Time(self.max_run_time)),
            _ => {
                let mut copy = *self;
                let n = *copy.count_mut(name)?;
                Some(LimitValue::Count(u64::try_from(n).unwrap_or(u64::MAX)))
            }
        }
    }

    /// Change a limit by name. Fails, saying why, for an unknown name or a value of the wrong
    /// kind (see [`Limits::get`] for each limit's kind).
    pub fn set(&mut self, name: &str, value: LimitValue) -> std::result::Result<(), String> {
        match (name, value) {
            ("max_operations", LimitValue::Count(n)) => self.max_operations = n,
            ("max_run_time", LimitValue::Time(d)) => self.max_run_time = d,
            (_, LimitValue::Count(n)) => {
                *self.count_mut(name).ok_or_else(|| Self::refusal(name))? =
                    usize::try_from(n).unwrap_or(usize::MAX);
            }
            (_, LimitValue::Time(_)) => return Err(Self::refusal(name)),
        }
        Ok(())
    }

    /// Why a value cannot be set under this name.
    fn refusal(name: &str) -> String {
        match Self::default().get(name) {
            None => format!(
                "unknown limit `{name}`; the limits are {}",
                Self::NAMES.join(", ")
            ),
            Some(LimitValue::Time(_)) => format!("{name} is a duration"),
            Some(LimitValue::Count(_)) => format!("{name} is a whole number"),
        }
    }
}

thread_local! {
    /// Operations of the script running on this thread, closures called by native functions
    /// included (see [`Scripts::new`]).
    static OPERATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// When the script running on this thread must stop, if there is a time limit.
    static DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// What `on_progress` stops a script with when it runs out of time (out of operations: unit).
const OUT_OF_TIME: &str = "out of time";

/// Variables every script may name (strict variables are on).
pub(crate) const SCOPE_NAMES: &[&str] = &[
    "case",
    "fields",
    "actor",
    "inputs",
    "settings",
    "now",
    "recipient",
    "data",
    "item",
    "viewer",
];

/// The `Uses` bit for `case.fields` (past the scope names' bits).
const CASE_FIELDS: u16 = 1 << 15;

/// What kind of script it is, which decides what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An expression that must be true (guards, checks, view filters).
    Expr,
    /// Statements with effects (action `run`, state hooks, timers).
    Effect,
    /// An interpolated string (template subject and body).
    Template,
}

/// One compiled script and where it lives.
#[derive(Debug, Clone)]
pub struct Script {
    pub(crate) ast: AST,
    pub(crate) place: ScriptPlace,
    pub(crate) spans: Arc<Spans>,
    pub(crate) kind: Kind,
    pub(crate) source: String,
    pub(crate) uses: Uses,
}

/// Which scope variables a script names, found when it compiles, so that a run binds only
/// those (building `case` or `actor` for a script that never reads them is wasted work), and
/// of `case`, `fields` and `actor`, which members it reads when it reads them only as
/// `name.member`, so that a run builds only those members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Uses {
    bits: u16,
    /// Per variable of [`MEMBERWISE`]: the members the script reads, when every use of the
    /// variable is `name.member` (not followed by `(`); `None` when the script uses the
    /// value as a whole (`fields["x"]`, `fields.keys()`, `let f = fields`, `"x" in fields`).
    members: [Option<Arc<[String]>>; 3],
}

/// The variables whose members [`Uses`] tracks: large maps built per command.
const MEMBERWISE: [&str; 3] = ["case", "fields", "actor"];

impl Uses {
    fn bit(name: &str) -> Option<u16> {
        SCOPE_NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| 1u16 << i)
    }

    /// Whether the script names this variable.
    pub(crate) fn has(&self, name: &str) -> bool {
        Self::bit(name).is_some_and(|b| self.bits & b != 0)
    }

    /// The members of `name` (`case`, `fields` or `actor`) the script reads, when it reads
    /// only members; `None` when it needs the whole value.
    pub(crate) fn members(&self, name: &str) -> Option<&[String]> {
        let i = MEMBERWISE.iter().position(|n| *n == name)?;
        self.members[i].as_deref()
    }

    /// The variables either script names (for two scripts run in one scope).
    pub(crate) fn with(&self, other: &Uses) -> Uses {
        let mut members: [Option<Arc<[String]>>; 3] = Default::default();
        for (i, slot) in members.iter_mut().enumerate() {
            *slot = match (&self.members[i], &other.members[i]) {
                (Some(a), Some(b)) => {
                    let mut all: Vec<String> = a.to_vec();
                    all.extend(b.iter().filter(|m| !a.contains(m)).cloned());
                    Some(all.into())
                }
                _ => None,
            };
        }
        Uses {
            bits: self.bits | other.bits,
            members,
        }
    }

    /// Every variable, whole (for callers that cannot tell).
    pub(crate) fn all() -> Self {
        Uses {
            bits: u16::MAX,
            members: Default::default(),
        }
    }

    /// Whether the script reads `case.fields` (so `case` must carry a copy of the fields).
    pub(crate) fn case_fields(&self) -> bool {
        self.bits & CASE_FIELDS != 0
    }

    fn of(source: &str) -> Self {
        let toks = lex(source);
        let mut bits = 0u16;
        let mut members: [Option<Vec<String>>; 3] = [Some(vec![]), Some(vec![]), Some(vec![])];
        for (i, (tok, _, _)) in toks.iter().enumerate() {
            if let Tok::Ident(name) = tok {
                let after_dot = member_access(&toks, i);
                if !after_dot {
                    if let Some(b) = Self::bit(name) {
                        bits |= b;
                    }
                    let member = match (toks.get(i + 1), toks.get(i + 2), toks.get(i + 3)) {
                        (Some((Tok::Punct('.'), _, _)), Some((Tok::Ident(m), _, _)), next)
                            if !matches!(next, Some((Tok::Punct('('), _, _))) =>
                        {
                            Some(m)
                        }
                        _ => None,
                    };
                    if name == "case" && member.is_some_and(|m| m == "fields") {
                        bits |= CASE_FIELDS;
                    }
                    if let Some(k) = MEMBERWISE.iter().position(|n| n == name) {
                        match (member, &mut members[k]) {
                            (Some(m), Some(list)) => {
                                if !list.contains(m) {
                                    list.push(m.clone());
                                }
                            }
                            (None, slot) => *slot = None,
                            (Some(_), None) => {}
                        }
                    }
                }
            }
        }
        Uses {
            bits,
            members: members.map(|m| m.map(Into::into)),
        }
    }
}

impl Script {
    /// Where this script is in its workflow file.
    pub fn place(&self) -> &ScriptPlace {
        &self.place
    }

    /// The script's source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Map a rhai position to a file position.
    fn file_pos(&self, pos: Position) -> (usize, usize) {
        match (pos.line(), pos.position()) {
            (Some(line), col) => {
                let col = col.unwrap_or(1);
                let col = if self.kind == Kind::Template && line == 1 {
                    col.saturating_sub(1).max(1)
                } else {
                    col
                };
                let p = self.spans.script_pos(&self.place.path, line, col);
                (p.line, p.column)
            }
            _ => (self.place.line, self.place.column),
        }
    }

    pub(crate) fn error_at(&self, pos: Position, message: impl Into<String>) -> Error {
        let (line, column) = self.file_pos(pos);
        let mut place = self.place.clone();
        place.line = line;
        place.column = column;
        Error::Script {
            place: Box::new(place),
            message: message.into(),
        }
    }
}

/// A function a host adds to the sandbox at run time (used by the Python binding).
pub type HostFn = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// The runtime's script engine.
pub struct Scripts {
    engine: RwLock<rhai::Engine>,
    limits: Limits,
    template_scope: Scope<'static>,
    /// The methods a value of each type has, read from the engine when first asked (and
    /// again after a host changes the engine).
    methods: RwLock<Option<Arc<Methods>>>,
}

/// `(type of the first argument, function name)` of every registered function: what
/// `x.name(...)` may call on a value of that type (`Dynamic` for functions taking anything).
type Methods = HashSet<(TypeId, String)>;

/// Names rhai handles itself, for a value of any type.
const BUILTIN_METHODS: &[&str] = &[
    "type_of",
    "is_shared",
    "call",
    "curry",
    "to_string",
    "to_debug",
];

impl std::fmt::Debug for Scripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripts")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Scripts {
    /// A sandboxed engine with the host functions and the given limits.
    pub fn new(limits: Limits) -> Self {
        let mut engine = rhai::Engine::new();
        engine
            .set_strict_variables(true)
            .set_max_operations(limits.max_operations)
            .set_max_call_levels(limits.max_call_levels)
            .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
            .set_max_string_size(limits.max_string_size)
            .set_max_array_size(limits.max_array_size)
            .set_max_map_size(limits.max_map_size)
            .set_max_variables(1_000)
            .set_max_functions(100);
        // rhai counts operations afresh inside every closure that a native function such as
        // `map`, `filter` or `reduce` calls, so its own limit can be escaped by nesting them
        // (600 × 600 closure calls ran unchecked). Count every operation of a script run here.
        let max_operations = limits.max_operations;
        engine.on_progress(move |_| {
            let n = OPERATIONS.with(|c| {
                let n = c.get().saturating_add(1);
                c.set(n);
                n
            });
            if max_operations > 0 && n > max_operations {
                return Some(Dynamic::UNIT);
            }
            let late =
                n % 256 == 0 && DEADLINE.with(|d| d.get().is_some_and(|at| Instant::now() > at));
            late.then(|| Dynamic::from(OUT_OF_TIME))
        });
        engine.disable_symbol("eval");
        // rhai reserves `case` and `goto` for future syntax; the workflow language uses
        // `case` for the case being acted on and `goto(state)` for choosing a target.
        #[allow(deprecated)]
        engine.on_parse_token(|token, _, _| match token {
            rhai::Token::Reserved(s) if matches!(s.as_str(), "case" | "goto") => {
                rhai::Token::Identifier(s)
            }
            rhai::Token::Reserved(s) if s.as_str() == "this" => {
                rhai::Token::LexError(Box::new(rhai::LexError::ImproperSymbol(
                    s.to_string(),
                    "`this` is not available in workflow scripts (pass the value as an argument)"
                        .into(),
                )))
            }
            other => other,
        });
        // Lists and maps nested thousands of levels deep exhaust the thread stack inside rhai
        // (cloning, dropping and sizing a value all recurse), which aborts the process. Every
        // way to nest a value one level deeper reads the value from a variable first, so
        // refusing to read a variable that already nests more than `SCRIPT_NESTING` levels
        // keeps every value a script can build within a few levels of that. `this` is the one
        // name read without the resolver, so scripts may not use it (see `on_parse_token`).
        // The same walk closes a gap in rhai's size checks: `m[key] = v` adds entries past
        // `max_map_size` (`m.set` does not), and every such assignment reads `m` first.
        let max_map = limits.max_map_size;
        #[allow(deprecated)]
        engine.on_var(move |name, _, context| {
            let over = context
                .scope()
                .get(name)
                .and_then(|value| over_limits(value, SCRIPT_NESTING, max_map));
            // limits like rhai's own: they stop the script and cannot be caught by `try`
            match over {
                None => Ok(None),
                Some(what) => {
                    Err(EvalAltResult::ErrorDataTooLarge(what.into(), Position::NONE).into())
                }
            }
        });
        engine.on_print(|_| {});
        engine.on_debug(|_, _, _| {});
        crate::script_host::register(&mut engine);
        let mut template_scope = Scope::new();
        for name in SCOPE_NAMES {
            template_scope.push_dynamic(*name, Dynamic::UNIT);
        }
        Scripts {
            engine: RwLock::new(engine),
            limits,
            template_scope,
            methods: RwLock::new(None),
        }
    }

    /// Whether a value of type `ty` has the method `name` (`get$x` for a property `x`).
    pub(crate) fn has_method(&self, ty: TypeId, name: &str) -> bool {
        if BUILTIN_METHODS.contains(&name) {
            return true;
        }
        let cached = match self.methods.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let methods = match cached {
            Some(m) => m,
            None => {
                let found: Methods = self
                    .read()
                    .collect_fn_metadata(
                        None,
                        |info| {
                            let first = info.metadata.param_types.first().copied()?;
                            Some((first, info.metadata.name.to_string()))
                        },
                        true,
                    )
                    .into_iter()
                    .collect();
                let found = Arc::new(found);
                match self.methods.write() {
                    Ok(mut g) => *g = Some(Arc::clone(&found)),
                    Err(poisoned) => *poisoned.into_inner() = Some(Arc::clone(&found)),
                }
                found
            }
        };
        let key = |t: TypeId| (t, name.to_owned());
        methods.contains(&key(ty)) || methods.contains(&key(TypeId::of::<Dynamic>()))
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Let a host change the engine: register functions or types.
    pub fn configure(&self, f: impl FnOnce(&mut rhai::Engine)) {
        let mut guard = match self.engine.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard);
        drop(guard);
        match self.methods.write() {
            Ok(mut g) => *g = None,
            Err(poisoned) => *poisoned.into_inner() = None,
        }
    }

    /// Register a dynamically typed host function with `arity` arguments.
    pub fn register_dynamic(&self, name: &str, arity: usize, f: HostFn) {
        let types = vec![std::any::TypeId::of::<Dynamic>(); arity];
        self.configure(|engine| {
            engine.register_raw_fn(name, types, move |_ctx, args| {
                let mut values = Vec::with_capacity(args.len());
                for a in args.iter() {
                    values.push(to_json(a).map_err(|e| -> Box<EvalAltResult> { e.into() })?);
                }
                let out = f(&values).map_err(|e| -> Box<EvalAltResult> { e.into() })?;
                to_dynamic(&out).map_err(|e| -> Box<EvalAltResult> { e.into() })
            });
        });
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, rhai::Engine> {
        match self.engine.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Compile a script that may also read `names` (values another script of the same run
    /// named with `let`: a guard's message reads its guard's). On failure returns the file
    /// position and message.
    pub(crate) fn compile(
        &self,
        source: &str,
        kind: Kind,
        place: ScriptPlace,
        spans: Arc<Spans>,
        names: &[String],
    ) -> Result<Script, (usize, usize, String)> {
        let engine = self.read();
        let extended;
        let scope = if names.is_empty() {
            &self.template_scope
        } else {
            let mut s = self.template_scope.clone();
            for n in names {
                s.push_dynamic(n.as_str(), Dynamic::UNIT);
            }
            extended = s;
            &extended
        };
        let text;
        let result = match kind {
            // an expression that first names values (`let n = …; n < 3`) is a block
            Kind::Expr if !top_level_lets(source).is_empty() => {
                engine.compile_with_scope(scope, source)
            }
            Kind::Expr => engine.compile_expression_with_scope(scope, source),
            Kind::Effect => engine.compile_with_scope(scope, source),
            Kind::Template => {
                text = format!("`{}`", source.replace('`', "``"));
                engine.compile_expression_with_scope(scope, &text)
            }
        };
        match result {
            Ok(ast) => Ok(Script {
                ast,
                place,
                spans,
                kind,
                uses: Uses::of(source),
                source: source.to_owned(),
            }),
            Err(e) => {
                let pos = e.position();
                let tmp = Script {
                    ast: AST::empty(),
                    place: place.clone(),
                    spans,
                    kind,
                    source: String::new(),
                    uses: Uses::default(),
                };
                let (line, col) = tmp.file_pos(pos);
                Err((line, col, e.0.to_string()))
            }
        }
    }

    /// Run a script in a scope and return its value.
    pub(crate) fn run(&self, script: &Script, scope: &mut Scope) -> Result<Dynamic, Error> {
        let engine = self.read();
        OPERATIONS.with(|c| c.set(0));
        let deadline = (!self.limits.max_run_time.is_zero())
            .then(|| Instant::now() + self.limits.max_run_time);
        DEADLINE.with(|d| d.set(deadline));
        match engine.eval_ast_with_scope::<Dynamic>(scope, &script.ast) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.map_error(script, *e)),
        }
    }

    /// Evaluate an expression script that must give a bool.
    pub(crate) fn test(&self, script: &Script, scope: &mut Scope) -> Result<bool, Error> {
        let v = self.run(script, scope)?;
        v.as_bool().map_err(|t| {
            script.error_at(
                Position::NONE,
                format!("must give true or false, gave a value of type {t}"),
            )
        })
    }

    /// Render a template script to a string.
    pub(crate) fn render(&self, script: &Script, scope: &mut Scope) -> Result<String, Error> {
        let v = self.run(script, scope)?;
        Ok(v.to_string())
    }

    fn map_error(&self, script: &Script, e: EvalAltResult) -> Error {
        if let Some(err) = crate::script_host::take_pending_error() {
            return err;
        }
        let pos = e.position();
        // a limit hit inside a function or closure call is reported as the limit
        let limit = match e.unwrap_inner() {
            inner @ (EvalAltResult::ErrorTooManyOperations(_)
            | EvalAltResult::ErrorTerminated(..)
            | EvalAltResult::ErrorStackOverflow(_)
            | EvalAltResult::ErrorDataTooLarge(..)) => Some(inner),
            _ => None,
        };
        let message = match limit.unwrap_or(&e) {
            EvalAltResult::ErrorTerminated(token, _)
                if token.clone().into_string().is_ok_and(|t| t == OUT_OF_TIME) =>
            {
                format!(
                    "the script ran too long (more than {} ms; is it copying large lists or maps over and over?)",
                    self.limits.max_run_time.as_millis()
                )
            }
            EvalAltResult::ErrorTooManyOperations(_) | EvalAltResult::ErrorTerminated(..) => format!(
                "the script ran too long (more than {} operations; is there an endless loop?)",
                self.limits.max_operations
            ),
            EvalAltResult::ErrorStackOverflow(_) => format!(
                "calls nest too deeply (more than {} levels)",
                self.limits.max_call_levels
            ),
            EvalAltResult::ErrorDataTooLarge(what, _) if what == NESTING => {
                nesting_error(SCRIPT_NESTING)
            }
            EvalAltResult::ErrorDataTooLarge(what, _) => format!(
                "{what} exceeds the sandbox limit (strings {} bytes, arrays {} items, maps {} entries)",
                self.limits.max_string_size, self.limits.max_array_size, self.limits.max_map_size
            ),
            EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
            EvalAltResult::ErrorFunctionNotFound(signature, at) => {
                function_not_found(&script.source, signature, *at)
            }
            other => {
                let s = other.to_string();
                // rhai appends " (line L, position P)"; the place already says where.
                match s.rfind(" (line ") {
                    Some(i) => s[..i].to_owned(),
                    None => s,
                }
            }
        };
        script.error_at(pos, message)
    }

    /// A scope for a template-free context with all names bound to unit.
    pub(crate) fn empty_scope() -> Scope<'static> {
        let mut scope = Scope::new();
        for name in SCOPE_NAMES {
            scope.push_dynamic(*name, Dynamic::UNIT);
        }
        scope
    }
}

/// Set a variable of a scope made by [`Scripts::empty_scope`].
pub(crate) fn bind(scope: &mut Scope, name: &str, value: Dynamic) {
    scope.set_value(name.to_owned(), value);
}

/// JSON to rhai.
pub(crate) fn to_dynamic(v: &Value) -> Result<Dynamic, String> {
    Ok(match v {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Dynamic::from(s.clone()),
        Value::Array(a) => {
            let mut out = rhai::Array::with_capacity(a.len());
            for item in a {
                out.push(to_dynamic(item)?);
            }
            Dynamic::from_array(out)
        }
        Value::Object(m) => Dynamic::from_map(map_to_rhai(m)?),
    })
}

/// A JSON map to a rhai map.
pub(crate) fn map_to_rhai(m: &Map<String, Value>) -> Result<RMap, String> {
    let mut out = RMap::new();
    for (k, v) in m {
        out.insert(k.as_str().into(), to_dynamic(v)?);
    }
    Ok(out)
}

/// How deeply lists and maps may nest in a value inside a running script: twice what a stored
/// value may, so that a script can wrap any value it is given (`case` holds `fields`, which
/// hold values [`MAX_NESTING`](crate::definition::MAX_NESTING) deep) with room to spare.
const SCRIPT_NESTING: usize = 2 * crate::definition::MAX_NESTING;

/// Which limit `d` is over, if any: nesting lists and maps more than `levels` deep, or holding
/// a map of more than `max_map` entries (0: any number). Recursion is bounded by `levels`, and
/// scalars cost one type test each.
fn over_limits(d: &Dynamic, levels: usize, max_map: usize) -> Option<&'static str> {
    if !nests(d) {
        return None;
    }
    if levels == 0 {
        return Some(NESTING);
    }
    // scalars are skipped in the loop, without a call each: every variable read walks the
    // value, so a list or map of many scalars is the common large case
    if let Some(a) = d.read_lock::<rhai::Array>() {
        return a
            .iter()
            .filter(|v| nests(v))
            .find_map(|v| over_limits(v, levels - 1, max_map));
    }
    let m = d.read_lock::<RMap>()?;
    if max_map > 0 && m.len() > max_map {
        return Some(MAP_SIZE);
    }
    m.values()
        .filter(|v| nests(v))
        .find_map(|v| over_limits(v, levels - 1, max_map))
}

/// Whether a value is a list or a map. `is_array` and `is_map` test the variant; `read_lock`
/// alone would compare type ids.
#[inline]
fn nests(d: &Dynamic) -> bool {
    d.is_array() || d.is_map()
}

/// What rhai's `ErrorDataTooLarge` says of a map over `max_map_size`.
const MAP_SIZE: &str = "Size of object map";

/// What [`SCRIPT_NESTING`] limits, as rhai's `ErrorDataTooLarge` names it.
const NESTING: &str = "Nesting of lists and maps";

fn nesting_error(levels: usize) -> String {
    format!("a value nests lists and maps more than {levels} levels deep")
}

/// rhai to JSON. A value nesting lists and maps deeper than a field may (plus the two levels
/// of the maps that hold it: `fields`, notification data) is refused, so nothing a script
/// builds is stored that could not be read back.
pub(crate) fn to_json(d: &Dynamic) -> Result<Value, String> {
    to_json_at(d, 0)
}

fn to_json_at(d: &Dynamic, depth: usize) -> Result<Value, String> {
    const LIMIT: usize = crate::definition::MAX_NESTING + 2;
    if depth > LIMIT && (d.is_array() || d.is_map()) {
        return Err(nesting_error(crate::definition::MAX_NESTING));
    }
    if d.is_unit() {
        return Ok(Value::Null);
    }
    if let Ok(b) = d.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Ok(i) = d.as_int() {
        return Ok(Value::from(i));
    }
    if let Ok(f) = d.as_float() {
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"));
    }
    if d.is_string() {
        return Ok(Value::String(d.to_string()));
    }
    if let Ok(c) = d.as_char() {
        return Ok(Value::String(c.to_string()));
    }
    if d.is_array() {
        let a = d.read_lock::<rhai::Array>().ok_or("unreadable list")?;
        let mut out = Vec::with_capacity(a.len());
        for item in a.iter() {
            out.push(to_json_at(item, depth + 1)?);
        }
        return Ok(Value::Array(out));
    }
    if d.is_map() {
        let m = d.read_lock::<RMap>().ok_or("unreadable map")?;
        let mut out = Map::new();
        for (k, v) in m.iter() {
            out.insert(k.to_string(), to_json_at(v, depth + 1)?);
        }
        return Ok(Value::Object(out));
    }
    Err(format!(
        "a value of type {} cannot be stored",
        d.type_name()
    ))
}

/// A reference a script makes that the validator can check statically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reference {
    /// `object.name`, e.g. `fields.client_name`, `inputs.note`, `settings.x`.
    Member {
        object: String,
        name: String,
        line: usize,
        column: usize,
    },
    /// `func(...).method(...)` or `func(...).property`, directly or through a variable
    /// (`let n = func(...); n.method()`): what is asked of a host function's result.
    Method {
        function: String,
        method: String,
        property: bool,
        line: usize,
        column: usize,
    },
    /// `func("literal", ...)`: the function and its string-literal arguments by position
    /// (`None` for arguments that are not plain literals).
    Call {
        name: String,
        args: Vec<Option<String>>,
        line: usize,
        column: usize,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
    Other,
}

/// A small lexer that is enough to find member accesses and calls with literal arguments
/// (it skips comments and strings correctly). Positions are 1-based within the script.
fn lex(src: &str) -> Vec<(Tok, usize, usize)> {
    struct Cur {
        chars: Vec<char>,
        i: usize,
        line: usize,
        col: usize,
    }
    impl Cur {
        fn peek(&self, k: usize) -> Option<char> {
            self.chars.get(self.i + k).copied()
        }
        fn bump(&mut self) -> Option<char> {
            let c = self.peek(0)?;
            self.i += 1;
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
            Some(c)
        }
    }
    let mut cur = Cur {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    while let Some(c) = cur.peek(0) {
        let (sl, sc) = (cur.line, cur.col);
        if c.is_whitespace() {
            cur.bump();
        } else if c == '/' && cur.peek(1) == Some('/') {
            while cur.peek(0).is_some_and(|c| c != '\n') {
                cur.bump();
            }
        } else if c == '/' && cur.peek(1) == Some('*') {
            cur.bump();
            cur.bump();
            while cur.peek(0).is_some() && !(cur.peek(0) == Some('*') && cur.peek(1) == Some('/')) {
                cur.bump();
            }
            cur.bump();
            cur.bump();
        } else if c == '"' || c == '`' || c == '\'' {
            let quote = c;
            cur.bump();
            let mut s = String::new();
            let mut plain = true;
            // the code inside `${…}` of a backtick string, lexed after the string's token
            let mut inner = Vec::new();
            while let Some(ch) = cur.peek(0) {
                if ch == quote {
                    break;
                }
                if ch == '\\' {
                    plain = false;
                    cur.bump();
                }
                if quote == '`' && ch == '$' && cur.peek(1) == Some('{') {
                    plain = false;
                    cur.bump();
                    cur.bump();
                    let (line, col) = (cur.line, cur.col);
                    let mut code = String::new();
                    let mut depth = 0usize;
                    while let Some(ch) = cur.peek(0) {
                        match ch {
                            '{' => depth += 1,
                            '}' if depth == 0 => break,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        code.push(ch);
                        cur.bump();
                    }
                    cur.bump();
                    for (tok, l, c) in lex(&code) {
                        let c = if l == 1 { c + col - 1 } else { c };
                        inner.push((tok, l + line - 1, c));
                    }
                    continue;
                }
                if let Some(ch) = cur.bump() {
                    s.push(ch);
                }
            }
            cur.bump();
            let tok = if quote == '"' && plain {
                Tok::Str(s)
            } else {
                Tok::Other
            };
            out.push((tok, sl, sc));
            out.append(&mut inner);
        } else if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(ch) = cur.peek(0).filter(|ch| ch.is_alphanumeric() || *ch == '_') {
                s.push(ch);
                cur.bump();
            }
            out.push((Tok::Ident(s), sl, sc));
        } else if c.is_ascii_digit() {
            while cur
                .peek(0)
                .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
            {
                cur.bump();
            }
            out.push((Tok::Other, sl, sc));
        } else {
            out.push((Tok::Punct(c), sl, sc));
            cur.bump();
        }
    }
    out
}

/// The names a script declares with `let` or `const` outside any block: after it ran they
/// are still in its scope (a guard's message reads them).
pub(crate) fn top_level_lets(src: &str) -> Vec<String> {
    let toks = lex(src);
    let mut depth = 0usize;
    let mut out = Vec::new();
    for (i, (tok, _, _)) in toks.iter().enumerate() {
        match tok {
            Tok::Punct('{' | '(' | '[') => depth += 1,
            Tok::Punct('}' | ')' | ']') => depth = depth.saturating_sub(1),
            Tok::Ident(kw) if depth == 0 && (kw == "let" || kw == "const") => {
                if let Some((Tok::Ident(name), _, _)) = toks.get(i + 1) {
                    if !out.contains(name) {
                        out.push(name.clone());
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Whether the token at `i` follows a member-access dot (`x.name`), not the range operator
/// (`0..name`), whose second dot would otherwise hide the variable after it.
fn member_access(toks: &[(Tok, usize, usize)], i: usize) -> bool {
    let dot = |k: usize| matches!(toks[k].0, Tok::Punct('.'));
    i > 0 && dot(i - 1) && !(i > 1 && dot(i - 2))
}

/// Find the statically checkable references of a script.
pub(crate) fn references(src: &str) -> Vec<Reference> {
    let toks = lex(src);
    let mut out = Vec::new();
    for (i, (tok, line, column)) in toks.iter().enumerate() {
        let Tok::Ident(name) = tok else { continue };
        let prev_dot = member_access(&toks, i);
        if prev_dot {
            continue;
        }
        // object.member (not object.member( which is a method call)
        if let (Some((Tok::Punct('.'), _, _)), Some((Tok::Ident(member), ml, mc))) =
            (toks.get(i + 1), toks.get(i + 2))
        {
            let is_call = matches!(toks.get(i + 3), Some((Tok::Punct('('), _, _)));
            if !is_call {
                out.push(Reference::Member {
                    object: name.clone(),
                    name: member.clone(),
                    line: *ml,
                    column: *mc,
                });
            }
        }
        if let Some((Tok::Punct('('), _, _)) = toks.get(i + 1) {
            // collect top-level arguments
            let mut args = Vec::new();
            let mut depth = 0usize;
            let mut current: Vec<&Tok> = Vec::new();
            let mut j = i + 2;
            while j < toks.len() {
                match &toks[j].0 {
                    Tok::Punct('(') | Tok::Punct('[') | Tok::Punct('{') => {
                        depth += 1;
                        current.push(&toks[j].0);
                    }
                    Tok::Punct(')') | Tok::Punct(']') | Tok::Punct('}') if depth > 0 => {
                        depth -= 1;
                        current.push(&toks[j].0);
                    }
                    Tok::Punct(')') => break,
                    Tok::Punct(',') if depth == 0 => {
                        args.push(literal(&current));
                        current.clear();
                    }
                    t => current.push(t),
                }
                j += 1;
            }
            if !current.is_empty() {
                args.push(literal(&current));
            }
            out.push(Reference::Call {
                name: name.clone(),
                args,
                line: *line,
                column: *column,
            });
        }
    }
    method_references(&toks, &mut out);
    out
}

/// The index of the `(` that opens the call whose `)` is at `close`.
fn open_paren(toks: &[(Tok, usize, usize)], close: usize) -> Option<usize> {
    let mut depth = 0usize;
    for j in (0..=close).rev() {
        match toks[j].0 {
            Tok::Punct(')') => depth += 1,
            Tok::Punct('(') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index of the `)` that closes the `(` at `open`.
fn close_paren(toks: &[(Tok, usize, usize)], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, (t, _, _)) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// The function whose result is the receiver of the member at `member` (the token after a
/// `.`): `f(...)` right before the dot, or a variable last bound by `let v = f(...);`.
fn receiver_function(toks: &[(Tok, usize, usize)], member: usize) -> Option<String> {
    let dot = member.checked_sub(1)?;
    match &toks.get(dot.checked_sub(1)?)?.0 {
        Tok::Punct(')') => {
            let open = open_paren(toks, dot - 1)?;
            match &toks.get(open.checked_sub(1)?)?.0 {
                Tok::Ident(f) if !member_access(toks, open - 1) => Some(f.clone()),
                _ => None,
            }
        }
        Tok::Ident(var) if !member_access(toks, dot - 1) => {
            // the last `let var = ...` (or `var = ...`) before it: a call to f ending the statement
            let mut found = None;
            for j in 0..dot - 1 {
                let binds = matches!(&toks[j].0, Tok::Ident(v) if v == var)
                    && !member_access(toks, j)
                    && matches!(toks.get(j + 1), Some((Tok::Punct('='), _, _)))
                    && !matches!(toks.get(j + 2), Some((Tok::Punct('='), _, _)));
                if !binds {
                    continue;
                }
                found = match (toks.get(j + 2), toks.get(j + 3)) {
                    (Some((Tok::Ident(f), _, _)), Some((Tok::Punct('('), _, _))) => {
                        close_paren(toks, j + 3)
                            .filter(|&c| {
                                matches!(toks.get(c + 1), None | Some((Tok::Punct(';'), _, _)))
                            })
                            .map(|_| f.clone())
                    }
                    _ => None,
                };
            }
            found
        }
        _ => None,
    }
}

/// What a script asks of host function results: `open_cases(x).len()`,
/// `let n = open_cases(x); n.len()`.
fn method_references(toks: &[(Tok, usize, usize)], out: &mut Vec<Reference>) {
    for (i, (tok, line, column)) in toks.iter().enumerate() {
        let Tok::Ident(method) = tok else { continue };
        if !member_access(toks, i) {
            continue;
        }
        if let Some(function) = receiver_function(toks, i) {
            out.push(Reference::Method {
                function,
                method: method.clone(),
                property: !matches!(toks.get(i + 1), Some((Tok::Punct('('), _, _))),
                line: *line,
                column: *column,
            });
        }
    }
}

/// rhai's type names in a programme officer's words.
pub(crate) fn type_in_words(rhai: &str) -> String {
    match rhai.trim() {
        "i64" | "i32" | "INT" => "a whole number".into(),
        "f64" | "f32" | "FLOAT" => "a number".into(),
        "bool" => "true or false".into(),
        "string" | "&str" | "ImmutableString" | "String" | "&str | ImmutableString | String" => {
            "text".into()
        }
        "char" => "a character".into(),
        "array" | "Array" => "a list".into(),
        "map" | "Map" => "a map".into(),
        "()" => "nothing (`()`, an empty value)".into(),
        other => format!("a value of type {other}"),
    }
}

/// rhai's "Function not found: len (i64)" in words: which function, on what, and — when the
/// value came from a host function — what that function gives.
fn function_not_found(source: &str, signature: &str, at: Position) -> String {
    let (name, args) = match signature.split_once(" (") {
        Some((n, rest)) => (n.trim(), rest.strip_suffix(')').unwrap_or(rest)),
        None => (signature.trim(), ""),
    };
    let args: Vec<String> = if args.trim().is_empty() {
        Vec::new()
    } else {
        args.split(", ").map(type_in_words).collect()
    };
    let toks = lex(source);
    let line = at.line().unwrap_or(0);
    // the called name nearest the reported position
    let here = toks
        .iter()
        .enumerate()
        .filter(|(_, (t, _, _))| matches!(t, Tok::Ident(n) if n == name))
        .min_by_key(|(_, (_, l, c))| (l.abs_diff(line), *c))
        .map(|(i, _)| i);
    let method = here.filter(|&i| member_access(&toks, i));
    let mut msg = match (method, args.split_first()) {
        (Some(_), Some((on, []))) => format!("{on} has no `.{name}()`"),
        (Some(_), Some((on, rest))) => {
            format!("{on} has no `.{name}(…)` taking {}", rest.join(" and "))
        }
        (None, None) | (Some(_), None) => format!("there is no function `{name}()`"),
        (None, Some(_)) => format!(
            "there is no function `{name}` taking {}",
            args.join(" and ")
        ),
    };
    if let Some(f) = method
        .and_then(|i| receiver_function(&toks, i))
        .and_then(|f| crate::script_host::function(&f))
    {
        msg.push_str(&format!(
            " (`{}(…)` gives {}: {})",
            f.name,
            f.gives.words(),
            f.meaning
        ));
    }
    msg
}

fn literal(toks: &[&Tok]) -> Option<String> {
    match toks {
        [Tok::Str(s)] => Some(s.clone()),
        _ => None,
    }
}

/// The names a map-literal argument `#{ state: "x", ... }` sets to string literals, used for
/// `spawn_copy(#{ state: "denied" })`.
pub(crate) fn map_literal_strings(src: &str, func: &str) -> Vec<(String, String, usize, usize)> {
    let toks = lex(src);
    let mut out = Vec::new();
    for (i, (tok, _, _)) in toks.iter().enumerate() {
        if *tok != Tok::Ident(func.to_owned()) {
            continue;
        }
        let mut j = i + 1;
        let mut depth = 0i32;
        while j + 2 < toks.len() {
            match &toks[j].0 {
                Tok::Punct('(') | Tok::Punct('{') | Tok::Punct('[') => depth += 1,
                Tok::Punct(')') | Tok::Punct('}') | Tok::Punct(']') => {
                    depth -= 1;
                    if depth <= 0 {
                        break;
                    }
                }
                Tok::Ident(k) if depth == 2 => {
                    if let (Tok::Punct(':'), (Tok::Str(v), l, c)) = (&toks[j + 1].0, &toks[j + 2]) {
                        out.push((k.clone(), v.clone(), *l, *c));
                    }
                }
                _ => {}
            }
            j += 1;
        }
    }
    out
}

/// What a script asked for, in order. The engine applies these after the script returns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    Assign {
        role: String,
        person: String,
    },
    Unassign {
        role: String,
        person: Option<String>,
    },
    Note {
        text: String,
    },
    Notify {
        to: Vec<String>,
        template: String,
        data: Map<String, Value>,
    },
    NotifyRole {
        role: String,
        template: String,
        data: Map<String, Value>,
    },
    Goto {
        state: String,
    },
    Spawn {
        state: String,
        fields: Map<String, Value>,
    },
    Emit {
        kind: String,
        data: Map<String, Value>,
    },
    CancelTimer {
        name: String,
    },
}

/// Whether host functions may change things.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Guards, checks, filters, templates, exports: read only.
    Read,
    /// Effects: may record operations.
    Effect,
}

/// Per-command script context, reachable from host functions.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub mode: Mode,
    pub ops: Vec<Op>,
    pub org: String,
    pub workflow: String,
    pub case_id: Option<i64>,
    pub now: chrono::DateTime<chrono::Utc>,
    pub calendar: Arc<crate::time::BusinessCalendar>,
    pub fail: Option<(String, Vec<String>)>,
    /// The engine running the command, when there is one: `person(id)` reads the directory
    /// through its people cache, as the actor and person inputs are read.
    pub engine: Option<crate::Engine>,
}

impl Ctx {
    pub(crate) fn new(
        org: &str,
        workflow: &str,
        case_id: Option<i64>,
        now: chrono::DateTime<chrono::Utc>,
        calendar: Arc<crate::time::BusinessCalendar>,
    ) -> Self {
        Ctx {
            mode: Mode::Read,
            ops: Vec::new(),
            org: org.to_owned(),
            workflow: workflow.to_owned(),
            case_id,
            now,
            calendar,
            fail: None,
            engine: None,
        }
    }
}

scoped_tls::scoped_thread_local!(pub(crate) static CTX: RefCell<Ctx>);

/// Participants as a rhai map of role to ids.
pub(crate) fn participants_dynamic(p: &BTreeMap<String, Vec<String>>) -> RMap {
    let mut m = RMap::new();
    for (role, ids) in p {
        let arr: rhai::Array = ids.iter().map(|i| Dynamic::from(i.clone())).collect();
        m.insert(role.as_str().into(), Dynamic::from_array(arr));
    }
    m
}

/// A person as scripts see it ([`Person::to_script_map`](crate::directory::Person::to_script_map)),
/// built as a rhai map directly: the JSON map in between cost a hashed insert per member
/// and a second copy of every value, on every `person(id)` and every `actor`.
pub(crate) fn person_dynamic(p: &crate::directory::Person) -> Result<RMap, String> {
    let text = |v: &Option<String>| v.clone().map_or(Dynamic::UNIT, Dynamic::from);
    let mut m = RMap::new();
    for (k, v) in &p.attributes {
        m.insert(k.as_str().into(), to_dynamic(v)?);
    }
    m.insert("id".into(), Dynamic::from(p.id.clone()));
    m.insert("name".into(), text(&p.name));
    m.insert("email".into(), text(&p.email));
    m.insert("org".into(), text(&p.org));
    m.insert(
        "roles".into(),
        Dynamic::from_array(p.roles.iter().map(|r| Dynamic::from(r.clone())).collect()),
    );
    Ok(m)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finds_members_and_calls() {
        let refs = references(
            "// fields.ignored\nif fields.a > 1 { notify(case.mentor, \"hello\"); goto(\"x\") }",
        );
        assert!(refs.contains(&Reference::Member {
            object: "fields".into(),
            name: "a".into(),
            line: 2,
            column: 11
        }));
        assert!(refs
            .iter()
            .any(|r| matches!(r, Reference::Call { name, args, .. }
            if name == "notify" && args == &vec![None, Some("hello".into())])));
        assert!(!refs
            .iter()
            .any(|r| matches!(r, Reference::Member { name, .. } if name == "ignored")));
    }

    #[test]
    fn members_read_are_found_unless_the_value_is_used_whole() {
        let uses = Uses::of("fields.sessions >= 1 && fields.contacted && actor.id == case.mentor");
        assert_eq!(
            uses.members("fields"),
            Some(&["sessions".to_owned(), "contacted".to_owned()][..])
        );
        assert_eq!(uses.members("actor"), Some(&["id".to_owned()][..]));
        assert_eq!(uses.members("case"), Some(&["mentor".to_owned()][..]));
        assert!(!uses.case_fields());
        // a whole use: index, method, passing it on, `in`, `?.`
        for whole in [
            "fields[\"a\"] == 1",
            "fields.keys().len() > 0",
            "fields.a == 1 && f(fields)",
            "\"a\" in fields",
            "fields?.a == 1",
            "fields.contains(\"a\")",
        ] {
            assert_eq!(Uses::of(whole).members("fields"), None, "{whole}");
        }
        // interpolations count, case.fields is a member of case
        let uses = Uses::of("`${fields.a} ${case.fields.b}`");
        assert_eq!(uses.members("fields"), Some(&["a".to_owned()][..]));
        assert_eq!(uses.members("case"), Some(&["fields".to_owned()][..]));
        assert!(uses.case_fields());
        // two scripts in one scope: the union, or whole when either needs it whole
        let both = Uses::of("fields.a").with(&Uses::of("fields.b + fields.a"));
        assert_eq!(
            both.members("fields"),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert_eq!(
            Uses::of("fields.a")
                .with(&Uses::of("fields[\"b\"]"))
                .members("fields"),
            None
        );
        assert_eq!(Uses::all().members("case"), None);
    }

    #[test]
    fn a_name_after_a_range_is_a_variable() {
        assert!(Uses::of("for i in 0..inputs.n { }").has("inputs"));
        assert!(Uses::of("let r = 1..=fields.n;").has("fields"));
        assert!(!Uses::of("case.inputs").has("inputs"));
    }

    #[test]
    fn names_inside_interpolations_are_bound() {
        let uses = Uses::of("notify(case.mentor, \"t\", #{ how: `from ${fields.client_name}` });");
        assert!(uses.has("fields") && uses.has("case"));
        // only the names the interpolation reads, not every variable
        assert!(!uses.has("actor") && !uses.has("settings"));
        assert!(!Uses::of("notify(case.mentor, \"t\");").has("fields"));
        // nested braces inside `${…}`, and positions counted in the script
        let refs = references("let s = `a ${ if x { inputs.note } else { 1 } } b`;");
        assert!(refs.contains(&Reference::Member {
            object: "inputs".into(),
            name: "note".into(),
            line: 1,
            column: 29
        }));
    }

    #[test]
    fn top_level_lets_are_the_names_left_in_scope() {
        assert_eq!(
            top_level_lets("let n = open_cases(x); const m = 2; if n > 1 { let inner = 3; } n < m"),
            ["n", "m"]
        );
        assert!(top_level_lets("fields.x > 1").is_empty());
        assert!(top_level_lets("\"let x\" == y").is_empty());
    }

    #[test]
    fn finds_spawn_map_literals() {
        let found = map_literal_strings("spawn_copy(#{ state: \"denied\" });", "spawn_copy");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "state");
        assert_eq!(found[0].1, "denied");
    }

    #[test]
    fn limits_by_name() {
        let mut l = Limits::default();
        for name in Limits::NAMES {
            let value = l.get(name).unwrap();
            let changed = match value {
                LimitValue::Count(n) => LimitValue::Count(n + 1),
                LimitValue::Time(t) => LimitValue::Time(t * 2),
            };
            l.set(name, changed).unwrap();
            assert_eq!(l.get(name), Some(changed), "{name}");
        }
        assert_eq!(l.max_map_size, 10_001);
        assert_eq!(l.max_run_time, Duration::from_secs(10));
        assert!(l.get("max_nope").is_none());
        let e = l.set("max_nope", LimitValue::Count(1)).unwrap_err();
        assert!(
            e.contains("unknown limit `max_nope`") && e.contains("max_run_time"),
            "{e}"
        );
        let e = l.set("max_run_time", LimitValue::Count(1)).unwrap_err();
        assert_eq!(e, "max_run_time is a duration");
        let e = l
            .set("max_map_size", LimitValue::Time(Duration::ZERO))
            .unwrap_err();
        assert_eq!(e, "max_map_size is a whole number");
        assert_eq!(l.max_map_size, 10_001, "a refused value changes nothing");
    }

    #[test]
    fn a_person_reads_the_same_either_way() {
        let mut attributes = Map::new();
        attributes.insert("classification".into(), Value::from("active"));
        attributes.insert("id".into(), Value::from("not the id"));
        attributes.insert("skills".into(), serde_json::json!(["a", {"b": 1.5}]));
        for p in [
            crate::directory::Person {
                id: "ann".into(),
                name: Some("Ann".into()),
                email: None,
                org: Some("acme".into()),
                roles: vec!["mentor".into(), "coordinator".into()],
                attributes,
            },
            crate::directory::Person {
                id: "bob".into(),
                ..Default::default()
            },
        ] {
            let direct = Dynamic::from_map(person_dynamic(&p).unwrap());
            let via_json = to_dynamic(&Value::Object(p.to_script_map())).unwrap();
            assert_eq!(to_json(&direct).unwrap(), to_json(&via_json).unwrap());
        }
    }

    #[test]
    fn json_round_trip() {
        let v = serde_json::json!({"a": [1, 2.5, "x", null, true], "b": {"c": "d"}});
        let d = to_dynamic(&v).unwrap_or(Dynamic::UNIT);
        assert_eq!(to_json(&d).unwrap_or(Value::Null), v);
    }
}
