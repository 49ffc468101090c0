//! A JSON Schema (draft 2020-12) of the workflow language, for editors: with it, VS Code's
//! YAML extension (and any yaml-language-server client) completes keys, shows their
//! descriptions and flags unknown keys and wrong types while a workflow is written.
//!
//! The schema describes the *shape* of a file. The loader checks more (references between
//! states, actions and roles, scripts, reachability) and reports those with line and
//! column; `mentorflow validate` runs it.
//!
//! Wire it into a workflow file with a first line
//! `# yaml-language-server: $schema=./workflow.schema.json` after
//! `mentorflow schema > workflow.schema.json`.

use serde_json::{json, Value};

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://mentorflow.invalid/schema/workflow.json";

const IDENT: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// The JSON Schema of a workflow definition file.
pub fn workflow_schema() -> Value {
    let type_names = json!([
        "string", "text", "int", "integer", "float", "number", "bool", "boolean", "date", "time",
        "datetime", "person", "list", "map"
    ]);
    let simple_types = json!([
        "string", "text", "int", "integer", "float", "number", "bool", "boolean", "date", "time",
        "datetime", "person"
    ]);
    let mut item_types = simple_types.clone();
    if let Some(types) = item_types.as_array_mut() {
        types.push(json!("map"));
    }
    let label_rule = json!({
        "type": "object",
        "required": ["label"],
        "additionalProperties": false,
        "properties": {
            "when": { "$ref": "#/$defs/expression" },
            "label": { "type": "string" }
        }
    });
    let view_labels = json!({
        "description": "The view's own status words per state: a label, or a list of labels and `{ when, label }` rules tried in order.",
        "type": "object",
        "additionalProperties": {
            "anyOf": [
                { "type": "string" },
                { "type": "array", "items": { "anyOf": [{ "type": "string" }, label_rule] } },
                label_rule
            ]
        }
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mentorflow workflow",
        "description": "One workflow at one version: settings, roles, typed fields, states, actions, timers, templates, views and exports.",
        "type": "object",
        "required": ["workflow", "version", "states", "actions"],
        "additionalProperties": false,
        "properties": {
            "workflow": {
                "description": "The workflow id (letters, digits and _). Cases, views and exports refer to it.",
                "type": "string",
                "pattern": IDENT
            },
            "version": {
                "description": "A whole number from 1. A case keeps running on the version it started with; give a changed file a new version when cases run on the old one.",
                "type": "integer",
                "minimum": 1
            },
            "title": { "description": "A title for people (default: the id).", "type": "string" },
            "description": { "description": "What the workflow is for.", "type": "string" },
            "settings": {
                "description": "Settings with their defaults; organisations override them (`mentorflow orgs put ORG --set NAME=VALUE`). Scripts read them as `settings.NAME`.",
                "type": ["object", "null"],
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/setting" }
            },
            "roles": {
                "description": "Who a person is to a case: a case role (assigned to the case, e.g. `mentor: {}`) or a directory role (held by position in the case's organisation, e.g. `coordinator: { directory: coordinator }`).",
                "type": ["object", "null"],
                "propertyNames": {
                    "pattern": IDENT,
                    "not": { "enum": ["system", "anyone", "id", "workflow", "version", "state", "state_label", "org", "revision", "created_at", "updated_at", "parent", "participants", "fields", "tags"] }
                },
                "additionalProperties": { "$ref": "#/$defs/role" }
            },
            "fields": {
                "description": "The typed fields of a case. Scripts read and write them as `fields.NAME`.",
                "type": ["object", "null"],
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/field" }
            },
            "checks": {
                "description": "Conditions across fields that must hold after every action (e.g. end time after start time).",
                "$ref": "#/$defs/checks"
            },
            "states": {
                "description": "The states a case can be in. A state may be written `id: Label`, `id: {}` or as a map.",
                "type": "object",
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/state" }
            },
            "actions": {
                "description": "What people (or the system) do to a case. An action without `from` starts a case.",
                "type": "object",
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/action" }
            },
            "templates": {
                "description": "Notification templates, used by `notify(person, \"template\")` in scripts. Subject and body interpolate `${...}` expressions.",
                "type": ["object", "null"],
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/template" }
            },
            "views": {
                "description": "Named, per-viewer lists of cases (`mentorflow view NAME --as PERSON`).",
                "type": ["object", "null"],
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/view" }
            },
            "exports": {
                "description": "Named tables over cases (`mentorflow export NAME`).",
                "type": ["object", "null"],
                "propertyNames": { "pattern": IDENT },
                "additionalProperties": { "$ref": "#/$defs/export" }
            }
        },
        "$defs": {
            "script": {
                "description": "A rhai script. It sees `case`, `fields`, `actor`, `inputs`, `settings` and `now`, and calls host functions such as assign, unassign, notify, notify_role, add_note, goto, fail, spawn_copy, emit, cancel_timer, person, people, open_cases, today, days_between, add_span.",
                "type": "string"
            },
            "expression": {
                "description": "A rhai expression that yields a value (true/false for guards and checks).",
                "type": "string"
            },
            "duration": {
                "description": "A duration: 45s, 30m, 24h, 1h30m, 2 days, 1 week, 5 business days (the organisation's calendar), 3 months, 1 quarter, 1 year.",
                "type": "string"
            },
            "names": {
                "description": "One name or a list of names.",
                "anyOf": [
                    { "type": "string" },
                    { "type": "array", "items": { "type": "string" } }
                ]
            },
            "setting": {
                "description": "A setting: its default value (the type follows it), or `{ type, default, one_of, description }`.",
                "anyOf": [
                    {
                        "type": "object",
                        "required": ["default"],
                        "additionalProperties": false,
                        "properties": {
                            "type": { "description": "The value's type (default: the default's type).", "enum": type_names.clone() },
                            "default": { "description": "The value used when an organisation does not set one." },
                            "description": { "type": "string" },
                            "one_of": { "description": "The values allowed.", "type": "array" }
                        }
                    },
                    { "type": ["string", "number", "boolean", "array"] },
                    { "type": "object", "not": { "required": ["default"] } }
                ]
            },
            "role": {
                "anyOf": [
                    { "type": "null" },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "directory": {
                                "description": "Directory role(s) that hold this role in the case's organisation (absent: a case role, assigned to the case).",
                                "$ref": "#/$defs/names"
                            },
                            "sees": {
                                "description": "For directory roles: `org` lets holders see every case of their organisation; `participants` (default) only cases they take part in.",
                                "enum": ["org", "participants"]
                            },
                            "many": { "description": "For case roles: several people may hold it at once.", "type": "boolean" },
                            "label": { "type": "string" },
                            "description": { "type": "string" }
                        }
                    }
                ]
            },
            "field": {
                "anyOf": [
                    { "description": "A type name alone.", "enum": type_names.clone() },
                    {
                        "type": "object",
                        "required": ["type"],
                        "additionalProperties": false,
                        "properties": {
                            "type": { "description": "The value type.", "enum": type_names.clone() },
                            "required": { "description": "A value must be present (for fields: once the start action ran; for inputs: when acting).", "type": "boolean" },
                            "default": { "description": "The value used when none is given." },
                            "max_length": { "description": "Longest text allowed, in characters.", "type": "integer", "minimum": 0 },
                            "min_length": { "description": "Shortest text allowed, in characters.", "type": "integer", "minimum": 0 },
                            "one_of": {
                                "description": "The values allowed: a list, or `settings.NAME` for a setting holding the list.",
                                "anyOf": [
                                    { "type": "array" },
                                    { "type": "string", "pattern": "^settings\\.[A-Za-z_][A-Za-z0-9_]*$" }
                                ]
                            },
                            "min": { "description": "Smallest number (for lists: fewest items).", "type": "number" },
                            "max": { "description": "Largest number (for lists: most items).", "type": "number" },
                            "of": { "description": "For lists: the items' type (a simple type, or `map` for a list of records).", "enum": item_types },
                            "private": { "description": "Kept out of notifications and exports unless named explicitly.", "type": "boolean" },
                            "computed": { "description": "Kept by the workflow's own scripts: start data may not give it.", "type": "boolean" },
                            "label": { "type": "string" },
                            "description": { "type": "string" }
                        }
                    }
                ]
            },
            "check": {
                "anyOf": [
                    { "$ref": "#/$defs/expression" },
                    {
                        "type": "object",
                        "required": ["when"],
                        "additionalProperties": false,
                        "properties": {
                            "when": { "description": "The condition that must be true.", "$ref": "#/$defs/expression" },
                            "message": { "description": "What the person is told when it is false (default: This action is not allowed now). May interpolate values with ${...}, in the guard's scope: the condition's own `let` values too.", "type": "string" },
                            "suggest": { "description": "Actions that would help (offered with the message).", "type": "array", "items": { "type": "string" } }
                        }
                    }
                ]
            },
            "checks": {
                "anyOf": [
                    { "type": "null" },
                    { "$ref": "#/$defs/check" },
                    { "type": "array", "items": { "$ref": "#/$defs/check" } }
                ]
            },
            "timer": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "name": { "description": "Unique in the state (default timer_N); `cancel_timer(name)` uses it.", "type": "string" },
                    "after": { "description": "Fire once, this long after the state is entered.", "$ref": "#/$defs/duration" },
                    "every": { "description": "Fire every period while the case stays in the state.", "$ref": "#/$defs/duration" },
                    "at": { "description": "Fire at the date or instant a field holds (`fields.NAME`).", "type": "string" },
                    "offset": { "description": "With `at`: move the instant, e.g. `-1 day`.", "type": "string" },
                    "run": { "description": "A script to run when the timer fires.", "$ref": "#/$defs/script" },
                    "action": { "description": "A system action (`by: system`) to fire.", "type": "string" },
                    "description": { "type": "string" }
                },
                "oneOf": [
                    { "required": ["after"] },
                    { "required": ["every"] },
                    { "required": ["at"] }
                ],
                "anyOf": [
                    { "required": ["run"] },
                    { "required": ["action"] }
                ]
            },
            "state": {
                "anyOf": [
                    { "type": "null" },
                    { "description": "The state's label.", "type": "string" },
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "label": { "description": "The label people see (default: the id).", "type": "string" },
                            "final": { "description": "No action leaves it, no timer runs in it; the case counts as closed.", "type": "boolean" },
                            "tags": { "description": "Report flags and other tags (a case shows its state's tags).", "type": "array", "items": { "type": "string" } },
                            "description": { "type": "string" },
                            "on_enter": { "description": "Runs when a case enters the state.", "$ref": "#/$defs/script" },
                            "on_exit": { "description": "Runs when a case leaves the state.", "$ref": "#/$defs/script" },
                            "timers": { "description": "Timers: reminders, deadlines, recurring emails. Leaving the state cancels them.", "type": "array", "items": { "$ref": "#/$defs/timer" } }
                        }
                    }
                ]
            },
            "action": {
                "type": "object",
                "required": ["by"],
                "additionalProperties": false,
                "properties": {
                    "label": { "type": "string" },
                    "description": { "type": "string" },
                    "from": {
                        "description": "The state(s) it may be done from; `*` for every non-final state. Absent: a start action.",
                        "$ref": "#/$defs/names"
                    },
                    "to": {
                        "description": "The state it leads to (absent: the case stays); a list when the script picks one with `goto(state)`.",
                        "anyOf": [ { "type": "null" }, { "$ref": "#/$defs/names" } ]
                    },
                    "by": {
                        "description": "Roles that may do it; `system` for timers only, `anyone` for everyone who sees the case.",
                        "$ref": "#/$defs/names"
                    },
                    "default": { "description": "The start action used when none is named.", "type": "boolean" },
                    "inputs": {
                        "description": "Typed inputs the person gives; scripts read them as `inputs.NAME`.",
                        "type": ["object", "null"],
                        "propertyNames": { "pattern": IDENT },
                        "additionalProperties": { "$ref": "#/$defs/field" }
                    },
                    "guard": {
                        "description": "Conditions checked in order before the action runs; the first false one refuses it with its message.",
                        "$ref": "#/$defs/checks"
                    },
                    "run": { "description": "The effects: set fields, assign people, notify, add notes, schedule timers…", "$ref": "#/$defs/script" },
                    "unavailable": { "description": "The message when the action is tried in a state it does not start from.", "type": "string" }
                }
            },
            "template": {
                "type": "object",
                "required": ["subject", "body"],
                "additionalProperties": false,
                "properties": {
                    "subject": { "description": "Subject line; `${expr}` interpolates (fields, case, recipient, settings, data).", "type": "string" },
                    "body": { "description": "Body; `${expr}` interpolates.", "type": "string" },
                    "description": { "type": "string" }
                }
            },
            "view": {
                "type": "object",
                "required": ["viewer"],
                "additionalProperties": false,
                "properties": {
                    "title": { "description": "The title people see.", "type": "string" },
                    "description": { "type": "string" },
                    "states": { "description": "The states listed (absent: all).", "type": "array", "items": { "type": "string" } },
                    "viewer": {
                        "description": "Who sees the view: case roles (the viewer holds it in the case) or directory roles (the viewer holds it in the case's organisation).",
                        "$ref": "#/$defs/names"
                    },
                    "filter": { "description": "An extra condition (a rhai expression; `viewer` is the person looking).", "$ref": "#/$defs/expression" },
                    "sort": { "description": "`created`, `updated`, `id` or a field name; a leading `-` sorts newest/largest first (default `-updated`).", "type": "string" },
                    "labels": view_labels
                }
            },
            "export": {
                "type": "object",
                "required": ["columns"],
                "additionalProperties": false,
                "properties": {
                    "title": { "type": "string" },
                    "description": { "type": "string" },
                    "states": { "description": "The states included (absent: all).", "type": "array", "items": { "type": "string" } },
                    "each": { "description": "A list field: one row per item (the item is `item` in column expressions).", "type": "string" },
                    "columns": {
                        "description": "Column names to expressions, e.g. `client: fields.client_name`.",
                        "type": "object",
                        "additionalProperties": { "$ref": "#/$defs/expression" }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_top_level_key_of_the_loader_is_described() {
        let schema = workflow_schema();
        let props = schema["properties"].as_object().map(|m| m.len());
        assert_eq!(props, Some(13));
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
    }
}
