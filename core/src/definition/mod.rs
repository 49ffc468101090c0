//! Workflow definitions: the model, loading from YAML (a file, a folder or text) and static
//! validation that reports every problem at once with file, line and column.
//!
//! The language itself is documented in `docs/language.md`.

mod load;
pub(crate) mod raw;
pub(crate) mod shape;
mod types;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::script::Script;
pub use load::{load_dir, load_file, load_str};
pub use types::{describe as describe_value, Choices, Field, FieldType, OneOf};
pub(crate) use types::{nests_too_deeply, MAX_NESTING};

use crate::time::Span;
use crate::yaml::Spans;

/// A setting a workflow declares, with its default. Organisations override it.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    /// Name.
    pub name: String,
    /// Type of the value.
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// The default.
    pub default: Value,
    /// Allowed values, when restricted.
    pub one_of: Option<Vec<Value>>,
    /// What it does.
    pub description: Option<String>,
}

/// A role: who a person is to a case.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Name.
    pub name: String,
    /// Directory roles that hold this role in the case's organisation. Empty for case roles
    /// (people assigned to the case).
    pub directory: Vec<String>,
    /// For directory roles: whether holders see every case of their organisation.
    pub sees_org: bool,
    /// For case roles: whether several people may hold it at once.
    pub many: bool,
    /// Label for people.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
}

impl Role {
    /// A case role is held by people assigned to the case; a directory role by position.
    pub fn is_case_role(&self) -> bool {
        self.directory.is_empty()
    }
}

/// A check across fields, or one guard of an action.
#[derive(Debug, Clone)]
pub struct Check {
    /// The expression that must be true.
    pub when: Script,
    /// The message for the person when it is false, as written.
    pub message: String,
    /// The message as an interpolated string, when it has `${…}`: rendered in the scope the
    /// expression ran in (so it sees the values the expression named with `let`).
    pub message_script: Option<Script>,
    /// Actions that would help.
    pub suggest: Vec<String>,
    /// Whether the expression reads `inputs` (then `actions()` cannot pre-evaluate it).
    pub uses_inputs: bool,
    /// The one input the expression reads, when it reads exactly one and only as
    /// `inputs.NAME` (no `inputs[…]`): found once, when the definition is loaded.
    pub(crate) sole_input: Option<String>,
}

impl Check {
    /// Whether the condition reads the input `name` and no other input (as `inputs.NAME`
    /// only), so that it can be judged for a candidate value of that one input.
    pub(crate) fn reads_only_input(&self, name: &str) -> bool {
        self.sole_input.as_deref() == Some(name)
    }
}

/// When a timer fires.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// Once, this long after the state is entered.
    After(Span),
    /// Repeatedly, every period while the case stays in the state.
    Every(Span),
    /// Once, at the date or instant held by a field, moved by an optional offset.
    At {
        /// The date or datetime field.
        field: String,
        /// Offset from it (may be negative).
        offset: Option<(bool, Span)>,
    },
}

/// A timer declared on a state.
#[derive(Debug, Clone)]
pub struct Timer {
    /// Its name, unique in the state (`reminder_24h`); defaults to `timer_N`.
    pub name: String,
    /// When it fires.
    pub schedule: Schedule,
    /// A script to run when it fires.
    pub run: Option<Script>,
    /// A system action to fire.
    pub action: Option<String>,
    /// A condition checked when the timer is due; a false one skips the firing.
    pub when: Option<Script>,
    /// Description.
    pub description: Option<String>,
}

/// A state.
#[derive(Debug, Clone)]
pub struct State {
    /// Id.
    pub id: String,
    /// Label for people.
    pub label: String,
    /// No action leaves it, no timer runs in it, and the case counts as closed.
    pub is_final: bool,
    /// Report flags and other tags.
    pub tags: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Runs when a case enters the state.
    pub on_enter: Option<Script>,
    /// Runs when a case leaves the state.
    pub on_exit: Option<Script>,
    /// Timers.
    pub timers: Vec<Timer>,
}

