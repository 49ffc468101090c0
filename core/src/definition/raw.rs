//! The workflow language as written: serde structs, one per YAML block. Each entry of a
//! section is deserialized on its own so that one typo does not hide the next one; the
//! loader checks an entry's keys against [`keys_of`] its struct first, so that every unknown
//! key is reported at its place and the entry is still built from the rest.

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::shape;

/// The keys a raw struct accepts, as serde sees them (after renames): the one list the
/// loader checks unknown keys against.
pub(crate) fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    /// A deserializer that only records the field names a struct asks for.
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut keys: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut keys));
    keys
}

/// A setting written as a map: `{ type, default, one_of, description }`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "setting_map")]
pub(crate) struct RawSetting {
    /// The value's type (default: the default's type).
    #[serde(rename = "type")]
    #[schemars(with = "Option<shape::TypeName>")]
    pub kind: Option<String>,
    /// The value used when an organisation does not set one.
    pub default: Value,
    pub description: Option<String>,
    /// The values allowed.
    pub one_of: Option<Vec<Value>>,
}

/// A role written as a map.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "role_map")]
pub(crate) struct RawRole {
    /// Directory role(s) that hold this role in the case's organisation (absent: a case role,
    /// assigned to the case).
    #[schemars(with = "Option<shape::Names>")]
    pub directory: Option<Value>,
    /// For directory roles: `org` lets holders see every case of their organisation;
    /// `participants` (default) only cases they take part in.
    #[schemars(with = "Option<shape::Sees>")]
    pub sees: Option<String>,
    /// For case roles: several people may hold it at once.
    pub many: Option<bool>,
    pub label: Option<String>,
    pub description: Option<String>,
}

/// `one_of:` of a field: a list, or `settings.NAME` for a setting holding the list.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(rename = "one_of")]
pub(crate) enum RawOneOf {
    List(Vec<Value>),
    Setting(#[schemars(regex(pattern = r"^settings\.[A-Za-z_][A-Za-z0-9_]*$"))] String),
}

/// A field or an input written as a map.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "field_map")]
pub(crate) struct RawField {
    /// The value type.
    #[serde(rename = "type")]
    #[schemars(with = "shape::TypeName")]
    pub kind: String,
    /// A value must be present (for fields: once the start action ran; for inputs: when
    /// acting).
    #[serde(default)]
    pub required: bool,
    /// The value used when none is given.
    pub default: Option<Value>,
    /// Longest text allowed, in characters.
    pub max_length: Option<usize>,
    /// Shortest text allowed, in characters.
    pub min_length: Option<usize>,
    pub one_of: Option<RawOneOf>,
    /// Smallest number (for lists: fewest items).
    pub min: Option<f64>,
    /// Largest number (for lists: most items).
    pub max: Option<f64>,
    /// For lists: the items' type (a simple type, or `map` for a list of maps), or
    /// `{ fields: … }` for a list of typed records.
    #[schemars(with = "Option<shape::ItemType>")]
    pub of: Option<Value>,
    /// Kept out of notifications and exports unless named explicitly.
    #[serde(default)]
    pub private: bool,
    /// Kept by the workflow's own scripts: start data may not give it.
    #[serde(default)]
    pub computed: bool,
    /// For a person input: whom the portal's picker offers. `guard` (the people of the
    /// case's organisation for whom the action's guards on this input pass), or `{ role:
    /// ROLE, guard: true|false }` (the holders of a directory role, optionally also
    /// passing the guards). Only what is offered: the guards still decide.
    #[schemars(with = "Option<shape::PersonChoices>")]
    pub choices: Option<Value>,
    pub label: Option<String>,
    pub description: Option<String>,
}

/// A condition written as a map.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "check_map")]
pub(crate) struct RawCheck {
    /// The condition that must be true.
    #[schemars(with = "shape::Expression")]
    pub when: String,
    /// What the person is told when it is false (default: This action is not allowed now).
    /// May interpolate values with ${...}, in the guard's scope: the condition's own `let`
    /// values too.
    pub message: Option<String>,
    /// Actions that would help (offered with the message).
    #[serde(default)]
    pub suggest: Vec<String>,
}

/// A timer of a state: exactly one of `after`, `every` or `at`, and a `run` script or a
/// system `action`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "timer",
    extend("oneOf" = [{ "required": ["after"] }, { "required": ["every"] }, { "required": ["at"] }]),
    extend("anyOf" = [{ "required": ["run"] }, { "required": ["action"] }])
)]
pub(crate) struct RawTimer {
    /// Unique in the state (default timer_N); `cancel_timer(name)` uses it.
    pub name: Option<String>,
    /// Fire once, this long after the state is entered.
    #[schemars(with = "Option<shape::Duration>")]
    pub after: Option<String>,
    /// Fire every period while the case stays in the state.
    #[schemars(with = "Option<shape::Duration>")]
    pub every: Option<String>,
    /// Fire at the date or instant a field holds (`fields.NAME`).
    pub at: Option<String>,
    /// With `at`: move the instant, e.g. `-1 day`.
    pub offset: Option<String>,
    /// A script to run when the timer fires.
    #[schemars(with = "Option<shape::Script>")]
    pub run: Option<String>,
    /// A system action (`by: system`) to fire.
    pub action: Option<String>,
    /// A condition checked when the timer is due: when false, the firing is skipped (no
    /// history event; an `every` timer asks again at its next period).
    #[schemars(with = "Option<shape::Script>")]
    pub when: Option<String>,
    pub description: Option<String>,
}

