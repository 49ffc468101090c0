//! The shapes a workflow file may take where the raw structs hold a plain value (a name or a
//! list of names, a state written as its label, a type name alone…), for the JSON Schema
//! that [`crate::schema_json`] generates from the raw structs with `schemars`.
//!
//! [`Document`] is the file's top level: its keys are the ones the loader accepts
//! ([`super::load`] takes them from it), and its field types are the raw structs of
//! [`super::raw`], so the schema and the loader cannot disagree on a key. Everything else
//! here exists only to be described: these types are never built.

// Shapes for the schema only: no value of them is ever made.
#![allow(dead_code, clippy::large_enum_variant)]

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::Value;

use super::raw::{RawAction, RawCheck, RawExport, RawField, RawRole, RawSetting, RawState};
use super::raw::{RawTemplate, RawView, RawViewLabel};
use super::types::FieldType;

/// An identifier: letters, digits and `_`, not starting with a digit.
pub(crate) const IDENT: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// Names a workflow may not give its roles: the keys of `case` in scripts, and the two
/// pseudo-roles.
fn reserved_role_names() -> Vec<&'static str> {
    let mut names = vec!["system", "anyone"];
    names.extend_from_slice(super::load::CASE_KEYS);
    names
}

/// One workflow at one version: settings, roles, typed fields, states, actions, timers,
/// templates, views and exports.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mentorflow workflow")]
pub(crate) struct Document {
    /// The workflow id (letters, digits and _). Cases, views and exports refer to it.
    #[schemars(required, with = "Ident")]
    workflow: Option<Value>,
    /// A whole number from 1. A case keeps running on the version it started with; give a
    /// changed file a new version when cases run on the old one.
    #[schemars(required, with = "u32", range(min = 1))]
    version: Option<Value>,
    /// A title for people (default: the id).
    #[schemars(with = "Option<String>")]
    title: Option<Value>,
    /// What the workflow is for.
    #[schemars(with = "Option<String>")]
    description: Option<Value>,
    /// Settings with their defaults; organisations override them (`mentorflow orgs put ORG
    /// --set NAME=VALUE`). Scripts read them as `settings.NAME`.
    #[schemars(with = "Option<Named<SettingEntry>>")]
    settings: Option<Value>,
    /// Who a person is to a case: a case role (assigned to the case, e.g. `mentor: {}`) or a
    /// directory role (held by position in the case's organisation, e.g. `coordinator: {
    /// directory: coordinator }`).
    #[schemars(with = "Option<Roles>")]
    roles: Option<Value>,
    /// The typed fields of a case. Scripts read and write them as `fields.NAME`.
    #[schemars(with = "Option<Named<FieldEntry>>")]
    fields: Option<Value>,
    /// Conditions across fields that must hold after every action (e.g. end time after start
    /// time).
    #[schemars(with = "Option<Checks>")]
    checks: Option<Value>,
    /// The states a case can be in. A state may be written `id: Label`, `id: {}` or as a
    /// map.
    #[schemars(required, with = "Named<Option<StateEntry>>")]
    states: Option<Value>,
    /// What people (or the system) do to a case. An action without `from` starts a case.
    #[schemars(required, with = "Named<RawAction>")]
    actions: Option<Value>,
    /// Notification templates, used by `notify(person, "template")` in scripts. Subject and
    /// body interpolate `${...}` expressions.
    #[schemars(with = "Option<Named<RawTemplate>>")]
    templates: Option<Value>,
    /// Named, per-viewer lists of cases (`mentorflow view NAME --as PERSON`).
    #[schemars(with = "Option<Named<RawView>>")]
    views: Option<Value>,
    /// Named tables over cases (`mentorflow export NAME`).
    #[schemars(with = "Option<Named<RawExport>>")]
    exports: Option<Value>,
}

/// A map whose keys are identifiers.
pub(crate) struct Named<T>(std::marker::PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Named<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("named_{}", T::schema_name()).into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let values = generator.subschema_for::<T>();
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": IDENT },
            "additionalProperties": values,
        })
    }
}

/// The roles map: identifier keys that are not names `case` already uses in scripts.
struct Roles;

impl JsonSchema for Roles {
    fn schema_name() -> Cow<'static, str> {
        "roles".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let values = generator.subschema_for::<Option<RawRole>>();
        json_schema!({
            "type": "object",
            "propertyNames": { "pattern": IDENT, "not": { "enum": reserved_role_names() } },
            "additionalProperties": values,
        })
    }
}