/// Where an action leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The case stays where it is.
    Stay,
    /// One state.
    To(String),
    /// One of these, chosen by the action's script with `goto(state)`.
    Choice(Vec<String>),
}

impl Target {
    /// Every state the target may lead to.
    pub fn states(&self) -> Vec<&str> {
        match self {
            Target::Stay => Vec::new(),
            Target::To(s) => vec![s.as_str()],
            Target::Choice(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// An action.
#[derive(Debug, Clone)]
pub struct Action {
    /// Id.
    pub id: String,
    /// Label for people.
    pub label: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// States it starts from; `None` for start actions.
    pub from: Option<Vec<String>>,
    /// Where it leads.
    pub to: Target,
    /// Roles that may do it (`system` for timers only).
    pub by: Vec<String>,
    /// The default start action.
    pub default: bool,
    /// Typed inputs.
    pub inputs: Vec<Field>,
    /// Guards, checked in order.
    pub guards: Vec<Check>,
    /// Effects.
    pub run: Option<Script>,
    /// Message when the action is tried in a state it does not start from.
    pub unavailable: Option<String>,
    /// Fields of the case shown with the action's form (`shows:`), in order.
    pub shows: Vec<String>,
}

impl Action {
    /// A start action creates cases.
    pub fn is_start(&self) -> bool {
        self.from.is_none()
    }

    /// Whether the action may be done from this state.
    pub fn starts_from(&self, state: &str) -> bool {
        self.from
            .as_ref()
            .is_some_and(|f| f.iter().any(|s| s == state))
    }

    /// Whether only the system (timers) may do it.
    pub fn system_only(&self) -> bool {
        self.by.iter().all(|r| r == "system")
    }
}

/// A notification template.
#[derive(Debug, Clone)]
pub struct Template {
    /// Name.
    pub name: String,
    /// Subject, an interpolated string.
    pub subject: Script,
    /// Body, an interpolated string.
    pub body: Script,
    /// Description.
    pub description: Option<String>,
    /// Actions the message invites its recipient to take (`actions:`): the portal's mailer
    /// adds a signed, expiring link to each one's form that the recipient may do when the
    /// message is sent.
    pub actions: Vec<String>,
}

/// How a view is sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sort {
    /// `created`, `updated`, `id`, or a field name.
    pub key: String,
    /// Newest / largest first.
    pub descending: bool,
}

/// A named, per-viewer list of cases.
#[derive(Debug, Clone)]
pub struct View {
    /// Name.
    pub name: String,
    /// Title for people.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// States shown (all when empty).
    pub states: Vec<String>,
    /// Roles whose holders see it: case roles (the viewer holds the role in the case) or
    /// directory roles (the viewer holds it in the case's organisation).
    pub viewer: Vec<String>,
    /// An extra condition.
    pub filter: Option<Script>,
    /// Order.
    pub sort: Sort,
    /// The view's own status words, per state (`labels:`): a case read through the view
    /// carries the first rule that holds as its `state_label`; a state without rules, or
    /// whose rules all fail, keeps the state's label.
    pub labels: Vec<(String, Vec<ViewLabel>)>,
}

/// One status word of a view for a state: `label` when `when` holds (always, without `when`).
#[derive(Debug, Clone)]
pub struct ViewLabel {
    /// The condition (an expression over the case and `viewer`).
    pub when: Option<Script>,
    /// The status the view shows.
    pub label: String,
}

impl View {
    /// The label rules for a state (empty when the view keeps the state's label).
    pub fn labels_for(&self, state: &str) -> &[ViewLabel] {
        self.labels
            .iter()
            .find(|(s, _)| s == state)
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[])
    }
}

/// A named table over cases.
#[derive(Debug, Clone)]
pub struct Export {
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// States included (all when empty).
    pub states: Vec<String>,
    /// A list field: one row per item.
    pub each: Option<String>,
    /// Columns: name and expression.
    pub columns: Vec<(String, Script)>,
}

/// One workflow at one version, loaded, validated and compiled.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Workflow id.
    pub id: String,
    /// Version.
    pub version: u32,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// The file it came from (`<text>` for strings).
    pub file: String,
    /// The YAML source.
    pub source: String,
    /// SHA-256 of the source, hex.
    pub hash: String,
    /// Settings with defaults.
    pub settings: Vec<Setting>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Fields.
    pub fields: Vec<Field>,
    /// Checks across fields.
    pub checks: Vec<Check>,
    /// States.
    pub states: Vec<State>,
    /// Actions.
    pub actions: Vec<Action>,
    /// Templates.
    pub templates: Vec<Template>,
    /// Views.
    pub views: Vec<View>,
    /// Exports.
    pub exports: Vec<Export>,
    pub(crate) spans: Arc<Spans>,
    index: Index,
}

/// Lookups by name. The names come from the workflow file (validated identifiers its author
/// wrote), never from a request, and every step looks several up: a fast hasher
/// (`foldhash`), not the DoS-resistant SipHash that maps with untrusted keys need.
#[derive(Debug, Clone, Default)]
struct Index {
    states: NameMap,
    actions: NameMap,
    roles: NameMap,
    fields: NameMap,
    templates: NameMap,
    settings: NameMap,
}

/// A name to its position, with a fast hasher (see [`Index`]).
type NameMap = HashMap<String, usize, foldhash::fast::RandomState>;

impl Definition {
    fn build_index(&mut self) {
        fn idx<T>(items: &[T], key: impl Fn(&T) -> &str) -> NameMap {
            items
                .iter()
                .enumerate()
                .map(|(i, t)| (key(t).to_owned(), i))
                .collect()
        }
        self.index = Index {
            states: idx(&self.states, |s| &s.id),
            actions: idx(&self.actions, |a| &a.id),
            roles: idx(&self.roles, |r| &r.name),
            fields: idx(&self.fields, |f| &f.name),
            templates: idx(&self.templates, |t| &t.name),
            settings: idx(&self.settings, |s| &s.name),
        };
    }

