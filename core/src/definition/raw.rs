//! The workflow language as written: serde structs, one per YAML block. Each entry of a
//! section is deserialized on its own so that one typo does not hide the next one.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSetting {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub default: Value,
    pub description: Option<String>,
    pub one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRole {
    pub directory: Option<Value>,
    pub sees: Option<String>,
    pub many: Option<bool>,
    pub label: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawOneOf {
    List(Vec<Value>),
    Setting(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawField {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    pub default: Option<Value>,
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    pub one_of: Option<RawOneOf>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub of: Option<String>,
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub computed: bool,
    pub label: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub when: String,
    pub message: String,
    #[serde(default)]
    pub suggest: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimer {
    pub name: Option<String>,
    pub after: Option<String>,
    pub every: Option<String>,
    pub at: Option<String>,
    pub offset: Option<String>,
    pub run: Option<String>,
    pub action: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub label: Option<String>,
    #[serde(rename = "final", default)]
    pub is_final: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub on_enter: Option<String>,
    pub on_exit: Option<String>,
    #[serde(default)]
    pub timers: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTemplate {
    pub subject: String,
    pub body: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAction {
    pub label: Option<String>,
    pub description: Option<String>,
    pub from: Option<Value>,
    pub to: Option<Value>,
    pub by: Value,
    #[serde(default)]
    pub default: bool,
    pub guard: Option<Value>,
    pub run: Option<String>,
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawView {
    pub title: Option<String>,
    pub description: Option<String>,
    pub states: Option<Vec<String>>,
    pub viewer: Value,
    pub filter: Option<String>,
    pub sort: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExport {
    pub title: Option<String>,
    pub description: Option<String>,
    pub states: Option<Vec<String>>,
    pub each: Option<String>,
}