/// An id: letters, digits and `_`, not starting with a digit.
#[derive(JsonSchema)]
#[schemars(rename = "ident", inline)]
struct Ident(#[schemars(regex(pattern = IDENT))] String);

/// A rhai script. It sees `case`, `fields`, `actor`, `inputs`, `settings` and `now`, and
/// calls host functions such as assign, unassign, notify, notify_role, add_note, goto, fail,
/// spawn_copy, emit, cancel_timer, person, people, open_cases, today, days_between, add_span.
#[derive(JsonSchema)]
#[schemars(rename = "script")]
pub(crate) struct Script(String);

/// A rhai expression that yields a value (true/false for guards and checks).
#[derive(JsonSchema)]
#[schemars(rename = "expression")]
pub(crate) struct Expression(String);

/// A duration: 45s, 30m, 24h, 1h30m, 2 days, 1 week, 5 business days (the organisation's
/// calendar), 3 months, 1 quarter, 1 year.
#[derive(JsonSchema)]
#[schemars(rename = "duration")]
pub(crate) struct Duration(String);

/// One name or a list of names.
#[derive(JsonSchema)]
#[schemars(rename = "names", untagged)]
pub(crate) enum Names {
    One(String),
    Many(Vec<String>),
}

/// Who a directory role's holders see.
#[derive(JsonSchema)]
#[schemars(rename = "sees", rename_all = "lowercase")]
pub(crate) enum Sees {
    Org,
    Participants,
}

/// A value type, as [`FieldType::parse`] reads it.
pub(crate) struct TypeName;

impl JsonSchema for TypeName {
    fn schema_name() -> Cow<'static, str> {
        "type_name".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = FieldType::SPELLINGS.iter().map(|(n, _)| *n).collect();
        json_schema!({ "description": "A value type.", "enum": names })
    }
}

/// `choices:` of a person input.
pub(crate) struct PersonChoices;

impl JsonSchema for PersonChoices {
    fn schema_name() -> Cow<'static, str> {
        "person_choices".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "anyOf": [
            { "const": "guard", "description": "the people of the case's organisation for whom the action's guards reading this input pass" },
            {
                "type": "object",
                "description": "the holders of a directory role in the case's organisation; with `guard: true`, only those the action's guards on this input accept",
                "properties": {
                    "role": { "type": "string", "pattern": IDENT },
                    "guard": { "type": "boolean" }
                },
                "additionalProperties": false
            }
        ] })
    }
}

/// The type of a list's items: any value type but a list.
pub(crate) struct ItemType;

impl JsonSchema for ItemType {
    fn schema_name() -> Cow<'static, str> {
        "item_type".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = FieldType::SPELLINGS
            .iter()
            .filter(|(_, t)| *t != FieldType::List)
            .map(|(n, _)| *n)
            .collect();
        json_schema!({ "anyOf": [
            { "enum": names },
            {
                "type": "object",
                "description": "a list of typed records: each item is a map with these fields",
                "properties": { "fields": { "type": "object" } },
                "required": ["fields"],
                "additionalProperties": false
            }
        ] })
    }
}

/// A setting: its default value (the type follows it), or `{ type, default, one_of,
/// description }`.
#[derive(JsonSchema)]
#[schemars(rename = "setting", untagged)]
pub(crate) enum SettingEntry {
    Map(RawSetting),
    Plain(#[schemars(with = "PlainValue")] Value),
}

/// A setting's default written alone: a text, number, truth value, list, or a map without a
/// `default` key.
struct PlainValue;

impl JsonSchema for PlainValue {
    fn schema_name() -> Cow<'static, str> {
        "plain_value".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "anyOf": [
                { "type": ["string", "number", "boolean", "array"] },
                { "type": "object", "not": { "required": ["default"] } }
            ]
        })
    }
}

/// A field or an input: a type name alone, or a map.
#[derive(JsonSchema)]
#[schemars(rename = "field", untagged)]
pub(crate) enum FieldEntry {
    Type(TypeName),
    Map(RawField),
}

/// A state: its label alone, or a map (`id: {}` or `id:` for neither).
#[derive(JsonSchema)]
#[schemars(rename = "state", untagged)]
pub(crate) enum StateEntry {
    /// The state's label.
    Label(String),
    Map(RawState),
}

/// A condition: an expression alone, or a map with its message.
#[derive(JsonSchema)]
#[schemars(rename = "check", untagged)]
pub(crate) enum Check {
    Expression(Expression),
    Map(RawCheck),
}

/// One condition or a list of conditions.
#[derive(JsonSchema)]
#[schemars(rename = "checks", untagged)]
pub(crate) enum Checks {
    One(Check),
    Many(Vec<Check>),
}

/// A view's status words for one state: a label, a label rule, or a list of labels and rules
/// tried in order.
#[derive(JsonSchema)]
#[schemars(rename = "view_labels", untagged)]
pub(crate) enum ViewLabels {
    Label(String),
    Rule(RawViewLabel),
    Rules(Vec<LabelOrRule>),
}

/// A label, or a `{ when, label }` rule.
#[derive(JsonSchema)]
#[schemars(rename = "label_or_rule", untagged)]
pub(crate) enum LabelOrRule {
    Label(String),
    Rule(RawViewLabel),
}