    /// A state by id.
    pub fn state(&self, id: &str) -> Option<&State> {
        self.index.states.get(id).map(|&i| &self.states[i])
    }

    /// An action by id.
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.index.actions.get(id).map(|&i| &self.actions[i])
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.index.roles.get(name).map(|&i| &self.roles[i])
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index.fields.get(name).map(|&i| &self.fields[i])
    }

    /// A template by name.
    pub fn template(&self, name: &str) -> Option<&Template> {
        self.index.templates.get(name).map(|&i| &self.templates[i])
    }

    /// A setting by name.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.index.settings.get(name).map(|&i| &self.settings[i])
    }

    /// A view by name.
    pub fn view(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|v| v.name == name)
    }

    /// An export by name.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|v| v.name == name)
    }

    /// The start actions.
    pub fn start_actions(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.is_start())
    }

    /// The start action used when none is named: the only one, or the one marked `default`.
    pub fn default_start(&self) -> Option<&Action> {
        let starts: Vec<&Action> = self.start_actions().collect();
        match starts.as_slice() {
            [one] => Some(one),
            many => many.iter().copied().find(|a| a.default),
        }
    }

    /// The settings' defaults as a map.
    pub fn default_settings(&self) -> Map<String, Value> {
        self.settings
            .iter()
            .map(|s| (s.name.clone(), s.default.clone()))
            .collect()
    }

    /// The label of a state (its id when unknown).
    pub fn state_label<'a>(&'a self, id: &'a str) -> &'a str {
        self.state(id).map_or(id, |s| s.label.as_str())
    }

    /// Whether a state is final.
    pub fn is_final(&self, id: &str) -> bool {
        self.state(id).is_some_and(|s| s.is_final)
    }
}
