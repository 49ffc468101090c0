//! A JSON Schema (draft 2020-12) of the workflow language, for editors: with it, VS Code's
//! YAML extension (and any yaml-language-server client) completes keys, shows their
//! descriptions and flags unknown keys and wrong types while a workflow is written.
//!
//! The schema is generated with `schemars` from the structs the loader deserializes each
//! entry into (`definition::raw`) and from the top-level shape whose keys the loader accepts
//! (`definition::shape`), so a key the loader knows cannot be missing from it, and a key it
//! does not know cannot be offered. The descriptions are those structs' doc comments.
//!
//! The schema describes the *shape* of a file. The loader checks more (references between
//! states, actions and roles, scripts, reachability) and reports those with line and
//! column; `mentorflow validate` runs it.
//!
//! Wire it into a workflow file with a first line
//! `# yaml-language-server: $schema=./workflow.schema.json` after
//! `mentorflow schema > workflow.schema.json`.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::definition::shape::Document;

/// The schema's `$id`.
pub const SCHEMA_ID: &str = "https://mentorflow.invalid/schema/workflow.json";

/// The JSON Schema of a workflow definition file.
pub fn workflow_schema() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<Document>().to_value();
    unwrap_descriptions(&mut schema);
    // The document's own keys first, as a reader expects them.
    let Value::Object(mut rest) = schema else {
        return schema;
    };
    let mut root = Map::new();
    root.insert(
        "$schema".into(),
        rest.remove("$schema").unwrap_or(Value::Null),
    );
    root.insert("$id".into(), SCHEMA_ID.into());
    for key in ["title", "description"] {
        if let Some(v) = rest.remove(key) {
            root.insert(key.into(), v);
        }
    }
    root.extend(rest);
    Value::Object(root)
}

/// Doc comments are wrapped at 100 columns; an editor shows a description as one paragraph,
/// so a single line break becomes a space (a blank line stays a paragraph break).
fn unwrap_descriptions(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                match child {
                    Value::String(text) if k == "description" || k == "title" => {
                        *text = text
                            .split("\n\n")
                            .map(|para| {
                                para.split('\n')
                                    .map(str::trim)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .collect::<Vec<_>>()
                            .join("\n\n");
                    }
                    _ => unwrap_descriptions(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::raw::{self, keys_of};
    use crate::definition::shape;

    fn keys(v: &Value) -> Vec<String> {
        v["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every key the loader accepts, per entry kind, is in the schema, and the schema offers
    /// no key the loader would refuse; every entry map is closed (`additionalProperties:
    /// false`), so an editor flags an unknown key where the loader would.
    #[test]
    fn the_schema_offers_exactly_the_keys_the_loader_accepts() {
        let schema = workflow_schema();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let defs = &schema["$defs"];
        let cases: Vec<(&Value, &[&str], &str)> = vec![
            (&schema, keys_of::<shape::Document>(), "top level"),
            (
                &defs["setting_map"],
                keys_of::<raw::RawSetting>(),
                "setting",
            ),
            (&defs["role_map"], keys_of::<raw::RawRole>(), "role"),
            (&defs["field_map"], keys_of::<raw::RawField>(), "field"),
            (&defs["check_map"], keys_of::<raw::RawCheck>(), "check"),
            (&defs["timer"], keys_of::<raw::RawTimer>(), "timer"),
            (&defs["state_map"], keys_of::<raw::RawState>(), "state"),
            (&defs["template"], keys_of::<raw::RawTemplate>(), "template"),
            (&defs["action"], keys_of::<raw::RawAction>(), "action"),
            (&defs["view"], keys_of::<raw::RawView>(), "view"),
            (
                &defs["label_rule"],
                keys_of::<raw::RawViewLabel>(),
                "label rule",
            ),
            (&defs["export"], keys_of::<raw::RawExport>(), "export"),
        ];
        for (def, loader, what) in cases {
            assert!(!loader.is_empty(), "{what}: the loader accepts no key?");
            assert_eq!(keys(def), loader, "{what}: schema keys vs loader keys");
            assert_eq!(def["additionalProperties"], false, "{what} is not closed");
        }
        let top = keys(&schema);
        for key in [
            "workflow", "version", "states", "actions", "views", "exports",
        ] {
            assert!(top.iter().any(|k| k == key), "{key} missing at the top");
        }
    }

    /// What the loader requires is required in the schema too.
    #[test]
    fn required_keys_match_the_loader() {
        let schema = workflow_schema();
        let required = |v: &Value| -> Vec<String> {
            v["required"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let defs = &schema["$defs"];
        assert_eq!(
            required(&schema),
            ["workflow", "version", "states", "actions"]
        );
        assert_eq!(required(&defs["action"]), ["by"]);
        assert_eq!(required(&defs["view"]), ["viewer"]);
        assert_eq!(required(&defs["export"]), ["columns"]);
        assert_eq!(required(&defs["template"]), ["subject", "body"]);
        assert_eq!(required(&defs["field_map"]), ["type"]);
        assert_eq!(required(&defs["check_map"]), ["when"]);
        assert_eq!(required(&defs["setting_map"]), ["default"]);
    }

    /// Every spelling of a type the loader parses is offered, and nothing else.
    #[test]
    fn type_names_are_the_loaders() {
        let schema = workflow_schema();
        let offered: Vec<&str> = schema["$defs"]["type_name"]["enum"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(offered.len() >= 11, "{offered:?}");
        for name in &offered {
            assert!(
                crate::definition::FieldType::parse(name).is_some(),
                "{name}"
            );
        }
        for name in crate::definition::FieldType::NAMES {
            assert!(offered.contains(name), "{name} is not offered");
        }
    }

    #[test]
    fn descriptions_come_from_the_doc_comments_unwrapped() {
        let schema = workflow_schema();
        let text = schema["$defs"]["timer"]["description"]
            .as_str()
            .unwrap_or("");
        assert!(text.starts_with("A timer of a state"), "{text}");
        assert!(!text.contains('\n'), "{text:?}");
    }
}