/// A state written as a map.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "state_map")]
pub(crate) struct RawState {
    /// The label people see (default: the id).
    pub label: Option<String>,
    /// No action leaves it, no timer runs in it; the case counts as closed.
    #[serde(rename = "final", default)]
    pub is_final: bool,
    /// Report flags and other tags (a case shows its state's tags).
    #[serde(default)]
    pub tags: Vec<String>,
    pub description: Option<String>,
    /// Runs when a case enters the state.
    #[schemars(with = "Option<shape::Script>")]
    pub on_enter: Option<String>,
    /// Runs when a case leaves the state.
    #[schemars(with = "Option<shape::Script>")]
    pub on_exit: Option<String>,
    /// Timers: reminders, deadlines, recurring emails. Leaving the state cancels them.
    #[serde(default)]
    #[schemars(with = "Vec<RawTimer>")]
    pub timers: Vec<Value>,
}

/// A notification template: `notify(person, "template")` in scripts.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "template")]
pub(crate) struct RawTemplate {
    /// Subject line; `${expr}` interpolates (fields, case, recipient, settings, data).
    pub subject: String,
    /// Body; `${expr}` interpolates.
    pub body: String,
    pub description: Option<String>,
    /// Actions the message invites its recipient to take (ids of actions on the case): a
    /// front end that delivers it may add a signed link to each one's form.
    #[serde(default)]
    pub actions: Vec<String>,
}

/// What people (or the system) do to a case.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "action")]
pub(crate) struct RawAction {
    pub label: Option<String>,
    pub description: Option<String>,
    /// The state(s) it may be done from; `*` for every non-final state. Absent: a start
    /// action.
    #[schemars(with = "Option<shape::Names>")]
    pub from: Option<Value>,
    /// The state it leads to (absent: the case stays); a list when the script picks one with
    /// `goto(state)`.
    #[schemars(with = "Option<shape::Names>")]
    pub to: Option<Value>,
    /// Roles that may do it; `system` for timers only, `anyone` for everyone who sees the
    /// case.
    #[schemars(required, with = "shape::Names")]
    pub by: Option<Value>,
    /// The start action used when none is named.
    #[serde(default)]
    pub default: bool,
    /// Typed inputs the person gives; scripts read them as `inputs.NAME`.
    #[schemars(with = "Option<shape::Named<shape::FieldEntry>>")]
    pub inputs: Option<Value>,
    /// Conditions checked in order before the action runs; the first false one refuses it
    /// with its message.
    #[schemars(with = "Option<shape::Checks>")]
    pub guard: Option<Value>,
    /// The effects: set fields, assign people, notify, add notes, schedule timers…
    #[schemars(with = "Option<shape::Script>")]
    pub run: Option<String>,
    /// The message when the action is tried in a state it does not start from.
    pub unavailable: Option<String>,
    /// Fields of the case shown with the action's form, so that the person acting sees
    /// them while filling it in (the open action items next to "Log a session").
    #[schemars(with = "Option<shape::Names>")]
    pub shows: Option<Value>,
}

/// A named, per-viewer list of cases.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "view")]
pub(crate) struct RawView {
    /// The title people see.
    pub title: Option<String>,
    pub description: Option<String>,
    /// The states listed (absent: all).
    pub states: Option<Vec<String>>,
    /// Who sees the view: case roles (the viewer holds it in the case) or directory roles
    /// (the viewer holds it in the case's organisation).
    #[schemars(required, with = "shape::Names")]
    pub viewer: Option<Value>,
    /// An extra condition (a rhai expression; `viewer` is the person looking).
    #[schemars(with = "Option<shape::Expression>")]
    pub filter: Option<String>,
    /// `created`, `updated`, `id` or a field name; a leading `-` sorts newest/largest first
    /// (default `-updated`).
    pub sort: Option<String>,
    /// The view's own status words per state: a label, or a list of labels and
    /// `{ when, label }` rules tried in order.
    #[schemars(with = "Option<std::collections::BTreeMap<String, shape::ViewLabels>>")]
    pub labels: Option<Map<String, Value>>,
}

/// A label rule of a view: the label, and when it applies.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "label_rule")]
pub(crate) struct RawViewLabel {
    #[schemars(with = "Option<shape::Expression>")]
    pub when: Option<String>,
    pub label: String,
}

/// A named table over cases (`mentorflow export NAME`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "export")]
pub(crate) struct RawExport {
    pub title: Option<String>,
    pub description: Option<String>,
    /// The states included (absent: all).
    pub states: Option<Vec<String>>,
    /// A list field: one row per item (the item is `item` in column expressions).
    pub each: Option<String>,
    /// Column names to expressions, e.g. `client: fields.client_name`.
    #[schemars(
        required,
        with = "std::collections::BTreeMap<String, shape::Expression>"
    )]
    pub columns: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_the_struct_with_renames() {
        assert_eq!(keys_of::<RawCheck>(), ["when", "message", "suggest"]);
        assert!(keys_of::<RawState>().contains(&"final"));
        assert!(keys_of::<RawField>().contains(&"type"));
        assert!(keys_of::<RawAction>().contains(&"inputs"));
    }
}
